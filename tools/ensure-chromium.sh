#!/usr/bin/env bash
# Installs Debian's chromium (the status-page test drives it with playwright-core) when
# /usr/bin/chromium is missing. playwright-core downloads no browser of its own: the test launches
# this one by path. Exits non-zero when it cannot be installed; the test then fails loudly.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
[ -x "$CHROMIUM" ] || { echo "ensure-chromium: chromium installed but $CHROMIUM is absent" >&2; exit 1; }
echo "ensure-chromium: $($CHROMIUM --version 2>/dev/null || echo chromium) installed"

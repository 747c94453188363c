#!/usr/bin/env bash
# Time from "npm install done" to the platform's ready line, as a new user sees it:
# a fresh clone of REPO at REF, `npm install`, then `npm start` with an empty HOME (so an empty
# ~/.vip). RUNS starts (default 3), each from a clean tree (git clean keeps node_modules only:
# no build output) and an empty Nx cache. Prints one line per run and the median.
#   bash tools/bench/quick-start.sh [REPO] [REF] [RUNS]
set -euo pipefail
repo=${1:-$(git -C "$(dirname "$0")/../.." rev-parse --show-toplevel)}
ref=${2:-HEAD}
runs=${3:-3}
work=$(mktemp -d /tmp/vip-quick-start.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/vip"
git -C "$work/vip" checkout -q "$ref"
cd "$work/vip"
echo "clone of $repo at $(git rev-parse --short HEAD) in $work/vip"
t0=$(date +%s.%N)
npm install --no-audit --no-fund >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
echo "npm install: $(echo "$(date +%s.%N) - $t0" | bc) s"
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
times=()
for i in $(seq 1 "$runs"); do
  NX_DAEMON=true npx nx daemon --stop >/dev/null 2>&1 || true
  git clean -q -fdx -e node_modules
  # Nx 24 shares one build cache between all checkouts of a workspace (~/.nx/<id>/cache): a new
  # user has none, so each run gets an empty one.
  export NX_CACHE_DIRECTORY="$work/nx-cache-$i"
  rm -rf "$work/home"; mkdir -p "$work/home"
  out="$work/start-$i.out"; : >"$out"
  t0=$(date +%s.%N)
  ( HOME="$work/home" npm_config_cache="${npm_config_cache:-$HOME/.npm}" setsid npm start -- --vip-address "tcp://127.0.0.1:$port" >"$out" 2>"$work/start-$i.err" & echo $! >"$work/pid" )
  pid=$(cat "$work/pid")
  until grep -q '"event":"ready"' "$out"; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "npm start exited before ready:"; tail -20 "$out" "$work/start-$i.err"; exit 1; fi
    sleep 0.1
  done
  t=$(echo "$(date +%s.%N) - $t0" | bc)
  kill -TERM -- -"$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  lines=$(cat "$out" | wc -l)
  printf 'run %d: ready after %.1f s (%d lines on stdout, %d on stderr)\n' "$i" "$t" "$lines" "$(wc -l <"$work/start-$i.err")"
  times+=("$t")
done
# Nx may have started its daemon for this clone (not in CI): stop it before the folder goes.
NX_DAEMON=true npx nx daemon --stop >/dev/null 2>&1 || true
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
printf 'median: %.1f s over %d runs\n' "$median" "$runs"

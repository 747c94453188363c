#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers at amqp://guest:guest@127.0.0.1:5672 for the tests.
# Installs it (Debian package) when absent, starts it when stopped, enables the plugins the
# RMQ suites use. Loud on failure: a suite that needs the broker must never skip silently.
set -euo pipefail
log() { echo "[ensure-rabbitmq] $*" >&2; }

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  log "rabbitmq-server not installed: installing the Debian package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq rabbitmq-server >/dev/null
fi

broker_up() { rabbitmqctl -q status >/dev/null 2>&1 && rabbitmqctl -q await_startup >/dev/null 2>&1; }

if ! broker_up; then
  log "broker not running: starting it (rabbitmq-server -detached)"
  rabbitmq-server -detached || true
  for _ in $(seq 1 60); do
    if broker_up; then break; fi
    sleep 1
  done
fi
if ! broker_up; then
  log "ERROR: RabbitMQ did not come up within 60 s"
  exit 1
fi
# A previous run may have left the app stopped (fault tests stop_app/start_app).
rabbitmqctl -q start_app >/dev/null 2>&1 || true
rabbitmqctl -q await_startup >/dev/null 2>&1 || { log "ERROR: the RabbitMQ app did not start (rabbitmqctl await_startup)"; exit 1; }

# Plugins used by the RMQ suites (management API for `list`; federation/shovel for multi-platform).
rabbitmq-plugins enable --quiet rabbitmq_management rabbitmq_federation rabbitmq_shovel >/dev/null 2>&1 \
  || log "warning: could not enable all plugins (management/federation/shovel)"

# Wait for the AMQP port, then the management API (the RMQ tests create a vhost per file through it).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 30); do
    if port_open "$1"; then return 0; fi
    sleep 1
  done
  return 1
}
wait_port 5672 || { log "ERROR: nothing listens on 127.0.0.1:5672 (AMQP)"; exit 1; }
wait_port 15672 || { log "ERROR: nothing listens on 127.0.0.1:15672: enable it with rabbitmq-plugins enable rabbitmq_management"; exit 1; }
log "RabbitMQ ready on 127.0.0.1:5672 (management on 15672)"
exit 0

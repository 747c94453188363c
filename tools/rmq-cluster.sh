#!/usr/bin/env bash
# A PRIVATE 3-node RabbitMQ cluster on this machine, for the cluster and federation tests and
# benchmarks: start | stop | status | env.
#
# It never touches the machine's shared broker (rabbit@localhost on 5672/15672): its own node
# names (vip-c1@localhost ..), its own AMQP, management and distribution ports, its own data and
# log directories, its own Erlang cookie (a private HOME), its own rabbitmq-env.conf and plugin
# list (management, federation, shovel: enabled on these nodes only). Every rabbitmqctl call
# names its node with -n. Schedulers are cut to one per node (2 shared cores).
#
# Settings (environment): VIP_RMQ_CLUSTER_DIR (default /tmp/vip-rmq-cluster), VIP_RMQ_CLUSTER_BASE
# (first AMQP port, default 5781: nodes use BASE, BASE+1, BASE+2; management BASE+10000..;
# distribution BASE+20000..), VIP_RMQ_CLUSTER_NODES (default 3), VIP_RMQ_CLUSTER_PREFIX (node
# name prefix, default vip-c). `start` is idempotent (a running cluster is left as it is);
# `kill N` SIGKILLs node N and `restart N` starts it again (the fault tests).
set -euo pipefail

DIR="${VIP_RMQ_CLUSTER_DIR:-/tmp/vip-rmq-cluster}"
BASE="${VIP_RMQ_CLUSTER_BASE:-5781}"
COUNT="${VIP_RMQ_CLUSTER_NODES:-3}"
PREFIX="${VIP_RMQ_CLUSTER_PREFIX:-vip-c}"
COOKIE_VALUE="VIPPRIVATECLUSTERCOOKIE${BASE}"
log() { echo "[rmq-cluster] $*" >&2; }
# The scripts themselves, not the Debian wrappers in /usr/sbin: those switch to the rabbitmq user
# (and its HOME, cookie and /etc/rabbitmq settings), which would mix these nodes with the shared one.
RMQ_BIN="${VIP_RMQ_BIN:-/usr/lib/rabbitmq/bin}"
[ -x "$RMQ_BIN/rabbitmq-server" ] || RMQ_BIN="$(dirname "$(readlink -f "$(command -v rabbitmq-server)")")"

node_name() { echo "${PREFIX}$1@localhost"; }
amqp_port() { echo $((BASE + $1 - 1)); }
mgmt_port() { echo $((BASE + 10000 + $1 - 1)); }
dist_port() { echo $((BASE + 20000 + $1 - 1)); }

# The environment of node $1 (server and CLI alike): nothing falls back to /etc/rabbitmq or ~/.
node_env() {
  local i=$1 d="$DIR/node$1"
  export HOME="$DIR/home"
  export RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
  export RABBITMQ_NODENAME; RABBITMQ_NODENAME="$(node_name "$i")"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT; RABBITMQ_NODE_PORT="$(amqp_port "$i")"
  export RABBITMQ_DIST_PORT; RABBITMQ_DIST_PORT="$(dist_port "$i")"
  export RABBITMQ_MNESIA_BASE="$d/mnesia"
  export RABBITMQ_LOG_BASE="$d/log"
  export RABBITMQ_PID_FILE="$d/pid"
  export RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
  export RABBITMQ_PLUGINS_EXPAND_DIR="$d/plugins-expand"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none"
  export ERL_EPMD_ADDRESS=127.0.0.1
}

ctl() { # ctl N args...: rabbitmqctl on node N only
  local i=$1; shift
  (node_env "$i"; "$RMQ_BIN/rabbitmqctl" -q -n "$(node_name "$i")" "$@")
}

running() { ctl "$1" status >/dev/null 2>&1; }

prepare() {
  mkdir -p "$DIR/home"
  if [ ! -f "$DIR/home/.erlang.cookie" ]; then
    printf '%s' "$COOKIE_VALUE" >"$DIR/home/.erlang.cookie"
    chmod 400 "$DIR/home/.erlang.cookie"
  fi
  : >"$DIR/rabbitmq-env.conf"
  for i in $(seq 1 "$COUNT"); do
    local d="$DIR/node$i"
    mkdir -p "$d/mnesia" "$d/log"
    cat >"$d/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$(amqp_port "$i")
management.tcp.port = $(mgmt_port "$i")
management.tcp.ip = 127.0.0.1
loopback_users = none
vm_memory_high_watermark.absolute = 400MB
disk_free_limit.absolute = 50MB
cluster_partition_handling = pause_minority
EOF
    echo '[].' >"$d/advanced.config"
    echo '[rabbitmq_management,rabbitmq_federation,rabbitmq_federation_management,rabbitmq_shovel,rabbitmq_shovel_management].' >"$d/enabled_plugins"
  done
}

start_node() {
  local i=$1
  if running "$i"; then return 0; fi
  (node_env "$i"; "$RMQ_BIN/rabbitmq-server" -detached >"$DIR/node$i/log/startup.log" 2>&1) || true
  for _ in $(seq 1 60); do
    if ctl "$i" await_startup >/dev/null 2>&1; then return 0; fi
    if grep -q "BOOT FAILED\|Kernel pid terminated" "$DIR/node$i/log/startup.log" 2>/dev/null; then break; fi
    sleep 1
  done
  tail -5 "$DIR/node$i/log/startup.log" >&2 || true
  log "ERROR: node $(node_name "$i") did not start (log: $DIR/node$i/log)"
  return 1
}

members() { ctl 1 cluster_status --formatter json 2>/dev/null | node -e '
  let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
    try { const j = JSON.parse(s); console.log((j.running_nodes || []).length); } catch { console.log(0); }
  });'; }

start() {
  command -v rabbitmq-server >/dev/null || { log "ERROR: rabbitmq-server is not installed (bash tools/ensure-rabbitmq.sh installs it)"; exit 1; }
  prepare
  for i in $(seq 1 "$COUNT"); do start_node "$i"; done
  for i in $(seq 2 "$COUNT"); do
    if ctl 1 cluster_status 2>/dev/null | grep -q "$(node_name "$i")"; then continue; fi
    # the CLI prints feature-flag and tracking-table chatter on a join: kept for errors only
    { ctl "$i" stop_app && ctl "$i" reset && ctl "$i" join_cluster "$(node_name 1)" && ctl "$i" start_app && ctl "$i" await_startup; } \
      >"$DIR/node$i/log/join.log" 2>&1 || { tail -20 "$DIR/node$i/log/join.log" >&2; log "ERROR: $(node_name "$i") could not join"; exit 1; }
  done
  local n; n="$(members)"
  if [ "$n" != "$COUNT" ]; then log "ERROR: cluster has $n running nodes, expected $COUNT"; exit 1; fi
  # guest may log in from 127.0.0.1 (default); administrator already. A vhost for the tests' default.
  ctl 1 add_vhost volttron >/dev/null 2>&1 || true
  ctl 1 set_permissions -p volttron guest '.*' '.*' '.*' >/dev/null
  log "cluster of $COUNT up: $(urls)"
}

urls() { local out=""; for i in $(seq 1 "$COUNT"); do out="$out amqp://guest:guest@127.0.0.1:$(amqp_port "$i")"; done; echo "${out# }"; }

stop_node() {
  local i=$1 pid=""
  [ -f "$DIR/node$i/pid" ] && pid="$(cat "$DIR/node$i/pid" 2>/dev/null || true)"
  ctl "$i" stop >/dev/null 2>&1 || true
  # a node that does not answer: end its own beam process (by pid, never by name)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
}

stop() {
  for i in $(seq "$COUNT" -1 1); do stop_node "$i"; done
  if [ "${1:-}" = "--wipe" ]; then rm -rf "$DIR"; fi
  log "cluster stopped"
}

status() {
  for i in $(seq 1 "$COUNT"); do
    if running "$i"; then echo "$(node_name "$i") up amqp://127.0.0.1:$(amqp_port "$i") http://127.0.0.1:$(mgmt_port "$i")"
    else echo "$(node_name "$i") down"; fi
  done
}

kill_node() { # SIGKILL node N's beam (the fault tests); its pid file says which process
  local pid; pid="$(cat "$DIR/node$1/pid")"
  kill -9 "$pid"
  log "SIGKILLed $(node_name "$1") (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  status) status ;;
  urls) urls ;;
  kill) kill_node "${2:?node number}" ;;
  restart) start_node "${2:?node number}"; log "$(node_name "$2") started again" ;;
  ctl) shift; ctl "$@" ;;
  plugins) shift; i=$1; shift; (node_env "$i"; "$RMQ_BIN/rabbitmq-plugins" -q -n "$(node_name "$i")" "$@") ;;
  *) echo "usage: $0 start | stop [--wipe] | status | urls | kill N | restart N | ctl N <rabbitmqctl args> | plugins N <rabbitmq-plugins args>" >&2; exit 2 ;;
esac

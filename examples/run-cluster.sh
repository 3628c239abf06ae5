#!/usr/bin/env bash
# The cluster demo in one command: a throwaway redis-server, two sse-cluster nodes sharing it,
# and nginx (Debian's) balancing over both, everything on 127.0.0.1; open the balancer in two
# browsers, chat, stop a node (kill PID: its browsers reconnect through nginx to the other one,
# missing nothing). Ctrl-C stops everything it started and removes its temporary directory.
#
#   bash examples/run-cluster.sh           # runs until Ctrl-C
#   bash examples/run-cluster.sh --check   # starts everything, checks it works, stops (exit 0/1)
#
# Environment (all optional):
#   SSE_CLUSTER        the sse-cluster binary (default: built in build/cluster, as run-demo.sh does)
#   SSE_REDIS_SERVER   redis-server (default: from PATH, else /usr/bin/redis-server)
#   SSE_NGINX          nginx (default: from PATH, else /usr/sbin/nginx)
#   BALANCER_PORT=8080 NODE_A_PORT=3001 NODE_B_PORT=3002   the ports
#   REDIS_PORT         Redis's port (default: a free one)
#   HEARTBEAT_MS=15000 the nodes' heartbeat (nginx's proxy_read_timeout is 1 h)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

balancer_port=${BALANCER_PORT:-8080}
node_a_port=${NODE_A_PORT:-3001}
node_b_port=${NODE_B_PORT:-3002}
heartbeat_ms=${HEARTBEAT_MS:-15000}

fail() {
  echo "run-cluster: $*" >&2
  exit 1
}

# ---- the programs

find_program() { # name fallback
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; elif [ -x "$2" ]; then echo "$2"; fi
}
bash "$root/tests/install-deps.sh" g++ cmake ninja-build libasio-dev libhiredis-dev redis-server nginx || fail "could not install the dependencies"
redis_server=${SSE_REDIS_SERVER:-$(find_program redis-server /usr/bin/redis-server)}
nginx=${SSE_NGINX:-$(find_program nginx /usr/sbin/nginx)}
[ -x "$redis_server" ] || fail "no redis-server (apt-get install redis-server, or set SSE_REDIS_SERVER)"
[ -x "$nginx" ] || fail "no nginx (apt-get install nginx, or set SSE_NGINX)"

cluster=${SSE_CLUSTER:-}
if [ -z "$cluster" ]; then
  cmake -S "$root" -B "$root/build/cluster" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_SSE_BUILD_TESTS=OFF >/dev/null ||
    fail "cmake failed"
  cmake --build "$root/build/cluster" --target sse-cluster >/dev/null || fail "the build of sse-cluster failed"
  cluster=$root/build/cluster/examples/sse-cluster
fi
[ -x "$cluster" ] || fail "$cluster is not an executable (set SSE_CLUSTER)"

# ---- starting and stopping

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sse-cluster.XXXXXX") || fail "mktemp failed"
pids=()
cleanup() {
  trap - EXIT INT TERM
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap 'cleanup' EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# Waits (at most 10 s) until `test_cmd` succeeds; fails if process `pid` ends first.
await() { # pid what test_cmd...
  local pid=$1 what=$2 i
  shift 2
  for ((i = 0; i < 200; ++i)); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  echo "run-cluster: $what not ready within 10 s" >&2
  return 1
}
has_line() { grep -q -- "$2" "$1" 2>/dev/null; }
accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Redis on $REDIS_PORT, else on a free port: one that refuses connections, tried until one binds.
start_redis() { # port
  "$redis_server" --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    >"$tmp/redis.log" 2>&1 &
  redis_pid=$!
  if await "$redis_pid" "redis-server" has_line "$tmp/redis.log" "Ready to accept connections"; then
    pids+=("$redis_pid")
    redis_port=$1
    return 0
  fi
  kill "$redis_pid" 2>/dev/null
  wait "$redis_pid" 2>/dev/null
  return 1
}
if [ -n "${REDIS_PORT:-}" ]; then
  start_redis "$REDIS_PORT" || { cat "$tmp/redis.log" >&2; fail "redis-server did not start on port $REDIS_PORT"; }
else
  started=0
  for ((try = 0; try < 20; ++try)); do
    port=$((20000 + RANDOM % 12000))
    accepts "$port" && continue
    if start_redis "$port"; then started=1; break; fi
  done
  [ "$started" -eq 1 ] || { cat "$tmp/redis.log" >&2; fail "redis-server did not start"; }
fi

start_node() { # name port
  "$cluster" --port "$2" --redis-port "$redis_port" --heartbeat-ms "$heartbeat_ms" >"$tmp/node-$1.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  await "$pid" "node $1" has_line "$tmp/node-$1.log" "^redis up" ||
    { cat "$tmp/node-$1.log" >&2; fail "node $1 (port $2) did not start"; }
}
start_node a "$node_a_port"
start_node b "$node_b_port"

# nginx in the foreground, everything of its own in $tmp (see cluster-nginx.conf.in).
sed -e "s|@LISTEN_PORT@|$balancer_port|g" -e "s|@NODE_A_PORT@|$node_a_port|g" -e "s|@NODE_B_PORT@|$node_b_port|g" \
    -e "s|@TMP@|$tmp|g" -e "s|@USER@|$(id -un)|g" \
    "$root/examples/cluster-nginx.conf.in" >"$tmp/nginx.conf" || fail "no examples/cluster-nginx.conf.in"
nginx_args=(-p "$tmp/" -e "$tmp/error.log" -c "$tmp/nginx.conf")
"$nginx" -t -q "${nginx_args[@]}" || { cat "$tmp/error.log" >&2; fail "nginx refused its configuration"; }
"$nginx" "${nginx_args[@]}" 2>>"$tmp/error.log" &
nginx_pid=$!
pids+=("$nginx_pid")
await "$nginx_pid" "nginx" accepts "$balancer_port" ||
  { cat "$tmp/error.log" >&2; fail "nginx did not start on port $balancer_port"; }

echo "run-cluster: Redis on 127.0.0.1:$redis_port (pid $redis_pid, nothing saved), two nodes, and nginx:"
echo "  http://localhost:$balancer_port/   the balancer (nginx, pid $nginx_pid): open it in several browsers"
echo "  http://localhost:$node_a_port/   node A (pid ${pids[1]})"
echo "  http://localhost:$node_b_port/   node B (pid ${pids[2]})"
echo "  logs in $tmp"

if [ "$check" -eq 1 ]; then
  # An SSE stream through nginx; once it is open (its first line, `retry:`, came through), a
  # message to each node directly: both must come out of the stream, nginx not buffering them.
  command -v curl >/dev/null || fail "--check needs curl"
  base=http://127.0.0.1:$balancer_port
  curl -sf "$base/" | grep -q "cluster chat" || fail "check: the page did not come through nginx"
  nodes=$( (curl -sf "$base/node"; echo; curl -sf "$base/node"; echo) | sort | tr '\n' ' ')
  both=$(printf 'port %s\nport %s\n' "$node_a_port" "$node_b_port" | sort | tr '\n' ' ')
  [ "$nodes" = "$both" ] || fail "check: nginx did not balance over both nodes (got: $nodes)"
  curl -sN --max-time 20 "$base/events" >"$tmp/stream" &
  curl_pid=$!
  pids+=("$curl_pid")
  await "$curl_pid" "the stream" has_line "$tmp/stream" "^retry:" || fail "check: no stream through nginx"
  curl -sf -X POST --data-binary "check via A" "http://127.0.0.1:$node_a_port/send" || fail "check: POST to node A failed"
  curl -sf -X POST --data-binary "check via B" "http://127.0.0.1:$node_b_port/send" || fail "check: POST to node B failed"
  received() { has_line "$tmp/stream" "^data: check via A" && has_line "$tmp/stream" "^data: check via B"; }
  await "$curl_pid" "the messages" received || { cat "$tmp/stream" >&2; fail "check: the messages did not come through the stream"; }
  echo "run-cluster: check passed"
  exit 0
fi

echo "Ctrl-C stops everything. (Stop a node, kill PID: its browsers go on through nginx on the other.)"
# Until Ctrl-C, or until Redis, nginx or both nodes end (then the others are stopped too).
names=([${pids[0]}]=redis [${pids[1]}]=node-a [${pids[2]}]=node-b [$nginx_pid]=nginx)
running=("${pids[@]}")
while :; do
  wait -n -p ended "${running[@]}"
  status=$?
  name=${names[$ended]}
  log=$tmp/$name.log
  [ "$name" = nginx ] && log=$tmp/error.log
  tail -n 5 "$log" >&2
  echo "run-cluster: $name (pid $ended) ended (exit $status)" >&2
  case "$name" in node-*) ;; *) fail "stopping the others" ;; esac
  left=()
  for pid in "${running[@]}"; do [ "$pid" = "$ended" ] || left+=("$pid"); done
  running=("${left[@]}")
  [ "${#running[@]}" -gt 2 ] || fail "no node left; stopping the others"
done

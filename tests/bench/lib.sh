# shellcheck shell=bash
# lib.sh - shell helpers that run.sh and scale.sh share (sourced, not run).
# shellcheck disable=SC2034  # SERVER_PIN and CLIENT_PIN are the callers'

log() { printf '%s\n' "$*" >&2; }

stop_pid() {  # TERM, wait up to 2 s, then KILL (bash reaps disowned jobs)
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 20; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

free_port() {  # a port in 20000-29999 (below the ephemeral range) nobody uses
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 10000))
    if [[ -z $(ss -Htan "( sport = :$p )") ]]; then echo "$p"; return 0; fi
  done
  return 1
}

wait_port() {  # port pid: until something accepts on the port (10 s max)
  local port=$1 pid=$2 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

children_of() { ps -o pid= --ppid "$1" | tr -d ' ' | paste -sd, -; }

wait_children() {  # pid: its children's PIDs, comma-separated (5 s max)
  local i kids
  for ((i = 0; i < 50; i++)); do
    kids=$(children_of "$1")
    if [[ -n $kids ]]; then echo "$kids"; return 0; fi
    sleep 0.1
  done
  return 1
}

stop_recorded() {  # stops the PIDs in CHILDREN, newest first, and forgets them
  local i
  for ((i = ${#CHILDREN[@]} - 1; i >= 0; i--)); do stop_pid "${CHILDREN[i]}"; done
  CHILDREN=()
}

# SERVER_CPUS and CLIENT_CPUS (taskset CPU lists; default 0 and 1 on 2+ CPUs with taskset, else
# no pinning) and the command prefixes that pin to them, SERVER_PIN and CLIENT_PIN.
pin_cpus() {
  if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
    SERVER_CPUS=${SERVER_CPUS-0}
    CLIENT_CPUS=${CLIENT_CPUS-1}
  else
    SERVER_CPUS=${SERVER_CPUS-}
    CLIENT_CPUS=${CLIENT_CPUS-}
  fi
  SERVER_PIN=()
  CLIENT_PIN=()
  [[ -z $SERVER_CPUS ]] || SERVER_PIN=(taskset -c "$SERVER_CPUS")
  [[ -z $CLIENT_CPUS ]] || CLIENT_PIN=(taskset -c "$CLIENT_CPUS")
}

result_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }  # KEY "RESULT line": its value

# shellcheck shell=bash
# Common part of the MON benchmark scripts (sourced by footprint.sh and count_latency.sh).
#
# What it does: makes a private network namespace with the lab's netns-up.sh (optionally
# with a one-way delay on every packet), lays out N testbed nodes with
# `mon testbed --prepare-only`, starts N real `mon server` processes inside the namespace on
# 127.0.0.2 … (the same arguments `mon testbed` and tests/src/lib.rs use), waits until
# membership has settled, and tears everything down again on exit, Ctrl-C, SIGTERM or when
# the script's time limit (BENCH_MAX_S) runs out.
#
# Why a namespace even without delay: its loopback and its iptables counters belong to this
# benchmark alone, so other programs on the machine (other testbeds on 127.0.0.x:7460) are
# neither disturbed nor counted.
#
# Environment (all optional):
#   MON_BIN        the mon binary            [REPO/target/release/mon]
#   MON_LAB        the lab scripts directory [first of REPO/../shared/lab, REPO/../../shared/lab]
#   BENCH_PORT     port every server listens on (inside the namespace) [7460]
#   BENCH_NS       namespace name            [monb-PID]
#   BENCH_TMPFS=1  put the nodes' config and state dirs on /dev/shm instead of /tmp (takes the
#                  disk's fdatasync latency out of the picture; for diagnosis only)
#   BENCH_KEEP=1   keep the work directory (logs, keys, raw results) after the run
#   BENCH_SETTLE_S longest wait for membership to settle [60 + N/2]
#   BENCH_MAX_S    hard time limit of the whole script [depends on the script]
#   RUST_LOG       server log filter [warn, the server's default]
#   BENCH_SERVER_ARGS extra `mon server` arguments for every server (word-split), for
#                  experiments such as "--ping-interval-ms 2000"
#   LAB_DELAYER_RT passed to netns-up.sh (see there)
#
# Requires: root, ip (iproute2), python3, ssh-keygen; for a delay > 0 also iptables-legacy
# (Debian package `iptables`) and ping (package `iputils-ping`); footprint.sh always needs
# iptables-legacy for its byte counters.

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/../.." && pwd)"
MON="${MON_BIN:-$REPO/target/release/mon}"
if [[ -z "${MON_LAB:-}" ]]; then
  for d in "$REPO/../shared/lab" "$REPO/../../shared/lab"; do
    if [[ -x "$d/netns-up.sh" ]]; then MON_LAB="$(cd "$d" && pwd)"; break; fi
  done
fi
PORT="${BENCH_PORT:-7460}"
NS="${BENCH_NS:-monb-$$}"
PIDS=()
EXTRA_PIDS=() # helpers a script started (e.g. perf record): sent SIGINT at cleanup
WORK=""
NS_UP=0
WATCHDOG=""

bench_die() { echo "bench: $*" >&2; exit 2; }

# bench_require DELAY_MS NEED_IPTABLES: checks tools before anything is started.
bench_require() {
  local delay="$1" need_ipt="$2"
  [[ $EUID -eq 0 ]] || bench_die "run as root (network namespaces, iptables)"
  [[ -x "$MON" ]] || bench_die "no mon binary at $MON: run 'cargo build --release -p mon' first (or set MON_BIN)"
  [[ -n "${MON_LAB:-}" && -x "$MON_LAB/netns-up.sh" ]] || bench_die "lab scripts not found: set MON_LAB to the directory with netns-up.sh"
  command -v python3 >/dev/null || bench_die "python3 is required"
  command -v ssh-keygen >/dev/null || bench_die "ssh-keygen is required (openssh-client)"
  if awk "BEGIN{exit !($delay>0)}" || [[ "$need_ipt" == 1 ]]; then
    command -v iptables-legacy >/dev/null || bench_die "iptables-legacy is required: apt-get install -y iptables"
  fi
  if awk "BEGIN{exit !($delay>0)}"; then
    command -v ping >/dev/null || bench_die "ping is required by netns-up.sh: apt-get install -y iputils-ping"
  fi
}

# node_ip I: address of testbed node I (1-based), as `mon testbed` assigns them
# (mon/src/testbed.rs node_addr: 127.0.0.2 … 127.0.0.255, 127.0.1.0, …).
node_ip() {
  local n=$(($1 + 1))
  echo "127.$(((n >> 16) & 255)).$(((n >> 8) & 255)).$((n & 255))"
}

nsx() { ip netns exec "$NS" "$@"; }

bench_cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  # No `wait` here: every process is stopped by pid and polled with kill -0.
  if [[ -n "$WATCHDOG" ]]; then kill -TERM "$WATCHDOG" 2>/dev/null; fi
  if ((${#EXTRA_PIDS[@]})); then
    kill -INT "${EXTRA_PIDS[@]}" 2>/dev/null
    for _ in $(seq 50); do
      local busy=0
      for p in "${EXTRA_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && busy=1 && break; done
      ((busy)) || break
      sleep 0.1
    done
    kill -KILL "${EXTRA_PIDS[@]}" 2>/dev/null
  fi
  if ((${#PIDS[@]})); then
    kill -TERM "${PIDS[@]}" 2>/dev/null
    for _ in $(seq 50); do
      local alive=0
      for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1 && break; done
      ((alive)) || break
      sleep 0.1
    done
    kill -KILL "${PIDS[@]}" 2>/dev/null
  fi
  if ((NS_UP)); then "$MON_LAB/netns-down.sh" "$NS" >/dev/null 2>&1; fi
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
      echo "bench: kept $WORK" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}

# bench_init MAX_S: traps and the overall time limit.
bench_init() {
  BENCH_LIMIT="${BENCH_MAX_S:-$1}"
  trap bench_cleanup EXIT
  trap 'echo "bench: interrupted" >&2; exit 130' INT
  trap 'echo "bench: terminated (SIGTERM, or the time limit of $BENCH_LIMIT s)" >&2; exit 124' TERM
  # The watchdog: its sleep dies with it, and it TERMs this script when the limit is reached.
  (
    sleep "$BENCH_LIMIT" &
    s=$!
    trap 'kill $s 2>/dev/null; exit 0' TERM
    wait $s && kill -TERM $$ 2>/dev/null
  ) >/dev/null 2>&1 &
  WATCHDOG=$!
  local base=/tmp
  [[ "${BENCH_TMPFS:-0}" == 1 ]] && base=/dev/shm
  WORK="$(mktemp -d "$base/mon-bench-XXXXXX")"
}

# bench_sleep S: a sleep that traps interrupt at once.
bench_sleep() { sleep "$1" & wait $!; }

# bench_netns DELAY_MS
bench_netns() {
  NS_UP=1
  "$MON_LAB/netns-up.sh" "$NS" "$1" >&2
}

# bench_start N: lays out and starts N servers in the namespace.
bench_start() {
  local n="$1" i seeds=""
  "$MON" testbed --prepare-only --dir "$WORK" --nodes "$n" --port "$PORT" >/dev/null 2>&1 \
    || bench_die "mon testbed --prepare-only failed"
  for i in $(seq 1 $((n < 3 ? n : 3))); do seeds+="${seeds:+,}$(node_ip "$i"):$PORT"; done
  for i in $(seq 1 "$n"); do
    # Not through the nsx function (a function in the background is a subshell): a simple
    # command is exec'd, and `ip netns exec` and `env` exec too, so $! is the server's pid.
    ip netns exec "$NS" env RUST_LOG="${RUST_LOG:-warn}" "$MON" server \
      --config-dir "$WORK/n$i/config" --state-dir "$WORK/n$i/state" \
      --listen "$(node_ip "$i"):$PORT" --name "n$i" --join "$seeds" ${BENCH_SERVER_ARGS:-} \
      </dev/null >/dev/null 2>"$WORK/n$i/server.log" &
    PIDS+=($!)
  done
  printf '%s\n' "${PIDS[@]}" > "$WORK/pids"
  sleep 0.5
  local comm
  comm=$(cat "/proc/${PIDS[0]}/comm" 2>/dev/null || true)
  [[ "$comm" == mon ]] || bench_die "pid ${PIDS[0]} is '$comm', not the mon server"
}

# client_argv: CLIENT=(…) runs the client through node 1, inside the namespace.
client_argv() {
  CLIENT=(ip netns exec "$NS" env -u SSH_AUTH_SOCK -u MON_SERVER -u MON_SLICE "$MON"
    --key "$WORK/user_ed25519" --known-nodes "$WORK/known_nodes"
    --server "$(node_ip 1):$PORT" --slice testbed)
}

# mon_client ARGS…: the client through node 1.
mon_client() { client_argv; "${CLIENT[@]}" "$@"; }

# bench_settle N: until three counts in a row reach all N with none missing (as `mon testbed`
# does), bounded by BENCH_SETTLE_S. Prints the settle time in seconds.
bench_settle() {
  local n="$1" limit="${BENCH_SETTLE_S:-$((60 + $1 / 2))}" t0 ok=0 out c m
  t0=$(date +%s.%N)
  while :; do
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || bench_die "server pid $p exited; see $WORK/n*/server.log (BENCH_KEEP=1)"; done
    out=$(mon_client --json --timeout 3 count 2>/dev/null || true)
    c=$(sed -n 's/.*"result":\([0-9]*\).*/\1/p' <<<"$out")
    m=$(sed -n 's/.*"missing":\([0-9]*\).*/\1/p' <<<"$out")
    if [[ "${c:-0}" -ge "$n" && "${m:-1}" == 0 ]]; then ok=$((ok + 1)); else ok=0; fi
    ((ok >= 3)) && break
    if awk "BEGIN{exit !($(date +%s.%N) - $t0 > $limit)}"; then
      bench_die "membership did not settle in $limit s (last count ${c:-none} of $n)"
    fi
    bench_sleep 1
  done
  awk "BEGIN{printf \"%.1f\n\", $(date +%s.%N) - $t0}"
}

# bench_machine: one line describing the machine and its load right now.
bench_machine() {
  local cpu
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "nproc=$(nproc) cpu=\"$cpu\" kernel=$(uname -r) loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\" date=$(date -u +%Y-%m-%dT%H:%M:%SZ) mon=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
}

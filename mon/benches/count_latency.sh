#!/usr/bin/env bash
# Usage: mon/benches/count_latency.sh N [DELAY_MS]
#
# Latency of `mon count` over N real `mon server` processes (release build) on loopback,
# optionally with DELAY_MS of one-way delay on every packet (round trip = 2 × DELAY_MS).
#
#  1. Makes a private network namespace with ../shared/lab/netns-up.sh NAME DELAY_MS (the
#     lab's user-space NFQUEUE delayer when DELAY_MS > 0; this kernel has no netem), lays
#     out N testbed nodes and starts N servers inside it on 127.0.0.2 … (127.0.1.x past 254
#     nodes) with the arguments `mon testbed` uses. Servers and client all run through
#     `ip netns exec`, so every hop, the client's to the entry node n1 included, is delayed.
#  2. Waits until membership has settled (three `count`s in a row reach all N, none
#     missing), then IDLE_S seconds (default 60): the settle sessions end, and the servers'
#     ring tables (node-id neighbours, learnt by gossip) converge. A count right after start
#     is complete too, but in the first minute the overlay misses a few nodes per session and
#     the entry's sweep reaches them directly, ~100 ms later (IDLE_S=10 measures that).
#  3. Runs `mon --json count` RUNS times (default 20) through n1, one after the other with
#     GAP_S (default 0.5) between runs, recording the client's session_ms (TCP connect +
#     signed Session to the entry node and its answer) and query_ms (Go sent → whole result
#     back), its answered/missing, and the wall time of the client process; then
#     `mon --json depth` DEPTH_RUNS times (default 5): depth is that of the random tree of
#     each session, the median is used for the delay target.
#  4. Prints median / p95 (nearest rank) and the verdict against the target; the last line
#     is one JSON object. Raw client outputs stay in WORK with BENCH_KEEP=1.
#
# Targets (issue 3): with no delay, count over 300 servers < 300 ms; with 25 ms one-way
# delay, count over 200 servers within 1.5 × (depth × 50 ms). "count" is measured as
# session_ms + query_ms (everything the client waits for after loading its key); query_ms
# alone and the process wall time are reported too.
# Bounded: BENCH_MAX_S (default settle limit + 300 s). Root only. Environment: see lib.sh
# (MON_BIN, MON_LAB, BENCH_PORT, BENCH_KEEP, BENCH_TMPFS, …), RUNS, DEPTH_RUNS, IDLE_S, GAP_S,
# CLIENT_TIMEOUT (the client's --timeout, default 10 s), COUNT_ARGS (extra client options
# for the measured count and depth sessions, e.g. "--fanout 3"), CLIENT_LOCAL=1 (with a
# delay: the client's own TCP connection to n1 is not delayed, as when the client runs on
# the entry server's host; every node-to-node packet still is), and BENCH_PERF=FILE to record a
# `perf record` profile of all servers while the sessions run (options: PERF_OPTS, default
# "-F 499 -g"; the release build has no frame pointers, "-F 199 --call-graph dwarf" gives
# usable call chains).
# Examples: mon/benches/count_latency.sh 300
#           mon/benches/count_latency.sh 200 25
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${1:?usage: count_latency.sh N [DELAY_MS]}"
DELAY="${2:-0}"
RUNS="${RUNS:-20}"
DEPTH_RUNS="${DEPTH_RUNS:-5}"
IDLE_S="${IDLE_S:-60}"
GAP_S="${GAP_S:-0.5}"
CLIENT_TIMEOUT="${CLIENT_TIMEOUT:-10}"
[[ "$N" =~ ^[0-9]+$ && "$N" -ge 1 && "$N" -le 1000 ]] || bench_die "N must be 1..1000"
[[ "$DELAY" =~ ^[0-9]+(\.[0-9]+)?$ ]] || bench_die "DELAY_MS must be a number"
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 && "$RUNS" -le 1000 ]] || bench_die "RUNS must be 1..1000"
bench_require "$DELAY" 0
if [[ -n "${BENCH_PERF:-}" ]]; then command -v perf >/dev/null || bench_die "BENCH_PERF needs perf"; fi
bench_init $((60 + N / 2 + IDLE_S + 300 + RUNS * (CLIENT_TIMEOUT + 3)))

echo "machine: $(bench_machine)"
echo "count_latency: N=$N delay=${DELAY}ms one way runs=$RUNS depth_runs=$DEPTH_RUNS port=$PORT netns=$NS work=$WORK${COUNT_ARGS:+ client options: $COUNT_ARGS}${BENCH_SERVER_ARGS:+ server options: $BENCH_SERVER_ARGS}${BENCH_TMPFS:+ tmpfs=$BENCH_TMPFS}${CLIENT_LOCAL:+ client-local=$CLIENT_LOCAL}"
bench_netns "$DELAY"
if [[ "${CLIENT_LOCAL:-0}" == 1 ]] && awk "BEGIN{exit !($DELAY>0)}"; then
  # The client's TCP connection to n1 (from 127.0.0.1, the source Linux picks on lo) skips
  # the delayer, as if client and entry server shared a host (the lab's LAB_NODELAY_PORTS
  # does the same for serf's RPC port). Node-to-node streams to n1 would skip it too, but
  # a count's results travel in datagrams. Works with the NFQUEUE delayer only (not netem).
  for r in "-s 127.0.0.1 -d $(node_ip 1) --dport $PORT" "-s $(node_ip 1) -d 127.0.0.1 --sport $PORT"; do
    # shellcheck disable=SC2086
    nsx iptables-legacy -w -t mangle -I OUTPUT 1 -p tcp $r -j RETURN
  done
fi
bench_start "$N"
echo "settled in $(bench_settle "$N") s; idling ${IDLE_S} s"
bench_sleep 2
python3 "$BENCH_DIR/benchstat.py" snap "$WORK/pids" "$WORK/snap_idle.json"
bench_sleep "$((IDLE_S > 2 ? IDLE_S - 2 : 1))"

# run_client OUTFILE ARGS…: one client run; appends its JSON plus wall_ms and exit.
run_client() {
  local outf="$1" t0 t1 out rc
  shift
  t0=$(date +%s%N)
  rc=0
  out=$(timeout $((CLIENT_TIMEOUT + 10)) "${CLIENT[@]}" "$@" 2>>"$WORK/client.err") || rc=$?
  t1=$(date +%s%N)
  python3 - "$out" "$rc" "$(((t1 - t0) / 1000000))" >>"$outf" <<'EOF'
import json, sys
try:
    v = json.loads(sys.argv[1])
except ValueError:
    v = {"error": sys.argv[1][:200]}
v["exit"] = int(sys.argv[2])
v["wall_ms"] = int(sys.argv[3])
print(json.dumps(v))
EOF
}

client_argv
echo "load before runs: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$BENCH_DIR/benchstat.py" snap "$WORK/pids" "$WORK/snap_before.json"
PERF_PID=""
if [[ -n "${BENCH_PERF:-}" ]]; then
  # Profile every server while the sessions run (perf report -i "$BENCH_PERF" afterwards).
  perf record -q ${PERF_OPTS:--F 499 -g} -o "$BENCH_PERF" -p "$(paste -sd, "$WORK/pids")" >/dev/null 2>&1 &
  PERF_PID=$!
  EXTRA_PIDS+=("$PERF_PID")
  bench_sleep 2
fi
: >"$WORK/runs.jsonl"
: >"$WORK/depths.jsonl"
for r in $(seq 1 "$RUNS"); do
  run_client "$WORK/runs.jsonl" --json --timeout "$CLIENT_TIMEOUT" ${COUNT_ARGS:-} count
  bench_sleep "$GAP_S"
done
for r in $(seq 1 "$DEPTH_RUNS"); do
  run_client "$WORK/depths.jsonl" --json --timeout "$CLIENT_TIMEOUT" ${COUNT_ARGS:-} depth
  bench_sleep "$GAP_S"
done
python3 "$BENCH_DIR/benchstat.py" snap "$WORK/pids" "$WORK/snap_after.json"
if [[ -n "$PERF_PID" ]]; then
  kill -INT "$PERF_PID" 2>/dev/null
  wait "$PERF_PID" 2>/dev/null || true
  EXTRA_PIDS=()
fi
echo "load after runs: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -s "$WORK/client.err" ]]; then
  echo "client stderr (last lines):"
  tail -5 "$WORK/client.err"
fi
if [[ -f "/tmp/benchlab/$NS/delayer.pid" ]]; then
  kill -USR1 "$(cat "/tmp/benchlab/$NS/delayer.pid")" 2>/dev/null && sleep 0.3 \
    && echo "delayer: $(tail -1 "/tmp/benchlab/$NS/delayer.stats" 2>/dev/null)"
fi
python3 "$BENCH_DIR/benchstat.py" latency "$WORK/runs.jsonl" "$WORK/depths.jsonl" "$N" "$DELAY" \
  "$WORK/snap_before.json" "$WORK/snap_after.json" "$WORK/snap_idle.json"

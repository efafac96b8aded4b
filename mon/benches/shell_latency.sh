#!/usr/bin/env bash
# Usage: mon/benches/shell_latency.sh N [DELAY_MS]
#
# First versus later commands of an interactive session (issue 14, part 1): over N real
# `mon server` processes (release build) with DELAY_MS of one-way delay on every packet, the
# client's hop to the entry node n1 included (as count_latency.sh builds the testbed: the
# lab's netns-up.sh, see lib.sh):
#
#  1. waits until membership has settled, then IDLE_S seconds (default 60);
#  2. runs SHELLS (default 5) `mon shell` sessions through n1, one after the other, each
#     piped `.json on`, K (default 10) `count` lines and one `depth`: the shell runs them one
#     after the other over its one session. Recorded per shell: the set-up (the shell's
#     "N nodes joined through n1 in MS ms": TCP connect, the signed Session, the overlay
#     built and its first count back, i.e. a fresh session's first command) and, per later
#     command, the client's query_ms (Command sent → whole result back), result and missing;
#     the `depth` line gives the session overlay's depth;
#  3. runs `mon --json count` RUNS times (default 20) for comparison: a fresh session each,
#     session_ms + query_ms, as count_latency.sh measures it;
#  4. prints median / p95 (nearest rank) of the three, the depth and the expectation of the
#     issue (a later command ≈ depth × RTT, about half a fresh session's time); the last line
#     is one JSON object. Raw outputs stay in WORK with BENCH_KEEP=1.
#
# Bounded: BENCH_MAX_S. Root only. Environment: see lib.sh (MON_BIN, MON_LAB, BENCH_PORT,
# BENCH_KEEP, …), SHELLS, K, RUNS, IDLE_S, GAP_S, CLIENT_TIMEOUT (the client's --timeout,
# default 10 s).
# Example: mon/benches/shell_latency.sh 200 25
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${1:?usage: shell_latency.sh N [DELAY_MS]}"
DELAY="${2:-0}"
SHELLS="${SHELLS:-5}"
K="${K:-10}"
RUNS="${RUNS:-20}"
IDLE_S="${IDLE_S:-60}"
GAP_S="${GAP_S:-0.5}"
CLIENT_TIMEOUT="${CLIENT_TIMEOUT:-10}"
[[ "$N" =~ ^[0-9]+$ && "$N" -ge 1 && "$N" -le 1000 ]] || bench_die "N must be 1..1000"
[[ "$DELAY" =~ ^[0-9]+(\.[0-9]+)?$ ]] || bench_die "DELAY_MS must be a number"
[[ "$SHELLS" =~ ^[0-9]+$ && "$SHELLS" -ge 1 && "$SHELLS" -le 100 ]] || bench_die "SHELLS must be 1..100"
[[ "$K" =~ ^[0-9]+$ && "$K" -ge 1 && "$K" -le 1000 ]] || bench_die "K must be 1..1000"
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 && "$RUNS" -le 1000 ]] || bench_die "RUNS must be 1..1000"
bench_require "$DELAY" 0
bench_init $((60 + N / 2 + IDLE_S + 300 + (RUNS + SHELLS * (K + 2)) * (CLIENT_TIMEOUT + 3)))

echo "machine: $(bench_machine)"
echo "shell_latency: N=$N delay=${DELAY}ms one way shells=$SHELLS commands/shell=$K fresh counts=$RUNS port=$PORT netns=$NS work=$WORK"
bench_netns "$DELAY"
bench_start "$N"
echo "settled in $(bench_settle "$N") s; idling ${IDLE_S} s"
bench_sleep "$IDLE_S"
client_argv
echo "load before runs: $(cut -d' ' -f1-3 /proc/loadavg)"

# One shell: its input is every line at once; it runs them one after the other.
: >"$WORK/shells.jsonl"
for s in $(seq 1 "$SHELLS"); do
  {
    echo ".json on"
    for _ in $(seq 1 "$K"); do echo count; done
    echo depth
  } >"$WORK/shell_in"
  rc=0
  timeout $(((K + 2) * (CLIENT_TIMEOUT + 3) + 30)) "${CLIENT[@]}" --timeout "$CLIENT_TIMEOUT" shell \
    <"$WORK/shell_in" >"$WORK/shell_$s.out" 2>"$WORK/shell_$s.err" || rc=$?
  python3 - "$WORK/shell_$s.out" "$WORK/shell_$s.err" "$rc" >>"$WORK/shells.jsonl" <<'PY'
import json, re, sys
out, err, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = re.search(r"(\d+) nodes joined through \S+ in (\d+) ms", open(err).read())
lines = [json.loads(l) for l in open(out) if l.strip().startswith("{")]
print(json.dumps({
    "exit": rc,
    "joined": int(m.group(1)) if m else None,
    "setup_ms": int(m.group(2)) if m else None,
    "commands": [l for l in lines if l.get("command") == "count"],
    "depth": next((l.get("result") for l in lines if l.get("command") == "depth"), None),
}))
PY
  bench_sleep "$GAP_S"
done

# Fresh sessions for comparison.
: >"$WORK/counts.jsonl"
for _ in $(seq 1 "$RUNS"); do
  rc=0
  out=$(timeout $((CLIENT_TIMEOUT + 10)) "${CLIENT[@]}" --json --timeout "$CLIENT_TIMEOUT" count 2>>"$WORK/client.err") || rc=$?
  python3 -c 'import json,sys
try: v = json.loads(sys.argv[1])
except ValueError: v = {"error": sys.argv[1][:200]}
v["exit"] = int(sys.argv[2]); print(json.dumps(v))' "$out" "$rc" >>"$WORK/counts.jsonl"
  bench_sleep "$GAP_S"
done
echo "load after runs: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -s "$WORK/client.err" ]]; then
  echo "client stderr (last lines):"
  tail -5 "$WORK/client.err"
fi
python3 "$BENCH_DIR/benchstat.py" shell "$WORK/shells.jsonl" "$WORK/counts.jsonl" "$N" "$DELAY"

#!/usr/bin/env bash
# Usage: mon/benches/compare_all.sh [CASE...]
#
# Runs the comparison matrix of compare.sh (MON vs parallel-ssh vs serf), one case after
# the other, each under `flock /tmp/mon-bench.lock` (one measurement at a time on a shared
# machine), appends each case's JSON summary to RESULTS (default
# docs/compare/results.jsonl), keeps each case's full output in LOGDIR (default
# docs/compare/logs/), then writes the tables (docs/compare/table.md) and the plot
# (docs/compare/latency.png).
#
# A CASE is "TOOL:N:DELAY" (TOOL = mon | pssh | serf | pssh-max, the latter with
# parallel-ssh -p N) or "idle:TOOL:N". Without arguments: every tool at N = 50, 200, 500 with
# 0 and 25 ms one-way delay, then idle footprints of mon and serf at N = 50 and 200.
# `compare_all.sh report` only redraws the table and the plot from RESULTS.
# A case that fails (non-zero exit, e.g. serf not settling) is recorded as a "failed" line
# with its exit code and last message, and the matrix goes on.
# Each compare.sh run bounds itself (its watchdog); CASE_MAX_S (default 900) bounds it again
# from the outside with `timeout`.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${RESULTS:-$REPO/docs/compare/results.jsonl}"
LOGDIR="${LOGDIR:-$REPO/docs/compare/logs}"
CASE_MAX_S="${CASE_MAX_S:-900}"
mkdir -p "$(dirname "$OUT")" "$LOGDIR"
command -v flock >/dev/null || { echo "flock is required (util-linux)" >&2; exit 2; }

report() {
  python3 "$HERE/compare_stat.py" table "$OUT" >"$(dirname "$OUT")/table.md"
  if command -v gnuplot >/dev/null; then
    python3 "$HERE/compare_stat.py" plot "$OUT" "$(dirname "$OUT")/latency.png"
  else
    echo "no plot: gnuplot is missing (apt-get install -y gnuplot-nox)" >&2
  fi
  cat "$(dirname "$OUT")/table.md"
}

if [[ "${1:-}" == report ]]; then report; exit 0; fi

cases=("$@")
if ((${#cases[@]} == 0)); then
  for n in 50 200 500; do
    for d in 0 25; do
      cases+=("mon:$n:$d" "pssh:$n:$d" "serf:$n:$d")
    done
  done
  cases+=("idle:mon:50" "idle:serf:50" "idle:mon:200" "idle:serf:200")
fi

for c in "${cases[@]}"; do
  IFS=: read -r a b d <<<"$c"
  envs=()
  if [[ "$a" == idle ]]; then
    args=(idle "$b" "$d")
    log="$LOGDIR/idle-$b-$d.log"
  else
    tool="$a"
    if [[ "$a" == pssh-max ]]; then tool=pssh; envs=(PSSH_PAR="$b"); fi
    args=("$tool" "$b" "$d")
    log="$LOGDIR/$a-$b-$d.log"
  fi
  echo "== $c ($(date -u +%H:%M:%S), waiting for the lock)" >&2
  env "${envs[@]}" flock /tmp/mon-bench.lock timeout -s TERM "$CASE_MAX_S" \
    "$HERE/compare.sh" "${args[@]}" >"$log" 2>&1
  rc=$?
  last=$(tail -1 "$log")
  if [[ $rc == 0 && "$last" == "{"* ]]; then
    echo "$last" >>"$OUT"
    tail -2 "$log" | head -1 >&2
  else
    msg=$(grep -v '^{' "$log" | tail -1)
    python3 -c 'import json,sys; print(json.dumps({"kind":"failed","case":sys.argv[1],"exit":int(sys.argv[2]),"message":sys.argv[3]}))' \
      "$c" "$rc" "$msg" >>"$OUT"
    echo "case $c failed (exit $rc): $msg" >&2
  fi
done
report

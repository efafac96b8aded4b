#!/usr/bin/env bash
# Usage: mon/benches/push.sh            (as root; wrap measurement runs in
#                                         `flock /tmp/mon-bench.lock mon/benches/push.sh`)
#
# Push benchmark of issue 4: one source and N receivers (default 20), each an emulated host
# with its own upload and download limit, `mon push` (DAG and tree, rarest-first and
# first-fit) against the Kumar-Ross lower bound, and parallel-scp on the same hosts.
#
#  1. Hosts: ../shared/lab/hosts-up.sh (N+1) RATE_MBIT DELAY_MS with LAB_HOST_PREFIX=pbh,
#     LAB_HUB=pbhub: namespaces pbh1 … pbh(N+1) on a bridge, host i at 10.77.0.i, tbf rate
#     limit on its upload and its download. pbh1 is the source (runs only the client);
#     receiver node n<i> runs in pbh(i+1) at 10.77.0.(i+1). hosts-up.sh's state dir
#     (/tmp/benchlab/hosts) is fixed: only one user of it at a time on the machine.
#  2. Layout: `mon testbed --prepare-only` (node keys, user key, allowed_signers granting
#     mon-*@mon, a policy with push-dirs = WORK/push), then known_nodes rewritten from
#     127.0.0.(i+1) to the hosts' 10.77 addresses. One `mon server` per receiver namespace
#     on 10.77.0.(i+1):PORT, joining through the first three; waits until three `count`s in a
#     row reach all N.
#  3. Runs (PUSH_RUNS, in order; the servers are restarted with --push-policy when the policy
#     changes): `mon --json [--max-parents M] push FILE WORK/push/{node}-TAG.bin` from pbh1
#     through n1, random files of the given size. After each run: every receiver's file is
#     compared with the source's SHA-256 and removed; per-node completion times come from the
#     push.done records of the nodes' audit logs (ms resolution, same clock), upload bytes per
#     host from the hub's veth counters, server CPU from /proc (benchstat.py snap).
#  4. SCP=1 (default): sshd in every receiver namespace (own config, own host key, port 22,
#     root login with a generated key only, `Subsystem sftp internal-sftp -d WORK/scp/n<i>` so
#     each host lands the file in its own directory), then `parallel-scp -p N` of the
#     SCP_SIZE_MIB file from pbh1 to all N (pssh's scp runs `scp -qC`), timed and hash-checked.
#  5. Prints each run's JSON line, then the table of docs/benchmarks.md (pushstat.py report).
#
# Environment (all optional):
#   N              receivers [20]
#   RATE_MBIT      per-host upload and download limit [10]
#   DELAY_MS       one-way delay per packet [0]
#   PUSH_RUNS      space-separated POLICY/MAX_PARENTS/SIZE_MIB/REPS items
#                  [rarest-first/3/64/3 rarest-first/1/64/2 rarest-first/3/8/3
#                   rarest-first/1/8/2 first-fit/3/64/2 first-fit/3/8/2]
#   WARM_S         seconds to wait after membership settled, before the first push [20]
#   PUSH_ARGS      extra `mon push` arguments (e.g. "--block-size 128K")
#   SCP            1: also run parallel-scp [1];  SCP_SIZE_MIB [8]
#   BENCH_PORT     server port [7460]
#   BENCH_TMPFS    1: work dir (and so the landed files) on /dev/shm [1] (each emulated host
#                  would have its own disk; one shared disk would be a bottleneck of its own)
#   BENCH_KEEP=1   keep the work directory (server logs, audit logs, runs.jsonl)
#   BENCH_MAX_S    hard time limit [1800 + 10 s per MiB pushed]
#   BENCH_SERVER_ARGS extra `mon server` arguments; RUST_LOG [warn]
#   MON_BIN, MON_LAB  as in lib.sh
#   LAB_HOST_RATES "21:2" gives host pbh21 (receiver n20) its own rate in Mbit/s (see
#                  hosts-up.sh); unequal links, for the slow-host runs of issue 13
#
# Requires: root, iproute2, python3, ssh-keygen; for SCP=1 the Debian packages `pssh`
# (parallel-scp) and `openssh-server` (sshd): `apt-get install -y pssh openssh-server`
# (PB_INSTALL=1 lets the script run that itself). Bounded by a watchdog; everything it
# started (servers, sshd, namespaces, work dir, /run/sshd if it made it) goes on exit,
# Ctrl-C, SIGTERM or timeout.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# hosts-up.sh reads LAB_HOST_RATES under `set -u`: pass it on, empty when not given.
export LAB_HOST_RATES="${LAB_HOST_RATES:-}"

N="${N:-20}"
RATE_MBIT="${RATE_MBIT:-10}"
DELAY_MS="${DELAY_MS:-0}"
PUSH_RUNS="${PUSH_RUNS:-rarest-first/3/64/3 rarest-first/1/64/2 rarest-first/3/8/3 rarest-first/1/8/2 first-fit/3/64/2 first-fit/3/8/2}"
SCP="${SCP:-1}"
WARM_S="${WARM_S:-20}"
SCP_SIZE_MIB="${SCP_SIZE_MIB:-8}"
export LAB_HOST_PREFIX=pbh LAB_HUB=pbhub
HP=pbh
HUB=pbhub
[[ "$N" =~ ^[0-9]+$ && "$N" -ge 1 && "$N" -le 240 ]] || bench_die "N must be 1..240"
bench_require "$DELAY_MS" 0
[[ -x "$MON_LAB/hosts-up.sh" ]] || bench_die "no $MON_LAB/hosts-up.sh"
if [[ "$SCP" == 1 ]]; then
  if ! command -v parallel-scp >/dev/null || [[ ! -x /usr/sbin/sshd ]]; then
    if [[ "${PB_INSTALL:-0}" == 1 ]]; then
      apt-get install -y pssh openssh-server >&2 || bench_die "apt-get install pssh openssh-server failed"
    else
      bench_die "SCP=1 needs parallel-scp and sshd: apt-get install -y pssh openssh-server (or PB_INSTALL=1, or SCP=0)"
    fi
  fi
fi

host_ip() { echo "10.77.$((($1 - 1) / 250)).$((($1 - 1) % 250 + 1))"; } # host i (1-based)
rcv_ip() { host_ip $(($1 + 1)); }                                        # receiver node i

total_mib=0
for r in $PUSH_RUNS; do
  IFS=/ read -r _ _ sz reps <<<"$r"
  total_mib=$((total_mib + sz * reps))
done

# --- lifecycle: watchdog, cleanup ---------------------------------------------------------
HOSTS_UP=0
MADE_RUN_SSHD=0
SSHD_PIDS=()
pb_stop() { # pids…: TERM, wait up to 5 s, KILL
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 50); do
    local alive=0 p
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1 && break; done
    ((alive)) || break
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  return 0
}
pb_cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [[ -n "$WATCHDOG" ]] && kill -TERM "$WATCHDOG" 2>/dev/null
  pb_stop "${PIDS[@]}" "${SSHD_PIDS[@]}"
  ((HOSTS_UP)) && "$MON_LAB/hosts-down.sh" >/dev/null 2>&1
  ((MADE_RUN_SSHD)) && rmdir /run/sshd 2>/dev/null
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "bench: kept $WORK" >&2; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}
BENCH_LIMIT="${BENCH_MAX_S:-$((1800 + 10 * total_mib))}"
trap pb_cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'echo "bench: terminated (SIGTERM, or the time limit of $BENCH_LIMIT s)" >&2; exit 124' TERM
(
  sleep "$BENCH_LIMIT" &
  s=$!
  trap 'kill $s 2>/dev/null; exit 0' TERM
  wait $s && kill -TERM $$ 2>/dev/null
) >/dev/null 2>&1 &
WATCHDOG=$!
base=/dev/shm
[[ "${BENCH_TMPFS:-1}" == 1 ]] || base=/tmp
WORK="$(mktemp -d "$base/mon-pushbench-XXXXXX")"
chmod 755 "$WORK"

echo "machine: $(bench_machine)"
echo "push bench: N=$N rate=${RATE_MBIT}mbit delay=${DELAY_MS}ms runs=[$PUSH_RUNS] scp=$SCP work=$WORK limit=${BENCH_LIMIT}s"

# --- hosts ----------------------------------------------------------------------------------
HOSTS_UP=1
LAB_VERIFY="${LAB_VERIFY:-1}" "$MON_LAB/hosts-up.sh" $((N + 1)) "$RATE_MBIT" "$DELAY_MS" >&2

# --- layout -----------------------------------------------------------------------------------
"$MON" testbed --prepare-only --dir "$WORK" --nodes "$N" --port "$PORT" >/dev/null 2>&1 \
  || bench_die "mon testbed --prepare-only failed"
sed_args=()
for i in $(seq 1 "$N"); do sed_args+=(-e "s/^n$i,$(node_ip "$i") /n$i,$(rcv_ip "$i") /"); done
sed -i "${sed_args[@]}" "$WORK/known_nodes"
for i in $(seq 1 "$N"); do cp "$WORK/known_nodes" "$WORK/n$i/config/known_nodes"; done
grep -q '^n1,10\.77\.' "$WORK/known_nodes" || bench_die "known_nodes rewrite failed"
chmod 755 "$WORK/push"

POLICY=""
start_servers() { # POLICY
  pb_stop "${PIDS[@]}"
  PIDS=()
  local i seeds=""
  for i in $(seq 1 $((N < 3 ? N : 3))); do seeds+="${seeds:+,}$(rcv_ip "$i"):$PORT"; done
  for i in $(seq 1 "$N"); do
    ip netns exec "$HP$((i + 1))" env RUST_LOG="${RUST_LOG:-warn}" "$MON" server \
      --config-dir "$WORK/n$i/config" --state-dir "$WORK/n$i/state" \
      --listen "$(rcv_ip "$i"):$PORT" --name "n$i" --join "$seeds" --push-policy "$1" \
      ${BENCH_SERVER_ARGS:-} </dev/null >/dev/null 2>>"$WORK/n$i/server.log" &
    PIDS+=($!)
  done
  printf '%s\n' "${PIDS[@]}" >"$WORK/pids"
  POLICY="$1"
  sleep 0.5
  [[ "$(cat "/proc/${PIDS[0]}/comm" 2>/dev/null)" == mon ]] || bench_die "server n1 did not start; see $WORK/n1/server.log"
}

CLIENT=(ip netns exec "${HP}1" env -u SSH_AUTH_SOCK -u MON_SERVER -u MON_SLICE "$MON"
  --key "$WORK/user_ed25519" --known-nodes "$WORK/known_nodes"
  --server "$(rcv_ip 1):$PORT" --slice testbed)

settle() {
  local limit=$((60 + N)) t0 ok=0 out c m
  t0=$(date +%s.%N)
  while :; do
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || bench_die "server pid $p exited; see $WORK/n*/server.log (BENCH_KEEP=1)"; done
    out=$("${CLIENT[@]}" --json --timeout 3 count 2>/dev/null || true)
    c=$(sed -n 's/.*"result":\([0-9]*\).*/\1/p' <<<"$out")
    m=$(sed -n 's/.*"missing":\([0-9]*\).*/\1/p' <<<"$out")
    if [[ "${c:-0}" -ge "$N" && "${m:-1}" == 0 ]]; then ok=$((ok + 1)); else ok=0; fi
    ((ok >= 3)) && break
    awk "BEGIN{exit !($(date +%s.%N) - $t0 > $limit)}" && bench_die "membership did not settle in $limit s (last count ${c:-none} of $N)"
    bench_sleep 1
  done
  awk "BEGIN{printf \"%.1f\n\", $(date +%s.%N) - $t0}"
}

make_file() { # SIZE_MIB → path
  local f="$WORK/src-$1M.bin"
  [[ -f "$f" ]] || head -c $(($1 * 1048576)) /dev/urandom >"$f"
  echo "$f"
}

RUNS="$WORK/runs.jsonl"
: >"$RUNS"
audit_json() {
  local i s="{"
  for i in $(seq 1 "$N"); do s+="\"n$i\":\"$WORK/n$i/state/audit.jsonl\","; done
  echo "${s%,}}"
}
AUDIT="$(audit_json)"

check_copies() { # SRC_SHA PATTERN(with %s for the node) → number of identical copies
  local want="$1" pat="$2" i ok=0 f
  for i in $(seq 1 "$N"); do
    # shellcheck disable=SC2059
    f=$(printf "$pat" "n$i")
    if [[ -f "$f" ]] && [[ "$(sha256sum "$f" | cut -d' ' -f1)" == "$want" ]]; then ok=$((ok + 1)); fi
    rm -f "$f"
  done
  echo "$ok"
}

run_push() { # POLICY MAXP SIZE_MIB REP
  local policy="$1" maxp="$2" mib="$3" rep="$4" f sha tag variant t0 t1 rc same ct0 ct1
  f=$(make_file "$mib")
  sha=$(sha256sum "$f" | cut -d' ' -f1)
  tag="$policy-p$maxp-${mib}M-r$rep"
  if [[ "$maxp" == 1 ]]; then variant="tree (max-parents 1), $policy"; else variant="DAG (max-parents $maxp), $policy"; fi
  python3 "$BENCH_DIR/pushstat.py" link "$HUB" "$WORK/link0.json"
  python3 "$BENCH_DIR/benchstat.py" snap "$WORK/pids" "$WORK/cpu0.json"
  ct0=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
  t0=$(date +%s.%N)
  rc=0
  # shellcheck disable=SC2086
  "${CLIENT[@]}" --json --max-parents "$maxp" push ${PUSH_ARGS:-} "$f" "$WORK/push/{node}-$tag.bin" \
    >"$WORK/client-$tag.json" 2>"$WORK/client-$tag.err" || rc=$?
  t1=$(date +%s.%N)
  ct1=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
  python3 "$BENCH_DIR/benchstat.py" snap "$WORK/pids" "$WORK/cpu1.json"
  python3 "$BENCH_DIR/pushstat.py" link "$HUB" "$WORK/link1.json"
  bench_sleep 1 # late push.done records of nodes that finished as the result went up
  same=$(check_copies "$sha" "$WORK/push/%s-$tag.bin")
  cat >"$WORK/run.json" <<EOF
{"variant": "$variant", "policy": "$policy", "max_parents": $maxp, "size": $((mib * 1048576)),
 "rep": $rep, "rate_mbit": $RATE_MBIT, "receivers": $N, "exit": $rc,
 "identical": $([[ "$same" == "$N" ]] && echo true || echo false), "identical_count": $same,
 "client_out": "$WORK/client-$tag.json", "t_start": $t0,
 "wall_s": $(awk "BEGIN{print $t1 - $t0}"), "tag": "$tag",
 "link0": "$WORK/link0.json", "link1": "$WORK/link1.json",
 "cpu0": "$WORK/cpu0.json", "cpu1": "$WORK/cpu1.json", "audit": $AUDIT,
 "client_cpu_s": $(awk "BEGIN{print ($ct1 - $ct0) / $(getconf CLK_TCK)}"),
 "loadavg": "$(cut -d' ' -f1-3 /proc/loadavg)"}
EOF
  python3 "$BENCH_DIR/pushstat.py" record "$WORK/run.json" | tee -a "$RUNS"
  [[ "$same" == "$N" ]] || echo "bench: run $tag: only $same of $N copies identical (exit $rc; $(head -c 300 "$WORK/client-$tag.err"))" >&2
}

# --- push runs -----------------------------------------------------------------------------
for r in $PUSH_RUNS; do
  IFS=/ read -r policy maxp mib reps <<<"$r"
  [[ "$policy" == rarest-first || "$policy" == first-fit ]] || bench_die "bad policy in '$r'"
  if [[ "$policy" != "$POLICY" ]]; then
    start_servers "$policy"
    echo "servers ($policy) settled in $(settle) s; warming up ${WARM_S} s (gossip views fill)" >&2
    bench_sleep "$WARM_S"
  fi
  for rep in $(seq 1 "$reps"); do
    echo "push: $policy max-parents=$maxp ${mib} MiB rep $rep (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    run_push "$policy" "$maxp" "$mib" "$rep"
  done
done

# --- parallel-scp --------------------------------------------------------------------------
if [[ "$SCP" == 1 ]]; then
  pb_stop "${PIDS[@]}"
  PIDS=()
  : >"$WORK/pids"
  if [[ ! -d /run/sshd ]]; then mkdir -p /run/sshd && chmod 755 /run/sshd && MADE_RUN_SSHD=1; fi
  mkdir -p "$WORK/ssh"
  ssh-keygen -q -t ed25519 -N '' -C pushbench-scp -f "$WORK/ssh/client_ed25519"
  cp "$WORK/ssh/client_ed25519.pub" "$WORK/ssh/authorized_keys"
  : >"$WORK/ssh/hosts"
  for i in $(seq 1 "$N"); do
    d="$WORK/ssh/n$i"
    mkdir -p "$d" "$WORK/scp/n$i"
    ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519"
    cat >"$d/sshd_config" <<EOF
Port 22
ListenAddress $(rcv_ip "$i")
HostKey $d/host_ed25519
PidFile none
AuthorizedKeysFile $WORK/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 100
Subsystem sftp internal-sftp -d $WORK/scp/n$i
EOF
    ip netns exec "$HP$((i + 1))" /usr/sbin/sshd -D -e -f "$d/sshd_config" </dev/null >/dev/null 2>"$d/sshd.log" &
    SSHD_PIDS+=($!)
    echo "root@$(rcv_ip "$i"):22" >>"$WORK/ssh/hosts"
  done
  bench_sleep 1
  f=$(make_file "$SCP_SIZE_MIB")
  sha=$(sha256sum "$f" | cut -d' ' -f1)
  python3 "$BENCH_DIR/pushstat.py" link "$HUB" "$WORK/link0.json"
  echo "parallel-scp: ${SCP_SIZE_MIB} MiB to $N hosts (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  t0=$(date +%s.%N)
  rc=0
  ip netns exec "${HP}1" parallel-scp -h "$WORK/ssh/hosts" -p "$N" -t 0 \
    -O StrictHostKeyChecking=no -O UserKnownHostsFile=/dev/null -O BatchMode=yes \
    -O "IdentityFile=$WORK/ssh/client_ed25519" -O LogLevel=ERROR \
    "$f" scp.bin >"$WORK/scp.out" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  python3 "$BENCH_DIR/pushstat.py" link "$HUB" "$WORK/link1.json"
  same=$(check_copies "$sha" "$WORK/scp/%s/scp.bin")
  python3 - "$t1" "$t0" "$SCP_SIZE_MIB" "$N" "$RATE_MBIT" "$same" "$rc" "$WORK" <<'EOF' | tee -a "$RUNS"
import json, sys
t1, t0, mib, n, rate, same, rc, work = sys.argv[1:]
t = float(t1) - float(t0); size = int(mib) * 1048576; n = int(n); u = float(rate) * 1e6 / 8
l0 = json.load(open(work + "/link0.json")); l1 = json.load(open(work + "/link1.json"))
up = {k: round((l1[k]["up"] - l0.get(k, {}).get("up", 0)) / 1048576.0, 1) for k in sorted(l1, key=int)}
print(json.dumps({"variant": "parallel-scp", "size": size, "rep": 1, "exit": int(rc),
  "done": int(same), "identical": int(same) == n, "T": t, "bound": size / u, "ratio": t / (size / u),
  "aggregate_MBps": int(same) * size / t / 1e6, "x_us": int(same) * size / t / u,
  "node_rate_mbit": {"min": None, "median": None, "max": None}, "upload_MiB": up}))
EOF
  sed -n '1,3p;$p' "$WORK/scp.out" >&2
  pb_stop "${SSHD_PIDS[@]}"
  SSHD_PIDS=()
fi

echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$BENCH_DIR/pushstat.py" report "$RUNS"

#!/usr/bin/env bash
# Usage: mon/benches/compare.sh mon|pssh|serf N [DELAY_MS]      status query latency
#        mon/benches/compare.sh idle mon|serf N [WINDOW_S]       idle RSS / CPU per node
#
# MON against the tools it replaces, on one machine, for the same status query: "the load
# average of every node". Everything runs in a private network namespace made by the lab's
# netns-up.sh (loopback only, 127.0.0.2 … for nodes 1 … N, optionally DELAY_MS one way on
# every packet by the lab's NFQUEUE delayer: this kernel has no netem).
#
#  mon   N real `mon server`s (lib.sh: testbed keys and policy, joined through n1–n3);
#        query: `mon --json --timeout $Q_TIMEOUT avg load` through n1 — every node reads its
#        /proc/loadavg, the overlay aggregates, the client gets the mean and the number of
#        nodes that answered. The client talks to n1 without delay (CLIENT_LOCAL=1, as when
#        the client runs on the entry host; CLIENT_LOCAL=0 delays that hop too); every
#        node-to-node packet is delayed.
#  pssh  ONE real OpenSSH sshd in the namespace listening on 0.0.0.0:22, so each of
#        127.0.0.2 … N+1 is a distinct target address with its own TCP connection and SSH
#        handshake (host key, key-based root login, own config under the work dir;
#        MaxStartups raised so the single daemon does not drop concurrent handshakes the N
#        real daemons would each accept). Query: `parallel-ssh -h HOSTS -p $PSSH_PAR -t 60
#        cat /proc/loadavg` (host keys checked against a generated known_hosts). The
#        client's packets cross the delayed network (there is no local hop).
#  serf  N `serf agent`s (Debian's serf), agent i bound to 127.0.0.(i+1):7946 with its RPC
#        on the same address, port 7373, joined through agents 1–3 (-retry-join); every agent
#        answers the query `load` with its event handler `cat /proc/loadavg`. Query: `serf
#        query -rpc-addr n1:7373 -timeout ${Q_TIMEOUT}s load`. The RPC port is not delayed
#        (LAB_NODELAY_PORTS=7373: client on the agent's host); gossip and responses are.
#        serf's CLI always waits for its whole timeout (it cannot know N), so the time
#        reported is until the N-th response line, or the full timeout when fewer arrive.
#
# Each measurement: wait until the system has settled (mon: three complete counts in a row;
# serf: n1 and nN both list N alive members three times in a row; pssh: sshd answers), idle
# IDLE_S, then RUNS queries one after the other (GAP_S apart), each timed by compare_stat.py
# run (wall time; answered nodes; client CPU). Daemon CPU per query is measured from /proc
# (utime+stime+cutime+cstime of the daemons, less their idle rate).
# Last line of output: one JSON object (compare_stat.py summary / idle), which
# compare_all.sh collects.
#
# idle: start and settle as above (no delay), idle IDLE_S (20 s), then measure over WINDOW_S
# (60 s): RSS (VmRSS, RssAnon) per daemon at the end, CPU % of one core per daemon over the
# window, and bytes sent per node (iptables-legacy counter per source address, all protocols).
#
# Environment: RUNS [10], GAP_S [1], IDLE_S [10; idle: 20], Q_TIMEOUT [10 s: mon --timeout,
# serf -timeout], PSSH_PAR [32, parallel-ssh's default], CLIENT_LOCAL [1], SERF_BIN [serf],
# BENCH_NS [cb-PID], and lib.sh's (MON_BIN, MON_LAB, BENCH_KEEP, BENCH_MAX_S, BENCH_SETTLE_S).
# Requires root; Debian packages: iproute2, iptables, iputils-ping (delay), openssh-client,
# openssh-server and pssh (pssh), serf (serf), python3.
# Bounded: BENCH_MAX_S (default: settle limit + IDLE_S + RUNS × (Q_TIMEOUT + 16) + 180 s, and
# for serf N s more for starting the agents). If serf does not settle within the settle limit
# (BENCH_SETTLE_S, default 60 + N/2 s), the queries run anyway and the summary says so:
# how serf fails at a size is a result.
BENCH_NS="${BENCH_NS:-cb-$$}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { bench_die "usage: compare.sh mon|pssh|serf N [DELAY_MS] | compare.sh idle mon|serf N [WINDOW_S]"; }
MODE="${1:-}"
case "$MODE" in
  mon | pssh | serf) TOOL="$MODE"; N="${2:-}"; DELAY="${3:-0}"; WINDOW_S=0 ;;
  idle) TOOL="${2:-}"; N="${3:-}"; DELAY=0; WINDOW_S="${4:-60}"
    [[ "$TOOL" == mon || "$TOOL" == serf ]] || usage ;;
  *) usage ;;
esac
[[ "$N" =~ ^[0-9]+$ && "$N" -ge 1 && "$N" -le 1000 ]] || bench_die "N must be 1..1000"
[[ "$DELAY" =~ ^[0-9]+(\.[0-9]+)?$ ]] || bench_die "DELAY_MS must be a number"
[[ "$WINDOW_S" =~ ^[0-9]+$ ]] || bench_die "WINDOW_S must be a whole number of seconds"
RUNS="${RUNS:-10}"
GAP_S="${GAP_S:-1}"
Q_TIMEOUT="${Q_TIMEOUT:-10}"
PSSH_PAR="${PSSH_PAR:-32}"
CLIENT_LOCAL="${CLIENT_LOCAL:-1}"
SERF="${SERF_BIN:-serf}"
if [[ "$MODE" == idle ]]; then IDLE_S="${IDLE_S:-20}"; else IDLE_S="${IDLE_S:-10}"; fi
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 ]] || bench_die "RUNS must be a positive integer"
[[ "$PSSH_PAR" =~ ^[0-9]+$ && "$PSSH_PAR" -ge 1 ]] || bench_die "PSSH_PAR must be a positive integer"
STAT="$BENCH_DIR/compare_stat.py"
SETTLE_LIMIT="${BENCH_SETTLE_S:-$((60 + N / 2))}"

# ---------------------------------------------------------------- prerequisites
need_pkg() { command -v "$1" >/dev/null || bench_die "$1 is required: apt-get install -y $2"; }
if [[ "$TOOL" == mon ]]; then
  bench_require "$DELAY" "$([[ $MODE == idle ]] && echo 1 || echo 0)"
else
  [[ $EUID -eq 0 ]] || bench_die "run as root (network namespaces, iptables, sshd)"
  [[ -n "${MON_LAB:-}" && -x "$MON_LAB/netns-up.sh" ]] || bench_die "lab scripts not found: set MON_LAB to the directory with netns-up.sh"
  need_pkg python3 python3
  if awk "BEGIN{exit !($DELAY>0)}" || [[ "$MODE" == idle ]]; then need_pkg iptables-legacy iptables; fi
  if awk "BEGIN{exit !($DELAY>0)}"; then need_pkg ping iputils-ping; fi
fi
if [[ "$TOOL" == pssh ]]; then
  need_pkg parallel-ssh pssh
  need_pkg ssh openssh-client
  need_pkg ssh-keygen openssh-client
  [[ -x /usr/sbin/sshd ]] || bench_die "/usr/sbin/sshd is required: apt-get install -y openssh-server"
fi
if [[ "$TOOL" == serf ]]; then
  command -v "$SERF" >/dev/null || bench_die "serf is required: apt-get install -y serf (or set SERF_BIN)"
fi
# Starting N serf agents takes up to ~1 s each under load (500 agents: minutes): counted too.
START_S=0
[[ "$TOOL" == serf ]] && START_S=$N
if [[ "$MODE" == idle ]]; then
  bench_init $((START_S + SETTLE_LIMIT + IDLE_S + WINDOW_S + 180))
else
  bench_init $((START_S + SETTLE_LIMIT + IDLE_S + RUNS * (Q_TIMEOUT + 15 + ${GAP_S%.*}) + 180))
fi

versions() {
  case "$TOOL" in
    mon) echo "mon=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" ;;
    pssh) echo "pssh=$(parallel-ssh --version 2>&1) openssh=\"$(ssh -V 2>&1)\"" ;;
    serf) echo "serf=$("$SERF" version 2>/dev/null | head -1 | awk '{print $NF}') serf_deb=$(dpkg-query -W -f '${Version}' serf 2>/dev/null || echo '?')" ;;
  esac
}
echo "machine: $(bench_machine)"
echo "compare: mode=$MODE tool=$TOOL N=$N delay=${DELAY}ms runs=$RUNS netns=$NS work=$WORK $(versions)"

# ---------------------------------------------------------------- namespace
if [[ "$TOOL" == serf ]]; then
  LAB_NODELAY_PORTS=7373 bench_netns "$DELAY"
else
  bench_netns "$DELAY"
fi
if [[ "$TOOL" == mon && "$CLIENT_LOCAL" == 1 ]] && awk "BEGIN{exit !($DELAY>0)}"; then
  # The client's TCP connection to n1 skips the delayer (as count_latency.sh CLIENT_LOCAL=1).
  for r in "-s 127.0.0.1 -d $(node_ip 1) --dport $PORT" "-s $(node_ip 1) -d 127.0.0.1 --sport $PORT"; do
    # shellcheck disable=SC2086
    nsx iptables-legacy -w -t mangle -I OUTPUT 1 -p tcp $r -j RETURN
  done
fi

# ---------------------------------------------------------------- start and settle
settle_serf() {
  local t0 ok=0 a b
  t0=$(date +%s.%N)
  while :; do
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || bench_die "serf agent pid $p exited; see $WORK/s*.log (BENCH_KEEP=1)"; done
    a=$(nsx "$SERF" members -rpc-addr "$(node_ip 1):7373" -status alive 2>/dev/null | wc -l || true)
    b=$(nsx "$SERF" members -rpc-addr "$(node_ip "$N"):7373" -status alive 2>/dev/null | wc -l || true)
    if [[ "$a" -ge "$N" && "$b" -ge "$N" ]]; then ok=$((ok + 1)); else ok=0; fi
    ((ok >= 3)) && break
    if awk "BEGIN{exit !($(date +%s.%N) - $t0 > $SETTLE_LIMIT)}"; then
      # Not fatal: how serf fails at a size is a result. The queries run anyway.
      echo "serf did not settle in $SETTLE_LIMIT s: n1 sees $a, n$N sees $b alive of $N" >"$WORK/settle_note"
      echo "NOT SETTLED after $SETTLE_LIMIT s (n1 sees $a, n$N sees $b alive of $N)"
      return 0
    fi
    bench_sleep 1
  done
  awk "BEGIN{printf \"%.1f\n\", $(date +%s.%N) - $t0}"
}

start_serf() {
  local i ip seed
  for i in $(seq 1 "$N"); do
    ip=$(node_ip "$i")
    local join=()
    if ((i > 1)); then
      seed=$(((i - 2) % 3 + 1))
      ((seed >= i)) && seed=1
      join=(-retry-join "$(node_ip "$seed")" -retry-interval 2s)
    fi
    ip netns exec "$NS" "$SERF" agent -node "s$i" -bind "$ip:7946" -advertise "$ip:7946" \
      -rpc-addr "$ip:7373" -log-level warn -event-handler "query:load=cat /proc/loadavg" \
      "${join[@]}" </dev/null >"$WORK/s$i.log" 2>&1 &
    PIDS+=($!)
    # Pace the start a little: 500 Go processes starting at once starve the settle check.
    ((i % 50 == 0)) && sleep 1
  done
  printf '%s\n' "${PIDS[@]}" >"$WORK/pids"
  sleep 1
  local comm
  comm=$(cat "/proc/${PIDS[0]}/comm" 2>/dev/null || true)
  [[ "$comm" == serf ]] || bench_die "pid ${PIDS[0]} is '$comm', not a serf agent; see $WORK/s1.log"
}

start_sshd() {
  local d="$WORK/ssh" i
  mkdir -p "$d"
  # sshd's privilege separation directory (compiled in; normally made by systemd).
  # (It vanished between runs on this machine, so it is checked again before every query.)
  [[ -d /run/sshd ]] || install -d -m 0755 /run/sshd
  ssh-keygen -q -t ed25519 -N '' -C cb-host -f "$d/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C cb-user -f "$d/user_ed25519"
  cp "$d/user_ed25519.pub" "$d/authorized_keys"
  echo "127.* $(cut -d' ' -f1-2 "$d/host_ed25519.pub")" >"$d/known_hosts"
  cat >"$d/sshd_config" <<EOF
Port 22
ListenAddress 0.0.0.0
HostKey $d/host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
MaxStartups 10000
LogLevel ERROR
EOF
  cat >"$d/ssh_config" <<EOF
Host *
  User root
  Port 22
  IdentityFile $d/user_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $d/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  CheckHostIP no
  UpdateHostKeys no
  BatchMode yes
  ControlMaster no
  ControlPath none
  ConnectTimeout 30
  LogLevel ERROR
EOF
  /usr/sbin/sshd -t -f "$d/sshd_config" || bench_die "sshd -t rejected $d/sshd_config"
  # Root's ~/.bashrc on a developer machine may be slow (here: `pyenv init`, 0.3 s per
  # login); bash reads it for every command run over ssh. The daemon gets an empty one via a
  # bind mount in the private mount namespace `ip netns exec` creates (invisible outside),
  # as on a lean managed node. `exec` keeps $! the daemon's pid.
  : >"$d/empty_bashrc"
  local rc=/root/.bashrc
  [[ "$(getent passwd root | cut -d: -f6)" == /root && -f $rc ]] || rc=""
  ip netns exec "$NS" sh -c 'if [ -n "$1" ]; then mount --bind "$2" "$1" || exit 1; fi; shift 2; exec "$@"' \
    sh "$rc" "$d/empty_bashrc" /usr/sbin/sshd -D -e -f "$d/sshd_config" </dev/null 2>"$d/sshd.log" &
  PIDS+=($!)
  printf '%s\n' "${PIDS[@]}" >"$WORK/pids"
  : >"$WORK/hosts"
  for i in $(seq 1 "$N"); do node_ip "$i" >>"$WORK/hosts"; done
  for _ in $(seq 50); do
    nsx ssh -F "$d/ssh_config" "$(node_ip 1)" true 2>/dev/null && return 0
    sleep 0.2
  done
  bench_die "sshd in $NS does not accept logins; see $d/sshd.log"
}

case "$TOOL" in
  mon)
    bench_start "$N"
    echo "settled in $(bench_settle "$N") s"
    ;;
  serf)
    T_START=$(date +%s.%N)
    start_serf
    echo "started $N agents in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $T_START}") s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "settled in $(settle_serf) s"
    ;;
  pssh)
    start_sshd
    echo "sshd up"
    ;;
esac
echo "idling ${IDLE_S} s"

# ---------------------------------------------------------------- idle footprint
if [[ "$MODE" == idle ]]; then
  bench_sleep "$IDLE_S"
  {
    echo "*filter"
    echo ":CB_OUT - [0:0]"
    echo "-A OUTPUT -j CB_OUT"
    for i in $(seq 1 "$N"); do echo "-A CB_OUT -s $(node_ip "$i")/32 -j RETURN"; done
    echo "COMMIT"
  } >"$WORK/ipt.rules"
  nsx iptables-legacy-restore -w --noflush <"$WORK/ipt.rules"
  nsx iptables-legacy -w -Z CB_OUT
  python3 "$STAT" snap "$WORK/pids" "$WORK/snap0.json"
  echo "measuring ${WINDOW_S} s (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
  bench_sleep "$WINDOW_S"
  python3 "$STAT" snap "$WORK/pids" "$WORK/snap1.json"
  nsx iptables-legacy -w -L CB_OUT -v -x -n >"$WORK/ipt_out.txt"
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 "$STAT" idle "$TOOL" "$N" "$WORK/snap0.json" "$WORK/snap1.json" "$WORK/ipt_out.txt" \
    "$(versions | tr ' ' '\n' | head -1)" "loadavg=\"$(cut -d' ' -f1 /proc/loadavg)\""
  exit 0
fi

# ---------------------------------------------------------------- queries
bench_sleep 2
python3 "$STAT" snap "$WORK/pids" "$WORK/snap_idle.json"
bench_sleep "$((IDLE_S > 2 ? IDLE_S - 2 : 1))"
case "$TOOL" in
  mon)
    client_argv
    QUERY=("${CLIENT[@]}" --json --timeout "$Q_TIMEOUT" avg load)
    LIMIT=$((Q_TIMEOUT + 15))
    ;;
  pssh)
    QUERY=(ip netns exec "$NS" parallel-ssh -h "$WORK/hosts" -p "$PSSH_PAR" -t 60 -i
      -x "-F $WORK/ssh/ssh_config" cat /proc/loadavg)
    LIMIT=$((60 + N / 2))
    ;;
  serf)
    QUERY=(ip netns exec "$NS" "$SERF" query -rpc-addr "$(node_ip 1):7373" -timeout "${Q_TIMEOUT}s" load)
    LIMIT=$((Q_TIMEOUT + 15))
    ;;
esac
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load before runs: $LOAD_BEFORE"
python3 "$STAT" snap "$WORK/pids" "$WORK/snap_before.json"
: >"$WORK/runs.jsonl"
for r in $(seq 1 "$RUNS"); do
  if [[ "$TOOL" == pssh && ! -d /run/sshd ]]; then
    echo "note: /run/sshd had vanished; made again" >&2
    install -d -m 0755 /run/sshd
  fi
  python3 "$STAT" run "$WORK/runs.jsonl" "$TOOL" "$N" "$LIMIT" -- "${QUERY[@]}"
  bench_sleep "$GAP_S"
done
python3 "$STAT" snap "$WORK/pids" "$WORK/snap_after.json"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load after runs: $LOAD_AFTER"
if [[ -f "/tmp/benchlab/$NS/delayer.pid" ]]; then
  kill -USR1 "$(cat "/tmp/benchlab/$NS/delayer.pid")" 2>/dev/null && sleep 0.3 \
    && echo "delayer: $(tail -1 "/tmp/benchlab/$NS/delayer.stats" 2>/dev/null)"
fi
extra=()
[[ "$TOOL" == pssh ]] && extra+=("par=$PSSH_PAR")
[[ "$TOOL" == pssh && "$PSSH_PAR" != 32 ]] && extra+=("variant=\"-p $PSSH_PAR\"")
[[ "$TOOL" == mon ]] && extra+=("client_local=$CLIENT_LOCAL")
if [[ -f "$WORK/settle_note" ]]; then
  extra+=("note=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$(cat "$WORK/settle_note")")")
fi
if [[ -f "/tmp/benchlab/$NS/delayer.stats" ]]; then
  extra+=("delayer=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$(tail -1 "/tmp/benchlab/$NS/delayer.stats")")")
fi
python3 "$STAT" summary "$TOOL" "$N" "$DELAY" "$WORK/runs.jsonl" \
  "$WORK/snap_idle.json" "$WORK/snap_before.json" "$WORK/snap_after.json" \
  "load_before=\"$LOAD_BEFORE\"" "load_after=\"$LOAD_AFTER\"" "${extra[@]}" \
  "$(versions | tr ' ' '\n' | head -1 | sed 's/=\(.*\)/="\1"/')"

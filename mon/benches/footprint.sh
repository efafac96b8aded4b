#!/usr/bin/env bash
# Usage: mon/benches/footprint.sh N [WINDOW_S]
#
# Idle footprint of N real `mon server` processes (release build) on loopback.
#
#  1. Makes a private network namespace (../shared/lab/netns-up.sh NAME 0: no delay), lays
#     out N testbed nodes (`mon testbed --prepare-only`) and starts N servers inside it on
#     127.0.0.2 … with the arguments `mon testbed` uses (join through the first three).
#  2. Waits until membership has settled (three `count`s in a row reach all N, none
#     missing), then IDLE_S more seconds (default 20) so that no session state is left and
#     gossip is in its steady state. No client runs after that.
#  3. Measures over WINDOW_S seconds (default 60):
#     - RSS per server: VmRSS from /proc/PID/status at the end of the window (also RssAnon,
#       the private part, and RssFile, pages of the binary shared by all servers).
#     - CPU per server: (utime + stime) delta from /proc/PID/stat over the window, in % of
#       one core (1 tick = 10 ms, so with a 60 s window one tick is 0.017 %).
#     - Gossip bytes per node: iptables-legacy counters inside the namespace, one rule per
#       node in OUTPUT (`-s 127.0.0.K -p udp --sport PORT`, what node K sends) and one in
#       INPUT (`-d 127.0.0.K -p udp --dport PORT`, what it receives), zeroed at the start of
#       the window. iptables counts IP packet lengths; the report gives the UDP payload
#       (minus 28 bytes of IPv4+UDP headers per datagram) and the wire size. The servers
#       expose no traffic counters of their own, and /proc/net/udp has queue sizes, not byte
#       totals, hence the firewall counters. A rule counting TCP to the servers' port shows
#       that idle servers open no streams.
#  4. Prints the report (the last line is one JSON object) and tears everything down.
#
# Targets (issue 3): idle server < 8 MiB RSS and < 0.1 % CPU; gossip < 500 B/s per node.
# Bounded: BENCH_MAX_S (default settle limit + IDLE_S + WINDOW_S + 120 s). Root only.
# Environment: see lib.sh (MON_BIN, MON_LAB, BENCH_PORT, BENCH_KEEP, BENCH_TMPFS, …), and
# IDLE_S. Example: mon/benches/footprint.sh 100
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${1:?usage: footprint.sh N [WINDOW_S]}"
WINDOW_S="${2:-60}"
IDLE_S="${IDLE_S:-20}"
[[ "$N" =~ ^[0-9]+$ && "$N" -ge 1 && "$N" -le 1000 ]] || bench_die "N must be 1..1000"
[[ "$WINDOW_S" =~ ^[0-9]+$ && "$WINDOW_S" -ge 1 ]] || bench_die "WINDOW_S must be a positive integer"
bench_require 0 1
bench_init $((60 + N / 2 + IDLE_S + WINDOW_S + 120))

echo "machine: $(bench_machine)"
echo "footprint: N=$N window=${WINDOW_S}s idle-before=${IDLE_S}s port=$PORT netns=$NS work=$WORK"
bench_netns 0
bench_start "$N"
echo "settled in $(bench_settle "$N") s; idling ${IDLE_S} s"
bench_sleep "$IDLE_S"

# Per-node UDP counters (one restore call: fast even for 1000 nodes).
ipt=(ip netns exec "$NS" iptables-legacy -w)
{
  echo "*filter"
  echo ":MONB_IN - [0:0]"
  echo ":MONB_OUT - [0:0]"
  echo "-A INPUT -j MONB_IN"
  echo "-A OUTPUT -j MONB_OUT"
  for i in $(seq 1 "$N"); do
    ip=$(node_ip "$i")
    echo "-A MONB_IN -d $ip/32 -p udp -m udp --dport $PORT -j RETURN"
    echo "-A MONB_OUT -s $ip/32 -p udp -m udp --sport $PORT -j RETURN"
  done
  echo "-A MONB_IN -p tcp -m tcp --dport $PORT -j RETURN"
  echo "COMMIT"
} > "$WORK/ipt.rules"
nsx iptables-legacy-restore -w --noflush < "$WORK/ipt.rules"

"${ipt[@]}" -Z MONB_IN
"${ipt[@]}" -Z MONB_OUT
python3 "$BENCH_DIR/benchstat.py" snap "$WORK/pids" "$WORK/snap0.json"
echo "measuring ${WINDOW_S} s (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
bench_sleep "$WINDOW_S"
python3 "$BENCH_DIR/benchstat.py" snap "$WORK/pids" "$WORK/snap1.json"
"${ipt[@]}" -L MONB_IN -v -x -n > "$WORK/ipt_in.txt"
"${ipt[@]}" -L MONB_OUT -v -x -n > "$WORK/ipt_out.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$BENCH_DIR/benchstat.py" footprint "$WORK/snap0.json" "$WORK/snap1.json" \
  "$WORK/ipt_in.txt" "$WORK/ipt_out.txt" "$N" "$PORT"

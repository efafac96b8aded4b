#!/usr/bin/env python3
"""benchstat.py -- measurement and statistics helpers of the MON benchmark scripts.

Python 3 standard library only. Called by footprint.sh and count_latency.sh:

  benchstat.py snap PIDFILE OUT.json
      Per-process snapshot from /proc: utime+stime (clock ticks, /proc/PID/stat fields 14
      and 15), VmRSS, RssAnon, RssFile (kB, /proc/PID/status), with a monotonic timestamp.

  benchstat.py footprint SNAP0 SNAP1 IPT_IN IPT_OUT N PORT
      Compares two snapshots and two `iptables-legacy -L CHAIN -v -x -n` listings (the
      per-node UDP counters footprint.sh installs) and prints a report; the last line is one
      JSON object with every number.

  benchstat.py latency RUNS.jsonl DEPTHS.jsonl N DELAY_MS [SNAP_BEFORE SNAP_AFTER SNAP_IDLE]
      Statistics of repeated `mon --json count` / `mon --json depth` runs (one JSON object per
      line, as count_latency.sh writes them: the client's JSON plus "wall_ms" and "exit");
      prints a report whose last line is one JSON object. With snapshots taken around the
      runs and one taken earlier while idle, also the servers' CPU time per session, less
      the idle (gossip) rate measured between SNAP_IDLE and SNAP_BEFORE.

  benchstat.py shell SHELLS.jsonl COUNTS.jsonl N DELAY_MS
      First versus later commands of `mon shell` sessions (one JSON object per shell, as
      shell_latency.sh writes them: setup_ms, joined, the later commands' JSON, the overlay's
      depth) next to fresh `mon --json count` runs; prints a report whose last line is one
      JSON object.

Percentiles are nearest-rank: p95 of 20 samples is the 19th smallest.
"""
import json
import math
import os
import statistics
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
IP_UDP_HEADERS = 28  # IPv4 (20, no options) + UDP (8): iptables counts whole IP packets


def pct(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    k = max(1, math.ceil(p / 100.0 * len(v)))
    return v[k - 1]


def summary(values):
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": min(values),
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "p95": pct(values, 95),
        "max": max(values),
    }


def read_proc(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    rest = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(rest[11]), int(rest[12])  # fields 14 and 15 of stat(5)
    mem = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                mem[key] = int(val.split()[0])
    # Proportional set size: private pages plus this process's share of pages it shares
    # with others (the binary's text, mapped by every server): what N servers really cost.
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key == "Pss":
                    mem["Pss"] = int(val.split()[0])
    except OSError:
        pass
    return {"ticks": utime + stime, **mem}


def cmd_snap(pidfile, out):
    with open(pidfile) as f:
        pids = [int(x) for x in f.read().split()]
    t = time.monotonic()
    procs = {}
    for pid in pids:
        try:
            procs[str(pid)] = read_proc(pid)
        except (FileNotFoundError, ProcessLookupError):
            procs[str(pid)] = None
    with open(out, "w") as f:
        json.dump({"t": t, "procs": procs}, f)


def node_name(ip):
    """Testbed node name of a 127.x.y.z address (node i has address number i + 1)."""
    a = [int(x) for x in ip.split(".")]
    return f"n{(a[1] << 16) + (a[2] << 8) + a[3] - 1}"


def parse_ipt(path, addr_col):
    """Rows of `iptables -L CHAIN -v -x -n`: {ip: (pkts, bytes)} keyed by the source
    (addr_col='src') or destination (addr_col='dst') column; protocol tcp rows under 'tcp'."""
    rows = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 9 or not parts[0].isdigit():
                continue
            pkts, byts, prot = int(parts[0]), int(parts[1]), parts[3]
            src, dst = parts[7], parts[8]
            if prot in ("tcp", "6"):
                key = "tcp"
            else:
                key = (src if addr_col == "src" else dst).split("/")[0]
            p0, b0 = rows.get(key, (0, 0))
            rows[key] = (p0 + pkts, b0 + byts)
    return rows


def cmd_footprint(snap0, snap1, ipt_in, ipt_out, n, port):
    with open(snap0) as f:
        s0 = json.load(f)
    with open(snap1) as f:
        s1 = json.load(f)
    window = s1["t"] - s0["t"]
    cpu, rss, anon, filed, hwm, pss, dead = [], [], [], [], [], [], 0
    cpu_by_node = []
    # The pid file lists the servers in node order: n1, n2, …
    for idx, (pid, a) in enumerate(s0["procs"].items(), start=1):
        b = s1["procs"].get(pid)
        if a is None or b is None:
            dead += 1
            continue
        cpu.append(100.0 * (b["ticks"] - a["ticks"]) / CLK_TCK / window)
        cpu_by_node.append((cpu[-1], f"n{idx}"))
        rss.append(b["VmRSS"] / 1024.0)
        anon.append(b.get("RssAnon", 0) / 1024.0)
        filed.append(b.get("RssFile", 0) / 1024.0)
        hwm.append(b.get("VmHWM", 0) / 1024.0)
        pss.append(b.get("Pss", 0) / 1024.0)
    rin = parse_ipt(ipt_in, "dst")
    rout = parse_ipt(ipt_out, "src")
    sent_bps, sent_wire_bps, sent_pps, recv_bps = [], [], [], []
    sent_by_node = []
    for ip, (pk, by) in rout.items():
        if ip == "tcp":
            continue
        sent_bps.append((by - IP_UDP_HEADERS * pk) / window)
        sent_by_node.append((sent_bps[-1], node_name(ip)))
        sent_wire_bps.append(by / window)
        sent_pps.append(pk / window)
    for ip, (pk, by) in rin.items():
        if ip == "tcp":
            continue
        recv_bps.append((by - IP_UDP_HEADERS * pk) / window)
    tcp_pk, tcp_by = rin.get("tcp", (0, 0))
    tot_pk = sum(p for k, (p, _) in rout.items() if k != "tcp")
    tot_by = sum(b for k, (_, b) in rout.items() if k != "tcp")
    res = {
        "nodes": n,
        "port": port,
        "window_s": round(window, 2),
        "servers_measured": len(cpu),
        "servers_gone": dead,
        "rss_mib": summary(rss),
        "rss_anon_mib": summary(anon),
        "rss_file_mib": summary(filed),
        "rss_peak_mib": summary(hwm),
        "pss_mib": summary(pss),
        "cpu_pct": summary(cpu),
        "cpu_pct_all_servers": sum(cpu),
        "udp_sent_payload_Bps_per_node": summary(sent_bps),
        "udp_sent_wire_Bps_per_node": summary(sent_wire_bps),
        "udp_recv_payload_Bps_per_node": summary(recv_bps),
        "udp_sent_pps_per_node": summary(sent_pps),
        "udp_mean_payload_bytes": (tot_by - IP_UDP_HEADERS * tot_pk) / tot_pk if tot_pk else None,
        "tcp_to_servers_bytes": tcp_by,
        "tcp_to_servers_packets": tcp_pk,
        "top_cpu": [[name, round(v, 3)] for v, name in sorted(cpu_by_node, reverse=True)[:5]],
        "top_sent_Bps": [[name, round(v)] for v, name in sorted(sent_by_node, reverse=True)[:5]],
    }
    f2 = lambda x: f"{x:.2f}"  # noqa: E731
    f0 = lambda x: f"{x:.0f}"  # noqa: E731
    print(f"window {window:.1f} s, {len(cpu)} of {n} servers measured ({dead} gone)")
    print(f"{'metric':40} {'median':>9} {'mean':>9} {'p95':>9} {'max':>9}")
    for name, key, fmt in [
        ("RSS (VmRSS) MiB", "rss_mib", f2),
        ("  of which anonymous (RssAnon) MiB", "rss_anon_mib", f2),
        ("  of which file-backed (RssFile) MiB", "rss_file_mib", f2),
        ("peak RSS (VmHWM) MiB", "rss_peak_mib", f2),
        ("proportional set size (Pss) MiB", "pss_mib", f2),
        ("CPU % of one core", "cpu_pct", lambda x: f"{x:.3f}"),
        ("gossip sent, UDP payload B/s", "udp_sent_payload_Bps_per_node", f0),
        ("gossip sent, with IP+UDP headers B/s", "udp_sent_wire_Bps_per_node", f0),
        ("gossip received, UDP payload B/s", "udp_recv_payload_Bps_per_node", f0),
        ("gossip datagrams sent /s", "udp_sent_pps_per_node", f2),
    ]:
        s = res[key]
        if s["n"]:
            print(f"{name:40} {fmt(s['median']):>9} {fmt(s['mean']):>9} {fmt(s['p95']):>9} {fmt(s['max']):>9}")
    if res["udp_mean_payload_bytes"] is not None:
        print(f"mean datagram payload {res['udp_mean_payload_bytes']:.0f} B; "
              f"TCP to servers in the window: {tcp_by} B; all servers together: {sum(cpu):.2f} % of one core")
    print("highest CPU %: " + ", ".join(f"{k} {v}" for k, v in res["top_cpu"]))
    print("highest gossip sent B/s: " + ", ".join(f"{k} {v}" for k, v in res["top_sent_Bps"]))
    print(json.dumps(res, sort_keys=True))


def load_jsonl(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def cpu_seconds(snap0, snap1):
    """CPU seconds all processes of two snapshots used between them, and the wall time."""
    with open(snap0) as f:
        a = json.load(f)
    with open(snap1) as f:
        b = json.load(f)
    ticks = sum(
        b["procs"][p]["ticks"] - v["ticks"]
        for p, v in a["procs"].items()
        if v and b["procs"].get(p)
    )
    return ticks / CLK_TCK, b["t"] - a["t"]


def cmd_latency(runs_path, depths_path, n, delay_ms, snaps=None):
    runs = load_jsonl(runs_path)
    depths = load_jsonl(depths_path)
    print("per run (session_ms+query_ms/answered/missing): " + " ".join(
        "%s/%s/%s" % (r.get("session_ms", 0) + r.get("query_ms", 0), r.get("answered", "?"),
                      r.get("missing", "?")) for r in runs))
    ok = [r for r in runs if isinstance(r.get("result"), int)]
    total = [r["session_ms"] + r["query_ms"] for r in ok]
    query = [r["query_ms"] for r in ok]
    sess = [r["session_ms"] for r in ok]
    wall = [r["wall_ms"] for r in ok]
    answered = [r["answered"] for r in ok]
    results = [r["result"] for r in ok]
    missing = [r["missing"] for r in ok]
    dvals = [d["result"] for d in depths if isinstance(d.get("result"), int)]
    depth = statistics.median(dvals) if dvals else None
    if delay_ms > 0:
        target = 1.5 * depth * 2 * delay_ms if depth else None  # 1.5 × depth × RTT
        target_text = f"1.5 × depth × {2 * delay_ms:g} ms"
    else:
        target = 300.0
        target_text = "300 ms"
    res = {
        "nodes": n,
        "delay_ms_one_way": delay_ms,
        "runs": len(runs),
        "runs_with_result": len(ok),
        "complete_runs": sum(1 for r in ok if r["missing"] == 0 and r["result"] >= n),
        "session_plus_query_ms": summary(total),
        "query_ms": summary(query),
        "session_ms": summary(sess),
        "client_wall_ms": summary(wall),
        "answered": summary(answered),
        "result": summary(results),
        "missing": summary(missing),
        "depth": summary(dvals),
        "target_ms": target,
        "target": target_text,
    }
    if snaps:
        secs, wall = cpu_seconds(snaps[0], snaps[1])
        idle_secs, idle_wall = cpu_seconds(snaps[2], snaps[0])
        idle_rate = idle_secs / idle_wall if idle_wall > 0 else 0.0
        sessions = max(1, len(runs) + len(depths))
        res["server_cpu_s"] = round(secs, 2)
        res["server_cpu_wall_s"] = round(wall, 1)
        res["server_idle_cpu_cores"] = round(idle_rate, 3)
        res["server_cpu_ms_per_session"] = round(1000 * (secs - idle_rate * wall) / sessions)
    if total and target is not None:
        res["median_meets_target"] = statistics.median(total) < target
        res["p95_meets_target"] = pct(total, 95) < target
        res["median_query_only_meets_target"] = statistics.median(query) < target
    print(f"{len(ok)} of {len(runs)} runs gave a count; complete (count = {n}, none missing): "
          f"{res['complete_runs']}")
    print(f"{'metric':28} {'min':>7} {'median':>7} {'p95':>7} {'max':>7}")
    for name, key in [
        ("session_ms + query_ms", "session_plus_query_ms"),
        ("  session_ms", "session_ms"),
        ("  query_ms", "query_ms"),
        ("client process wall ms", "client_wall_ms"),
        ("answered", "answered"),
        ("missing", "missing"),
        ("depth (separate sessions)", "depth"),
    ]:
        s = res[key]
        if s["n"]:
            print(f"{name:28} {s['min']:>7g} {s['median']:>7g} {s['p95']:>7g} {s['max']:>7g}")
    if snaps:
        print(f"server CPU while the {len(runs) + len(depths)} sessions ran: {res['server_cpu_s']} s "
              f"in {res['server_cpu_wall_s']} s of wall time; idle rate {res['server_idle_cpu_cores']} "
              f"cores; so {res['server_cpu_ms_per_session']} ms of CPU per session summed over all "
              "servers")
    if target is not None:
        print(f"target: {target_text} = {target:.0f} ms; median "
              f"{'meets' if res.get('median_meets_target') else 'MISSES'} it, p95 "
              f"{'meets' if res.get('p95_meets_target') else 'MISSES'} it")
    print(json.dumps(res, sort_keys=True))


def cmd_shell(shells_path, counts_path, n, delay_ms):
    shells = load_jsonl(shells_path)
    counts = load_jsonl(counts_path)
    setup = [s["setup_ms"] for s in shells if s.get("setup_ms") is not None]
    later = [c["query_ms"] for s in shells for c in s.get("commands", [])]
    second = [s["commands"][0]["query_ms"] for s in shells if s.get("commands")]
    complete_later = sum(
        1 for s in shells for c in s.get("commands", [])
        if c.get("missing") == 0 and c.get("result", 0) >= n)
    depths = [s["depth"] for s in shells if isinstance(s.get("depth"), int)]
    ok = [r for r in counts if isinstance(r.get("result"), int)]
    fresh = [r["session_ms"] + r["query_ms"] for r in ok]
    depth = statistics.median(depths) if depths else None
    rtt = 2 * delay_ms
    res = {
        "nodes": n,
        "delay_ms_one_way": delay_ms,
        "shells": len(shells),
        "shell_exits": [s.get("exit") for s in shells],
        "joined": summary([s["joined"] for s in shells if s.get("joined") is not None]),
        "first_command_setup_ms": summary(setup),
        "later_command_query_ms": summary(later),
        "second_command_query_ms": summary(second),
        "later_commands_complete": complete_later,
        "later_commands": len(later),
        "fresh_count_ms": summary(fresh),
        "fresh_counts_complete": sum(1 for r in ok if r["missing"] == 0 and r["result"] >= n),
        "fresh_counts": len(counts),
        "session_depth": summary(depths),
        "depth_x_rtt_ms": depth * rtt if depth is not None else None,
    }
    if later and fresh:
        res["later_over_fresh_median"] = round(statistics.median(later) / statistics.median(fresh), 3)
    if later and setup:
        res["later_over_first_median"] = round(statistics.median(later) / statistics.median(setup), 3)
    print(f"{len(shells)} shells, {len(later)} later commands ({complete_later} complete: "
          f"count = {n}, none missing); {len(ok)} of {len(counts)} fresh counts gave a count")
    print(f"{'metric':36} {'min':>7} {'median':>7} {'p95':>7} {'max':>7}")
    for name, key in [
        ("fresh `mon count` (session+query)", "fresh_count_ms"),
        ("shell: first command (set-up)", "first_command_setup_ms"),
        ("shell: later commands (query_ms)", "later_command_query_ms"),
        ("shell: second command only", "second_command_query_ms"),
        ("shell: nodes joined at set-up", "joined"),
        ("shell: overlay depth", "session_depth"),
    ]:
        s = res[key]
        if s["n"]:
            print(f"{name:36} {s['min']:>7g} {s['median']:>7g} {s['p95']:>7g} {s['max']:>7g}")
    if res["depth_x_rtt_ms"] is not None:
        print(f"depth × RTT = {res['depth_x_rtt_ms']:g} ms; later / fresh median = "
              f"{res.get('later_over_fresh_median')}; later / first median = "
              f"{res.get('later_over_first_median')}")
    print(json.dumps(res, sort_keys=True))


def main(argv):
    if len(argv) >= 3 and argv[0] == "snap":
        return cmd_snap(argv[1], argv[2])
    if len(argv) == 7 and argv[0] == "footprint":
        return cmd_footprint(argv[1], argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]))
    if len(argv) in (5, 8) and argv[0] == "latency":
        snaps = argv[5:8] if len(argv) == 8 else None
        return cmd_latency(argv[1], argv[2], int(argv[3]), float(argv[4]), snaps)
    if len(argv) == 5 and argv[0] == "shell":
        return cmd_shell(argv[1], argv[2], int(argv[3]), float(argv[4]))
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])

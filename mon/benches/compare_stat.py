#!/usr/bin/env python3
"""compare_stat.py -- runner and statistics of the comparison benchmarks (compare.sh).

Python 3 standard library only (plus gnuplot for `plot`). Subcommands:

  compare_stat.py run OUT.jsonl TOOL N LIMIT_S -- COMMAND...
      Runs COMMAND once (one status query of TOOL = mon | pssh | serf over N nodes), reads
      its standard output line by line with a timestamp per line, and appends one JSON
      record to OUT.jsonl:
        wall_ms      what the user waits for: process start until exit (mon, pssh); for
                     serf, process start until the N-th "Response from" line (the CLI itself
                     always waits for its whole -timeout, as serf cannot know N), or until
                     the CLI exits when fewer than N answered
        answered     nodes that returned the load average (mon: "answered" of the client's
                     JSON; pssh: "[SUCCESS]" lines; serf: "Response from" lines)
        client_cpu_ms  CPU time of COMMAND and its reaped children (wait4 rusage): for pssh
                     this includes every ssh client process
        plus tool details (mon: session_ms, query_ms, missing; pssh: failure reasons;
        serf: acks, first_ms, last_ms).
      The process is killed after LIMIT_S (recorded as "killed": true). For serf it is also
      stopped as soon as N responses arrived.

  compare_stat.py snap PIDFILE OUT.json
      Per-process snapshot: utime+stime+cutime+cstime (ticks; children such as serf's event
      handler shells and sshd's per-connection processes are included once reaped), VmRSS,
      RssAnon, RssFile (kB).

  compare_stat.py summary TOOL N DELAY_MS RUNS.jsonl [SNAP_IDLE SNAP_BEFORE SNAP_AFTER] [KEY=VALUE...]
      One JSON line: median / p95 (nearest rank) of wall_ms over all runs, over complete runs,
      coverage (answered / N), complete runs, failures, and the daemons' CPU per query (CPU
      between SNAP_BEFORE and SNAP_AFTER less the idle rate measured from SNAP_IDLE to
      SNAP_BEFORE, divided by the number of runs). KEY=VALUE pairs are copied into the JSON.

  compare_stat.py idle TOOL N SNAP0 SNAP1 IPT_OUT [KEY=VALUE...]
      Idle footprint: RSS and CPU % of one core per daemon over the window between the two
      snapshots, and bytes sent per node (an `iptables-legacy -L CHAIN -v -x -n` listing with
      one `-s ADDR` rule per node, all protocols, IP packet lengths).

  compare_stat.py table RESULTS.jsonl
      Markdown tables (latency, idle footprint) of the summary/idle lines in RESULTS.jsonl
      (the last line per tool/N/delay/variant wins).

  compare_stat.py plot RESULTS.jsonl OUT.png
      A PNG plot (gnuplot): median query time (p95 as error bar) against N, one line per tool
      and delay; incomplete medians marked.
"""
import json
import math
import os
import re
import resource
import select
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchstat import CLK_TCK, pct, summary  # noqa: E402  (shared with the other bench scripts)


def summ(values):
    """benchstat's summary without the mean (the shape of docs/compare/results.jsonl)."""
    return {k: v for k, v in summary(values).items() if k != "mean"}


# ---------------------------------------------------------------- run


def cmd_run(out, tool, n, limit_s, argv):
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    lines = []  # (ms since start, text)
    buf = b""
    errbuf = b""
    killed = False
    stopped_early = False
    responses = 0
    deadline = t0 + limit_s
    open_fds = {proc.stdout.fileno(): "out", proc.stderr.fileno(): "err"}
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            killed = True
            break
        ready, _, _ = select.select(list(open_fds), [], [], min(left, 1.0))
        for fd in ready:
            chunk = os.read(fd, 65536)
            now_ms = (time.monotonic() - t0) * 1000.0
            if not chunk:
                del open_fds[fd]
                continue
            if open_fds[fd] == "err":
                errbuf = (errbuf + chunk)[-4000:]
                continue
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                lines.append((now_ms, text))
                if tool == "serf" and text.lstrip().startswith("Response from"):
                    responses += 1
        if tool == "serf" and responses >= n:
            stopped_early = True
            break
    if killed or stopped_early:
        proc.send_signal(signal.SIGINT if stopped_early else signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    # wait4 through Popen.wait already reaped: take the rusage of all reaped children.
    proc.wait()
    end_ms = (time.monotonic() - t0) * 1000.0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    if buf:
        lines.append((end_ms, buf.decode("utf-8", "replace")))
    rec = {
        "tool": tool,
        "exit": proc.returncode,
        "killed": killed,
        "client_cpu_ms": round((ru.ru_utime + ru.ru_stime) * 1000.0),
        "loadavg": open("/proc/loadavg").read().split()[0],
    }
    text_all = "\n".join(t for _, t in lines)
    if tool == "mon":
        rec["wall_ms"] = round(end_ms)
        try:
            v = json.loads(text_all)
            for k in ("answered", "missing", "failed", "denied", "session_ms", "query_ms", "result"):
                rec[k] = v.get(k)
        except ValueError:
            rec["answered"] = 0
            rec["error"] = (text_all + errbuf.decode("utf-8", "replace"))[-300:]
    elif tool == "pssh":
        # parallel-ssh -i: "[k] HH:MM:SS [SUCCESS] ADDR" or "[FAILURE] ADDR REASON", then the
        # host's stdout lines and "Stderr: ..." lines.
        rec["wall_ms"] = round(end_ms)
        rec["answered"] = sum(1 for _, t in lines if "[SUCCESS]" in t)
        reasons = {}
        cur = None
        for _, t in lines + [(0, "[0] 00:00:00 [END] -")]:
            m = re.match(r"\[\d+\] \S+ \[(\w+)\] (\S+) ?(.*)", t)
            if m:
                if cur is not None:
                    reasons[cur] = reasons.get(cur, 0) + 1
                cur = m.group(3) if m.group(1) == "FAILURE" else None
            elif cur is not None and t.startswith("Stderr:"):
                cur += ": " + re.sub(r"127(\.\d+){3}|port \d+", "X", t[len("Stderr: "):]).strip()
        if reasons:
            rec["failures"] = reasons
    elif tool == "serf":
        resp = [ms for ms, t in lines if t.lstrip().startswith("Response from")]
        acks = [ms for ms, t in lines if t.lstrip().startswith("Ack from")]
        rec["answered"] = len(resp)
        rec["acks"] = len(acks)
        rec["first_ms"] = round(resp[0]) if resp else None
        rec["last_ms"] = round(resp[-1]) if resp else None
        rec["wall_ms"] = round(resp[-1]) if len(resp) >= n else round(end_ms)
        rec["stopped_at_n"] = stopped_early
    if errbuf and tool != "mon":
        rec["stderr"] = errbuf.decode("utf-8", "replace")[-300:]
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(f"{tool} N={n}: {rec['wall_ms']} ms, answered {rec['answered']}/{n}"
          + (" KILLED" if killed else "") + (f" failures {rec.get('failures')}" if rec.get("failures") else ""))


# ---------------------------------------------------------------- snapshots


def read_proc(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    rest = stat[stat.rindex(")") + 2 :].split()
    # stat(5) fields 14-17: utime, stime, cutime, cstime
    ticks = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
    mem = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                mem[key] = int(val.split()[0])
    return {"ticks": ticks, **mem}


def cmd_snap(pidfile, out):
    with open(pidfile) as f:
        pids = [int(x) for x in f.read().split()]
    t = time.monotonic()
    procs = {}
    for pid in pids:
        try:
            procs[str(pid)] = read_proc(pid)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            procs[str(pid)] = None
    with open(out, "w") as f:
        json.dump({"t": t, "procs": procs}, f)


def load(path):
    with open(path) as f:
        return json.load(f)


def cpu_between(a, b):
    ticks = sum(
        b["procs"][p]["ticks"] - v["ticks"] for p, v in a["procs"].items() if v and b["procs"].get(p)
    )
    return ticks / CLK_TCK, b["t"] - a["t"]


def kv(pairs):
    out = {}
    for p in pairs:
        k, _, v = p.partition("=")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


# ---------------------------------------------------------------- summary


def cmd_summary(tool, n, delay, runs_path, rest):
    snaps = [a for a in rest if a.endswith(".json")]
    extra = kv([a for a in rest if "=" in a and not a.endswith(".json")])
    runs = []
    with open(runs_path) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))
    wall = [r["wall_ms"] for r in runs]
    complete = [r for r in runs if r.get("answered", 0) >= n]
    cov = [r.get("answered", 0) / n for r in runs]
    failures = {}
    for r in runs:
        for k, c in (r.get("failures") or {}).items():
            failures[k] = failures.get(k, 0) + c
        if r.get("killed"):
            failures["killed at the run limit"] = failures.get("killed at the run limit", 0) + 1
        if r.get("error"):
            failures["client error"] = failures.get("client error", 0) + 1
    res = {
        "kind": "latency",
        "tool": tool,
        "nodes": n,
        "delay_ms": delay,
        "runs": len(runs),
        "complete_runs": len(complete),
        "wall_ms": summ(wall),
        "wall_ms_complete": summ([r["wall_ms"] for r in complete]),
        "coverage": summ(cov),
        "answered": summ([r.get("answered", 0) for r in runs]),
        "client_cpu_ms": summ([r["client_cpu_ms"] for r in runs]),
        "failures": failures,
        **extra,
    }
    if tool == "serf":
        res["first_response_ms"] = summ([r["first_ms"] for r in runs if r.get("first_ms") is not None])
        res["acks"] = summ([r.get("acks", 0) for r in runs])
    if tool == "mon":
        res["session_plus_query_ms"] = summ(
            [r["session_ms"] + r["query_ms"] for r in runs if isinstance(r.get("query_ms"), int)]
        )
    if len(snaps) == 3:
        idle, before, after = (load(s) for s in snaps)
        idle_s, idle_wall = cpu_between(idle, before)
        run_s, run_wall = cpu_between(before, after)
        rate = idle_s / idle_wall if idle_wall > 0 else 0.0
        res["daemon_idle_cores"] = round(rate, 3)
        res["daemon_cpu_s_during_runs"] = round(run_s, 2)
        res["daemon_cpu_ms_per_query"] = round(1000 * (run_s - rate * run_wall) / max(1, len(runs)))
        res["daemons_alive_after"] = sum(1 for v in after["procs"].values() if v)
    s = res["wall_ms"]
    print(f"{tool} N={n} delay={delay}ms: {len(runs)} runs, {len(complete)} complete; wall ms median "
          f"{s.get('median')} p95 {s.get('p95')}; coverage median {res['coverage'].get('median')} "
          f"min {res['coverage'].get('min')}; failures {failures or 'none'}"
          + (f"; daemon CPU per query {res['daemon_cpu_ms_per_query']} ms" if "daemon_cpu_ms_per_query" in res else ""))
    print(json.dumps(res, sort_keys=True))


# ---------------------------------------------------------------- idle


def cmd_idle(tool, n, snap0, snap1, ipt_out, rest):
    a, b = load(snap0), load(snap1)
    window = b["t"] - a["t"]
    cpu, rss, anon, filed, gone = [], [], [], [], 0
    for pid, v in a["procs"].items():
        w = b["procs"].get(pid)
        if not v or not w:
            gone += 1
            continue
        cpu.append(100.0 * (w["ticks"] - v["ticks"]) / CLK_TCK / window)
        rss.append(w["VmRSS"] / 1024.0)
        anon.append(w.get("RssAnon", 0) / 1024.0)
        filed.append(w.get("RssFile", 0) / 1024.0)
    sent = []
    pkts = []
    with open(ipt_out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 9 and parts[0].isdigit():
                pkts.append(int(parts[0]) / window)
                sent.append(int(parts[1]) / window)
    res = {
        "kind": "idle",
        "tool": tool,
        "nodes": n,
        "window_s": round(window, 1),
        "measured": len(cpu),
        "gone": gone,
        "rss_mib": summ(rss),
        "rss_anon_mib": summ(anon),
        "rss_file_mib": summ(filed),
        "cpu_pct": summ(cpu),
        "cpu_pct_all": round(sum(cpu), 2),
        "sent_Bps_per_node": summ(sent),
        "sent_pps_per_node": summ(pkts),
        **kv(rest),
    }
    print(f"{tool} idle N={n}: RSS MiB median {statistics.median(rss) if rss else '-':.2f}, CPU % median "
          f"{statistics.median(cpu) if cpu else 0:.3f} p95 {pct(cpu, 95) if cpu else 0:.3f}, sent B/s median "
          f"{statistics.median(sent) if sent else 0:.0f}; {gone} gone")
    print(json.dumps(res, sort_keys=True))


# ---------------------------------------------------------------- table and plot


def latest(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r.get("kind") == "failed":
                rows[("failed", r.get("case"))] = r
                continue
            key = (r.get("kind"), r.get("tool"), r.get("variant", ""), r["nodes"], r.get("delay_ms", 0))
            rows[key] = r
    return rows


def fmt(x, nd=0):
    if x is None:
        return "–"
    return f"{x:,.{nd}f}"


def label(r):
    v = r.get("variant", "")
    return r["tool"] + (f" {v}" if v else "")


def cmd_table(path):
    rows = latest(path)
    lat = sorted((r for k, r in rows.items() if k[0] == "latency"),
                 key=lambda r: (r["tool"], r.get("variant", ""), r["delay_ms"], r["nodes"]))
    print("| tool | N | one-way delay | median ms | p95 ms | complete runs | coverage (median / min) | daemon CPU per query | load before | notes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in lat:
        w = r["wall_ms"]
        cov = r["coverage"]
        notes = []
        for k, c in sorted(r.get("failures", {}).items()):
            notes.append(f"{c}× {k}")
        if r.get("note"):
            notes.append(str(r["note"]))
        cpu = r.get("daemon_cpu_ms_per_query")
        print(f"| {label(r)} | {r['nodes']} | {fmt(r['delay_ms'])} ms | {fmt(w.get('median'))} | {fmt(w.get('p95'))} | "
              f"{r['complete_runs']}/{r['runs']} | {cov.get('median', 0) * 100:.1f} % / {cov.get('min', 0) * 100:.1f} % | "
              f"{fmt(cpu) + ' ms' if cpu is not None else '–'} | {str(r.get('load_before', '–')).split()[0]} | {'; '.join(notes)} |")
    failed = [r for k, r in rows.items() if k[0] == "failed"]
    if failed:
        print()
        print("Attempts that did not produce a measurement (a later attempt of the same case may be in the table):")
        print()
        for r in failed:
            print(f"- `{r['case']}`: exit {r['exit']}: {r['message']}")
    idle = sorted((r for k, r in rows.items() if k[0] == "idle"), key=lambda r: (r["tool"], r["nodes"]))
    if idle:
        print()
        print("| tool | N | RSS MiB median (p95) | of which anonymous | CPU % of one core, median (p95, max) | sent B/s per node, median | packets/s per node |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in idle:
            print(f"| {r['tool']} | {r['nodes']} | {fmt(r['rss_mib']['median'], 2)} ({fmt(r['rss_mib']['p95'], 2)}) | "
                  f"{fmt(r['rss_anon_mib']['median'], 2)} | {fmt(r['cpu_pct']['median'], 3)} ({fmt(r['cpu_pct']['p95'], 3)}, "
                  f"{fmt(r['cpu_pct']['max'], 3)}) | {fmt(r['sent_Bps_per_node']['median'])} | {fmt(r['sent_pps_per_node']['median'], 1)} |")


def cmd_plot(path, out_png):
    rows = latest(path)
    lat = [r for k, r in rows.items() if k[0] == "latency" and r["wall_ms"].get("n")]
    series = {}
    for r in lat:
        series.setdefault((label(r), r["delay_ms"]), []).append(r)
    base = os.path.splitext(out_png)[0]
    dat = base + ".dat"
    blocks = []
    with open(dat, "w") as f:
        for (name, delay), rs in sorted(series.items()):
            f.write(f"# {name} delay {delay}\n")
            for r in sorted(rs, key=lambda r: r["nodes"]):
                w = r["wall_ms"]
                inc = 1 if r["complete_runs"] < r["runs"] else 0
                f.write(f"{r['nodes']} {w['median'] / 1000:.4f} {w['min'] / 1000:.4f} {w['p95'] / 1000:.4f} {inc}\n")
            f.write("\n\n")
            blocks.append(f"{name}, {delay:g} ms")
    # Paths in the script are relative to its own folder (gnuplot runs there), so the
    # script committed under docs/ works from any working directory.
    dat_name = os.path.basename(dat)
    colors = {"mon": "#1b9e77", "pssh": "#d95f02", "serf": "#7570b3"}
    plots = []
    for i, (key, title) in enumerate(zip(sorted(series), blocks)):
        name, delay = key
        col = colors.get(name.split()[0], "#666666")
        if " " in name:
            col = "#e7298a"
        dt = 1 if delay == 0 else 2
        pt = 7 if delay == 0 else 5
        plots.append(f"'{dat_name}' index {i} using 1:2:3:4 with yerrorlines lw 2 dt {dt} pt {pt} lc rgb '{col}' title '{title}'")
        plots.append(f"'{dat_name}' index {i} using 1:($5>0?$2:1/0) with points pt 6 ps 3 lc rgb '{col}' notitle")
    script = f"""set terminal pngcairo size 1000,620 font 'sans,11'
set output '{os.path.basename(out_png)}'
set title 'Status query (load average of every node): MON vs parallel-ssh vs serf, 2 vCPU, loopback'
set xlabel 'nodes N'
set ylabel 'seconds until every node answered (median; bars: min..p95)'
set logscale y
set xrange [0:550]
set xtics (50, 200, 500)
set grid
set key top left
set label 1 'open circle: not every run reached all N (serf: time until its CLI gave up)' at graph 0.02, graph 0.04 font ',9'
plot {', '.join(plots)}
"""
    gp = base + ".gp"
    with open(gp, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", os.path.basename(gp)], check=True, cwd=os.path.dirname(gp) or ".")
    print(f"wrote {out_png} ({dat}, {gp})")


def main(argv):
    if len(argv) >= 6 and argv[0] == "run" and argv[5] == "--":
        return cmd_run(argv[1], argv[2], int(argv[3]), float(argv[4]), argv[6:])
    if len(argv) == 3 and argv[0] == "snap":
        return cmd_snap(argv[1], argv[2])
    if len(argv) >= 5 and argv[0] == "summary":
        return cmd_summary(argv[1], int(argv[2]), float(argv[3]), argv[4], argv[5:])
    if len(argv) >= 6 and argv[0] == "idle":
        return cmd_idle(argv[1], int(argv[2]), argv[3], argv[4], argv[5], argv[6:])
    if len(argv) == 2 and argv[0] == "table":
        return cmd_table(argv[1])
    if len(argv) == 3 and argv[0] == "plot":
        return cmd_plot(argv[1], argv[2])
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""pushstat.py -- measurement and report helpers of mon/benches/push.sh.

Python 3 standard library only.

  pushstat.py link HUB OUT.json
      Byte counters of every hub-side veth port (`ip -n HUB -s -j link`): the hub port v<i>
      RECEIVES what host i uploads and TRANSMITS what host i downloads.

  pushstat.py record RUN.json
      RUN.json (written by push.sh) names the run's inputs: variant, file size, rate, the
      client's JSON output file, wall-clock start (epoch s), link snapshots before/after,
      server CPU snapshots before/after (benchstat.py snap), the audit logs, the hash check.
      Prints one JSON line with the run's numbers (appended to runs.jsonl by push.sh).

  pushstat.py report RUNS.jsonl
      The table of docs/benchmarks.md (medians over repetitions) and, last line, one JSON
      object with every number.

Definitions (N receivers, file size F, every uplink and downlink u = RATE_MBIT):
  T          the client's wall time from connecting to the entry node to the final result
             (`seconds` of `mon --json push`): what a user waits for.
  T_last     the last receiver's push.done audit time minus the client's start.
  bound      Kumar-Ross: max(F/u_s, N*F/(u_s + sum u_i), F/d_min), here F/u.
  aggregate  N*F/T; "x u_s" = aggregate / u_s (what the source alone gives one node).
  node rate  F / (node's push.done time - client start), per receiver.
"""
import json
import statistics
import subprocess
import sys
from datetime import datetime


def link_counters(hub):
    out = subprocess.run(
        ["ip", "-n", hub, "-s", "-j", "link", "show"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    res = {}
    for l in json.loads(out):
        name = l.get("ifname", "")
        if not name.startswith("v"):
            continue
        st = l.get("stats64") or l.get("stats") or {}
        res[name[1:]] = {
            "up": st.get("rx", {}).get("bytes", 0),
            "down": st.get("tx", {}).get("bytes", 0),
        }
    return res


def cmd_link(hub, out):
    with open(out, "w") as f:
        json.dump(link_counters(hub), f)


def epoch_of(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def done_times(audit_files, tag):
    """{node: (epoch of push.done, result)} for the run whose DEST ends in -TAG.bin."""
    res = {}
    for node, path in audit_files.items():
        try:
            with open(path) as f:
                for line in f:
                    try:
                        r = json.loads(line)
                    except ValueError:
                        continue
                    ev = r.get("event") or r.get("kind") or ""
                    op = r.get("op") or ""
                    if ev == "push.done" and op.startswith("push ") and op.endswith("-" + tag + ".bin"):
                        res[node] = (epoch_of(r["ts"]), r.get("result", ""))
        except FileNotFoundError:
            pass
    return res


def cpu_seconds(s0, s1):
    import os

    tck = os.sysconf("SC_CLK_TCK")
    total = 0.0
    per = []
    for pid, a in s0["procs"].items():
        b = s1["procs"].get(pid)
        if a is None or b is None:
            continue
        d = (b["ticks"] - a["ticks"]) / tck
        total += d
        per.append(d)
    return total, per


def cmd_record(run_path):
    with open(run_path) as f:
        run = json.load(f)
    size = run["size"]
    u = run["rate_mbit"] * 1e6 / 8.0
    n = run["receivers"]
    client = {}
    try:
        with open(run["client_out"]) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    client = json.loads(line)
    except FileNotFoundError:
        pass
    t = client.get("seconds") or run["wall_s"]
    dones = done_times(run["audit"], run["tag"])
    t0 = run["t_start"]
    node_t = {k: v[0] - t0 for k, v in dones.items() if v[1] == "ok"}
    rates = sorted(size / x / 1e6 * 8 for x in node_t.values() if x > 0)
    with open(run["link0"]) as f:
        l0 = json.load(f)
    with open(run["link1"]) as f:
        l1 = json.load(f)
    up = {}
    for k in l1:
        up[k] = l1[k]["up"] - l0.get(k, {}).get("up", 0)
    with open(run["cpu0"]) as f:
        c0 = json.load(f)
    with open(run["cpu1"]) as f:
        c1 = json.load(f)
    cpu_total, cpu_per = cpu_seconds(c0, c1)
    bound = max(size / u, n * size / (u + n * u), size / u)
    done = client.get("done", 0)
    agg = done * size / t if t else 0.0
    rec = {
        "variant": run["variant"],
        "policy": run["policy"],
        "max_parents": run["max_parents"],
        "size": size,
        "rep": run["rep"],
        "exit": run["exit"],
        "done": done,
        "failed": client.get("failed"),
        "missing": client.get("missing"),
        "identical": run["identical"],
        "T": t,
        "T_last": max(node_t.values()) if node_t else None,
        "T_first": min(node_t.values()) if node_t else None,
        "bound": bound,
        "ratio": t / bound,
        "aggregate_MBps": agg / 1e6,
        "x_us": agg / u,
        "node_rate_mbit": {
            "min": rates[0] if rates else None,
            "median": statistics.median(rates) if rates else None,
            "max": rates[-1] if rates else None,
        },
        "node_done_s": {k: round(v, 2) for k, v in sorted(node_t.items(), key=lambda x: x[1])},
        # Bytes each host uploaded (hub port rx), in MiB; host 1 is the source.
        "upload_MiB": {k: round(v / 1048576.0, 1) for k, v in sorted(up.items(), key=lambda x: int(x[0]))},
        "source_bytes": client.get("source_bytes"),
        "server_cpu_s": round(cpu_total, 1),
        "server_cpu_max_s": round(max(cpu_per), 2) if cpu_per else None,
        "client_cpu_s": run.get("client_cpu_s"),
        "loadavg": run.get("loadavg"),
    }
    print(json.dumps(rec))


def fmt(x, p=1):
    return "-" if x is None else f"{x:.{p}f}"


def cmd_report(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                runs.append(json.loads(line))
    groups = {}
    for r in runs:
        key = (r.get("variant"), r.get("size"))
        groups.setdefault(key, []).append(r)
    print(
        "| variant | file | runs | T s (median; all) | bound s | T/bound | aggregate MB/s | x u_s "
        "| node rate Mbit/s min/median/max | all identical |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    summary = []
    for (variant, size), rs in groups.items():
        ts = [r["T"] for r in rs]
        tm = statistics.median(ts)
        med = lambda k: statistics.median([r[k] for r in rs if r.get(k) is not None])
        def nr(k):
            v = [r["node_rate_mbit"][k] for r in rs if r["node_rate_mbit"][k] is not None]
            return statistics.median(v) if v else None

        ident = all(r.get("identical") for r in rs)
        bound = rs[0]["bound"]
        if variant == "parallel-scp":
            agg = statistics.median([r["aggregate_MBps"] for r in rs])
            xu = statistics.median([r["x_us"] for r in rs])
        else:
            agg, xu = med("aggregate_MBps"), med("x_us")
        print(
            f"| {variant} | {size // 1048576} MiB | {len(rs)} | {tm:.1f}; "
            + ", ".join(f"{t:.1f}" for t in ts)
            + f" | {bound:.1f} | {tm / bound:.2f} | {agg:.2f} | {xu:.1f} | "
            f"{fmt(nr('min'))} / {fmt(nr('median'))} / {fmt(nr('max'))} | {'yes' if ident else 'NO'} |"
        )
        summary.append(
            {
                "variant": variant,
                "size": size,
                "runs": len(rs),
                "T": ts,
                "T_median": tm,
                "bound": bound,
                "ratio": tm / bound,
                "aggregate_MBps": agg,
                "x_us": xu,
                "identical": ident,
            }
        )
    print(json.dumps({"summary": summary}))


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "link":
        cmd_link(a[1], a[2])
    elif len(a) == 2 and a[0] == "record":
        cmd_record(a[1])
    elif len(a) == 2 and a[0] == "report":
        cmd_report(a[1])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Convergence of the self-healing loop (issue 11), measured: each scenario runs cache-app (a 240 MiB
cache under --memory-max 256M) under `oomless run` with a policy, reads `oomless status --json` every
100 ms, and reports:

- first shed: seconds from start, and the working set (percent of the limit) at its peak before it;
- overshoot: the peak working set after the first shed (from 1 s after it, once the app had a moment
  to drop its cache), and how far above 75% (self-healing.json's enter threshold) it went;
- time to converge: from the first shed to the last change of the budget (or of the stage, for a
  policy without a budget), after which nothing changed to the end of the run;
- steps and sheds (budget steps; entries into a shedding stage), sheds per minute after the first,
  and the settled budget and working set (the median of the last 5 s before the app exits).

Scenarios: "stages" is examples/policies/demo.json (the stage-only policy this replaces: the sawtooth),
"self-healing" is examples/policies/self-healing.json, "self-healing-drop" the same with 70 MiB of
ballast at the first climb to 55% (pressure returning during the climb: the drop path).

    /usr/bin/python3 bench/self-healing/run.py --oomless build/supervisor/oomless \\
        --cache-app build/examples/workloads/cache-app [--seconds 60] [--only self-healing]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = {
    "stages": ("demo.json", []),
    "self-healing": ("self-healing.json", []),
    "self-healing-drop": ("self-healing.json", ["--ballast-mib", "70", "--ballast-at-budget", "550"]),
}


def status(oomless, runtime, pid):
    try:
        out = subprocess.run([oomless, "status", "--runtime-dir", runtime, "--pid", str(pid), "--json"],
                             capture_output=True, text=True, timeout=5).stdout
        return json.loads(out)
    except (ValueError, subprocess.SubprocessError):
        return None


def run(args, name):
    policy, extra = SCENARIOS[name]
    with tempfile.TemporaryDirectory(prefix="oomless-bench-") as runtime:
        cmd = [args.oomless, "run", "--runtime-dir", runtime, "--memory-max", "256M", "--policy",
               os.path.join(SRC, "examples", "policies", policy), "--", args.cache_app, "--cache-mib", "240",
               "--grow", str(args.grow), "--seconds", str(args.seconds), "--quiet"] + extra
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0, rows = time.monotonic(), []
        while p.poll() is None:
            s = status(args.oomless, runtime, p.pid)
            if s and s.get("child", {}).get("pid"):
                m, pol = s["memory"], s["policy"]
                ws = m.get("working_set") or m["current"]
                b = pol.get("budget") or {}
                rows.append((time.monotonic() - t0, ws / (m["limit"] or 1), pol["stage"], b.get("ratio", 1.0),
                             b.get("sheds", 0), b.get("steps", 0), s["events"]["oom_kill"]))
            time.sleep(0.1)
    return summarize(name, rows)


def summarize(name, rows):
    entries, prev = [], 0
    for r in rows:
        if r[2] > 0 and prev == 0:
            entries.append(r[0])
        prev = r[2]
    res = {"scenario": name, "seconds": round(rows[-1][0], 1) if rows else 0, "sheds": len(entries),
           "oom_kills": max((r[6] for r in rows), default=0)}
    if not entries:
        return res
    first = entries[0]
    before = [r for r in rows if r[0] <= first]
    after = [r for r in rows if r[0] > first + 1.0]  # the app had a moment to drop its cache
    res["first_shed_sec"] = round(first, 1)
    res["peak_before_pct"] = round(max(r[1] for r in before) * 100, 1)
    peak_after = max((r[1] for r in after), default=0)
    res["peak_after_pct"] = round(peak_after * 100, 1)
    res["overshoot_pct"] = round(max(0.0, peak_after - 0.75) * 100, 1)
    # The last change of what the policy publishes: budget for a budget policy, else the stage.
    last_change = first
    for a, b in zip(rows, rows[1:]):
        if a[3] != b[3] or a[2] != b[2]:
            last_change = b[0]
    res["converge_sec"] = round(last_change - first, 1)
    res["converged"] = rows[-1][0] - last_change >= 10
    res["steps"] = rows[-1][5]
    minutes = (rows[-1][0] - first) / 60
    res["sheds_per_min_after_first"] = round((len(entries) - 1) / minutes, 1) if minutes > 0 else None
    # Settled: the last 5 s before the app's final teardown (it frees its cache as it exits).
    end = rows[-1][0]
    tail = sorted(r[1] for r in rows if end - 6.5 <= r[0] <= end - 1.5) or [rows[-1][1]]
    res["settled_budget_pct"] = round(rows[-1][3] * 100, 1)
    res["settled_ws_pct"] = round(tail[len(tail) // 2] * 100, 1)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oomless", required=True)
    ap.add_argument("--cache-app", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--grow", type=float, default=20, help="MiB/s the cache fills at")
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--json")
    args = ap.parse_args()
    results = [run(args, n) for n in args.only.split(",")]
    cols = ["scenario", "first_shed_sec", "peak_before_pct", "peak_after_pct", "overshoot_pct", "converge_sec",
            "converged", "steps", "sheds", "sheds_per_min_after_first", "settled_budget_pct", "settled_ws_pct",
            "oom_kills"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        print("| " + " | ".join(str(r.get(c, "-")) for c in cols) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

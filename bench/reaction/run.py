#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""How fast oomless reacts to a threshold crossing (issue 9).

Runs bench/reaction/workload.c under `oomless run --memory-max LIMIT` with a one-stage policy that
enters at `memory >= 50%` and signals the workload (SIGUSR1), and leaves under 25% (SIGUSR2). The
workload records when its cgroup's usage crossed the threshold and when the signal came, with the
usage then, and repeats. Cases: 100 MiB/s and as fast as the machine allows, by malloc (liboomless
preloaded, its wake thresholds) and by mmap (kernel thresholds on v1, the adaptive tick on v2), each
event-driven and --tick-only, in the same run. The sampling interval is the policy's 100 ms.

Prints a markdown table with p50, p99 and max latency, the overshoot (MiB and % of the limit), and
the ratio tick-only / event-driven; --json writes the raw numbers. --smoke runs 3 crossings per case
and only checks that every case produced numbers (exit 1 otherwise).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

LIMIT = 256 << 20
THRESHOLD = LIMIT // 2
TARGETS = {  # p99 ms, overshoot MiB at full speed, v1 (issue 9)
    "malloc": (5.0, 8.0),
    "mmap": (10.0, 14.0),
}


def policy(interval):
    return {
        "version": 1,
        "name": "reaction",
        "sampling_interval": interval,
        "stages": [{
            "name": "react",
            "enter": {"all": [{"memory": ">= 50%"}]},
            "exit": {"all": [{"memory": "< 25%"}]},
            "on_enter": [{"action": "signal", "signal": "USR1", "target": "main"}],
            "on_exit": [{"action": "signal", "signal": "USR2", "target": "main"}],
        }],
    }


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def run_case(args, tmp, mode, rate, tick_only):
    pol = os.path.join(tmp, "policy.json")
    with open(pol, "w") as f:
        json.dump(policy(args.interval), f)
    cmd = [args.oomless, "run", "--memory-max", str(LIMIT), "--policy", pol]
    if tick_only:
        cmd.append("--tick-only")
    cmd += ["--", args.workload, mode, str(rate), str(THRESHOLD), str(args.crossings)]
    env = dict(os.environ, OOMLESS_RUNTIME_DIR=os.path.join(tmp, "run"))
    os.makedirs(env["OOMLESS_RUNTIME_DIR"], exist_ok=True)
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60 + args.crossings * 30)
    lat, over, missed = [], [], 0
    for line in p.stdout.splitlines():
        f = line.split()
        if f and f[0] == "crossing":
            lat.append(int(f[3]) / 1000.0)
            over.append(int(f[5]) / float(1 << 20))
        elif f and f[0] == "missed":
            missed += 1
    if p.returncode != 0 or not lat:
        sys.stderr.write(f"case {mode} {rate} tick_only={tick_only}: exit {p.returncode}\n{p.stderr[-2000:]}\n")
    return {"mode": mode, "rate": rate, "tick_only": tick_only, "latency_ms": lat, "overshoot_mib": over,
            "missed": missed, "exit": p.returncode}


def fmt(v, unit=""):
    return "-" if v is None else f"{v:.1f}{unit}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oomless", required=True)
    ap.add_argument("--workload", required=True)
    ap.add_argument("--crossings", type=int, default=30)
    ap.add_argument("--interval", default="100ms", help="the policy's sampling_interval")
    ap.add_argument("--smoke", action="store_true", help="3 crossings per case; checks only for numbers")
    ap.add_argument("--json", help="write the raw numbers here")
    args = ap.parse_args()
    if args.smoke:
        args.crossings = 3
    if not os.access("/sys/fs/cgroup", os.R_OK):
        print("no cgroupfs", file=sys.stderr)
        return 77

    results = []
    with tempfile.TemporaryDirectory(prefix="oomless-reaction.") as tmp:
        for mode in ("malloc", "mmap"):
            for rate in (100, 0):
                for tick_only in (False, True):
                    results.append(run_case(args, tmp, mode, rate, tick_only))

    print(f"limit {LIMIT >> 20} MiB, threshold {THRESHOLD >> 20} MiB (50%), interval {args.interval}, "
          f"{args.crossings} crossings per case\n")
    print("| path | growth | decided by | n | p50 ms | p99 ms | max ms | overshoot p50 / max MiB | "
          "max % of limit | p99 tick-only / event | target (p99, overshoot at full speed) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    by = {(r["mode"], r["rate"], r["tick_only"]): r for r in results}
    for r in results:
        lat, over = r["latency_ms"], r["overshoot_mib"]
        if not lat:
            ok = False
        ev = by[(r["mode"], r["rate"], False)]
        ratio = "-"
        if r["tick_only"] and lat and ev["latency_ms"] and pct(ev["latency_ms"], 99) > 0:
            ratio = f"{pct(lat, 99) / pct(ev['latency_ms'], 99):.1f}x"
        target = "-"
        if not r["tick_only"]:
            tp, to = TARGETS[r["mode"]]
            met = lat and pct(lat, 99) <= tp and (r["rate"] != 0 or max(over) <= to)
            target = f"{tp:g} ms, {to:g} MiB: {'met' if met else 'MISSED'}" if lat else "-"
        print(f"| {r['mode']} | {'%d MiB/s' % r['rate'] if r['rate'] else 'max'} | "
              f"{'tick only' if r['tick_only'] else 'events'} | {len(lat)}"
              f"{' (+%d missed)' % r['missed'] if r['missed'] else ''} | {fmt(pct(lat, 50))} | "
              f"{fmt(pct(lat, 99))} | {fmt(max(lat) if lat else None)} | "
              f"{fmt(pct(over, 50))} / {fmt(max(over) if over else None)} | "
              f"{fmt(max(over) * (1 << 20) * 100.0 / LIMIT if over else None, '%')} | {ratio} | {target} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

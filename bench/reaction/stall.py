#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Where oomless spends the kernel's RCU waits of v1 threshold arming: on its loop, or not.

Each registration through cgroup.event_control waits in the kernel for an RCU grace period; oomless
re-arms its thresholds after every stage change. This runs the reaction workload (mmap, as fast as
the machine allows: the case where a stalled loop shows) under strace -f with each binary given, and
sums the time every thread spent in those writes: the loop thread (the supervisor's pid) against
any other (the arming worker). It also prints the reaction p50/p99 the workload measured under
strace (slowed by it: compare the binaries with each other, not with run.py's figures).

Usage: stall.py --workload W --oomless NEW [--baseline OLD] [--crossings N]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import LIMIT, THRESHOLD, pct, policy  # noqa: E402  (the same case as run.py)

# "1234  write(7, "12 8 134217728", 14) = 14 <0.012345>": a registration is "EFD FD LEVEL".
REG = re.compile(r'^(\d+)\s+write\(\d+, "\d+ \d+ \d+", \d+\)\s+=\s+(-?\d+).*<([0-9.]+)>')


def run(binary, workload, crossings, tmp, tag):
    pol = os.path.join(tmp, "policy.json")
    with open(pol, "w") as f:
        json.dump(policy("100ms"), f)
    trace = os.path.join(tmp, f"{tag}.strace")
    env = dict(os.environ, OOMLESS_RUNTIME_DIR=os.path.join(tmp, f"run-{tag}"))
    os.makedirs(env["OOMLESS_RUNTIME_DIR"], exist_ok=True)
    # -f follows the workload too; its writes never look like a registration ("EFD FD LEVEL").
    cmd = ["strace", "-f", "-qq", "-T", "-e", "trace=write", "-e", "signal=none", "-o", trace, binary, "run",
           "--memory-max", str(LIMIT), "--policy", pol, "--", workload, "mmap", "0", str(THRESHOLD),
           str(crossings)]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120 + crossings * 30)
    lat = [int(l.split()[3]) / 1000.0 for l in p.stdout.splitlines() if l.startswith("crossing ")]
    main_pid, loop, other = None, [], []
    with open(trace) as f:
        for line in f:
            if main_pid is None:
                main_pid = line.split()[0]
            m = REG.match(line)
            if not m:
                continue
            ms = float(m.group(3)) * 1000.0
            (loop if m.group(1) == main_pid else other).append(ms)
    return {"exit": p.returncode, "latency_ms": lat, "loop_ms": loop, "worker_ms": other,
            "stderr": p.stderr[-1500:]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oomless", required=True)
    ap.add_argument("--baseline")
    ap.add_argument("--workload", required=True)
    ap.add_argument("--crossings", type=int, default=20)
    args = ap.parse_args()
    if not os.path.isdir("/sys/fs/cgroup/memory"):
        print("no cgroup v1 memory controller: no kernel thresholds to arm", file=sys.stderr)
        return 77
    rows = []
    with tempfile.TemporaryDirectory(prefix="oomless-stall.") as tmp:
        for tag, binary in (("baseline", args.baseline), ("new", args.oomless)):
            if binary:
                rows.append((tag, binary, run(binary, args.workload, args.crossings, tmp, tag)))
    print(f"mmap at full speed, limit {LIMIT >> 20} MiB, threshold {THRESHOLD >> 20} MiB, "
          f"{args.crossings} crossings, under strace -f")
    for tag, binary, _ in rows:
        print(f"{tag}: {binary}")
    print()
    print("| binary | registrations | on the loop thread | loop blocked, total ms | loop blocked, max ms | "
          "on a worker, total ms | reaction p50 / p99 ms |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for tag, binary, r in rows:
        n = len(r["loop_ms"]) + len(r["worker_ms"])
        if r["exit"] != 0 or not r["latency_ms"] or n == 0:
            ok = False
            sys.stderr.write(f"{tag}: exit {r['exit']}, {len(r['latency_ms'])} crossings, {n} registrations\n"
                             f"{r['stderr']}\n")
        print(f"| {tag} | {n} | "
              f"{len(r['loop_ms'])} | {sum(r['loop_ms']):.1f} | {max(r['loop_ms'], default=0):.1f} | "
              f"{sum(r['worker_ms']):.1f} | "
              f"{pct(r['latency_ms'], 50) or 0:.1f} / {pct(r['latency_ms'], 99) or 0:.1f} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

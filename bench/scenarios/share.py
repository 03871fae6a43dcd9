#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures the share of the limit a runtime's heap cap may take (issue 13): runs the scenario suite's
workload for the runtime (a live heap of 55% of the limit plus garbage) N times per candidate share,
with the cap set to that share the way oomless exports it (GOMEMLIMIT; JAVA_TOOL_OPTIONS
-XX:MaxRAM=<limit> -XX:MaxRAMPercentage; NODE_OPTIONS --max-old-space-size), in a plain cgroup with
the limit: the kernel's verdict alone, no policy. It prints survivals, kernel kills, peaks and wall
time per share; docs/runtimes.md explains the pick.

    bench/scenarios/share.py --runtime go|java|node --bin-dir build/tests/scenarios [--runs 10]
        [--shares 70,80,85,90]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "scenarios"))
import scenarios as S  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runtime", choices=("go", "java", "node"), default="go")
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--shares", default="70,75,80,85,90")
    ap.add_argument("--live", type=int, default=55, help="live heap, percent of the limit")
    ap.add_argument("--seconds", default="8")
    ap.add_argument("--limit", type=int, default=256, help="MiB")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("go-share: needs root to create cgroups", file=sys.stderr)
        return 77
    args.oomless = ""
    args.bin_dir = os.path.abspath(args.bin_dir)
    args.keep = False
    import tempfile
    args.work = tempfile.mkdtemp(prefix="oomless-share-", dir=args.bin_dir)
    ctx = S.Ctx(args)
    limit = args.limit * S.MIB
    live = args.limit * args.live // 100
    if args.runtime == "go":
        cmd = [S.go_binary(ctx), str(live), args.seconds]
    elif args.runtime == "java":
        cmd = ["java", "-cp", S.java_classes(ctx), "Heap", "live", str(live), args.seconds]
    else:
        cmd = [S.need("node"), os.path.join(S.HERE, "workloads", "heap.js"), "live", str(live), args.seconds]
    print(f"{args.runtime}, live heap {live} MiB ({args.live}% of {args.limit} MiB) plus garbage, GOGC=100 (Go), "
          f"{args.seconds}s, {args.runs} runs per share, plain {ctx.tier} cgroup; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print("| share of the limit | survived | kernel OOM kills | peak (median, max) | wall (median) |")
    print("|---|---|---|---|---|")
    rows = []
    for share in [int(x) for x in args.shares.split(",")] + [None]:
        env = {"GOGC": "100"}
        if share is not None and args.runtime == "go":
            env["GOMEMLIMIT"] = str(limit * share // 100)
        elif share is not None and args.runtime == "java":
            env["JAVA_TOOL_OPTIONS"] = f"-XX:MaxRAM={limit} -XX:MaxRAMPercentage={share}"
        elif share is not None:
            env["NODE_OPTIONS"] = f"--max-old-space-size={limit * share // 100 >> 20}"
        sc = S.Scenario(f"{args.runtime}-{share}", "sick", "", None, limit=limit, env=env, timeout=90)
        ok = kills = 0
        peaks, walls = [], []
        for _ in range(args.runs):
            r = S.run_without(sc, ctx, cmd)
            ok += r.outcome == "correct"
            kills += r.kills
            peaks.append(r.peak)
            walls.append(r.wall)
        peaks.sort()
        walls.sort()
        label = f"{share}%" if share is not None else "unset (the runtime's default)"
        rows.append((share, ok))
        print(f"| {label} | {ok}/{args.runs} | {kills} | {peaks[len(peaks) // 2] / S.MIB:.0f}M, "
              f"{peaks[-1] / S.MIB:.0f}M | {walls[len(walls) // 2]:.1f}s |", flush=True)
    good = [s for s, ok in rows if s is not None and ok == args.runs]
    if good:
        print(f"\nhighest share with {args.runs}/{args.runs}: {max(good)}%")
    import shutil
    shutil.rmtree(args.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

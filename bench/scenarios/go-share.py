#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures the share of the limit GOMEMLIMIT may take (issue 13): runs the scenario suite's Go
workload (a live heap of 55% of the limit plus garbage, GOGC=100) N times per candidate share, with
GOMEMLIMIT set to that share, in a plain cgroup with the limit (the kernel's verdict alone, no
policy), and prints survivals, peaks and GC cost per share. The share oomless exports is the highest
one that survived every run, one step down for margin (see docs/runtimes.md).

    bench/scenarios/go-share.py --bin-dir build/tests/scenarios [--runs 10] [--shares 70,75,80,85,90]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "scenarios"))
import scenarios as S  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    args.work = tempfile.mkdtemp(prefix="oomless-goshare-", dir=args.bin_dir)
    ctx = S.Ctx(args)
    limit = args.limit * S.MIB
    live = args.limit * args.live // 100
    binary = S.go_binary(ctx)
    print(f"Go, live heap {live} MiB ({args.live}% of {args.limit} MiB) plus garbage, GOGC=100, "
          f"{args.seconds}s, {args.runs} runs per share, plain {ctx.tier} cgroup; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print("| GOMEMLIMIT share | survived | kernel OOM kills | peak (median, max) | wall (median) |")
    print("|---|---|---|---|---|")
    rows = []
    for share in [int(x) for x in args.shares.split(",")] + [None]:
        env = {"GOGC": "100"}
        if share is not None:
            env["GOMEMLIMIT"] = str(limit * share // 100)
        sc = S.Scenario(f"go-{share}", "sick", "", None, limit=limit, env=env, timeout=90)
        ok = kills = 0
        peaks, walls = [], []
        for _ in range(args.runs):
            r = S.run_without(sc, ctx, [binary, str(live), args.seconds])
            ok += r.outcome == "correct"
            kills += r.kills
            peaks.append(r.peak)
            walls.append(r.wall)
        peaks.sort()
        walls.sort()
        label = f"{share}%" if share is not None else "unset (GOGC only)"
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

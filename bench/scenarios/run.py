#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The scenario benchmark (issue 13): runs every scenario of tests/scenarios without and with oomless
and prints the side-by-side table (markdown) and the headline; then runs the Go scenario under oomless
--go-runs more times and prints how many survived (the issue asks for 10 of 10).

    bench/scenarios/run.py --oomless build/supervisor/oomless --bin-dir build/tests/scenarios \\
        [--only a,b] [--go-runs 10] [--json out.json]

`cmake --build build --target bench-scenarios` runs it with the defaults (about 6 minutes on 2 cores,
plus about 10 s per extra Go run).
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "scenarios"))
import scenarios as S  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--oomless", required=True)
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--go-runs", type=int, default=10)
    ap.add_argument("--json")
    args = ap.parse_args()
    argv = ["--oomless", args.oomless, "--bin-dir", args.bin_dir]
    if args.only:
        argv += ["--only", args.only]
    if args.json:
        argv += ["--json", args.json]
    rc = S.main(argv)
    if rc == S.SKIP or args.go_runs <= 0:
        return rc
    ns = argparse.Namespace(oomless=os.path.abspath(args.oomless), bin_dir=os.path.abspath(args.bin_dir),
                            keep=False)
    ns.work = tempfile.mkdtemp(prefix="oomless-scen-go-", dir=ns.bin_dir)
    try:
        ctx = S.Ctx(ns)
        sc = next(s for s in S.SCENARIOS if s.name == "go")
        ok = 0
        kills = restarts = 0
        for i in range(args.go_runs):
            r = S.run_with(sc, ctx, sc.cmd(ctx))
            ok += r.outcome == "correct"
            kills += r.kills
            restarts += r.restarts
            print(f"go run {i + 1}: {S.cell(r)}", flush=True)
        print(f"\nGo, live heap 55% of the limit plus garbage, under oomless: correct in {ok} of {args.go_runs} "
              f"runs; kernel OOM kills {kills}; restarts {restarts}")
    finally:
        shutil.rmtree(ns.work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())

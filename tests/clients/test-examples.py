#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Python and Go example apps (examples/python/cache_service.py, examples/go/cache-service) under
a real `oomless run --memory-max 128M --policy examples/policies/self-healing.json`, in a real memory
cgroup: each fills its cache at 20 MiB/s toward 110 MiB (Python) or 96 MiB with a 112 MiB Go memory
limit (Go), is told to shed to 40% once the working set stays at 75% of the limit, and follows the
climb back. Checked from the app's own lines and oomless's log:

- the app sees the supervisor (the control page, through contrib/python or contrib/go);
- a shed: budget 400, weight 10, not ready; the app's capacity falls to 40%;
- a recovery: the budget climbs to 550 and the app is ready again, its capacity up;
- Go only: the memory limit follows the budget (normal * budget / 1000) and reads back the same with
  debug.SetMemoryLimit(-1);
- oomless logs the shed and the step, and the run ends with no kernel OOM kill and status 0.

Usage: test-examples.py python|go --oomless PATH [--go-scratch DIR]. About 20 s each."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1 << 20


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)


def build_go(scratch):
    go = shutil.which("go")
    if not go:
        skip("no go (scripts/deps.sh installs golang-go)")
    os.makedirs(scratch, exist_ok=True)
    env = dict(os.environ, GOCACHE=os.path.join(scratch, "cache"), GOPATH=os.path.join(scratch, "path"),
               GOPROXY="off", GOTOOLCHAIN="local", GOFLAGS="", GOTELEMETRY="off", GO111MODULE="on",
               CGO_ENABLED="0", GOENV="off")
    out = os.path.join(scratch, "cache-service")
    r = subprocess.run([go, "build", "-o", out, "./cache-service"], cwd=os.path.join(SRC, "examples", "go"),
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"go build failed: {r.stderr}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["python", "go"])
    ap.add_argument("--oomless", required=True)
    ap.add_argument("--go-scratch", default=os.path.join(tempfile.gettempdir(), "oomless-go-example"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("needs root for the workload's memory cgroup")
    if args.which == "python":
        app = [sys.executable, os.path.join(SRC, "examples", "python", "cache_service.py"), "--cache-mib", "110"]
    else:
        app = [build_go(args.go_scratch), "-cache-mib", "96", "-normal-mib", "112"]
    app += ["--grow", "20", "--seconds", "20"] if args.which == "python" else ["-grow", "20", "-seconds", "20"]
    policy = os.path.join(SRC, "examples", "policies", "self-healing.json")
    with tempfile.TemporaryDirectory(prefix="oomless-example-") as rt:
        r = subprocess.run([args.oomless, "run", "--runtime-dir", rt, "--memory-max", "128M", "--policy", policy,
                            "--"] + app, capture_output=True, text=True, timeout=90)
    print(r.stdout)
    print(r.stderr)
    if "tier none" in r.stderr:
        skip("no memory controller for the workload")
    if r.returncode != 0:
        fail(f"oomless exited {r.returncode}")
    lines = [l for l in r.stdout.splitlines() if re.match(r"cache[_-]service: stage ", l)]
    if not re.search(r"supervised [Tt]rue", r.stdout):
        fail("the app did not find the control page")
    pat = re.compile(r"stage (\d+) budget (\d+) weight (\d+) ready (\w+)")
    states = [(int(m[1]), int(m[2]), int(m[3]), m[4].lower() == "true", l) for l in lines if (m := pat.search(l))]
    shed = next((i for i, s in enumerate(states) if s[1] == 400), None)
    if shed is None:
        fail("the app never saw the budget drop to 400")
    st = states[shed]
    if st[2] != 10 or st[3]:
        fail(f"at the shed the app should read weight 10 and not ready: {st[4]}")
    cap = re.search(r"capacity (\d+) MiB", st[4])
    full = 110 if args.which == "python" else 96
    if not cap or int(cap[1]) != full * 400 // 1000:
        fail(f"capacity at budget 400 should be {full * 400 // 1000} MiB: {st[4]}")
    step = next((s for s in states[shed + 1:] if s[1] == 550), None)
    if step is None:
        fail("no recovery step to 550 after the shed")
    if not step[3] or step[2] != 100:
        fail(f"after the stage was left the app should be ready with weight 100: {step[4]}")
    if args.which == "go":
        for s in (st, step):
            m = re.search(r"memory limit (\d+) \(read back (\d+)\)", s[4])
            want = (112 * MIB) // 1000 * s[1] + (112 * MIB) % 1000 * s[1] // 1000
            if not m or int(m[1]) != want or int(m[2]) != want:
                fail(f"the Go memory limit at budget {s[1]} should be {want} and read back so: {s[4]}")
    for want in ("budget shed: 40.0%", "budget step: 55.0%", "kernel OOM kills 0"):
        if want not in r.stderr:
            fail(f"oomless's log has no '{want}'")
    print(f"ok: {args.which} example shed to 400 and climbed to 550")
    return 0


if __name__ == "__main__":
    sys.exit(main())

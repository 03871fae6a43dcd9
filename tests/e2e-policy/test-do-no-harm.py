#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Do no harm (issue 8): a healthy service near its limit ends exactly as it would without oomless.

Under `oomless run --memory-max 256M` with the built-in policy, two services hold 235 MiB (92% of the
limit) for 30 s, side by side:
- "block": one malloc(235 MiB), the allocation liboomless's fixed 75% cap used to refuse at once;
- "steps": 1 MiB steps at memory speed (the 200 MiB fixed heap of issue 8 §3 on the way up).
Each must exit 0 with no restart, no stage above warn, no heap cap hit and no kernel OOM kill. Before
the built-in policy decided on evidence, both were restarted every few seconds until oomless gave up
(124), and the block's malloc failed at once (balloon exit 3).
Also: `oomless check --print-default` shows a stop grace of at least 10 s on every restart action.
Costs ~35 s (the two run in parallel).
"""
import json
import subprocess
import time

import e2elib as E
from e2elib import check

HOLD = "30s"


def grace_is_10s(ctx):
    r = subprocess.run([ctx.oomless, "check", "--print-default"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, f"`oomless check --print-default` exited {r.returncode}: {r.stderr}")
    doc = json.loads(r.stdout)
    restarts = [a for st in doc["stages"] for a in st["on_enter"] if a["action"] == "restart"]
    check(restarts, "the built-in policy has no restart action")
    for a in restarts:
        check(a["grace"] in ("10s", "15s", "20s", "30s"), f"the built-in restart's grace is {a['grace']}, "
              "expected at least 10s (docker's and systemd's default)")
    ctx.note(f"built-in restart grace: {[a['grace'] for a in restarts]}")


def body(ctx):
    ctx.require_tier()
    grace_is_10s(ctx)
    runs = {
        "block": E.balloon_cmd(ctx, "--step", "235M", "--max", "235M", "--hold", HOLD),
        "steps": E.balloon_cmd(ctx, "--step", "1M", "--max", "235M", "--hold", HOLD),
    }
    sups = {n: E.Oomless(ctx, n, ["--memory-max", "256M"], argv).start() for n, argv in runs.items()}
    top = {n: 0 for n in runs}
    caps = {n: 0 for n in runs}
    deadline = time.monotonic() + 60 * (1 + 3 * ctx.slack)
    while time.monotonic() < deadline and any(s.poll() is None for s in sups.values()):
        for n, s in sups.items():
            if s.poll() is not None:
                continue
            st = s.status()
            if st is None:
                continue
            top[n] = max(top[n], st["policy"]["stage"])
            check(st["child"]["restarts"] == 0, f"{n}: restarted: {st['child']}")
            check(st["events"]["oom_kill"] == 0, f"{n}: kernel OOM kill: {st['events']}")
            heap = st.get("heap")
            if heap:
                caps[n] = max(caps[n], heap["cap_hits"])
        time.sleep(0.1)
    for n, s in sups.items():
        rc = s.wait(10)
        log = s.log_text()
        ctx.note(f"{n}: oomless exited {rc}, highest stage {top[n]}, cap hits {caps[n]}")
        check(rc == 0, f"{n}: oomless exited {rc}, expected the service's 0 (as without oomless)")
        check(top[n] <= 1, f"{n}: reached stage {top[n]}; a steady service gets warn at most")
        check(caps[n] == 0, f"{n}: the heap cap refused {caps[n]} allocation(s)")
        check("restarts 0" in log and "kernel OOM kills 0" in log, f"{n}: summary shows restarts or OOM kills")
        check("went backwards" not in log, f"{n}: a control-page counter went backwards")


if __name__ == "__main__":
    E.main(body)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""SIGHUP reloads the policy file. A broken file (bad JSON, then valid JSON with an unknown key and a
contradiction) keeps the old policy: status still names it, the stage stays, the workload keeps
running. A valid file then takes over: status names the new policy and the current stage carries
over (same level, its entry time kept), again without touching the workload."""
import json
import os
import signal
import time

import e2elib as E
from e2elib import check, mib


def pol(name, enter, extra_stage=False):
    stages = [E.stage("warm", E.cond(E.mem_ge(enter)), E.cond(E.mem_lt("8M")))]
    if extra_stage:
        stages.append(E.stage("hot", E.cond(E.mem_ge("200M")), E.cond(E.mem_lt("100M"))))
    return E.policy(name, stages, interval="100ms", restart=E.restart_policy("never"))


def replace(path, text):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def body(ctx):
    ctx.require_tier()
    path = ctx.write_policy("policy.json", pol("alpha", "24M"))
    s = E.Oomless(ctx, "reload", ["--policy", path, "--memory-max", "256M"],
                  E.balloon_cmd(ctx, "--rate", "64M", "--max", "48M", "--hold", "inf")).start()
    st = s.wait_status(lambda st: st["policy"]["stage"] == 1, timeout=15, what="stage 1 under alpha")
    check(st["policy"]["name"] == "alpha", f"policy.name {st['policy']['name']!r}")
    child = st["child"]["pid"]
    t_stage1 = time.monotonic() - st["policy"]["stage_since_sec"]

    broken = [
        ("truncated JSON", '{"version": 1, "name": "broken", "stages": ['),
        ("unknown key", json.dumps(dict(pol("broken2", "24M"), treshold=3))),
        ("exit above enter", json.dumps(pol("broken3", "24M")).replace('"< 8M"', '"< 30M"')),
        ("empty file", ""),
    ]
    for what, text in broken:
        replace(path, text)
        s.signal(signal.SIGHUP)
        t_end = time.monotonic() + 1.0  # ten sampling intervals
        while time.monotonic() < t_end:
            st = s.status()
            check(s.poll() is None, f"oomless exited with {s.rc} after SIGHUP with a broken file ({what})")
            check(st["policy"]["name"] == "alpha", f"after a reload with a broken file ({what}) the policy "
                  f"is {st['policy']['name']!r}, expected the old 'alpha'")
            check(st["policy"]["stage"] == 1, f"stage {st['policy']['stage']} after a broken reload ({what})")
            check(st["child"]["pid"] == child and st["child"]["restarts"] == 0,
                  f"the workload was disturbed by a broken reload ({what})")
            time.sleep(0.05)
    # The broken files were rejected, not merely not yet read: oomless still answers a valid reload.
    replace(path, json.dumps(pol("beta", "32M", extra_stage=True)))
    s.signal(signal.SIGHUP)
    st = s.wait_status(lambda st: st["policy"]["name"] == "beta", timeout=5, what="policy 'beta' after "
                       "a valid reload")
    check(st["policy"]["stage"] == 1 and st["policy"]["stage_name"] == "warm",
          f"the stage did not carry over: {st['policy']['stage']} {st['policy']['stage_name']!r}")
    since_entry = time.monotonic() - t_stage1
    check(st["policy"]["stage_since_sec"] >= since_entry - 0.5,
          f"stage_since_sec {st['policy']['stage_since_sec']:.2f}s, but stage 1 was entered "
          f"{since_entry:.2f}s ago: the entry time did not carry over")
    time.sleep(1.0)
    st = s.status(cli=True)
    check(st["policy"]["name"] == "beta" and st["policy"]["stage"] == 1, f"after the reload: {st['policy']}")
    check(st["child"]["pid"] == child and st["child"]["restarts"] == 0, "the reload disturbed the workload")
    check(st["memory"]["current"] >= mib(40), "the workload is gone")
    s.stop()


if __name__ == "__main__":
    E.main(body)

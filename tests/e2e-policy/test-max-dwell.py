#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""max_dwell escalates: the workload enters stage 1 and stays (its exit condition never holds), so
after stage 1's max_dwell oomless moves to stage 2 although stage 2's own enter threshold is far away;
stage 2's on_enter hook runs. Stage 2 is stuck too, and its max_dwell runs its named on_max_dwell
action. Times come from `oomless status --json`; the hooks' files are the side effects."""
import os
import time

import e2elib as E
from e2elib import check, mib

DWELL1, DWELL2 = 1.5, 1.0


def body(ctx):
    ctx.require_tier()
    enter2, dwell2 = ctx.path("enter2.env"), ctx.path("dwell2.env")
    pol = ctx.write_policy("dwell.json", E.policy(
        "e2e-dwell",
        [E.stage("soft", E.cond(E.mem_ge("24M")), E.cond(E.mem_lt("8M")), max_dwell="1500ms",
                 on_max_dwell="next"),
         E.stage("hard", E.cond(E.mem_ge("200M")), E.cond(E.mem_lt("8M")),
                 on_enter=[E.a_exec(E.hook_env_argv(enter2))], max_dwell="1s",
                 on_max_dwell=[E.a_exec(E.hook_env_argv(dwell2))])],
        interval="100ms", restart=E.restart_policy("never")))
    s = E.Oomless(ctx, "dwell", ["--policy", pol, "--memory-max", "256M"],
                  E.balloon_cmd(ctx, "--rate", "64M", "--max", "48M", "--hold", "inf")).start()
    s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")
    # Entry times come from status: now minus policy.stage_since_sec, so a slow read does not skew them.
    st1 = s.wait_status(lambda st: st["policy"]["stage"] >= 1, timeout=15, what="stage 1", interval=0.02)
    w1 = time.time() - st1["policy"]["stage_since_sec"]
    check(st1["policy"]["stage"] == 1, f"went straight to stage {st1['policy']['stage']}")
    st2 = s.wait_status(lambda st: st["policy"]["stage"] >= 2, timeout=10, what="stage 2 (the max_dwell escalation "
                        "from stage 1)", interval=0.02)
    w2 = time.time() - st2["policy"]["stage_since_sec"]
    ctx.note(f"stage 1 -> 2 after {w2 - w1:.2f}s (max_dwell {DWELL1}s) at {E.fmt_bytes(st2['memory']['current'])}")
    check(st2["policy"]["stage"] == 2 and st2["policy"]["stage_name"] == "hard", f"stage {st2['policy']}")
    check(st2["memory"]["current"] < mib(100), f"memory {E.fmt_bytes(st2['memory']['current'])}: stage 2 "
          "was not reached by escalation")
    check(DWELL1 - 0.05 <= w2 - w1 <= DWELL1 + 0.3 + ctx.slack, f"escalated {w2 - w1:.2f}s after entering "
          f"stage 1, max_dwell is {DWELL1}s")

    # The hooks' files: written (mtime) soon after entering stage 2, and max_dwell after it.
    s.wait_file(enter2, 3 + 5 * ctx.slack)
    te = os.stat(enter2).st_mtime
    check(te - w2 < 1.0 + ctx.slack, f"stage 2's on_enter hook ran {te - w2:.2f}s after the escalation")
    s.wait_file(dwell2, 5 + 5 * ctx.slack)
    td = os.stat(dwell2).st_mtime
    ctx.note(f"stage 2 on_max_dwell hook ran {td - w2:.2f}s after entering stage 2 (max_dwell {DWELL2}s)")
    check(DWELL2 - 0.05 <= td - w2 <= DWELL2 + 0.8 + ctx.slack, f"stage 2's on_max_dwell ran {td - w2:.2f}s "
          f"after entering it, max_dwell is {DWELL2}s")
    # The hook writes its file before it exits; its outcome is recorded when the supervisor reaps it.
    s.wait_status(lambda st: any(a["action"] == "exec" and a["stage"] == 2 and a["when"] == "max_dwell"
                                 for a in st["policy"]["recent_actions"]),
                  timeout=5, what="the outcome of stage 2's max_dwell exec")
    st = s.status(cli=True)
    check(st["policy"]["stage"] == 2, f"stage {st['policy']['stage']} after stage 2's max_dwell "
          "(there is no stage 3 and the action list replaces escalation)")
    acts = st["policy"]["recent_actions"]
    check(any(a["action"] == "exec" and a["stage"] == 2 and a["when"] == "max_dwell" for a in acts),
          f"recent_actions has no max_dwell exec of stage 2: {acts}")
    check(st["child"]["restarts"] == 0, "the workload was restarted")
    s.stop()


if __name__ == "__main__":
    E.main(body)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hooks run with the right environment: an exec action on entering a stage and another on leaving it
each write their whole environment to a file, and the variables describing the stage, the policy,
the workload and its memory must match what `oomless status --json` says at that moment."""
import os
import time

import e2elib as E
from e2elib import check, mib


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            k, sep, v = line.rstrip("\n").partition("=")
            if sep:
                env[k] = v
    return env


def int_var(env, name):
    check(name in env, f"hook environment lacks {name}; it has {sorted(k for k in env if 'OOMLESS' in k)}")
    try:
        return int(env[name])
    except ValueError:
        raise E.Failure(f"{name}={env[name]!r} is not an integer")


def body(ctx):
    ctx.require_tier()
    enter_env, exit_env = ctx.path("enter.env"), ctx.path("exit.env")
    pol = ctx.write_policy("hook.json", E.policy(
        "e2e-hook",
        [E.stage("degrade", E.cond(E.mem_ge("32M")), E.cond(E.mem_lt("16M")),
                 on_enter=[E.a_exec(E.hook_env_argv(enter_env))],
                 on_exit=[E.a_exec(E.hook_env_argv(exit_env))])],
        restart=E.restart_policy("never")))
    s = E.Oomless(ctx, "hook", ["--policy", pol, "--memory-max", "256M"],
                  E.balloon_cmd(ctx, "--rate", "32M", "--max", "64M", "--hold", "3s", "--free",
                                "--after", "60s")).start()
    st0 = s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")
    child = st0["child"]["pid"]

    s.wait_file(enter_env, 15)
    # The hook writes its file before it exits; the outcome is recorded when the supervisor reaps it.
    def entered_ok(st):
        return any(a["action"] == "exec" and a["stage"] == 1 and a["when"] == "enter" and a["outcome"] == "ok"
                   for a in st["policy"]["recent_actions"])
    s.wait_status(entered_ok, timeout=5, what="an ok exec outcome for entering stage 1")
    st = s.status(cli=True)
    env = read_env(enter_env)
    ctx.note("enter hook: " + " ".join(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("OOMLESS")))
    check(env.get("OOMLESS_STAGE") == "1", f"OOMLESS_STAGE={env.get('OOMLESS_STAGE')!r}, expected '1'")
    check(env.get("OOMLESS_STAGE_NAME") == "degrade", f"OOMLESS_STAGE_NAME={env.get('OOMLESS_STAGE_NAME')!r}")
    check(env.get("OOMLESS_EVENT") == "enter", f"OOMLESS_EVENT={env.get('OOMLESS_EVENT')!r}, expected 'enter'")
    check(env.get("OOMLESS_ACTION") == "exec", f"OOMLESS_ACTION={env.get('OOMLESS_ACTION')!r}")
    check(env.get("OOMLESS_ACTION_STAGE") == "1", f"OOMLESS_ACTION_STAGE={env.get('OOMLESS_ACTION_STAGE')!r}")
    check(env.get("OOMLESS_PREV_STAGE") == "0", f"OOMLESS_PREV_STAGE={env.get('OOMLESS_PREV_STAGE')!r}")
    check(env.get("OOMLESS_DRY_RUN") == "0", f"OOMLESS_DRY_RUN={env.get('OOMLESS_DRY_RUN')!r}")
    check(env.get("OOMLESS_POLICY") == "e2e-hook", f"OOMLESS_POLICY={env.get('OOMLESS_POLICY')!r}")
    check(int_var(env, "OOMLESS_PID") == child, f"OOMLESS_PID={env.get('OOMLESS_PID')}, "
          f"the child is {child}")
    check(int_var(env, "OOMLESS_SUPERVISOR_PID") == s.pid, f"OOMLESS_SUPERVISOR_PID is not {s.pid}")
    check(env.get("OOMLESS_INSTANCE_ID") == st["instance_id"] and len(st["instance_id"]) == 32,
          f"OOMLESS_INSTANCE_ID={env.get('OOMLESS_INSTANCE_ID')!r}, status says {st.get('instance_id')!r}")
    check(env.get("OOMLESS_LEAF") == st["leaf"], f"OOMLESS_LEAF={env.get('OOMLESS_LEAF')!r}, status "
          f"says {st['leaf']!r}")
    cur = int_var(env, "OOMLESS_MEMORY_CURRENT")
    check(mib(32) <= cur <= mib(64) + mib(8), f"OOMLESS_MEMORY_CURRENT={E.fmt_bytes(cur)} but the stage "
          f"is entered at 32M and the workload never exceeds 64M")
    check(int_var(env, "OOMLESS_MEMORY_LIMIT") == mib(256), f"OOMLESS_MEMORY_LIMIT={env.get('OOMLESS_MEMORY_LIMIT')}")
    check("PATH" in env, "the hook lost the supervisor's environment (no PATH)")
    acts = [a for a in st["policy"]["recent_actions"] if a["action"] == "exec"]
    check(any(a["stage"] == 1 and a["when"] == "enter" and a["outcome"] == "ok" for a in acts),
          f"recent_actions has no ok exec for entering stage 1: {st['policy']['recent_actions']}")

    # The workload frees everything: the stage is left and the exit hook sees that.
    s.wait_file(exit_env, 15)
    env = read_env(exit_env)
    ctx.note("exit hook: " + " ".join(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("OOMLESS")))
    check(env.get("OOMLESS_EVENT") == "exit", f"OOMLESS_EVENT={env.get('OOMLESS_EVENT')!r}, expected 'exit'")
    check(env.get("OOMLESS_STAGE") == "0", f"OOMLESS_STAGE={env.get('OOMLESS_STAGE')!r} after leaving "
          "stage 1, expected '0' (the level after the transition)")
    check(env.get("OOMLESS_PREV_STAGE") == "1" and env.get("OOMLESS_PREV_STAGE_NAME") == "degrade",
          f"OOMLESS_PREV_STAGE={env.get('OOMLESS_PREV_STAGE')!r} {env.get('OOMLESS_PREV_STAGE_NAME')!r}")
    check(env.get("OOMLESS_ACTION_STAGE") == "1", f"OOMLESS_ACTION_STAGE={env.get('OOMLESS_ACTION_STAGE')!r}")
    cur = int_var(env, "OOMLESS_MEMORY_CURRENT")
    check(cur < mib(16), f"OOMLESS_MEMORY_CURRENT={E.fmt_bytes(cur)} on exit, the exit threshold is 16M")
    st = s.status(cli=True)
    check(st["policy"]["stage"] == 0, f"stage {st['policy']['stage']} after the exit hook ran")
    s.stop()


if __name__ == "__main__":
    E.main(body)

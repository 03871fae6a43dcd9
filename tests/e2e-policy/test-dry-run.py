#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""--dry-run changes nothing: a policy that would throttle, signal, kill, restart and run a hook as
soon as the workload passes 24M is run with --dry-run. The stage is still entered, every action is
recorded with outcome "would", and the workload lives on with the same pid, no restart, the same
cgroup limit files, and no hook side effect."""
import os
import signal
import time

import e2elib as E
from e2elib import check, mib


def body(ctx):
    ctx.require_tier()
    hook = ctx.path("hook.env")
    kinds = ["throttle", "signal", "exec", "kill", "restart"]
    pol = ctx.write_policy("dry.json", E.policy(
        "e2e-dry",
        [E.stage("act", E.cond(E.mem_ge("24M")), E.cond(E.mem_lt("8M")),
                 on_enter=[E.a_throttle("32M"), E.a_signal("SIGKILL", "main"),
                           E.a_exec(E.hook_env_argv(hook)), E.a_kill("leaf"), E.a_restart("1s")])],
        interval="100ms", restart=E.restart_policy("on-failure", initial="100ms")))
    s = E.Oomless(ctx, "dry", ["--dry-run", "--policy", pol, "--memory-max", "256M"],
                  E.balloon_cmd(ctx, "--rate", "16M", "--step", "256K", "--max", "48M",
                                "--hold", "inf")).start()
    st0 = s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")
    check(st0["policy"]["dry_run"] is True, f"policy.dry_run is {st0['policy']['dry_run']!r} under --dry-run")
    check(st0["memory"]["current"] < mib(24), "the workload passed 24M before the first status")
    child, leaf = st0["child"]["pid"], st0["leaf"]
    before = E.limit_snapshot(leaf)
    check(before, f"no limit files readable in {leaf}")

    st = s.wait_status(lambda st: st["policy"]["stage"] == 1, timeout=15, what="stage 1")
    # Give every action (restart grace 1s, hook timeouts) time to have done harm if it ran for real.
    time.sleep(2.5)
    st = s.status(cli=True)
    acts = [a for a in st["policy"]["recent_actions"] if a["stage"] == 1 and a["when"] == "enter"]
    ctx.note(f"recent_actions: {st['policy']['recent_actions']}")
    for k in kinds:
        mine = [a for a in acts if a["action"] == k]
        check(mine, f"no recent action {k!r} recorded for entering stage 1")
        # memory.high exists only on v2: on v1 the throttle is skipped whether dry or not.
        ok = ("would", "skipped") if k == "throttle" and ctx.tier != "v2" else ("would",)
        check(all(a["outcome"] in ok for a in mine), f"{k}: outcome {[a['outcome'] for a in mine]}, "
              f"expected {' or '.join(ok)}")
    check(not any(a["outcome"] in ("ok", "failed") for a in st["policy"]["recent_actions"]),
          f"some action ran under --dry-run: {st['policy']['recent_actions']}")
    check(st["policy"]["stage"] == 1, f"stage {st['policy']['stage']}")
    check(st["child"]["pid"] == child, f"child pid changed from {child} to {st['child']['pid']}")
    check(st["child"]["restarts"] == 0, f"child.restarts is {st['child']['restarts']}")
    check(st["child"]["last_exit"] is None, f"the child exited: {st['child']['last_exit']}")
    os.kill(child, 0)  # raises if the workload is gone
    procs = (E.read_file(os.path.join(leaf, "cgroup.procs")) or "").split()
    check(str(child) in procs, f"the workload {child} is no longer in {leaf}: {procs}")
    after = E.limit_snapshot(leaf)
    check(after == before, f"limit files changed under --dry-run: before {before}, after {after}")
    check(st["memory"]["high"] == st0["memory"]["high"], f"memory.high in status changed: "
          f"{st0['memory']['high']} -> {st['memory']['high']}")
    check(not os.path.exists(hook), "the exec hook ran under --dry-run")
    check(st["memory"]["current"] >= mib(40), f"memory {E.fmt_bytes(st['memory']['current'])}: the workload "
          "stopped growing")
    rc = s.stop()
    check(rc == 128 + signal.SIGTERM, f"oomless exited {rc} after SIGTERM, expected 143")


if __name__ == "__main__":
    E.main(body)

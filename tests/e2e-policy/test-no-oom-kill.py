#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The headline: a workload leaking about 20 MB/s under a 256M limit.

1. Without oomless the kernel OOM-kills it: run in a cgroup of our own with a 256M hard limit (and no
   swap), it dies of SIGKILL and the cgroup's own counter shows oom_kill >= 1. The same under
   `oomless run --memory-max 256M` with a policy that has no actions (one inert stage): oomless reports
   the kernel's OOM kill in status (events.oom_kill, child.last_exit.oom_killed) and the leaf agrees.
2. Under `oomless run --memory-max 256M` with the DEFAULT policy (no --policy), it is carried through
   the degrade stage and restarted gracefully instead, cycle after cycle: stage rises through degrade
   before every restart, child.restarts grows, and the kernel's OOM-kill count stays 0, both in
   `oomless status --json` and in the leaf's own cgroup files. On v2, memory.high is below memory.max
   while the workload is in trouble, which is what buys the graceful stop its time.
"""
import json
import os
import signal
import subprocess
import time

import e2elib as E
from e2elib import check, mib

LIMIT = mib(256)
CYCLES = 3


def leak_argv(ctx):
    return E.balloon_cmd(ctx, "--leak", "--rate", "20M", "--step", "1M")


def control_run(ctx):
    cg = E.make_cgroup(ctx, f"e2epolicy-control-{os.getpid()}", LIMIT)
    procs = os.path.join(cg, "cgroup.procs")

    def join():
        with open(procs, "w") as f:
            f.write("0")

    t0 = time.monotonic()
    p = subprocess.Popen(leak_argv(ctx), preexec_fn=join, stdin=subprocess.DEVNULL)
    ctx.children.append(p)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise E.Failure("the leaking balloon survived 60s under a 256M limit without oomless")
    kills = E.leaf_oom_kills(cg)
    ctx.note(f"without oomless: balloon ended with {rc} after {time.monotonic() - t0:.1f}s, "
             f"oom_kill {kills} in {cg}")
    check(rc == -signal.SIGKILL, f"without oomless the leaking balloon ended with {rc}, expected SIGKILL")
    check(kills is not None and kills >= 1, f"without oomless the cgroup shows oom_kill {kills}")
    E.remove_cgroup(cg)
    ctx.cgroups.remove(cg)


def control_run_inert(ctx):
    # A long restart delay keeps oomless (and its leaf) around after the kill, to be read.
    pol = ctx.write_policy("inert.json", E.policy(
        "e2e-inert", [E.stage("inert", E.cond(E.mem_ge("99%")), E.cond(E.mem_lt("50%")))],
        restart=E.restart_policy("on-failure", initial="60s", maximum="60s")))
    # --no-preload: liboomless's heap cap would otherwise turn the kernel's kill into ENOMEM in the
    # workload, which is a protection of its own, not the unprotected case this control shows.
    s = E.Oomless(ctx, "inert", ["--policy", pol, "--memory-max", "256M", "--no-preload"], leak_argv(ctx)).start()
    st = s.wait_status(lambda st: st["child"]["last_exit"] is not None, timeout=60,
                       what="the leaking workload's end under a policy without actions")
    le = st["child"]["last_exit"]
    ctx.note(f"under oomless without actions: last_exit {le}, events {st['events']}")
    check(le["oom_killed"] is True and le["signal"] == "SIGKILL", f"child.last_exit {le}, expected an OOM kill")
    check(st["events"]["oom_kill"] >= 1, f"events.oom_kill = {st['events']['oom_kill']} after an OOM kill")
    kills = E.leaf_oom_kills(st["leaf"])
    check(kills is not None and kills >= 1, f"the leaf {st['leaf']} shows oom_kill {kills}")
    s.stop()


def default_stages(ctx):
    r = subprocess.run([ctx.oomless, "check", "--print-default"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, f"`oomless check --print-default` exited {r.returncode}: {r.stderr}")
    doc = json.loads(r.stdout)
    return [st["name"] for st in doc["stages"]]


def body(ctx):
    ctx.require_tier()
    control_run(ctx)
    control_run_inert(ctx)

    names = default_stages(ctx)
    ctx.note(f"default policy stages: {names}")
    degrade = [i + 1 for i, n in enumerate(names) if "degrade" in n.lower()]
    check(degrade, f"the default policy has no degrade stage: {names}")
    degrade = degrade[0]

    s = E.Oomless(ctx, "leak", ["--memory-max", "256M"], leak_argv(ctx)).start()
    st = s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")
    check(st["policy"]["dry_run"] is False, "the default policy runs dry")
    leaf = st["leaf"]
    check(st["memory"]["max"] == LIMIT or st["memory"]["limit"] == LIMIT, f"limit not applied: {st['memory']}")

    cycles = []  # per child pid: max stage, stages seen, peak memory
    exits = []  # child.last_exit each time child.restarts went up
    restarts_seen = 0
    cur = None
    high_below_max = False
    for st in s.statuses(150, "while supervising the leak"):
        ev = st["events"]["oom_kill"]
        check(ev == 0, f"events.oom_kill = {ev}: the kernel OOM-killed the workload; cycles so far {cycles}")
        kl = E.leaf_oom_kills(leaf)
        check(kl in (0, None), f"the leaf's own cgroup files show oom_kill {kl}")
        pid = st["child"]["pid"]
        if pid is not None and (cur is None or cur["pid"] != pid):
            cur = {"pid": pid, "stages": [], "peak": 0, "restarts": st["child"]["restarts"]}
            cycles.append(cur)
        if cur is not None:
            stg = st["policy"]["stage"]
            if not cur["stages"] or cur["stages"][-1] != stg:
                cur["stages"].append(stg)
            cur["peak"] = max(cur["peak"], st["memory"]["current"])
        m = st["memory"]
        if m["high"] is not None and m["max"] is not None and m["high"] < m["max"]:
            high_below_max = True
        if st["child"]["restarts"] > restarts_seen:
            restarts_seen = st["child"]["restarts"]
            exits.append(st["child"]["last_exit"])
        if st["child"]["restarts"] >= CYCLES:
            break
        time.sleep(0.05)
    summary = "; ".join(f"pid {c['pid']}: stages {c['stages']} peak {E.fmt_bytes(c['peak'])}" for c in cycles)
    ctx.note(f"cycles: {summary}")
    st = s.status(cli=True)
    check(st["child"]["restarts"] >= CYCLES, f"child.restarts = {st['child']['restarts']} after 150s, "
          f"expected {CYCLES} graceful restarts")
    ctx.note(f"exits before each restart: {exits}")
    for le in exits:
        check(le is not None, "child.last_exit is null after a restart")
        # Graceful: ended by the restart action's stop signal, not by the kernel or a SIGKILL.
        check(le["oom_killed"] is False, f"an exit before a restart was an OOM kill: {le}")
        check(le["signal"] == "SIGTERM" and le["status"] == 128 + signal.SIGTERM,
              f"an exit before a restart was not the graceful SIGTERM: {le}")
    acts = st["policy"]["recent_actions"]
    check(any(a["action"] == "restart" and a["outcome"] == "ok" for a in acts),
          f"no successful restart action in recent_actions: {acts}")
    # Every restart came after the degrade stage was entered in the same cycle: the action records
    # (newest first in status) in order, cut at each restart.
    chrono = list(reversed(acts))
    restarts_at = [i for i, a in enumerate(chrono) if a["action"] == "restart" and a["outcome"] == "ok"]
    check(len(restarts_at) >= min(CYCLES, 3), f"recent_actions holds {len(restarts_at)} restarts: {acts}")
    prev = -1
    for i in restarts_at:
        between = chrono[prev + 1:i]
        if prev == -1 and len(acts) >= 32:  # the ring (32) may have dropped the oldest cycle's start
            prev = i
            continue
        check(any(a["stage"] == degrade and a["when"] == "enter" for a in between),
              f"a restart without the degrade stage ({names[degrade - 1]}) entered before it: {between}")
        prev = i
    # The polled history agrees where polling is fine-grained enough to see a stage that lasts ~0.6s
    # (not under TCG, where one status read can take longer).
    for c in cycles[:-1]:
        if os.environ.get("VM_RUN") != "1":
            check(degrade in c["stages"], f"cycle of pid {c['pid']} never showed the degrade stage "
                  f"{degrade} ({names[degrade - 1]}) in status: stages {c['stages']}")
        if degrade in c["stages"]:
            check(c["stages"].index(degrade) <= c["stages"].index(max(c["stages"])),
                  f"cycle of pid {c['pid']} reached stage {max(c['stages'])} before degrade: {c['stages']}")
        check(c["peak"] < LIMIT, f"cycle of pid {c['pid']} peaked at {E.fmt_bytes(c['peak'])}")
    check(len(cycles) >= CYCLES, f"saw {len(cycles)} workload pids, expected at least {CYCLES}")
    if ctx.tier == "v2":
        # The degrade stage's throttle: seen in status, or at least recorded as done.
        throttled = any(a["action"] == "throttle" and a["outcome"] == "ok" for a in acts)
        ctx.note(f"v2: memory.high below memory.max seen in status: {high_below_max}; throttle ok in "
                 f"recent_actions: {throttled}")
        check(high_below_max or throttled, "memory.high never went below memory.max on v2 (not in status, "
              f"and no successful throttle in recent_actions: {acts})")
    check(E.leaf_oom_kills(leaf) == 0, f"the leaf's oom_kill is {E.leaf_oom_kills(leaf)}")
    check(st["events"]["oom_kill"] == 0, f"events.oom_kill = {st['events']['oom_kill']}")
    rc = s.stop()
    check(rc == 128 + signal.SIGTERM, f"oomless exited {rc} after SIGTERM, expected 143")


if __name__ == "__main__":
    E.main(body)

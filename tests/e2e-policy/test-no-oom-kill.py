#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The headline: a workload leaking about 20 MB/s under a 256M limit.

1. Without oomless the kernel OOM-kills it: run in a cgroup of our own with a 256M hard limit (and no
   swap), it dies of SIGKILL and the cgroup's own counter shows oom_kill >= 1. The same under
   `oomless run --memory-max 256M` with a policy that has no actions (one inert stage): oomless reports
   the kernel's OOM kill in status (events.oom_kill, child.last_exit.oom_killed) and the leaf agrees.
2. Under `oomless run --memory-max 256M` with the DEFAULT policy (no --policy), it is restarted
   gracefully instead, cycle after cycle, before the heap cap refuses it anything: every exit before a
   restart is the restart's SIGTERM (a malloc failure would end balloon with status 3), child.restarts
   grows, and the kernel's OOM-kill count stays 0, both in `oomless status --json` and in the leaf's own
   cgroup files. No control-page counter "went backwards" across the restarts.
3. The same at 100 MB/s (issue 13 §2: the restart must win the race with the heap cap there too).
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


def leak_argv(ctx, rate="20M"):
    return E.balloon_cmd(ctx, "--leak", "--rate", rate, "--step", "1M")


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


def supervised_leak(ctx, rate, cycles):
    s = E.Oomless(ctx, f"leak-{rate}", ["--memory-max", "256M"], leak_argv(ctx, rate)).start()
    st = s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")
    check(st["policy"]["dry_run"] is False, "the default policy runs dry")
    leaf = st["leaf"]
    check(st["memory"]["max"] == LIMIT or st["memory"]["limit"] == LIMIT, f"limit not applied: {st['memory']}")

    cycles_seen = []  # per child pid: stages seen, peak memory
    exits = []  # child.last_exit each time child.restarts went up
    restarts_seen = 0
    cur = None
    for st in s.statuses(150, f"while supervising the {rate}/s leak"):
        ev = st["events"]["oom_kill"]
        check(ev == 0, f"events.oom_kill = {ev}: the kernel OOM-killed the workload; cycles so far {cycles_seen}")
        kl = E.leaf_oom_kills(leaf)
        check(kl in (0, None), f"the leaf's own cgroup files show oom_kill {kl}")
        pid = st["child"]["pid"]
        if pid is not None and (cur is None or cur["pid"] != pid):
            cur = {"pid": pid, "stages": [], "peak": 0}
            cycles_seen.append(cur)
        if cur is not None:
            stg = st["policy"]["stage"]
            if not cur["stages"] or cur["stages"][-1] != stg:
                cur["stages"].append(stg)
            cur["peak"] = max(cur["peak"], st["memory"]["current"])
        if st["child"]["restarts"] > restarts_seen:
            restarts_seen = st["child"]["restarts"]
            exits.append(st["child"]["last_exit"])
        if st["child"]["restarts"] >= cycles:
            break
        time.sleep(0.05)
    summary = "; ".join(f"pid {c['pid']}: stages {c['stages']} peak {E.fmt_bytes(c['peak'])}" for c in cycles_seen)
    ctx.note(f"{rate}/s cycles: {summary}")
    st = s.status(cli=True)
    check(st["child"]["restarts"] >= cycles, f"child.restarts = {st['child']['restarts']}, expected {cycles} "
          "graceful restarts")
    ctx.note(f"{rate}/s exits before each restart: {exits}")
    for le in exits:
        check(le is not None, "child.last_exit is null after a restart")
        # Graceful: ended by the restart action's stop signal, not by the kernel, a SIGKILL, or a
        # malloc refused at the heap cap (balloon exits 3).
        check(le["oom_killed"] is False, f"an exit before a restart was an OOM kill: {le}")
        check(le["signal"] == "SIGTERM" and le["status"] == 128 + signal.SIGTERM,
              f"an exit before a restart was not the graceful SIGTERM: {le}")
    acts = st["policy"]["recent_actions"]
    check(any(a["action"] == "restart" and a["outcome"] == "ok" for a in acts),
          f"no successful restart action in recent_actions: {acts}")
    heap = st.get("heap")
    check(not heap or heap["cap_hits"] == 0, f"the heap cap refused allocations: {heap}")
    for c in cycles_seen[:-1]:
        check(c["peak"] < LIMIT, f"cycle of pid {c['pid']} peaked at {E.fmt_bytes(c['peak'])}")
    check(E.leaf_oom_kills(leaf) == 0, f"the leaf's oom_kill is {E.leaf_oom_kills(leaf)}")
    check(st["events"]["oom_kill"] == 0, f"events.oom_kill = {st['events']['oom_kill']}")
    rc = s.stop()
    check(rc == 128 + signal.SIGTERM, f"oomless exited {rc} after SIGTERM, expected 143")
    log = s.log_text()
    check("went backwards" not in log, "a control-page counter went backwards across a restart: " +
          "; ".join(ln for ln in log.splitlines() if "went backwards" in ln))
    check("malloc(" not in log, "balloon's malloc failed at the heap cap before the restart")


def body(ctx):
    ctx.require_tier()
    control_run(ctx)
    control_run_inert(ctx)
    supervised_leak(ctx, "20M", CYCLES)
    supervised_leak(ctx, "100M", CYCLES)


if __name__ == "__main__":
    E.main(body)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A workload that ramps its memory up, holds and frees it again makes oomless pass through the stages
in order (0 -> 1 -> 2), each at its threshold, and come back down one level at a time (2 -> 1 -> 0),
each at its exit threshold.

Two independent records: `oomless status --json` read every few tens of ms (its memory figure is
read live, its stage is the last tick's, so the stage may lag the memory by one sampling interval),
and exec hooks on every enter/exit that log OOMLESS_MEMORY_CURRENT, the very sample the engine decided
on. The ramp up is smooth (16 MB/s); the way down drops in 16M steps, one per second."""
import time

import e2elib as E
from e2elib import check, mib

INTERVAL_S = 0.1
RATE = mib(16)  # bytes per second, both ways
ENTER = [mib(48), mib(96)]
EXIT = [mib(24), mib(72)]
PEAK = mib(128)


STEP = mib(16)  # one balloon of the ramp-down chain


def hooks(log, k):
    return dict(on_enter=[E.a_exec(E.hook_log_argv(log, f"enter{k}"))],
                on_exit=[E.a_exec(E.hook_log_argv(log, f"exit{k}"))])


def body(ctx):
    ctx.require_tier()
    log = ctx.path("transitions.log")
    pol = ctx.write_policy("ramp.json", E.policy(
        "e2e-ramp",
        [E.stage("degrade", E.cond(E.mem_ge("48M")), E.cond(E.mem_lt("24M")), **hooks(log, 1)),
         E.stage("shed", E.cond(E.mem_ge("96M")), E.cond(E.mem_lt("72M")), **hooks(log, 2))],
        interval=f"{int(INTERVAL_S * 1000)}ms", restart=E.restart_policy("never")))
    s = E.Oomless(ctx, "ramp", ["--policy", pol, "--memory-max", "256M"],
                  E.balloon_ramp(ctx, rate=RATE, peak=PEAK, hold=3.0)).start()
    st = s.wait_status(lambda st: st["child"]["pid"] is not None, timeout=10, what="a running child")
    check(st["policy"]["name"] == "e2e-ramp", f"policy.name is {st['policy']['name']!r}, not e2e-ramp")
    check(st["tier"] == ctx.tier, f"oomless reports tier {st['tier']!r}, this host offers {ctx.tier!r}")

    hist = []  # (t, stage, current)
    for st in s.statuses(60, "before the stages came back to 0"):
        stage, cur = st["policy"]["stage"], st["memory"]["current"]
        now = time.monotonic()
        # (time read, stage, live memory, when the current stage was entered)
        hist.append((now, stage, cur, now - st["policy"]["stage_since_sec"]))
        check(st["events"]["oom_kill"] == 0, f"events.oom_kill is {st['events']['oom_kill']}")
        # Down at 0 after having been at 2: the ramp is over.
        if stage == 0 and any(h[1] == 2 for h in hist):
            break
        time.sleep(0.02)
    check(hist, "no status at all")

    # The distinct stage sequence, and each change with the figures around it.
    changes = []
    for prev, cur in zip(hist, hist[1:]):
        if cur[1] != prev[1]:
            changes.append((prev, cur))
    seq = [hist[0][1]] + [c[1][1] for c in changes]
    report = "\n".join(f"  {p[1]}->{c[1]} between {E.fmt_bytes(p[2])} (t={p[0] - hist[0][0]:.2f}s) "
                       f"and {E.fmt_bytes(c[2])} (t={c[0] - hist[0][0]:.2f}s)" for p, c in changes)
    ctx.note(f"stage changes:\n{report}")
    check(seq == [0, 1, 2, 1, 0], f"stage sequence {seq}, expected [0, 1, 2, 1, 0] one step at a time")

    # One sampling interval of growth (plus the scheduling delay a tick may suffer under TCG or load).
    growth = int(RATE * (INTERVAL_S + ctx.slack))
    noise = mib(1)  # page cache, page tables, the shell
    lag = INTERVAL_S + 0.05 + ctx.slack  # a tick, plus its scheduling delay
    (p1, c1), (p2, c2), (p3, c3), (p4, c4) = changes
    for (p, c), thr, up in (((p1, c1), ENTER[0], True), ((p2, c2), ENTER[1], True),
                            ((p3, c3), EXIT[1], False), ((p4, c4), EXIT[0], False)):
        what = f"status: {p[1]}->{c[1]} (threshold {E.fmt_bytes(thr)})"
        if up:
            # Rising memory: the tick that still said "below" saw at most the live figure.
            check(p[2] < thr + growth + noise, f"{what}: still at stage {p[1]} with {E.fmt_bytes(p[2])}")
            check(c[2] >= thr - noise, f"{what}: entered with only {E.fmt_bytes(c[2])}")
        else:
            # Memory drops in steps: the new stage must follow the first status below the threshold
            # within one tick, and never come while memory is still above it.
            check(c[2] < thr + noise, f"{what}: left while memory was still {E.fmt_bytes(c[2])}")
            below = [h for h in hist if h[1] == p[1] and h[0] <= c[0] and h[2] < thr - noise]
            if below:
                late = c[3] - below[0][0]  # stage entry (supervisor's account) - first read below
                check(late <= lag, f"{what}: memory was {E.fmt_bytes(below[0][2])} {late:.2f}s before "
                      f"the stage followed (a sampling interval is {INTERVAL_S}s)")

    # The hooks' OOMLESS_MEMORY_CURRENT is the sample each decision was made on. They run
    # asynchronously: give the last one a moment.
    deadline = time.monotonic() + 5 + 10 * ctx.slack
    while True:
        with open(log) as f:
            lines = [l.split() for l in f if l.strip()]
        if len(lines) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    ctx.note("hooks: " + "; ".join(" ".join(l) for l in lines))
    check([l[0] for l in lines] == ["enter1", "enter2", "exit2", "exit1"],
          f"hooks ran as {[l[0] for l in lines]}, expected enter1 enter2 exit2 exit1")
    for tag, t, event, stage, cur in lines:
        k = int(tag[-1])
        cur = int(cur)
        if tag.startswith("enter"):
            check(event == "enter" and stage == str(k), f"{tag}: OOMLESS_EVENT={event} OOMLESS_STAGE={stage}")
            thr = ENTER[k - 1]
            check(thr <= cur < thr + growth + noise, f"{tag}: decided on a sample of {E.fmt_bytes(cur)}, the "
                  f"threshold is {E.fmt_bytes(thr)} and one interval adds {E.fmt_bytes(growth)}")
        else:
            check(event == "exit" and stage == str(k - 1), f"{tag}: OOMLESS_EVENT={event} OOMLESS_STAGE={stage}")
            thr = EXIT[k - 1]
            check(thr - STEP - noise <= cur < thr, f"{tag}: decided on a sample of {E.fmt_bytes(cur)}, the "
                  f"exit threshold is {E.fmt_bytes(thr)} and memory falls in {E.fmt_bytes(STEP)} steps")

    st = s.status(cli=True)
    if st is not None:
        check(st["child"]["restarts"] == 0, f"child.restarts is {st['child']['restarts']}")
    # The workload ends by itself once every balloon is gone; restart "never" lets oomless exit with it.
    rc = s.wait(30)
    check(rc == 0, f"oomless exited {rc} after the workload exited 0")


if __name__ == "__main__":
    E.main(body)

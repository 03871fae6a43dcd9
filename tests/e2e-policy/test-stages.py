#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A workload that ramps its memory up, holds and frees it again makes oomless pass through the stages
in order (0 -> 1 -> 2), each at its threshold, and come back down one level at a time (2 -> 1 -> 0),
each at its exit threshold. The stage and the memory figure are read from `oomless status --json`
at a much shorter period than the sampling interval; a transition must lie between the last status
before it and the first status after it, within one sampling interval's worth of growth."""
import time

import e2elib as E
from e2elib import check, mib

INTERVAL_S = 0.1
RATE = mib(16)  # bytes per second, both ways
ENTER = [mib(48), mib(96)]
EXIT = [mib(24), mib(72)]
PEAK = mib(128)


def body(ctx):
    ctx.require_tier()
    pol = ctx.write_policy("ramp.json", E.policy(
        "e2e-ramp",
        [E.stage("degrade", E.cond(E.mem_ge("48M")), E.cond(E.mem_lt("24M"))),
         E.stage("shed", E.cond(E.mem_ge("96M")), E.cond(E.mem_lt("72M")))],
        interval=f"{int(INTERVAL_S * 1000)}ms", restart=E.restart_policy("never")))
    s = E.Oomless(ctx, "ramp", ["--policy", pol, "--memory-max", "256M"],
                  E.balloon_ramp(ctx, rate=RATE, peak=PEAK, hold=3.0)).start()
    st = s.wait_status(lambda st: st["child"]["pid"] is not None, timeout=10, what="a running child")
    check(st["policy"]["name"] == "e2e-ramp", f"policy.name is {st['policy']['name']!r}, not e2e-ramp")
    check(st["tier"] == ctx.tier, f"oomless reports tier {st['tier']!r}, this host offers {ctx.tier!r}")

    hist = []  # (t, stage, current)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = s.status()
        check(s.poll() is None, f"oomless exited with {s.rc} before the stages came back to 0")
        if st is None:
            continue
        stage, cur = st["policy"]["stage"], st["memory"]["current"]
        hist.append((time.monotonic(), stage, cur))
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

    slack = int(RATE * INTERVAL_S) + mib(1)  # one sampling interval of growth, plus page-cache noise
    (p1, c1), (p2, c2), (p3, c3), (p4, c4) = changes
    for (p, c), thr, up in (((p1, c1), ENTER[0], True), ((p2, c2), ENTER[1], True),
                            ((p3, c3), EXIT[1], False), ((p4, c4), EXIT[0], False)):
        what = f"{p[1]}->{c[1]} (threshold {E.fmt_bytes(thr)})"
        if up:
            check(p[2] < thr + slack, f"{what}: still at stage {p[1]} with {E.fmt_bytes(p[2])}")
            check(c[2] >= thr - slack, f"{what}: entered with only {E.fmt_bytes(c[2])}")
        else:
            check(p[2] >= thr - slack, f"{what}: left already at {E.fmt_bytes(p[2])}")
            check(c[2] < thr + slack, f"{what}: left only at {E.fmt_bytes(c[2])}")

    st = s.status()
    if st is not None:
        check(st["child"]["restarts"] == 0, f"child.restarts is {st['child']['restarts']}")
    # The workload ends by itself once every balloon is gone; restart "never" lets oomless exit with it.
    rc = s.wait(30)
    check(rc == 0, f"oomless exited {rc} after the workload exited 0")


if __name__ == "__main__":
    E.main(body)

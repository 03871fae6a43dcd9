#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A restart loop backs off as configured and gives up at the limit: a command that fails soon after
it starts, under restart "on-failure" with a 250ms initial delay doubling up to 1s and at most 4
restarts, is started again after 0.25, 0.5, 1, 1 s, and when the 4th restart fails too, oomless exits
with the documented give-up status at once.

Times are a real side effect: each run appends CLOCK_BOOTTIME (from /proc/uptime, read with shell
builtins only, so no extra program start skews it) to a file when it starts and when it is about to
fail, so the backoff is measured from one run's end to the next run's start. `oomless status --json` supplies
child.restarts and child.last_exit, read while the loop runs."""
import threading
import time

import e2elib as E
from e2elib import check

GAVE_UP = 124  # POLICY_EXIT_GAVE_UP, oomless(1)
INITIAL, MAXIMUM, MAX_RESTARTS = 0.25, 1.0, 4
RUN = 0.3  # each run's life, long enough for a few `oomless status` reads


def boottime():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def body(ctx):
    ctx.require_tier()
    starts_log = ctx.path("starts.log")
    pol = ctx.write_policy("restart.json", E.policy(
        "e2e-restart",
        [E.stage("unused", E.cond(E.mem_ge("90%")), E.cond(E.mem_lt("50%")))],
        restart=E.restart_policy("on-failure", initial="250ms", maximum="1s", reset_after="30s",
                                 max_restarts=MAX_RESTARTS, window="5m")))
    s = E.Oomless(ctx, "restart", ["--policy", pol, "--memory-max", "64M"],
                  ["/bin/sh", "-c", f'read up idle < /proc/uptime; echo "start $up" >> "{starts_log}"; '
                                    f'sleep {RUN}; read up idle < /proc/uptime; echo "end $up" >> "{starts_log}"; '
                                    "exit 3"]).start()
    ended = {}

    def watch():
        ended["rc"] = s.proc.wait()
        ended["t"] = boottime()

    th = threading.Thread(target=watch, daemon=True)
    th.start()

    restarts, exits = [], []
    while "t" not in ended and time.monotonic() - s.t_start < 30:
        st = s.status()
        if st is not None:
            n = st["child"]["restarts"]
            if not restarts or restarts[-1] != n:
                restarts.append(n)
            if st["child"]["last_exit"] is not None:
                exits.append(st["child"]["last_exit"])
        time.sleep(0.01)
    th.join(10)
    check("rc" in ended, "oomless did not exit within 30s of a command that always fails")
    rc, t_exit = ended["rc"], ended["t"]
    s.rc = rc

    with open(starts_log) as f:
        marks = [l.split() for l in f if l.strip()]
    starts = [float(t) for k, t in marks if k == "start"]
    ends = [float(t) for k, t in marks if k == "end"]
    t0 = starts[0] if starts else 0
    ctx.note("runs (s after the first start): " + ", ".join(f"{k} {float(t) - t0:.2f}" for k, t in marks)
             + f"; oomless exit {rc} at {t_exit - t0:.2f}; child.restarts seen {restarts}")
    check(rc == GAVE_UP, f"oomless exited {rc}, expected the give-up status {GAVE_UP}")
    check(len(starts) == MAX_RESTARTS + 1, f"the command ran {len(starts)} times, expected "
          f"{MAX_RESTARTS + 1} (the first run and {MAX_RESTARTS} restarts)")
    check([k for k, _ in marks] == ["start", "end"] * (MAX_RESTARTS + 1), f"runs overlapped: {marks}")
    check(restarts == sorted(restarts) and restarts[-1] == MAX_RESTARTS,
          f"child.restarts went {restarts}, expected it to climb to {MAX_RESTARTS}")
    check(exits and all(e["status"] == 3 and e["signal"] is None for e in exits),
          f"child.last_exit did not show the exit status 3: {exits[-3:]}")

    # From a run's end to the next start: the k-th delay, plus reaping and starting a shell.
    # /proc/uptime counts in 10ms steps.
    delays = [min(INITIAL * 2 ** k, MAXIMUM) for k in range(MAX_RESTARTS)]
    for k, (ta, tb) in enumerate(zip(ends, starts[1:])):
        gap = tb - ta
        lo, hi = delays[k] * 0.9 - 0.01, delays[k] * 1.2 + 0.15 + ctx.slack
        check(lo <= gap <= hi, f"restart {k + 1} came {gap:.3f}s after the previous run ended, expected "
              f"the {delays[k]}s backoff (between {lo:.2f} and {hi:.2f})")
    # Giving up is immediate when the last run fails: no further delay.
    tail = t_exit - ends[-1]
    check(tail <= 0.25 + ctx.slack, f"oomless exited {tail:.3f}s after the last run failed: it waited "
          "before giving up")


if __name__ == "__main__":
    E.main(body, need_balloon=False)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A restart loop backs off as configured and gives up at the limit: a command that fails at once,
under restart "on-failure" with a 250ms initial delay doubling up to 1s and at most 4 restarts, is
started again after 0.25, 0.5, 1, 1 s (measured from `oomless status --json`: child.pid and
child.restarts), and after the 4th restart fails too, oomless exits with the documented give-up status."""
import time

import e2elib as E
from e2elib import check

GAVE_UP = 124  # POLICY_EXIT_GAVE_UP, oomless(1)
INITIAL, MAXIMUM, MAX_RESTARTS = 0.25, 1.0, 4


def body(ctx):
    ctx.require_tier()
    pol = ctx.write_policy("restart.json", E.policy(
        "e2e-restart",
        [E.stage("unused", E.cond(E.mem_ge("90%")), E.cond(E.mem_lt("50%")))],
        restart=E.restart_policy("on-failure", initial="250ms", maximum="1s", reset_after="30s",
                                 max_restarts=MAX_RESTARTS, window="5m")))
    # Each run lives ~50ms so status can see its pid; it fails with 3.
    s = E.Oomless(ctx, "restart", ["--policy", pol, "--memory-max", "64M"],
                  ["/bin/sh", "-c", "sleep 0.05; exit 3"]).start()

    starts = []  # (t, pid, restarts) at the first status showing a new pid
    last = None
    while s.poll() is None and time.monotonic() - s.t_start < 30:
        st = s.status()
        if st is not None:
            last = st
            pid, n = st["child"]["pid"], st["child"]["restarts"]
            if pid is not None and (not starts or starts[-1][1] != pid):
                starts.append((time.monotonic(), pid, n))
        time.sleep(0.005)
    rc = s.wait(10)
    t_exit = s.t_exit
    ctx.note("starts: " + ", ".join(f"t={t - s.t_start:.3f}s pid={p} restarts={n}" for t, p, n in starts)
             + f"; exit {rc} at t={t_exit - s.t_start:.3f}s")
    check(rc == GAVE_UP, f"oomless exited {rc}, expected the give-up status {GAVE_UP}")
    check(last is not None, "never saw a status")
    check(last["child"]["restarts"] == MAX_RESTARTS, f"last status shows {last['child']['restarts']} restarts, "
          f"expected {MAX_RESTARTS}")
    le = last["child"]["last_exit"]
    check(le is not None, "child.last_exit is null after failed runs")
    check(len(starts) == MAX_RESTARTS + 1, f"saw {len(starts)} distinct child pids, expected "
          f"{MAX_RESTARTS + 1} (the first run and {MAX_RESTARTS} restarts)")
    check([n for _, _, n in starts] == list(range(MAX_RESTARTS + 1)),
          f"child.restarts at each new pid: {[n for _, _, n in starts]}")

    # Gap between starts k and k+1 = the run (~50ms plus spawn) + the k-th delay.
    delays = [min(INITIAL * 2 ** k, MAXIMUM) for k in range(MAX_RESTARTS)]
    for k, ((ta, _, _), (tb, _, _)) in enumerate(zip(starts, starts[1:])):
        gap = tb - ta
        lo, hi = delays[k] * 0.9, delays[k] * 1.2 + 0.25 + ctx.slack
        check(lo <= gap <= hi, f"restart {k + 1} came {gap:.3f}s after the previous start, expected "
              f"{delays[k]}s backoff + the ~0.05s run (between {lo:.2f} and {hi:.2f})")
    # Giving up is immediate after the last run fails: no further delay.
    tail = t_exit - starts[-1][0]
    check(tail <= 0.05 + 0.4 + ctx.slack, f"oomless exited {tail:.3f}s after the last start: it waited before giving up")


if __name__ == "__main__":
    E.main(body, need_balloon=False)

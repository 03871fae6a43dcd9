#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A program whose allocations fail at the heap cap gets a graceful stop long enough to finish (issue 13
§2, Redis's "Out Of Memory allocating..." panic), built-in policy, 256M.

The workload (Python with PYTHONMALLOC=malloc, so liboomless serves every allocation) ignores SIGTERM,
allocates 8 MiB blocks until malloc fails at the heap cap, then "panics" for 2 s (as Redis writes its
report) and exits 70 on its own. Under the built-in policy it must end that way, with status 70: the
restart's grace (10s) outlasts the panic, and no SIGKILL cuts it short (before: a 500ms grace, then
SIGKILL, 137). The cap refusal is counted in status (heap.cap_hits), and no kernel OOM kill happens.
Costs ~6 s.
"""
import os
import sys
import time

import e2elib as E
from e2elib import check

PROGRAM = r"""
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
blocks = []
try:
    while True:
        blocks.append(b"x" * (8 << 20))
except MemoryError:
    pass
print("panic: Out Of Memory allocating after %d MiB" % (8 * len(blocks)), flush=True)
t = time.monotonic()
while time.monotonic() - t < 2:
    sys.stdout.write("panic report line\n")
    time.sleep(0.05)
sys.exit(70)
"""


def body(ctx):
    ctx.require_tier()
    s = E.Oomless(ctx, "cap-panic", ["--memory-max", "256M"], [sys.executable, "-c", PROGRAM],
                  env={"PYTHONMALLOC": "malloc"}).start()
    st = s.wait_status(lambda st: st["child"]["restarts"] >= 1 or st["child"]["last_exit"] is not None,
                       timeout=60 * (1 + 3 * ctx.slack), what="the first run's end")
    le = st["child"]["last_exit"]
    log = s.log_text()
    ctx.note(f"last_exit {le}; heap {st.get('heap')}; events {st['events']}")
    check("panic: Out Of Memory" in log, "the workload's malloc never failed at the cap (the test's premise)")
    check(le is not None and le["status"] == 70 and le["signal"] is None,
          f"the panicking workload did not finish on its own: last_exit {le}")
    check("stop_kill" not in log and "with SIGKILL" not in log, "oomless SIGKILLed the workload mid-panic")
    check(st["events"]["oom_kill"] == 0, f"kernel OOM kill: {st['events']}")
    rc = s.stop()
    check(rc is not None, "oomless did not stop")


if __name__ == "__main__":
    E.main(body)

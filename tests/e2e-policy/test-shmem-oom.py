#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tmpfs and kernel OOM kills of processes other than the main one (issue 13 §2), built-in policy, 256M.

1. A slow tmpfs writer (200 MiB at once, then 1 MiB every 200ms into /dev/shm): restarting would not
   free its files, so instead of restarting in a loop (5 futile restarts, then 124, before) oomless
   names shmem as the cause (status policy.cause while in a stage, and one log line), stops the workload
   once and exits 123. No restart, no kernel OOM kill.
2. `sh -c 'dd of=/dev/shm/...'` writing 300 MiB at memory speed, under a policy without actions: the
   kernel OOM-kills dd, not the main process sh, which exits 0. oomless reports the kill with the victim's pid and name (from /dev/kmsg),
   in the log and in the run summary, and status counts it (before: only "exited with status 0").
Costs ~15 s.
"""
import os
import shutil
import time

import e2elib as E
from e2elib import check


def slow_tmpfs(ctx, shm):
    script = (f"dd if=/dev/zero of={shm}/base bs=1M count=200 2>/dev/null; i=0; "
              f"while :; do dd if=/dev/zero of={shm}/f$i bs=1M count=1 2>/dev/null; i=$((i+1)); sleep 0.2; done")
    s = E.Oomless(ctx, "slow-tmpfs", ["--memory-max", "256M"], ["sh", "-c", script]).start()
    causes = set()
    deadline = time.monotonic() + 60 * (1 + 3 * ctx.slack)
    while s.poll() is None and time.monotonic() < deadline:
        st = s.status()
        if st is not None:
            check(st["child"]["restarts"] == 0, f"restarted although shmem survives a restart: {st['child']}")
            if st["policy"]["stage"] > 0:
                causes.add(st["policy"]["cause"])
        time.sleep(0.1)
    rc = s.wait(15)
    log = s.log_text()
    ctx.note(f"slow tmpfs: oomless exited {rc}; causes seen in status: {causes}")
    check(rc == 123, f"oomless exited {rc}, expected 123 (stopped once for shmem)")
    check(causes == {"shmem"}, f"status policy.cause while in a stage: {causes}, expected shmem")
    lines = [ln for ln in log.splitlines() if "a restart would not free it" in ln]
    check(len(lines) == 1 and "shmem" in lines[0], f"expected one line naming shmem as the cause: {lines}")
    check("Restarting the workload" not in log, "oomless restarted the workload")
    check("kernel OOM kills 0" in log and "exit status 123" in log, "the summary does not show the stop")


def dd_killed(ctx, shm):
    script = f"dd if=/dev/zero of={shm}/big bs=1M count=300 2>/dev/null; echo dd=$?; rm -f {shm}/big"
    # A policy without actions, so that the kernel, not a stop, ends dd every time.
    pol = ctx.write_policy("inert.json", E.policy(
        "e2e-inert", [E.stage("inert", E.cond(E.mem_ge("99%")), E.cond(E.mem_lt("50%")))]))
    s = E.Oomless(ctx, "dd", ["--memory-max", "256M", "--policy", pol], ["sh", "-c", script]).start()
    rc = s.wait(60 * (1 + 3 * ctx.slack))
    log = s.log_text()
    victims = [ln for ln in log.splitlines() if "OOM-killed pid" in ln]
    ctx.note(f"dd: oomless exited {rc}; victim lines: {victims}")
    check("dd=137" in log, "dd was not killed by the kernel (the test's premise)")
    check(rc == 0, f"oomless exited {rc}; sh, the main process, exits 0 after dd is killed")
    check(any("(dd)" in ln and "not the main process" in ln and "anon-rss" in ln for ln in victims),
          f"no log line names dd as the kernel's victim with its memory: {victims}")
    summary = [ln for ln in log.splitlines() if "Summary:" in ln]
    check(summary and "(dd[" in summary[0] and "kernel OOM kills 0" not in summary[0],
          f"the summary does not list the kill: {summary}")


def body(ctx):
    ctx.require_tier()
    shm = f"/dev/shm/oomless-e2e-{os.getpid()}"
    os.makedirs(shm, exist_ok=True)
    try:
        dd_killed(ctx, shm)
        slow_tmpfs(ctx, shm)
    finally:
        shutil.rmtree(shm, ignore_errors=True)


if __name__ == "__main__":
    E.main(body)

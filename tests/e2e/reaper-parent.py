#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Usage: reaper-parent.py REPORT -- COMMAND...
# Runs COMMAND as the child of a subreaper that reaps only COMMAND, as a container runtime's init
# might. Whatever COMMAND leaves behind is re-parented here instead of to a PID 1 that reaps at once,
# so a supervisor that exits before reaping its descendants is caught: every child of ours that is
# left (zombie or alive) is written to REPORT as "PID STATE", then killed and reaped. SIGTERM and
# SIGINT are passed on to COMMAND; our exit status is COMMAND's. COMMAND's pid is written to REPORT.pid.
import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children():
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == me:
            found.append((int(name), fields[0]))
    return found


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: reaper-parent.py REPORT -- COMMAND...")
    report, argv = sys.argv[1], sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"reaper-parent.py: prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
    pid = os.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    with open(report + ".pid.tmp", "w") as f:
        f.write(f"{pid}\n")
    os.rename(report + ".pid.tmp", report + ".pid")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, _f: os.kill(pid, s))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    # Orphans are re-parented as their parents exit; give the last of them a moment to arrive.
    time.sleep(0.3)
    left = children()
    with open(report, "w") as f:
        for p, state in left:
            f.write(f"{p} {state}\n")
    for p, _ in left:
        try:
            os.kill(p, signal.SIGKILL)
            os.waitpid(p, 0)
        except OSError:
            pass
    sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""SIGHUP into a policy with other PSI triggers and without the shed (code review, finding 1).

balloon holds 48M under --memory-max 256M. Policy "alpha" sheds to 40% on entering stage 1 (memory
>= 24M) and names one PSI trigger; "beta" has the same stage 1 without a shed and names two other
triggers. After the reload from alpha to beta:
  - the supervisor holds exactly beta's two trigger fds on memory.pressure (opened read-write, which
    tells them from the sampler's read-only one; counted in /proc/PID/fd and fdinfo), alpha's is gone,
    and the log says so;
  - nothing in beta would ever climb back from alpha's shed, so the budget is normal again: 100% and
    phase "normal" in `oomless status --json`, and 1000 permille in the control page the workload
    maps (read through /proc/CHILD/fd/$OOMLESS_CONTROL_FD with the seqlock protocol).
A reload back to alpha re-arms its one trigger. About 6 s."""
import json
import os
import signal
import struct
import time

import e2elib as E
from e2elib import check

ALPHA_TRIGGERS = ["some 100ms per 2s"]
BETA_TRIGGERS = ["full 200ms per 2s", "some 300ms per 4s"]


def pol(name, shed, triggers):
    on_enter = [{"action": "shed", "to": "40%", "recover_every": "1s"}] if shed else [E.a_notify()]
    warm = E.stage("warm", E.cond(E.mem_ge("24M")), E.cond(E.mem_lt("8M")), on_enter=on_enter)
    # The triggers sit in a stage the test never reaches (no memory >= 200M): armed, never decisive.
    hot = E.stage("hot", {"all": [E.mem_ge("200M")] + [{"psi_trigger": t} for t in triggers]},
                  E.cond(E.mem_lt("100M")))
    return E.policy(name, [warm, hot], interval="100ms", restart=E.restart_policy("never"))


def trigger_fds(pid):
    """The fds of pid open read-write on a memory.pressure file: its PSI triggers."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = next(int(l.split()[1], 8) for l in f if l.startswith("flags:"))
        except (FileNotFoundError, StopIteration):
            continue
        if target.endswith("/memory.pressure") and flags & 3 == os.O_RDWR:
            n += 1
    return n


def page_budget(child):
    """(budget permille, weight) as published in the workload's control page."""
    with open(f"/proc/{child}/environ", "rb") as f:
        env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    fd = int(env[b"OOMLESS_CONTROL_FD"])
    page = os.open(f"/proc/{child}/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for _ in range(1000):
            seq = struct.unpack("=I", os.pread(page, 4, 64))[0]
            budget, weight = struct.unpack("=II", os.pread(page, 8, 64 + 40))
            if seq % 2 == 0 and struct.unpack("=I", os.pread(page, 4, 64))[0] == seq:
                return budget, weight
            time.sleep(0.001)
    finally:
        os.close(page)
    raise E.Failure("the control page's seqlock never settled")


def replace(path, obj):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def body(ctx):
    ctx.require_tier()
    path = ctx.write_policy("policy.json", pol("alpha", True, ALPHA_TRIGGERS))
    s = E.Oomless(ctx, "reload-tb", ["--policy", path, "--memory-max", "256M"],
                  E.balloon_cmd(ctx, "--rate", "64M", "--max", "48M", "--hold", "inf")).start()
    st = s.wait_status(lambda st: st["policy"]["stage"] == 1 and st["policy"]["budget"]["phase"] == "shed",
                       timeout=15, what="stage 1 with the shed under alpha")
    child = st["child"]["pid"]
    check(abs(st["policy"]["budget"]["ratio"] - 0.4) < 1e-9, f"alpha's shed: {st['policy']['budget']}")
    check(page_budget(child)[0] == 400, f"the page's budget under alpha's shed: {page_budget(child)}")
    n = trigger_fds(s.pid)
    if n == 0:
        raise E.Skip("no PSI trigger armed on this host (no per-cgroup memory.pressure)")
    check(n == len(ALPHA_TRIGGERS), f"{n} trigger fds under alpha, expected {len(ALPHA_TRIGGERS)}")

    replace(path, pol("beta", False, BETA_TRIGGERS))
    s.signal(signal.SIGHUP)
    st = s.wait_status(lambda st: st["policy"]["name"] == "beta", timeout=5, what="policy beta")
    check(st["policy"]["stage"] == 1, f"the stage did not carry over: {st['policy']}")
    deadline = time.monotonic() + 3
    while trigger_fds(s.pid) != len(BETA_TRIGGERS) and time.monotonic() < deadline:
        time.sleep(0.05)
    n = trigger_fds(s.pid)
    check(n == len(BETA_TRIGGERS), f"{n} trigger fds after the reload to beta, expected "
          f"{len(BETA_TRIGGERS)} (the old ones dropped, the new ones armed)")
    check("PSI triggers re-armed for the new policy: 2 of 2" in s.log_text(), "no re-arm log line")

    st = s.status(cli=True)
    b = st["policy"]["budget"]
    check(b["phase"] == "normal" and abs(b["ratio"] - 1.0) < 1e-9,
          f"beta has no shed at stage 1, yet the budget is {b}")
    check(page_budget(child) == (1000, 100), f"the page after the reload: {page_budget(child)}")
    # It stays so: beta never sheds, and nothing climbs.
    time.sleep(1.0)
    st = s.status(cli=True)
    check(st["policy"]["budget"]["phase"] == "normal" and page_budget(child)[0] == 1000,
          f"a second later: {st['policy']['budget']}, page {page_budget(child)}")

    replace(path, pol("alpha2", True, ALPHA_TRIGGERS))
    s.signal(signal.SIGHUP)
    s.wait_status(lambda st: st["policy"]["name"] == "alpha2", timeout=5, what="policy alpha2")
    deadline = time.monotonic() + 3
    while trigger_fds(s.pid) != len(ALPHA_TRIGGERS) and time.monotonic() < deadline:
        time.sleep(0.05)
    check(trigger_fds(s.pid) == len(ALPHA_TRIGGERS), f"{trigger_fds(s.pid)} trigger fds back under alpha")
    check(st["child"]["pid"] == child, "the reloads disturbed the workload")
    s.stop()


if __name__ == "__main__":
    E.main(body)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""--dry-run keeps the workload's cache (issue 8 §4): cache-app (examples/workloads/cache-app.c)
fills its cache under a policy that notifies at 24M. With --dry-run the log says "would notify", but
no stage reaches the app's callbacks: it never changes stage and sheds nothing. The same run without
--dry-run is the control: there the app hears the stage and sheds."""
import os
import re

import e2elib as E
from e2elib import check


def run(ctx, name, extra):
    app = os.path.join(os.path.dirname(ctx.balloon), "cache-app")
    if not os.access(app, os.X_OK):
        raise E.Skip(f"{app} is not built")
    pol = ctx.write_policy(f"{name}.json", E.policy(
        f"e2e-{name}", [E.stage("shed", E.cond(E.mem_ge("24M")), E.cond(E.mem_lt("8M")),
                                on_enter=[E.a_notify()])]))
    s = E.Oomless(ctx, name, [*extra, "--policy", pol, "--memory-max", "256M"],
                  [app, "--cache-mib", "64", "--grow", "24", "--seconds", "5"]).start()
    rc = s.wait(30)
    log = s.log_text()
    ctx.note(f"--- {name} (exit {rc}) ---\n{log}")
    check(rc == 0, f"{name}: oomless exited {rc}")
    check("liboomless present" in log, f"{name}: cache-app did not see liboomless")
    done = re.search(r"cache-app: done: .* shed (\d+)", log)
    check(done, f"{name}: no summary line from cache-app")
    return log, int(done.group(1))


def body(ctx):
    ctx.require_tier()
    log, shed = run(ctx, "dry-notify", ["--dry-run"])
    check("would notify" in log, "the log does not say \"would notify\" under --dry-run")
    check(not re.search(r"cache-app: stage 0 -> ", log), "cache-app changed stage under --dry-run")
    check(shed == 0, f"cache-app shed {shed} entries under --dry-run")
    check(not re.search(r"cache-app: stage [1-9]", log), "cache-app reported a stage above 0 under --dry-run")

    log, shed = run(ctx, "live-notify", [])
    check(re.search(r"cache-app: stage 0 -> [1-9]", log), "control run: cache-app never heard the stage")
    check(shed > 0, "control run: cache-app shed nothing")


if __name__ == "__main__":
    E.main(body)

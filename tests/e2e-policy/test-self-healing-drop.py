#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The self-healing loop's drop path (issue 11, "multiplicative decrease, additive increase"), end to
end: pressure that returns during the climb makes the budget drop again, lower, and the next climb
is slower and stops below the level that failed.

cache-app wants a 240 MiB cache under --memory-max 256M with examples/policies/self-healing.json, and
allocates 70 MiB of ballast (memory it needs besides its cache, never shed) the first time the budget
climbs back to 55% after the first shed. Expected, from the policy (shed to 40%, step 15%):

  shed to 40% -> climb to 55% -> ballast: 132 + 70 MiB = 79% >= 75% for 500ms -> shed again:
  the 55% level failed (status budget.last_failed 0.55), the floor drops to 3/4 (30%), the step halves
  (7.5%), the ceiling is the level below the one that failed (40%).

Checked from `oomless status --json` every 250 ms and the log: two sheds, the second to 30%, a
climb after it in 7.5% steps that never passes 40%, the log's "budget shed again" line naming the
failed level, no kernel OOM kill, memory never at the limit. Costs about 35 s."""
import time

import e2elib as E
from e2elib import check

RUN_SEC = 35


def body(ctx):
    s = E.start_cache_app(ctx, "drop", ["--memory-max", "256M"],
                          ["--cache-mib", "240", "--grow", "60", "--seconds", str(RUN_SEC + 30),
                           "--ballast-mib", "70", "--ballast-at-budget", "550"])
    samples = []  # (t, budget dict, memory fraction, oom kills)
    t0 = time.monotonic()
    while time.monotonic() - t0 < RUN_SEC:
        st, b, frac = E.budget_sample(s)
        samples.append((time.monotonic() - t0, b, frac, st["events"]["oom_kill"]))
        if b["sheds"] >= 2 and b.get("steps", 0) >= 2 and b["phase"] in ("settled", "climb") \
                and time.monotonic() - t0 > 25:
            break
        time.sleep(0.25)
    last = samples[-1][1]
    ctx.note(f"last budget {last}")
    first2 = next((x for x in samples if x[1]["sheds"] >= 2), None)
    check(first2, f"the budget never dropped again in {RUN_SEC}s; last {last}")
    ctx.note(f"second shed {first2[0]:.1f}s in: {first2[1]}")
    b2 = first2[1]
    check(b2.get("last_failed") == 0.55, f"the level that failed should be 55%: {b2}")
    check(abs(b2["step"] - 0.075) < 1e-9, f"the step should have halved to 7.5%: {b2}")
    check(b2["ceiling"] <= 0.40 + 1e-9, f"the ceiling should be the level below the failed one (40%): {b2}")
    after = [x for x in samples if x[0] >= first2[0]]
    low = min(x[1]["ratio"] for x in after)
    check(abs(low - 0.30) < 1e-9, f"the second shed should go to 30% (3/4 of 40%), lowest seen {low}")
    top = max(x[1]["ratio"] for x in after)
    check(top <= 0.40 + 1e-9, f"the climb after the drop passed the ceiling: {top}")
    check(last["sheds"] == 2, f"more drops than the one the ballast causes: {last}")
    check(last["ratio"] > 0.30 and last["steps"] >= 2, f"no climb after the drop: {last}")
    check(max(x[3] for x in samples) == 0, "the kernel OOM-killed the workload")
    worst = max(x[2] for x in samples)
    check(worst < 0.97, f"memory reached {worst:.0%} of the limit")
    E.check_log(s, "budget shed again: 30.0%", "last failed 55.0%")
    s.stop()


if __name__ == "__main__":
    E.main(body)

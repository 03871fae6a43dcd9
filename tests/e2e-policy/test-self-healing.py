#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The self-healing loop converges (issue 11): cache-app wanting 240 MiB (filling at 20 MiB/s) under
--memory-max 256M with examples/policies/self-healing.json, for about 50 s.

- the first shed comes (budget 40%) well before the limit: memory is at most 85% of it until then
  (the policy enters at working_set >= 75% held 500ms);
- /readyz answers 503 during the shed and 200 once the stage is left;
- after the first shed, at most one more entry into the shed stage in the last 40 s;
- memory is never above 85% of the limit after the first shed (status read every 250 ms);
- the budget settles: the same value over the last 15 s, below 100%, shown in status;
- the log shows the shed and the climb's steps (event=budget)."""
import threading
import time
import urllib.error
import urllib.request

import e2elib as E
from e2elib import check

RUN_SEC = 50


def readyz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


def body(ctx):
    port = E.free_port()
    s = E.start_cache_app(ctx, "heal", ["--memory-max", "256M", "--listen", f"127.0.0.1:{port}"],
                          ["--cache-mib", "240", "--grow", "20", "--seconds", str(RUN_SEC + 30)])

    codes, stop = [], threading.Event()

    def poll_ready():
        while not stop.is_set():
            c = readyz(port)
            if c is not None:
                codes.append((time.monotonic(), c))
            time.sleep(0.1)

    th = threading.Thread(target=poll_ready, daemon=True)
    th.start()
    samples = []  # (t, stage, sheds, budget ratio, memory fraction)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < RUN_SEC:
            st, b, frac = E.budget_sample(s)
            samples.append((time.monotonic(), st["policy"]["stage"], b["sheds"], b["ratio"], frac))
            time.sleep(0.25)
    finally:
        stop.set()
        th.join(5)
    t_end = samples[-1][0]
    first = next((x for x in samples if x[2] >= 1), None)
    check(first, f"no shed in {RUN_SEC}s; last status {samples[-1]}")
    before = [x for x in samples if x[0] <= first[0]]
    peak = max(x[4] for x in before)
    ctx.note(f"first shed {first[0] - t0:.1f}s in, budget {first[3]}, memory up to {peak:.0%} before it")
    check(peak <= 0.85, f"memory reached {peak:.0%} of the limit before the first shed (94% is the old sawtooth)")
    # Memory after the first shed: the app had a moment to drop its cache (one status read).
    after = [x for x in samples if x[0] > first[0] + 0.5]
    worst = max(after, key=lambda x: x[4])
    check(worst[4] <= 0.85, f"memory at {worst[4]:.0%} of the limit {worst[0] - t0:.1f}s in, after the first shed")
    window = [x for x in samples if x[0] >= t_end - 40]
    more = window[-1][2] - window[0][2]
    check(more <= 1, f"{more} entries into the shed stage in the last 40s (sheds {window[0][2]} -> {window[-1][2]})")
    tail = [x for x in samples if x[0] >= t_end - 15]
    budgets = sorted({x[3] for x in tail})
    check(len(budgets) == 1 and budgets[0] > 0.4, f"the budget did not settle in the last 15s: {budgets}")
    ctx.note(f"settled at budget {budgets[0]}, {samples[-1][2]} sheds, memory {samples[-1][4]:.0%}")
    st = s.status(cli=True)
    check(st["policy"]["budget"]["ratio"] == budgets[0], f"status budget {st['policy']['budget']}")
    check(st["policy"]["budget"]["steps"] >= 1, f"no climb step: {st['policy']['budget']}")
    # /readyz: 503 while shedding, 200 after.
    t503 = next((t for t, c in codes if c == 503), None)
    check(t503 is not None, f"/readyz never answered 503; codes seen {sorted({c for _, c in codes})}")
    check(any(c == 200 and t > t503 for t, c in codes), "/readyz did not answer 200 after the shed")
    check(codes[-1][1] == 200, f"/readyz answers {codes[-1][1]} at the end")
    E.check_log(s, "budget shed: 40.0%", "budget step: ")
    s.stop()


if __name__ == "__main__":
    E.main(body)

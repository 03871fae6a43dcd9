#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""/readyz follows a stage that declares "ready": false: 200 while the workload is small, 503 while
balloon holds it above the stage's threshold (and oomless_ready is 0), 200 again once the stage is left;
/livez stays 200 all along. The stage is read from `oomless status` alongside, so each answer is
checked against the stage in force around it."""
import time

import httptest as H
from httptest import E, check


def body(ctx):
    ctx.require_tier()
    port = H.free_port()
    drain = E.stage("drain", E.cond(E.mem_ge("48M")), E.cond(E.mem_lt("24M")))
    drain["ready"] = False
    pol = ctx.write_policy("readyz.json", E.policy("readyz", [drain], interval="100ms",
                                                   restart=E.restart_policy("never")))
    # 2 s small, then 64M for 6 s, then small again for a long while
    cmd = E.balloon_cmd(ctx, "--rate", "0", "--step", "1M", "--max", "64M", "--hold", "6s", "--free",
                        "--after", "120s")
    cmd = ["/bin/sh", "-c", 'sleep 2; exec "$@"', "sh", *cmd]
    s = H.oomless_http(ctx, "readyz", port, pol, cmd, ["--memory-max", "256M"])
    st, _, text = H.wait_get(port, "/readyz")
    check(st == 200, f"/readyz answered {st} {text!r} before the workload grew")

    seen = []  # (stage before, code, stage after)
    ready0 = 0  # scrapes in stage drain that showed oomless_ready 0
    end = time.monotonic() + 60 + 60 * ctx.slack
    while time.monotonic() < end:
        before = s.status()["policy"]["stage"]
        code, _, text = H.get(port, "/readyz")
        after = s.status()["policy"]["stage"]
        live = H.get(port, "/livez")[0]
        check(live == 200, f"/livez answered {live}")
        if before == after:
            want = 503 if before == 1 else 200
            check(code == want, f"/readyz answered {code} {text!r} in stage {before}")
            if code == 503:
                check("drain" in text, f"the 503 does not name the stage: {text!r}")
                # One scrape for both figures: the stage may be left between two requests.
                m = H.scrape(port)
                if H.metric(m, "oomless_stage_level") == 1:
                    check(H.metric(m, "oomless_ready") == 0, "oomless_ready is not 0 in stage drain")
                    ready0 += 1
        seen.append(code)
        if 503 in seen and code == 200 and before == after == 0:
            break
        time.sleep(0.05)
    codes = [c for i, c in enumerate(seen) if i == 0 or seen[i - 1] != c]
    check(codes == [200, 503, 200], f"/readyz went {codes}, expected 200 -> 503 -> 200")
    check(ready0 > 0, "no scrape in stage drain showed oomless_ready (the stage was never seen in /metrics)")
    check(H.metric(H.scrape(port), "oomless_ready") == 1, "oomless_ready is not 1 after the stage")


if __name__ == "__main__":
    H.main(body)

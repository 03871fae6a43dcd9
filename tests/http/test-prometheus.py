#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A real Prometheus scrapes oomless's /metrics every second while a workload moves through a stage:
balloon grows to 80M (the stage "degrade" is entered at 48M, and its on_enter runs an exec hook), holds,
frees everything (the stage is left below 24M), and holds again. Prometheus's own HTTP API is then
asked for the stage, the working set and the action counter, and each must show what happened.
Prometheus negotiates OpenMetrics, so that rendering is what it parses here."""
import time

import httptest as H
from httptest import E, check
from e2elib import mib


def body(ctx):
    ctx.require_tier()
    port = H.free_port()
    prom = H.Prometheus(ctx, port)
    pol = ctx.write_policy("prom.json", E.policy(
        "prom-test",
        [E.stage("degrade", E.cond(E.mem_ge("48M")), E.cond(E.mem_lt("24M")),
                 on_enter=[E.a_exec(["/bin/true"])])],
        interval="100ms", restart=E.restart_policy("never")))
    # grow at 32M/s to 80M, hold 12 s, free, wait 30 s: the whole story is in Prometheus's retention
    cmd = E.balloon_cmd(ctx, "--rate", "32M", "--step", "1M", "--max", "80M", "--hold", "12s", "--free",
                        "--after", "60s")
    s = H.oomless_http(ctx, "prom", port, pol, cmd, ["--memory-max", "256M"])
    H.wait_get(port, "/livez", what="oomless's /livez")

    # the story, as oomless itself tells it
    s.wait_status(lambda st: st["policy"]["stage"] == 1, timeout=30 + 30 * ctx.slack, what="stage 1")
    s.wait_status(lambda st: st["policy"]["stage"] == 0, timeout=40 + 30 * ctx.slack, what="back to stage 0")
    t_back = time.monotonic()

    # and as Prometheus recorded it (the first sample takes ~5-6 s after its start)
    wait = 30 + 60 * ctx.slack
    up = prom.wait_value('up{job="oomless"}', lambda v: v == 1, wait, "1 (the target scraped)")
    stage_max = prom.wait_value("max_over_time(oomless_stage_level[5m])", lambda v: v >= 1, wait, "1 at some point")
    check(stage_max == 1, f"max stage {stage_max}, the policy has one stage")
    prom.wait_value("oomless_stage_level", lambda v: v == 0, wait, "0 again")
    ws = prom.wait_value("max_over_time(oomless_memory_working_set_bytes[5m])", lambda v: v >= mib(48), wait,
                         ">= 48M at the peak")
    check(ws < mib(256), f"working set peaked at {ws / 1048576:.1f}M, above --memory-max 256M")
    acts = prom.wait_value('oomless_actions_total{action="exec",outcome="ok"}', lambda v: v >= 1, wait,
                           "1 (the on_enter hook)")
    check(acts == 1, f"exec ok counted {acts} times, the stage was entered once")
    trans = prom.wait_value("oomless_stage_transitions_total", lambda v: v >= 2, wait, "2 (up and down)")
    check(trans == 2, f"{trans} transitions, expected 2")
    info = prom.query('oomless_stage_info{stage="normal"}')
    check(info and info[0][1] == 1, f"oomless_stage_info{{stage=\"normal\"}} is {info}")
    samples = prom.value("oomless_samples_total")
    check(samples and samples >= 10, f"oomless_samples_total is {samples}")
    build = prom.query("oomless_build_info")
    check(build and build[0][0].get("version"), f"oomless_build_info is {build}")
    ctx.note(f"prometheus: up {up}, stage max {stage_max}, working set max {ws / 1048576:.1f}M, exec ok {acts}, "
             f"transitions {trans}, samples {samples:.0f}, {time.monotonic() - t_back:.1f}s after stage 0")


if __name__ == "__main__":
    H.main(body)

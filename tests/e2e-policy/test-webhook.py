#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Webhooks reach a real HTTP server on 127.0.0.1 with the right JSON, and neither a slow server (that
holds every request far past the webhook timeout) nor a dead port delays sampling: while those
requests hang or fail, the workload keeps growing and oomless must still enter the next stage at its
threshold, on time, and keep its status figures moving."""
import json
import os
import socket
import time

import e2elib as E
from e2elib import check, mib
import webhook_server as W

RATE = mib(16)
SLOW_DELAY = 20.0  # the slow server sits on each request this long; the webhook gives up after 1s


def dead_port():
    # A port nothing listens on: bind one, close it; the kernel refuses connections to it.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(ctx):
    ctx.require_tier()
    fast_port, fast_rec = W.start(ctx, "fast")
    slow_port, slow_rec = W.start(ctx, "slow", delay=SLOW_DELAY)
    dead = dead_port()
    stage2_mark = ctx.path("stage2.env")
    pol = ctx.write_policy("webhook.json", E.policy(
        "e2e-webhook",
        [E.stage("warn", E.cond(E.mem_ge("32M")), E.cond(E.mem_lt("8M")),
                 on_enter=[E.a_webhook(f"http://127.0.0.1:{fast_port}/fast", timeout="15s"),
                           E.a_webhook(f"http://127.0.0.1:{slow_port}/slow", timeout="1s", retries=2,
                                       backoff="500ms"),
                           E.a_webhook(f"http://127.0.0.1:{dead}/dead", timeout="1s", retries=2,
                                       backoff="500ms")]),
         E.stage("high", E.cond(E.mem_ge("64M")), E.cond(E.mem_lt("16M")),
                 on_enter=[E.a_webhook(f"http://127.0.0.1:{slow_port}/slow2", timeout="1s", retries=1),
                           E.a_exec(E.hook_env_argv(stage2_mark))])],
        interval="100ms", restart=E.restart_policy("never")))
    s = E.Oomless(ctx, "webhook", ["--policy", pol, "--memory-max", "256M"],
                  E.balloon_cmd(ctx, "--rate", str(RATE), "--step", "256K", "--max", "112M",
                                "--hold", "inf")).start()
    st = s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")
    child, leaf = st["child"]["pid"], st["leaf"]

    st1 = s.wait_status(lambda st: st["policy"]["stage"] >= 1, timeout=20, what="stage 1", interval=0.02)
    now = time.monotonic()
    t1 = now - st1["policy"]["stage_since_sec"]  # when stage 1 was entered, by the supervisor's account
    check(st1["policy"]["stage"] == 1, f"jumped straight to stage {st1['policy']['stage']}")

    # The slow server has the request (and holds it for SLOW_DELAY s) before stage 2 is due.
    deadline = time.monotonic() + 3 + 5 * ctx.slack
    while not W.records(slow_rec) and time.monotonic() < deadline:
        time.sleep(0.02)
    slow = W.records(slow_rec)
    check(slow, "the slow server never received the stage-1 webhook")
    hang_until = slow[0]["mono"] + SLOW_DELAY

    # Sampling goes on while that request hangs (and the dead port is retried): status keeps
    # answering promptly (it is served by the same event loop as sampling), and stage 2 comes when the
    # workload crosses 64M, about (64M - 32M) / growth rate after stage 1.
    seen = [(now, st1["memory"]["current"])]
    gaps = []
    st2 = None
    while time.monotonic() < t1 + 10 + 10 * ctx.slack:
        a = time.monotonic()
        st = s.status()
        b = time.monotonic()
        gaps.append(b - a)
        check(s.poll() is None, f"oomless exited with {s.rc}")
        if st["policy"]["stage"] == 2:
            st2 = st
            break
        seen.append((b, st["memory"]["current"]))
        time.sleep(0.05)
    check(st2 is not None, f"no stage 2 within 10s of stage 1 while webhooks hang; last {seen[-1:]}")
    t2 = time.monotonic() - st2["policy"]["stage_since_sec"]
    # Status is live (read on request) while the stage is the last tick's: once a read shows memory
    # past 64M, the tick that enters stage 2 must follow within a sampling interval.
    over = [t for t, m in seen if m >= mib(64) + mib(1)]
    late = t2 - over[0] if over else 0.0
    ctx.note(f"stage 1 at {E.fmt_bytes(st1['memory']['current'])}, stage 2 {t2 - t1:.2f}s later, "
             f"{late:.2f}s after a status read first showed memory past 64M; the slow request hangs "
             f"until {hang_until - t1:.1f}s; slowest status read {max(gaps):.3f}s")
    check(t2 < hang_until, "stage 2 came only after the slow server answered: sampling waited for it")
    check(late <= 0.1 + 0.2 + ctx.slack, f"stage 2 came {late:.2f}s after memory passed its threshold, "
          "the sampling interval is 0.1s: sampling was delayed while webhooks hung")
    check(max(gaps) <= 0.5 + ctx.slack, f"a status read took {max(gaps):.2f}s while webhooks hung: the "
          "event loop was blocked")
    check(st2["memory"]["current"] >= mib(64) - mib(3), f"stage 2 at {E.fmt_bytes(st2['memory']['current'])}")
    distinct = {m for _, m in seen}
    check(len(distinct) >= min(5, len(seen)), f"memory.current in status took only {len(distinct)} values "
          f"in {len(seen)} reads of steady growth while a webhook hung")

    # The stage-2 hook ran at once although stage-2's own webhook hangs too.
    deadline = time.monotonic() + 3 + 5 * ctx.slack
    while not os.path.exists(stage2_mark) and time.monotonic() < deadline:
        time.sleep(0.02)
    check(os.path.exists(stage2_mark), "the stage-2 exec hook did not run within 3s of entering stage 2")

    # The fast server got one POST with the event as JSON.
    fast = W.records(fast_rec)
    check(len(fast) == 1, f"fast server got {len(fast)} requests, expected 1: {fast}")
    r = fast[0]
    ctx.note(f"webhook body: {json.dumps(r['body'])}")
    check(r["method"] == "POST" and r["path"] == "/fast", f"{r['method']} {r['path']}")
    check(r["headers"].get("content-type", "").startswith("application/json"),
          f"Content-Type {r['headers'].get('content-type')!r}")
    check(r["json"], f"the body is not JSON: {r['body']!r}")
    b = r["body"]
    check(b.get("event") == "oomless.action" and b.get("action") == "webhook" and b.get("version") == 1,
          f"body event/action/version: {b.get('event')!r} {b.get('action')!r} {b.get('version')!r}")
    check(b.get("policy") == "e2e-webhook", f"body.policy = {b.get('policy')!r}")
    check(b.get("pid") == child, f"body.pid = {b.get('pid')!r}, the workload is {child}")
    check(b.get("dry_run") is False, f"body.dry_run = {b.get('dry_run')!r}")
    check(b.get("stage") == 1 and b.get("stage_name") == "warn", f"body stage {b.get('stage')!r} "
          f"{b.get('stage_name')!r}, expected 1 'warn'")
    check(b.get("when") == "enter", f"body.when = {b.get('when')!r}")
    check(b.get("supervisor_pid") == s.pid, f"body.supervisor_pid = {b.get('supervisor_pid')!r}")
    check(b.get("leaf") == leaf, f"body.leaf = {b.get('leaf')!r}")
    mem = b.get("memory") or {}
    check(isinstance(mem.get("current"), int) and mib(32) <= mem["current"] <= mib(40),
          f"body.memory.current = {mem.get('current')!r}, the stage is entered at 32M")
    check(mem.get("limit") == mib(256), f"body.memory.limit = {mem.get('limit')!r}")

    # Let the retries play out (slow: 3 x 1s + 0.5s + 1s; dead: 0.5s + 1s; stage 2: 2 x 1s + backoff),
    # then every webhook's outcome is on record: the fast one ok, the slow and dead ones failed.
    deadline = time.monotonic() + 10 + 10 * ctx.slack
    while True:
        st = s.status(cli=True)
        acts = [a for a in st["policy"]["recent_actions"] if a["action"] == "webhook"]
        if len(acts) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    outcomes = [(a["stage"], a["outcome"]) for a in acts]
    ctx.note(f"webhook outcomes: {[(a['stage'], a['outcome'], a['detail']) for a in acts]}")
    check((1, "ok") in outcomes, f"no ok webhook outcome for stage 1: {outcomes}")
    check(sum(1 for o in outcomes if o == (1, "failed")) == 2, f"expected the slow and the dead webhook "
          f"of stage 1 to fail: {outcomes}")
    slow = W.records(slow_rec)
    check(len([x for x in slow if x["path"] == "/slow"]) == 3, f"the slow webhook (retries 2) was tried "
          f"{len([x for x in slow if x['path'] == '/slow'])} times, expected 3")
    check(st["child"]["pid"] == child and st["child"]["restarts"] == 0, "the workload was disturbed")
    s.stop()


if __name__ == "__main__":
    E.main(body)

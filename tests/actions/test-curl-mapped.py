#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""libcurl is loaded only when a webhook needs it (supervisor/act/curl-dl.h), seen from outside in a
running `oomless run`, through /proc/PID/maps:

1. the built-in policy (no webhook): libcurl is not mapped while the workload runs;
2. a policy with a webhook, before the stage that fires it: not mapped; once the webhook has reached
   a real HTTP server on 127.0.0.1 (tests/e2e-policy/webhook_server.py): mapped;
3. OOMLESS_TEST_LIBCURL (tests only) names a library that does not exist: one error line names it and
   the libcurl4 package, however many webhooks fire; each webhook's outcome is "failed"; the exec hook of
   the same stage still runs, and the workload runs to its end, undisturbed, exit status 0.

Uses the e2e-policy harness (tests/e2e-policy/e2elib.py) for the supervisor, status reads and policies.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e-policy"))
import e2elib as E  # noqa: E402
from e2elib import check  # noqa: E402
import webhook_server as W  # noqa: E402

MISSING = "libcurl-oomless-test-missing.so.4"


def curl_mappings(pid):
    with open(f"/proc/{pid}/maps") as f:
        return sorted({l.split()[-1] for l in f if "/libcurl" in l})


def gated_balloon(ctx, go, *args):
    """A workload that waits for the file `go`, then grows with balloon."""
    return ["/bin/sh", "-c", 'while [ ! -e "$1" ]; do sleep 0.05; done; shift; exec "$@"', "sh", go,
            *E.balloon_cmd(ctx, *args)]


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise E.Failure(f"no {what} within {timeout}s")


def webhook_acts(s):
    st = s.status(cli=True)
    return st, [a for a in st["policy"]["recent_actions"] if a["action"] == "webhook"]


def builtin_policy(ctx):
    s = E.Oomless(ctx, "builtin", [], ["sleep", "30"]).start()
    s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")
    time.sleep(1.0)  # ten samples of the built-in 100 ms policy
    check(s.poll() is None, f"oomless exited with {s.rc}")
    maps = curl_mappings(s.pid)
    ctx.note(f"built-in policy: libcurl mappings {maps}")
    check(not maps, f"libcurl is mapped with the built-in policy, which has no webhook: {maps}")
    s.stop()


def webhook_policy(ctx):
    port, record = W.start(ctx, "http")
    go = ctx.path("go-webhook")
    pol = ctx.write_policy("webhook.json", E.policy(
        "curl-mapped",
        [E.stage("warn", E.cond(E.mem_ge("8M")), E.cond(E.mem_lt("1M")),
                 on_enter=[E.a_webhook(f"http://127.0.0.1:{port}/hook", timeout="5s")])],
        restart=E.restart_policy("never")))
    s = E.Oomless(ctx, "webhook", ["--policy", pol, "--memory-max", "256M"],
                  gated_balloon(ctx, go, "--rate", "64M", "--step", "256K", "--max", "16M", "--hold",
                                "inf")).start()
    s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")
    time.sleep(0.5)
    maps = curl_mappings(s.pid)
    check(s.status()["policy"]["stage"] == 0, "the stage was entered before the workload grew")
    check(not maps, f"libcurl is mapped before any webhook fired: {maps}")

    open(go, "w").close()
    wait_for(lambda: os.path.getsize(record) > 0, 20, "webhook POST at the HTTP server")
    wait_for(lambda: webhook_acts(s)[1], 10, "webhook outcome in status")
    _, acts = webhook_acts(s)
    check(acts[0]["outcome"] == "ok", f"webhook outcome {acts[0]}")
    maps = curl_mappings(s.pid)
    ctx.note(f"after the webhook: libcurl mappings {maps}")
    check(maps, "libcurl is not mapped after a webhook was sent")
    s.stop()


def missing_library(ctx):
    mark = ctx.path("hook-ran.env")
    pol = ctx.write_policy("missing.json", E.policy(
        "curl-missing",
        [E.stage("warn", E.cond(E.mem_ge("8M")), E.cond(E.mem_lt("1M")),
                 on_enter=[E.a_webhook("http://127.0.0.1:9/a"), E.a_webhook("http://127.0.0.1:9/b"),
                           E.a_exec(E.hook_env_argv(mark))])],
        restart=E.restart_policy("never")))
    s = E.Oomless(ctx, "missing", ["--policy", pol, "--memory-max", "256M"],
                  E.balloon_cmd(ctx, "--rate", "64M", "--step", "256K", "--max", "16M", "--hold", "4"),
                  env={"OOMLESS_TEST_LIBCURL": MISSING}).start()
    st = s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")
    child = st["child"]["pid"]
    s.wait_status(lambda st: st["policy"]["stage"] >= 1, timeout=20, what="stage 1")
    wait_for(lambda: len(webhook_acts(s)[1]) >= 2, 10, "two webhook outcomes in status")
    st, acts = webhook_acts(s)
    ctx.note(f"webhook outcomes: {[(a['outcome'], a['detail']) for a in acts]}")
    for a in acts:
        check(a["outcome"] == "failed", f"webhook outcome {a}")
        check("cannot set up HTTP" in a["detail"], f"webhook detail {a['detail']!r}")
    wait_for(lambda: os.path.exists(mark), 10, "run of the stage's exec hook")
    check(st["child"]["pid"] == child and st["child"]["restarts"] == 0, "the workload was disturbed")
    check(not curl_mappings(s.pid), "something was mapped from the missing libcurl")
    rc = s.wait(30)
    check(rc == 0, f"oomless exited with {rc}, the workload exits 0")
    lines = [l for l in s.log_text().splitlines() if "Webhooks are unavailable" in l]
    ctx.note(f"logged: {lines}")
    check(len(lines) == 1, f"{len(lines)} error lines about the missing library, expected 1: {lines}")
    check(f"cannot load {MISSING}" in lines[0] and "Install the libcurl4 package." in lines[0],
          f"the error line names neither the library nor the package: {lines[0]!r}")


def body(ctx):
    ctx.require_tier()
    builtin_policy(ctx)
    webhook_policy(ctx)
    missing_library(ctx)


if __name__ == "__main__":
    E.main(body)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Webhook headers and the bearer token (issue 10, section 5), against a real HTTP server on
127.0.0.1: the policy's headers arrive; "Authorization: Bearer" carries the content of
bearer_token_file as it is at each send, so a token rotated between two sends gives two different
tokens; a missing token file is a failed outcome naming the file, and nothing is sent. The payload
names the host, the instance (supervisor pid and instance id, as status shows them), the workload's
command and leaf, and has its version."""
import json
import os
import socket
import time

import e2elib as E
from e2elib import check, mib
import webhook_server as W

RATE = mib(16)


def write_token(path, token):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(token + "\n")  # a trailing newline, as echo and editors write it: not part of the token
    os.rename(tmp, path)


def hook(url, **extra):
    a = E.a_webhook(url, timeout="5s")
    a.update(extra)
    return a


def body(ctx):
    ctx.require_tier()
    port, rec = W.start(ctx, "auth")
    token_file, missing = ctx.path("token"), ctx.path("no-such-token")
    write_token(token_file, "first-token-AAA")
    headers = {"X-Oomless-Test": "headers arrive", "X-Team": "storage"}
    url = f"http://127.0.0.1:{port}"
    pol = ctx.write_policy("auth.json", E.policy(
        "e2e-webhook-auth",
        [E.stage("warn", E.cond(E.mem_ge("24M")), E.cond(E.mem_lt("8M")),
                 on_enter=[hook(url + "/one", headers=headers, bearer_token_file=token_file),
                           hook(url + "/missing", bearer_token_file=missing)]),
         E.stage("high", E.cond(E.mem_ge("56M")), E.cond(E.mem_lt("16M")),
                 on_enter=[hook(url + "/two", headers=headers, bearer_token_file=token_file)])],
        interval="100ms", restart=E.restart_policy("never")))
    cmd = E.balloon_cmd(ctx, "--rate", str(RATE), "--step", "256K", "--max", "80M", "--hold", "inf")
    s = E.Oomless(ctx, "auth", ["--policy", pol, "--memory-max", "256M"], cmd).start()
    st = s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")

    # The first send, then the token rotates before stage 2 (32M later at 16M/s: about 2s).
    deadline = time.monotonic() + 20 + 10 * ctx.slack
    while not [r for r in W.records(rec) if r["path"] == "/one"]:
        check(time.monotonic() < deadline, "the stage-1 webhook never arrived")
        check(s.poll() is None, f"oomless exited with {s.rc}")
        time.sleep(0.02)
    st1 = s.status(cli=True)
    check(st1["policy"]["stage"] == 1, f"stage 2 came before the token could rotate: {st1['policy']}")
    write_token(token_file, "second-token-BBB")
    st2 = s.wait_status(lambda st: st["policy"]["stage"] == 2, timeout=20, what="stage 2")
    deadline = time.monotonic() + 10 + 10 * ctx.slack
    while not [r for r in W.records(rec) if r["path"] == "/two"]:
        check(time.monotonic() < deadline, "the stage-2 webhook never arrived")
        time.sleep(0.02)

    got = {r["path"]: r for r in W.records(rec)}
    ctx.note(f"requests: {sorted(got)}")
    check("/missing" not in got, "the webhook with a missing token file was sent anyway")
    one, two = got["/one"], got["/two"]
    for r in (one, two):
        h = r["headers"]
        check(h.get("x-oomless-test") == "headers arrive" and h.get("x-team") == "storage",
              f"{r['path']}: policy headers {h}")
        check(h.get("content-type", "").startswith("application/json"), f"{r['path']}: content-type {h}")
    check(one["headers"].get("authorization") == "Bearer first-token-AAA",
          f"first send: Authorization {one['headers'].get('authorization')!r}")
    check(two["headers"].get("authorization") == "Bearer second-token-BBB",
          f"second send after the rotation: Authorization {two['headers'].get('authorization')!r}")

    # The payload names where it comes from.
    b = one["body"]
    ctx.note(f"payload: {json.dumps(b)}")
    check(one["json"] and b.get("version") == 1, f"payload version {b.get('version')!r}")
    check(b.get("host") == socket.gethostname(), f"payload host {b.get('host')!r}, this host is {socket.gethostname()!r}")
    inst = b.get("instance") or {}
    check(inst.get("supervisor_pid") == s.pid and inst.get("id") == st["instance_id"] and
          len(inst.get("id", "")) == 32, f"payload instance {inst}, status instance_id {st.get('instance_id')!r}")
    check(b.get("command") == cmd, f"payload command {b.get('command')!r}, expected {cmd}")
    check(b.get("leaf") == st["leaf"] and b.get("pid") == st["child"]["pid"], f"payload leaf/pid {b.get('leaf')!r} "
          f"{b.get('pid')!r}")
    check(b.get("stage") == 1 and b.get("stage_name") == "warn" and two["body"].get("stage") == 2,
          f"payload stages {b.get('stage')!r} {two['body'].get('stage')!r}")
    check(two["body"]["instance"] == inst, "the instance changed between two sends")

    # The missing token file: a failed outcome that names the file.
    # The server records a request before it answers; the outcome is recorded once curl has the answer.
    def webhook_acts(st):
        return [a for a in st["policy"]["recent_actions"] if a["action"] == "webhook"]
    s.wait_status(lambda st: len([a for a in webhook_acts(st) if a["outcome"] in ("ok", "failed")]) >= 3,
                  timeout=10, what="three webhook outcomes")
    acts = webhook_acts(s.status(cli=True))
    ctx.note(f"webhook outcomes: {[(a['stage'], a['outcome'], a['detail']) for a in acts]}")
    failed = [a for a in acts if a["outcome"] == "failed"]
    check(len(failed) == 1 and missing in failed[0]["detail"] and "No such file" in failed[0]["detail"],
          f"the missing token file's outcome: {failed}")
    check(sum(1 for a in acts if a["outcome"] == "ok") == 2, f"outcomes {acts}")
    check(not any("token-AAA" in a["detail"] or "token-BBB" in a["detail"] for a in acts), "a token in an outcome")
    with open(s.log_path) as f:
        check("token-AAA" not in f.read(), "the token appears in oomless's log")
    check(st2["child"]["restarts"] == 0, "the workload was disturbed")
    s.stop()


if __name__ == "__main__":
    E.main(body)

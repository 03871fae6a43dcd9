#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The endpoint's contract, against the real binary on 127.0.0.1:
- the routes: /metrics (text 0.0.4 by default, OpenMetrics with # EOF when Accept asks), /livez,
  /readyz, /status (the same document as `oomless status --json`), 404 for other paths, 405 with
  Allow for other methods;
- `promtool check metrics` accepts the output;
- the policy's "http": {"listen"} is used when there is no --listen; --listen wins over it;
- bad addresses, a non-loopback address without --listen-public and a port in use exit 125 with one
  line naming the option and the way out;
- the workload inherits no socket of the endpoint (every fd is CLOEXEC);
- without --listen nothing is bound and libmicrohttpd is not even mapped."""
import json
import os
import shutil
import socket
import subprocess
import time

import httptest as H
from httptest import E, check


def run_usage(ctx, args, expect):
    """oomless run ARGS -- true must exit 125 at once with one stderr line containing expect."""
    env = dict(os.environ, OOMLESS_RUNTIME_DIR=ctx.path("rt-usage"))
    os.makedirs(env["OOMLESS_RUNTIME_DIR"], exist_ok=True)
    p = subprocess.run([ctx.oomless, "run", *args, "--", "true"], env=env, capture_output=True, text=True,
                       timeout=30)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check(p.returncode == 125, f"{args}: exit {p.returncode}, expected 125; stderr: {p.stderr!r}")
    check(any(expect in l for l in lines), f"{args}: no line with {expect!r} in {p.stderr!r}")
    return lines


def maps_of(pid):
    with open(f"/proc/{pid}/maps") as f:
        return f.read()


def socket_fds(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                out.append(fd)
        except OSError:
            pass
    return out


def body(ctx):
    ctx.require_tier()
    hold = E.balloon_cmd(ctx, "--rate", "0", "--max", "8M", "--hold", "120s")

    # ---- usage errors: one line, exit 125 ----
    run_usage(ctx, ["--listen", "9464"], "--listen: invalid value '9464'")
    run_usage(ctx, ["--listen", "localhost"], "expected HOST:PORT")
    run_usage(ctx, ["--listen", "0.0.0.0:9464"], "add --listen-public")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    lines = run_usage(ctx, ["--listen", f"127.0.0.1:{busy.getsockname()[1]}"], "Address already in use")
    check(any("--listen" in l and "Pick a free port" in l for l in lines), f"bind error lines: {lines}")
    busy.close()
    bad_pol = ctx.write_policy("public.json", E.policy("p", [E.stage("s", E.cond(E.mem_ge("90%")),
                                                                     E.cond(E.mem_lt("80%")))],
                                                       http={"listen": "0.0.0.0:9464"}))
    run_usage(ctx, ["--policy", bad_pol], "is not a loopback address")

    # ---- off by default: nothing bound, libmicrohttpd not mapped ----
    off = E.Oomless(ctx, "off", [], hold).start()
    off.wait_status(lambda st: st["child"]["pid"] is not None, timeout=15, what="a running child")
    check("microhttpd" not in maps_of(off.pid), "libmicrohttpd is mapped without --listen")
    check(not socket_fds(off.pid) or all(not is_tcp_listener(off.pid, fd) for fd in socket_fds(off.pid)),
          "a TCP socket is open without --listen")
    off.stop()

    # ---- the policy's address, and the routes ----
    port = H.free_port()
    pol = ctx.write_policy("http.json", E.policy(
        "endpoint-test", [E.stage("degrade", E.cond(E.mem_ge("200M")), E.cond(E.mem_lt("100M")))],
        http={"listen": f"127.0.0.1:{port}"}))
    s = E.Oomless(ctx, "routes", ["--policy", pol, "--memory-max", "256M"], hold).start()
    H.wait_get(port, "/livez", what="the policy's http.listen")
    check("microhttpd" in maps_of(s.pid), "libmicrohttpd not mapped while serving")

    st, hdr, text = H.get(port, "/metrics")
    check(st == 200, f"/metrics {st}")
    check(hdr["content-type"] == "text/plain; version=0.0.4; charset=utf-8", f"content type {hdr['content-type']}")
    check("# EOF" not in text, "# EOF in the text format")
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    if not os.access(promtool, os.X_OK):
        raise E.Skip("no promtool (Debian package prometheus)")
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"promtool check metrics: exit {p.returncode}: {p.stdout}{p.stderr}")
    ms = H.parse_metrics(text)
    for name in ("oomless_memory_current_bytes", "oomless_memory_working_set_bytes", "oomless_memory_anon_bytes",
                 "oomless_memory_limit_bytes", "oomless_samples_total", "oomless_stage_level",
                 "oomless_supervisor_resident_memory_bytes", "oomless_supervisor_cpu_seconds_total"):
        check(H.metric(ms, name) is not None, f"{name} missing from /metrics")
    check(H.metric(ms, "oomless_memory_limit_bytes") == 256 * 1048576,
          f"limit {H.metric(ms, 'oomless_memory_limit_bytes')}, --memory-max is 256M")
    check(H.metric(ms, "oomless_policy_info", policy="endpoint-test", dry_run="false") == 1, "policy info")

    st, hdr, om = H.get(port, "/metrics", headers={"Accept": "application/openmetrics-text;version=1.0.0,"
                                                              "text/plain;version=0.0.4;q=0.5"})
    check(hdr["content-type"].startswith("application/openmetrics-text; version=1.0.0"), hdr["content-type"])
    check(om.endswith("# EOF\n"), "OpenMetrics without # EOF at the end")

    st, _, t = H.get(port, "/livez")
    check(st == 200, f"/livez {st}")
    st, _, t = H.get(port, "/readyz")
    check(st == 200 and t == "ready\n", f"/readyz {st} {t!r}")
    st, _, t = H.get(port, "/nope")
    check(st == 404, f"/nope {st}")
    st, hdr, t = H.get(port, "/metrics", method="POST")
    check(st == 405 and "GET" in hdr.get("allow", ""), f"POST /metrics {st}, Allow {hdr.get('allow')}")
    st, hdr, t = H.get(port, "/metrics", method="HEAD")
    check(st == 200, f"HEAD /metrics {st}")

    st, hdr, t = H.get(port, "/status")
    check(st == 200 and hdr["content-type"] == "application/json", f"/status {st} {hdr.get('content-type')}")
    doc = json.loads(t)
    cli = s.status(cli=True)
    check(set(doc) == set(cli), f"/status keys {sorted(doc)} differ from `oomless status --json` {sorted(cli)}")
    check(doc["supervisor_pid"] == s.pid and doc["policy"]["name"] == "endpoint-test", f"/status: {t[:300]}")

    # the workload holds no socket of ours
    child = doc["child"]["pid"]
    check(not socket_fds(child), f"the workload (pid {child}) inherited sockets {socket_fds(child)}")
    s.stop()

    # ---- --listen wins over the policy's ----
    port2 = H.free_port()
    s2 = E.Oomless(ctx, "override", ["--policy", pol, "--listen", f"localhost:{port2}"], hold).start()
    H.wait_get(port2, "/livez", what="--listen over the policy's address")
    try:
        H.get(port, "/livez", timeout=1)
        raise E.Failure(f"the policy's port {port} answers although --listen names {port2}")
    except OSError:
        pass
    s2.stop()


def is_tcp_listener(pid, fd):
    ino = os.readlink(f"/proc/{pid}/fd/{fd}")[len("socket:["):-1]
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in list(f)[1:]:
                    cols = line.split()
                    if cols[9] == ino and cols[3] == "0A":
                        return True
        except OSError:
            pass
    return False


if __name__ == "__main__":
    H.main(body)

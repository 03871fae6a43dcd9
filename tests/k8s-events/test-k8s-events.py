#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Kubernetes Events and the pod condition (--k8s-events --k8s-condition), from the real `oomless run`
to a STAND-IN API server: apiserver.py, a local HTTPS server that validates every request with the
python3-kubernetes models and the server-side rules. It is not a real API server (none can run on
these machines); what it checks is listed in its docstring and in README.md.

  1. A service-account directory (token, ca.crt from a CA made here with openssl, namespace) and the
     Downward API variables, with POD_NAMESPACE left out (it falls back to the namespace file).
  2. A balloon that leaks into a stage declaring "ready": false whose on_enter restarts it, over and
     over: the stand-in must receive MemoryStageEntered, Restarting and MemoryStageLeft Events, a
     series PATCH for the repeats (count >= 2, growing), and the condition oomless.dev/MemoryHealthy
     going True -> False -> True through strategic-merge patches.
  3. The token file is rotated mid-run: later requests carry the new token. A kernel OOM kill of
     another run is an OOMKilled Event, sent before that oomless exits.
  4. The stand-in is killed: the workload goes on being supervised and restarted as before, with one
     warning line about the API; oomless stops on SIGTERM within its usual time.
  5. --k8s-events without the pod's configuration: one error line that names what is missing and the
     Downward API, and the workload runs and its status passes through.
Costs about 25 s."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e-policy"))
import e2elib as E  # noqa: E402
from e2elib import Failure, Skip, check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
POD, NS, UID, CONTAINER = "web-7d4b9", "shop", "0b6f1c2e-5d4a-4a2b-9c3d-7e8f9a0b1c2d", "app"
TOKEN_A, TOKEN_B = "token-a.eyJhbGciOi1", "token-b.eyJhbGciOi2"


def make_ca(ctx):
    """A CA and a server certificate for 127.0.0.1 signed by it; returns (ca, cert, key)."""
    d = ctx.path("pki")
    os.makedirs(d)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    cmds = [
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.crt"),
         "-days", "2", "-subj", "/CN=stand-in-kubernetes-ca"],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("srv.key"), "-out", p("srv.csr"),
         "-subj", "/CN=kubernetes"],
        ["openssl", "x509", "-req", "-in", p("srv.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
         "-CAcreateserial", "-out", p("srv.crt"), "-days", "2", "-extfile", p("ext.cnf")],
    ]
    for c in cmds:
        r = subprocess.run(c, capture_output=True)
        check(r.returncode == 0, f"{' '.join(c)} failed: {r.stderr.decode()[-400:]}")
    return p("ca.crt"), p("srv.crt"), p("srv.key")


def write_atomic(path, text):
    with open(path + ".new", "w") as f:
        f.write(text)
    os.rename(path + ".new", path)  # as the kubelet swaps the projected volume


def start_apiserver(ctx, cert, key, token_file, log):
    port_file = ctx.path("apiserver.port")
    p = ctx.spawn([ctx.python, os.path.join(HERE, "apiserver.py"), "--cert", cert, "--key", key, "--token-file",
                   token_file, "--log", log, "--port-file", port_file, "--namespace", NS, "--pod", POD, "--uid",
                   UID, "--container", CONTAINER], stdout=open(ctx.path("apiserver.out"), "w"),
                  stderr=subprocess.STDOUT)
    end = time.monotonic() + 15
    while not os.path.exists(port_file):
        check(p.poll() is None, f"the stand-in API server exited with {p.returncode}: "
              f"{E.read_file(ctx.path('apiserver.out'))}")
        check(time.monotonic() < end, "the stand-in API server did not start within 15s")
        time.sleep(0.05)
    return p, int(E.read_file(port_file))


def records(log):
    out = []
    for line in (E.read_file(log) or "").splitlines():
        out.append(json.loads(line))
    return out


def creates(recs, reason):
    return [r for r in recs if r["method"] == "POST" and r.get("code") == 201 and r["body"].get("reason") == reason]


def series_patches(recs):
    return [r for r in recs if r["method"] == "PATCH" and "/events/" in r["path"] and r.get("code") == 200]


def condition_patches(recs):
    return [r for r in recs if r["method"] == "PATCH" and r["path"].endswith("/status") and r.get("code") == 200]


def body(ctx):
    ctx.require_tier()
    try:
        import kubernetes.client  # noqa: F401
    except ImportError:
        raise Skip("python3-kubernetes is not installed (scripts/deps.sh installs it)")
    if subprocess.run(["openssl", "version"], capture_output=True).returncode != 0:
        raise Skip("openssl is not installed")

    ca, cert, key = make_ca(ctx)
    sa = ctx.path("serviceaccount")
    os.makedirs(sa)
    token_file = os.path.join(sa, "token")
    write_atomic(token_file, TOKEN_A + "\n")
    with open(ca) as f, open(os.path.join(sa, "ca.crt"), "w") as g:
        g.write(f.read())
    with open(os.path.join(sa, "namespace"), "w") as f:
        f.write(NS)
    log = ctx.path("apiserver.jsonl")
    srv, port = start_apiserver(ctx, cert, key, token_file, log)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "POD_"))}
    env.update({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
                "KUBERNETES_SERVICE_PORT": "1",  # the _HTTPS one wins
                "POD_NAME": POD, "POD_UID": UID, "POD_CONTAINER": CONTAINER, "OOMLESS_K8S_SA_DIR": sa})

    # The workload cycles by itself: fills to 64M at 40 MB/s (the stage, not ready, from 24M), holds
    # 2 s, frees (back to stage 0, ready), then exits 2 s later and is restarted. Each state lasts
    # longer than the pod condition's rate limit (at most one patch a second, then one per 3 s once
    # the shared budget is spent), so the condition is seen both ways however the cycle falls.
    drain = E.stage("drain", E.cond(E.mem_ge("24M")), E.cond(E.mem_lt("8M")),
                    on_enter=[{"action": "notify", "timeout": "1s"}])
    drain["ready"] = False
    pol = ctx.write_policy("k8s.json", E.policy("k8s", [drain], interval="100ms",
                                                restart=E.restart_policy("always", initial="100ms", maximum="100ms",
                                                                         max_restarts=64, window="10m")))
    cmd = E.balloon_cmd(ctx, "--rate", "40M", "--step", "1M", "--max", "64M", "--hold", "2s", "--free",
                        "--after", "2s")
    s = E.Oomless(ctx, "k8s", ["--policy", pol, "--memory-max", "256M", "--k8s-events", "--k8s-condition"], cmd,
                  env=env)
    s.env = env | {"OOMLESS_RUNTIME_DIR": s.runtime}
    s.start()

    # 2. Events and the condition arrive; 3. the token rotates once the first ones did.
    rotated_at = None
    deadline = time.monotonic() + 45 + 30 * ctx.slack
    while True:
        check(s.poll() is None, f"oomless exited with {s.rc}")
        recs = records(log)
        bad = [r for r in recs if r["violations"]]
        check(not bad, f"the stand-in refused requests: {json.dumps(bad)[:3000]}")
        if rotated_at is None and creates(recs, "Restarting"):
            write_atomic(token_file, TOKEN_B + "\n")
            rotated_at = len(recs)
        conds = [c for r in condition_patches(recs) for c in r["body"]["status"]["conditions"]]
        done = (rotated_at is not None and creates(recs, "MemoryStageEntered") and creates(recs, "Restarting")
                and creates(recs, "MemoryStageLeft") and len(series_patches(recs)) >= 2
                and any(r["token"] == TOKEN_B and r.get("code", 0) < 300 for r in recs[rotated_at:])
                and [c["status"] for c in conds][:1] == ["True"] and "False" in [c["status"] for c in conds]
                and conds[-1]["status"] == "True" or False)
        if done:
            break
        if time.monotonic() > deadline:
            raise Failure(f"within the deadline the stand-in got {len(recs)} requests: "
                          + json.dumps([(r["method"], r["path"], r.get("code"), (r.get("body") or {}).get("reason"),
                                         r["violations"]) for r in recs])[:3000])
        time.sleep(0.2)

    bad = [r for r in recs if r["violations"]]
    check(not bad, f"the stand-in refused requests: {json.dumps(bad)[:3000]}")
    ctx.note(f"{len(recs)} requests, all valid: " + ", ".join(
        f"{n} {why}" for n, why in ((len(creates(recs, x)), x) for x in ("MemoryStageEntered", "Restarting",
                                                                           "MemoryStageLeft"))) +
        f", {len(series_patches(recs))} series patches, {len(condition_patches(recs))} condition patches")

    # The token: A until the rotation; afterwards B, but for a request that read A just before it.
    check(all(r["token"] == TOKEN_A for r in recs[:rotated_at]), "a request before the rotation did not carry token A")
    late_a = [r for r in recs[rotated_at:] if r["token"] != TOKEN_B]
    check(len(late_a) <= 2 and all(r["token"] == TOKEN_A for r in late_a),
          f"after the rotation requests still carried the old token: {late_a}")
    check(recs[-1]["token"] == TOKEN_B, "the last request did not carry the rotated token")

    # The Events: who they regard and who reports them (the stand-in checked each field; these are
    # the values oomless is documented to send).
    ev = creates(recs, "MemoryStageEntered")[0]["body"]
    check(ev["type"] == "Warning" and ev["action"] == "EnterStage", f"stage entry Event: {ev}")
    check("drain" in ev["note"] and "stage 1" in ev["note"], f"the note does not name the stage: {ev['note']!r}")
    check(ev["reportingController"] == "oomless.dev/supervisor", f"reportingController {ev['reportingController']}")
    check(ev["regarding"] == {"apiVersion": "v1", "kind": "Pod", "name": POD, "namespace": NS, "uid": UID,
                              "fieldPath": "spec.containers{app}"}, f"regarding {ev['regarding']}")
    check(ev["metadata"]["namespace"] == NS, "the namespace did not come from the service account's file")
    check(creates(recs, "MemoryStageLeft")[0]["body"]["type"] == "Normal", "MemoryStageLeft is not Normal")
    # Repeats patch the series; they do not create an Event each.
    n_restarts = s.status()["child"]["restarts"]
    check(len(creates(recs, "Restarting")) <= 2,
          f"{len(creates(recs, 'Restarting'))} Restarting Events created for {n_restarts} restarts: repeats "
          "must patch the first one's series")
    counts = {}
    for r in series_patches(recs):
        name = r["path"].rsplit("/", 1)[1]
        counts.setdefault(name, []).append(r["body"]["series"]["count"])
    check(all(c == sorted(c) and c[0] >= 2 for c in counts.values()), f"series counts {counts}")
    # The rate limit: one request per series per 10 s.
    per = {}
    for r in recs:
        if r["method"] == "PATCH" and "/events/" in r["path"]:
            per.setdefault(r["path"], []).append(r)
    check(all(len(v) <= 1 + int((time.monotonic() - s.t_start) / 10) for v in per.values()),
          f"a series was patched more often than once per 10 s: { {k: len(v) for k, v in per.items()} }")

    # A kernel OOM kill (balloon --mmap escapes the heap cap; --dry-run leaves the kill to the kernel)
    # is an OOMKilled Event, and oomless waits for it before exiting 137.
    n_before = len(records(log))
    oom = E.Oomless(ctx, "oom", ["--dry-run", "--memory-max", "64M", "--k8s-events"],
                    E.balloon_cmd(ctx, "--mmap", "--max", "200M", "--hold", "5s"), env=env)
    oom.env = env | {"OOMLESS_RUNTIME_DIR": oom.runtime}
    oom.start()
    check(oom.wait(60) == 137, f"the OOM-killed workload's oomless exited {oom.rc}, not 137")
    kills = creates(records(log)[n_before:], "OOMKilled")
    check(len(kills) == 1, f"expected one OOMKilled Event before oomless exited, got {len(kills)}")
    check(kills[0]["body"]["type"] == "Warning" and "oom_kill" in kills[0]["body"]["note"],
          f"OOMKilled Event: {kills[0]['body']}")
    bad = [r for r in records(log) if r["violations"]]
    check(not bad, f"the stand-in refused requests: {json.dumps(bad)[:3000]}")

    # 4. The API server goes away; supervision does not notice beyond one warning.
    log_before = len(s.log_text())
    srv.send_signal(signal.SIGKILL)
    srv.wait()
    before = s.status()["child"]["restarts"]
    time.sleep(12 + 12 * ctx.slack)
    check(s.poll() is None, f"oomless exited with {s.rc} once the API server was gone")
    after = s.status()["child"]["restarts"]
    check(after >= before + 2, f"the workload was restarted {after - before} times in 12 s without the API server "
          f"(it cycles about every 6 s with it)")
    warn = [ln for ln in s.log_text()[log_before:].splitlines() if "Kubernetes API:" in ln and "failed" in ln]
    check(len(warn) == 1, f"expected one warning about the API server, got {warn}")
    t0 = time.monotonic()
    s.stop()
    check(time.monotonic() - t0 < 10 + 10 * ctx.slack, f"oomless took {time.monotonic() - t0:.1f}s to stop")

    # 5. No configuration: one line, and the workload is unaffected.
    env2 = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "POD_"))}
    env2["OOMLESS_K8S_SA_DIR"] = ctx.path("no-such-dir")
    bare = E.Oomless(ctx, "bare", ["--k8s-events", "--k8s-condition"], ["/bin/sh", "-c", "exit 3"], env=env2)
    bare.start()
    check(bare.wait(20) == 3, f"the workload's status did not pass through: {bare.rc}")
    lines = [ln for ln in bare.log_text().splitlines() if "--k8s-events" in ln]
    check(len(lines) == 1, f"expected one line about the configuration, got {lines}")
    for want in ("POD_NAME is not set", "KUBERNETES_SERVICE_HOST is not set", "Downward API",
                 "fieldPath: metadata.name", "Going on without"):
        check(want in lines[0], f"the configuration error does not say {want!r}: {lines[0]}")


if __name__ == "__main__":
    E.main(body)

# SPDX-License-Identifier: MIT
"""Helpers for the HTTP endpoint tests: a free port on 127.0.0.1, plain GETs with http.client, the
Prometheus text format parsed into {(name, labels): value}, and a real Prometheus server in a temp
directory. The supervisor itself is run through tests/e2e-policy/e2elib.py (Oomless, Ctx, main)."""
import http.client
import json
import os
import re
import shutil
import socket
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e-policy"))
import e2elib as E  # noqa: E402
from e2elib import Failure, Skip, check  # noqa: E402,F401


def free_port():
    """A port nobody listens on right now (the kernel's pick, released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, headers=None, method="GET", timeout=5.0):
    """(status, headers dict with lower-case keys, body text); raises OSError when nothing answers."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read().decode()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def wait_get(port, path, timeout=15.0, what=None):
    """The first answer to GET path once the endpoint serves; Failure after timeout."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            return get(port, path)
        except OSError as e:
            last = e
            time.sleep(0.05)
    raise Failure(f"no answer on 127.0.0.1:{port}{path} within {timeout}s ({what or 'endpoint'}): {last}")


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{(name, frozenset of (label, value))}: float. Comments skipped; label escapes undone."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        check(m, f"not a sample line: {line!r}")
        labels = frozenset((k, bytes(v, "utf-8").decode("unicode_escape")) for k, v in _LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(ms, name, **labels):
    """The value of name{labels}, or None."""
    return ms.get((name, frozenset(labels.items())))


def scrape(port):
    st, hdr, body = get(port, "/metrics")
    check(st == 200, f"/metrics answered {st}")
    return parse_metrics(body)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Prometheus:
    """A real Prometheus (Debian's package) on 127.0.0.1 scraping one target every second, with its
    storage in the test's work directory. New targets are picked up within ~5 s, so the first sample
    is queryable 5-6 s after start."""

    def __init__(self, ctx, target_port, job="oomless"):
        self.ctx = ctx
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        if not os.access(binary, os.X_OK):
            raise Skip("no prometheus binary (Debian package prometheus; scripts/deps.sh installs it)")
        self.port = free_port()
        self.dir = ctx.path("prometheus")
        os.makedirs(self.dir, exist_ok=True)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n"
                    f"scrape_configs:\n  - job_name: {job}\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{target_port}']\n")
        self.log_path = ctx.path("prometheus.log")
        # stderr into a file: a pipe held open by a background child hangs the harness
        self.logf = open(self.log_path, "w")
        self.proc = ctx.spawn([binary, f"--config.file={cfg}", f"--storage.tsdb.path={self.dir}/data",
                               f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                              stdout=self.logf, stderr=subprocess_stdout())
        end = time.monotonic() + 60 + 60 * ctx.slack
        while time.monotonic() < end:
            check(self.proc.poll() is None, f"prometheus exited: {self.log_text()}")
            try:
                if self._get("/-/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise Failure(f"prometheus not ready within a minute: {self.log_text()}")

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()[-3000:]

    def _get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return r.status, r.read().decode()

    def query(self, expr):
        """The instant vector of expr as [(labels dict, float)]."""
        st, body = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        doc = json.loads(body)
        check(doc.get("status") == "success", f"query {expr!r} failed: {body[:500]}")
        return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]

    def value(self, expr):
        """The single value of expr, or None while it has no sample."""
        res = self.query(expr)
        return res[0][1] if res else None

    def wait_value(self, expr, pred, timeout, what):
        end = time.monotonic() + timeout
        v = None
        while time.monotonic() < end:
            v = self.value(expr)
            if v is not None and pred(v):
                return v
            time.sleep(0.5)
        raise Failure(f"Prometheus: {expr} is {v}, expected {what}, after {timeout:.0f}s; "
                      f"targets: {self._get('/api/v1/targets')[1][:800]}")


def subprocess_stdout():
    import subprocess
    return subprocess.STDOUT


def oomless_http(ctx, name, port, policy_path, cmd, extra=()):
    """`oomless run --listen 127.0.0.1:PORT --policy FILE ... -- cmd`, started."""
    return E.Oomless(ctx, name, ["--listen", f"127.0.0.1:{port}", "--policy", policy_path, *extra], cmd).start()


def main(body, need_balloon=True):
    E.main(body, need_balloon=need_balloon)

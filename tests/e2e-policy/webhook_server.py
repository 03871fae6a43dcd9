#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A real HTTP server on 127.0.0.1 for the webhook end-to-end tests.

It listens on an ephemeral port, writes that port to --port-file once it accepts connections, and
appends one JSON line per request to --record: arrival time (wall clock and CLOCK_MONOTONIC), method,
path, headers and the body (parsed as JSON when it is JSON). With --delay it records the request at
once and then sits on the connection before answering, so a client with a shorter timeout gives up:
that is the "slow server" the supervisor must not wait for.

The tests import it too: start() runs it as a child of a test and records() reads what it recorded.
"""
import argparse
import http.server
import json
import os
import socketserver
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep stderr for real problems only
        pass

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self):
        arrived_wall, arrived_mono = time.time(), time.monotonic()
        raw = self._read_body()
        try:
            body = json.loads(raw.decode("utf-8"))
            body_ok = True
        except (UnicodeDecodeError, ValueError):
            body, body_ok = raw.decode("utf-8", "replace"), False
        rec = {
            "time": arrived_wall,
            "mono": arrived_mono,
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "json": body_ok,
            "body": body,
        }
        with self.server.record_lock:
            with open(self.server.record_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
        if self.server.delay > 0:
            time.sleep(self.server.delay)
        reply = b'{"ok":true}\n'
        try:
            self.send_response(self.server.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out, as the slow-server test expects

    do_POST = _handle
    do_PUT = _handle
    do_GET = _handle


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that gave up (the slow-server case) is expected; anything else is worth a trace.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def start(ctx, name, delay=0.0):
    """Runs this server as a child of the test (ctx: an e2elib context, which stops it at the end) and
    returns (port, path of the record), once the server accepts connections."""
    from e2elib import check  # only the tests need the harness; the server itself does not

    port_file, record = ctx.path(f"{name}.port"), ctx.path(f"{name}.jsonl")
    p = ctx.spawn([ctx.python, os.path.abspath(__file__), "--port-file", port_file, "--record", record,
                   "--delay", str(delay)])
    deadline = time.monotonic() + 15
    while not os.path.exists(port_file):
        check(p.poll() is None, f"the {name} HTTP server exited with {p.returncode}")
        check(time.monotonic() < deadline, f"the {name} HTTP server did not start")
        time.sleep(0.05)
    with open(port_file) as f:
        return int(f.read()), record


def records(path):
    """The requests recorded so far, oldest first (none before the first one arrives)."""
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--delay", type=float, default=0.0, help="seconds to hold each request before answering")
    ap.add_argument("--status", type=int, default=200, help="HTTP status to answer with")
    a = ap.parse_args()

    srv = Server(("127.0.0.1", 0), Handler)
    srv.record_path, srv.record_lock = a.record, threading.Lock()
    srv.delay, srv.status = a.delay, a.status
    open(a.record, "a").close()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{srv.server_address[1]}\n")
    os.rename(tmp, a.port_file)  # readers never see a half-written port
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

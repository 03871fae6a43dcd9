# SPDX-License-Identifier: MIT
"""Fills a Redis server with KEYS values of VALUE_KB each at about RATE_MB per second (a plain socket
client speaking RESP), checks that the server still answers, and shuts it down (SHUTDOWN NOSAVE).

    python3 redis_fill.py PORT KEYS VALUE_KB RATE_MB

Prints "done: wrote N keys, dbsize D, used_memory U, maxmemory M" when the server kept serving to the
end; "lost: ..." and exit 1 when the connection broke."""
import socket
import sys
import time


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("connection closed by the server")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b":"):
            return rest
        if t == b"-":
            return Exception(rest.decode())
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                d = self.s.recv(65536)
                if not d:
                    raise ConnectionError("connection closed by the server")
                self.buf += d
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        raise ConnectionError(f"unexpected reply {line[:40]!r}")

    def call(self, *args):
        self.s.sendall(cmd(*args))
        return self.reply()


def main():
    port, keys, value_kb, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    deadline = time.monotonic() + 20
    while True:
        try:
            c = Conn(port)
            if c.call("PING") == b"PONG":
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            print("lost: the server never answered", flush=True)
            return 1
        time.sleep(0.1)
    value = b"v" * (value_kb * 1024)
    batch = 16
    t0 = time.monotonic()
    written = errors = 0
    try:
        for i in range(0, keys, batch):
            n = min(batch, keys - i)
            c.s.sendall(b"".join(cmd("SET", f"key:{i + k}", value) for k in range(n)))
            for _ in range(n):
                r = c.reply()
                if isinstance(r, Exception):
                    errors += 1
                else:
                    written += 1
            ahead = (i + n) * value_kb / 1024 / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        last = c.call("GET", f"key:{keys - 1}")
        dbsize = int(c.call("DBSIZE"))
        info = c.call("INFO", "memory").decode()
        mem = dict(l.split(":", 1) for l in info.split("\r\n") if ":" in l)
        ok = last == value
        print(f"{'done' if ok else 'wrong'}: wrote {written} keys ({errors} refused), dbsize {dbsize}, "
              f"used_memory {mem.get('used_memory')}, maxmemory {mem.get('maxmemory')}, "
              f"policy {mem.get('maxmemory_policy')}", flush=True)
        try:
            c.s.sendall(cmd("SHUTDOWN", "NOSAVE"))
            c.s.recv(100)
        except OSError:
            pass
        return 0 if ok else 1
    except (OSError, ConnectionError) as e:
        print(f"lost: {e} after {written} keys", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())

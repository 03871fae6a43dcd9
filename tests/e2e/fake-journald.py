#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for journald's native socket: binds SOCKET (AF_UNIX datagrams), decodes each entry of
the native protocol (KEY=value lines, or KEY\\n + little-endian 64-bit length + value for values with
newlines) and appends it to OUT as one JSON object per line. Writes READY once it listens; ends after
an entry with EVENT=summary, or after a minute."""
import json
import os
import socket
import struct
import sys


def decode(data):
    entry, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack_from("<Q", data, nl + 1)
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        entry[k.decode()] = v.decode("utf-8", "replace")
    return entry


def main():
    path, out, ready = sys.argv[1:4]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(60)
    open(ready, "w").close()
    with open(out, "a") as f:
        while True:
            try:
                data = s.recv(1 << 20)
            except socket.timeout:
                return 1
            e = decode(data)
            f.write(json.dumps(e) + "\n")
            f.flush()
            if e.get("EVENT") == "summary":
                return 0


if __name__ == "__main__":
    sys.exit(main())

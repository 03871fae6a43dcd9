#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A fake oomless status socket: listens on RUNTIME_DIR/<own pid>/status.sock (so `oomless status`
finds it as a live instance) and answers each connection with the next document from the files given,
the last one again once they run out. Writes READY_FILE when it listens."""
import os
import socket
import sys


def main():
    runtime_dir, ready, docs = sys.argv[1], sys.argv[2], sys.argv[3:]
    d = os.path.join(runtime_dir, str(os.getpid()))
    os.makedirs(d, exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(os.path.join(d, "status.sock"))
    s.listen(8)
    with open(ready, "w") as f:
        f.write(f"{os.getpid()}\n")
    i = 0
    while True:
        c, _ = s.accept()
        with open(docs[min(i, len(docs) - 1)], "rb") as f:
            data = f.read()
        i += 1
        try:
            c.sendall(data)
        except OSError:
            pass
        c.close()


if __name__ == "__main__":
    main()

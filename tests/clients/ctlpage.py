# SPDX-License-Identifier: MIT
"""Plays the supervisor for the client tests: creates a control page (a file, or a sealed memfd)
as include/oomless/control.h lays it out, and writes the supervisor's half with the seqlock
protocol (odd sequence, body, even sequence), each step its own pwrite, as supervisor/host/control.c
does."""

import fcntl
import os
import struct

MAGIC = 0x314C4F52544E434F
PAGE_SIZE = 4096
STRUCT_SIZE = 344
SUP_OFF = 64
SUP_F_DRY_RUN = 1 << 0
SUP_F_BUDGET = 1 << 1
SUP_F_NOT_READY = 1 << 2
_SUP = struct.Struct("=IIIIQQQII")  # seq .. weight


class Page:
    def __init__(self, fd: int, path: str = ""):
        self.fd, self.path, self.seq = fd, path, 0

    @classmethod
    def file(cls, path: str, version: int = 2, magic: int = MAGIC, size: int = STRUCT_SIZE) -> "Page":
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        p = cls(fd, path)
        p._fill(version, magic, size)
        return p

    @classmethod
    def memfd(cls, version: int = 2, seal: bool = True) -> "Page":
        fd = os.memfd_create("oomless-control", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        p = cls(fd)
        p._fill(version, MAGIC, STRUCT_SIZE)
        if seal:
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
        return p

    def _fill(self, version: int, magic: int, size: int) -> None:
        os.ftruncate(self.fd, PAGE_SIZE)
        os.pwrite(self.fd, struct.pack("=QIII", magic, version, size, os.getpid()), 0)

    def set_header(self, magic: int = MAGIC, version: int = 2, size: int = STRUCT_SIZE) -> None:
        os.pwrite(self.fd, struct.pack("=QII", magic, version, size), 0)

    def write(self, stage=0, budget=1000, weight=100, flags=None, stage_count=3) -> None:
        """A complete seqlock write of the supervisor's half. flags defaults to SUP_F_BUDGET."""
        if flags is None:
            flags = SUP_F_BUDGET
        self.begin()
        body = _SUP.pack(self.seq, stage, stage_count, flags, 0, 0, 0, budget, weight)
        os.pwrite(self.fd, body[4:], SUP_OFF + 4)
        self.end()

    def begin(self) -> None:
        """Leaves the sequence odd: a write in progress (forever, if end() never comes)."""
        self.seq |= 1
        os.pwrite(self.fd, struct.pack("=I", self.seq), SUP_OFF)

    def end(self) -> None:
        self.seq += 1
        os.pwrite(self.fd, struct.pack("=I", self.seq), SUP_OFF)

    def garbage(self, seed: int) -> None:
        os.pwrite(self.fd, os.urandom(PAGE_SIZE) if seed < 0 else bytes((seed * 7 + i) & 0xFF for i in range(PAGE_SIZE)), 0)

    def close(self) -> None:
        os.close(self.fd)

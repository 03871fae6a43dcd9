# SPDX-License-Identifier: MIT
"""Read the oomless control page from Python: the memory stage, the cache budget and the weight.

The oomless supervisor publishes, in a shared page, the policy stage (0 = normal), a budget (the
share of its normal size, in permille, each of the program's caches may hold) and a weight (0-100,
for a registry or load balancer). This module finds the page the way liboomless does, reads it
with the seqlock protocol, and calls back when something changes:

    import oomless
    cache_max = normal_entries * oomless.budget() // 1000
    w = oomless.watch(lambda state, prev: resize(normal_entries * state.budget // 1000))
    ...
    w.stop()

With no supervisor (no page, or a page it cannot read) every call answers "normal": stage 0,
budget 1000, weight 100, ready. Nothing here raises because of the page.

How it reads (docs/control-page.md, "Clients"): with os.pread only, never through a mapping. A page
handed over as a plain file (OOMLESS_CONTROL=<path>) can be truncated by anyone in the workload, and
touching a mapping past the end of the file raises SIGBUS, which kills the interpreter. pread of a
truncated file returns short instead. Each read is three preads (the sequence, the header and the
supervisor's half, the sequence again), retried at most 64 times; a snapshot that never settles
gives the last good one.

Standard library only; Python 3.11; Linux.
"""

import fcntl
import os
import stat
import struct
import sys
import threading
import traceback
from typing import Callable, NamedTuple, Optional

__all__ = [
    "State",
    "NORMAL",
    "Control",
    "Watcher",
    "default",
    "read",
    "stage",
    "budget",
    "weight",
    "ready",
    "watch",
]

# include/oomless/control.h
MAGIC = 0x314C4F52544E434F  # "OCNTRL1" little-endian
VERSION = 2  # the newest version this module knows
PAGE_SIZE = 4096  # OOMLESS_CONTROL_SIZE
STRUCT_SIZE = 344  # sizeof(struct oomless_control) of versions 1 and 2
CONTROL_ENV = "OOMLESS_CONTROL"
CONTROL_FD_ENV = "OOMLESS_CONTROL_FD"
SUP_OFF = 64  # offsetof(struct oomless_control, sup)
SUP_F_DRY_RUN = 1 << 0
SUP_F_BUDGET = 1 << 1  # version 2: budget_permille and weight are published
SUP_F_NOT_READY = 1 << 2  # version 2
BUDGET_NORMAL = 1000
WEIGHT_NORMAL = 100
RETRIES = 64
F_GET_SEALS = getattr(fcntl, "F_GET_SEALS", 1034)
F_SEAL_SHRINK = getattr(fcntl, "F_SEAL_SHRINK", 0x0002)

# The header and the supervisor's half up to weight: magic, version, size (offset 0), then seq,
# stage, stage_count, flags, heap_cap, scavenge_seq, wake_watermark, budget_permille, weight
# (offset 64).
_HEADER = struct.Struct("=QII")
_SUP = struct.Struct("=IIIIQQQII")
_SEQ = struct.Struct("=I")
_READ_LEN = SUP_OFF + _SUP.size


class State(NamedTuple):
    """One consistent snapshot of what the supervisor publishes."""

    stage: int = 0  # the policy stage, 0 = normal
    stage_count: int = 0  # stages in the policy
    budget: int = BUDGET_NORMAL  # permille, 0..1000: size each cache as normal * budget // 1000
    weight: int = WEIGHT_NORMAL  # 0..100
    ready: bool = True  # False while a stage declares "ready": false
    dry_run: bool = False  # the policy only logs
    supervised: bool = False  # a page was read


NORMAL = State()


def _decode(buf: bytes) -> Optional[State]:
    """The state in a header + half, None when the page is not (or no longer) a control page."""
    if len(buf) < _READ_LEN:
        return None  # truncated
    magic, version, size = _HEADER.unpack_from(buf, 0)
    if magic != MAGIC or version < 1 or not STRUCT_SIZE <= size <= PAGE_SIZE:
        return None
    _, stg, count, flags, _, _, _, bud, wei = _SUP.unpack_from(buf, SUP_OFF)
    if version >= 2 and flags & SUP_F_BUDGET:
        bud, wei, rdy = min(bud, BUDGET_NORMAL), min(wei, WEIGHT_NORMAL), not flags & SUP_F_NOT_READY
    else:  # version 1, or a half that does not (yet) publish them
        bud, wei, rdy = BUDGET_NORMAL, WEIGHT_NORMAL, True
    return State(min(stg, 1000), count, bud, wei, rdy, bool(flags & SUP_F_DRY_RUN), True)


class Control:
    """A control page (or the absence of one). Every method answers; none raises for the page."""

    def __init__(self, fd: int = -1, why: str = ""):
        self._fd = fd  # our own (close-on-exec) descriptor, -1 without a page
        self.why = why  # why there is no page, for diagnostics
        self._last = NORMAL  # the last good snapshot
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ=None) -> "Control":
        """The page named by OOMLESS_CONTROL_FD (which wins when set) or OOMLESS_CONTROL."""
        env = os.environ if environ is None else environ
        fdv = env.get(CONTROL_FD_ENV, "")
        if fdv:
            # As liboomless: a bad fd means no page, not the path, which would be the truncatable one.
            return cls.from_fd(int(fdv)) if fdv.isdigit() else cls(why=f"{CONTROL_FD_ENV}={fdv}: not a number")
        path = env.get(CONTROL_ENV, "")
        return cls.from_path(path) if path else cls(why="no supervisor")

    @classmethod
    def from_fd(cls, fd: int) -> "Control":
        """An inherited memfd; it must be sealed against shrinking, as oomless seals it. An fd
        number the program has reused for something else has no such seal."""
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size < PAGE_SIZE:
                return cls(why=f"fd {fd}: not a memfd of {PAGE_SIZE} bytes")
            if not fcntl.fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK:
                return cls(why=f"fd {fd}: not sealed against shrinking")
            return cls._checked(os.dup(fd), f"fd {fd}")
        except (OSError, ValueError) as e:
            return cls(why=f"fd {fd}: {e}")

    @classmethod
    def from_path(cls, path: str) -> "Control":
        """A page that is a plain file (the sidecar case)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NOCTTY)
        except OSError as e:
            return cls(why=f"{path}: {e.strerror}")
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                return cls(why=f"{path}: not a regular file")
        except OSError as e:
            os.close(fd)
            return cls(why=f"{path}: {e.strerror}")
        return cls._checked(fd, path)

    @classmethod
    def _checked(cls, fd: int, name: str) -> "Control":
        c = cls(fd)
        try:
            buf = os.pread(fd, _READ_LEN, 0)
        except OSError as e:
            buf, c.why = b"", f"{name}: {e.strerror}"
        if _decode(buf) is None:
            c.close()
            c.why = c.why or f"{name}: not a control page (bad magic, version or size)"
        return c

    @property
    def attached(self) -> bool:
        return self._fd >= 0

    def read(self) -> State:
        """A consistent snapshot: at most RETRIES tries, then the last good one. A page that went
        away (truncated, magic overwritten, fd closed) reads as NORMAL."""
        fd = self._fd
        if fd < 0:
            return NORMAL
        try:
            for _ in range(RETRIES):
                s1 = os.pread(fd, _SEQ.size, SUP_OFF)
                if len(s1) != _SEQ.size:
                    return self._remember(NORMAL)
                if _SEQ.unpack(s1)[0] & 1:
                    continue  # a write in progress
                buf = os.pread(fd, _READ_LEN, 0)
                if os.pread(fd, _SEQ.size, SUP_OFF) != s1:
                    continue  # torn
                st = _decode(buf)
                return self._remember(NORMAL if st is None else st)
        except OSError:
            return self._remember(NORMAL)
        return self._last

    def _remember(self, st: State) -> State:
        self._last = st
        return st

    def stage(self) -> int:
        return self.read().stage

    def budget(self) -> int:
        return self.read().budget

    def weight(self) -> int:
        return self.read().weight

    def ready(self) -> bool:
        return self.read().ready

    def watch(self, callback: Callable[[State, Optional[State]], None], interval: float = 0.1) -> "Watcher":
        """Calls callback(state, previous) on a daemon thread: once at start (previous None), then
        whenever the snapshot changes. Polls every interval seconds."""
        return Watcher(self, callback, interval)

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


class Watcher:
    """A thread that polls a Control and calls back on change. stop() ends it."""

    def __init__(self, control: Control, callback, interval: float):
        if interval <= 0:
            raise ValueError("interval must be > 0")
        self._control, self._callback, self._interval = control, callback, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="oomless-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        prev = None
        while True:
            cur = self._control.read()
            if cur != prev:
                try:
                    self._callback(cur, prev)
                except Exception:  # the program's bug: report it, keep watching
                    traceback.print_exc()
                prev = cur
            if self._stop.wait(self._interval):
                return

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stops the thread and waits for it (unless called from the callback itself)."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)


_default: Optional[Control] = None
_default_lock = threading.Lock()


def default() -> Control:
    """The process's page, found from the environment on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Control.from_environ()
        return _default


def read() -> State:
    return default().read()


def stage() -> int:
    """The supervisor's stage, 0 = normal (and without a supervisor)."""
    return default().stage()


def budget() -> int:
    """The cache budget in permille, 0..1000 (1000 without a supervisor)."""
    return default().budget()


def weight() -> int:
    """The instance's weight, 0..100 (100 without a supervisor)."""
    return default().weight()


def ready() -> bool:
    """False while the supervisor marks the instance not ready."""
    return default().ready()


def watch(callback: Callable[[State, Optional[State]], None], interval: float = 0.1) -> Watcher:
    return default().watch(callback, interval)


if __name__ == "__main__":
    c = default()
    print(c.read() if c.attached else f"{NORMAL} ({c.why})")
    sys.exit(0)

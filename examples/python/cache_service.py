#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A Python service cache that follows the oomless budget, for `oomless run`.

The cache keeps values of --value-kib KiB up to --cache-mib MiB at budget 1000 (normal), and at most
cache-mib * budget / 1000 while the supervisor sheds: with examples/policies/self-healing.json it drops
to 40% when the working set stays at 75% of the limit, and grows back in steps as the budget climbs.
It fills no faster than --grow MiB/s. One line per change of the budget, weight or readiness:

    oomless run --memory-max 128M --policy examples/policies/self-healing.json -- \\
        python3 examples/python/cache_service.py --cache-mib 110 --grow 20 --seconds 30

Without a supervisor the budget reads 1000 and the cache simply keeps its normal size. It uses
contrib/python/oomless.py (one file, no dependencies; copy it next to your code) and the cache of
contrib/python/example.py.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib", "python"))
import oomless  # noqa: E402
from example import Cache as ExampleCache  # noqa: E402


class Cache(ExampleCache):
    """FIFO-evicting values whose total size follows the budget: the contrib example's cache, counted
    in values of value_size bytes."""

    def __init__(self, normal_bytes: int, value_size: int):
        super().__init__(normal_bytes // value_size)
        self.value_size = value_size

    def fill_one(self, key: int) -> bool:
        with self.lock:
            if len(self.entries) >= self.capacity:
                return False
            self.entries[key] = bytearray(self.value_size)  # zeroed: every page is touched
            return True

    def mib(self) -> float:
        return len(self.entries) * self.value_size / 1048576


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-mib", type=int, default=110, help="cache size at budget 1000")
    ap.add_argument("--value-kib", type=int, default=64)
    ap.add_argument("--grow", type=float, default=20.0, help="MiB/s the cache fills at")
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()

    cache = Cache(args.cache_mib << 20, args.value_kib << 10)
    page = oomless.default()
    print(f"cache_service: supervised {page.attached}" + ("" if page.attached else f" ({page.why})"), flush=True)

    def on_change(st: oomless.State, prev) -> None:
        cache.resize(st.budget)
        # A real service tells its registry the weight and its readiness probe the readiness here.
        print(f"cache_service: stage {st.stage} budget {st.budget} weight {st.weight} ready {st.ready}: "
              f"capacity {cache.capacity * cache.value_size >> 20} MiB, holds {cache.mib():.0f} MiB", flush=True)

    watcher = oomless.watch(on_change, interval=0.05)
    start = time.monotonic()
    key = 0
    while (now := time.monotonic()) - start < args.seconds:
        if cache.mib() < (now - start) * args.grow and cache.fill_one(key):
            key += 1
            continue
        time.sleep(0.005)
    watcher.stop()
    print(f"cache_service: done: holds {cache.mib():.0f} MiB, capacity {cache.capacity * cache.value_size >> 20} MiB",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

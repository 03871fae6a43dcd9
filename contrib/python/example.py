# SPDX-License-Identifier: MIT
"""An example service cache that follows the oomless budget.

The cache holds at most normal * budget // 1000 entries: all of them normally, 40% when the
supervisor sheds to 40%, and it grows back as the budget climbs. The weight and readiness are
printed where a real service would tell its registry or its readiness probe.

    python3 example.py --normal 10000 --seconds 60
"""

import argparse
import collections
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oomless  # noqa: E402


class Cache:
    """An LRU cache whose capacity follows the budget."""

    def __init__(self, normal: int):
        self.normal = normal
        self.capacity = normal
        self.entries = collections.OrderedDict()
        self.lock = threading.Lock()

    def resize(self, budget: int) -> None:
        with self.lock:
            self.capacity = self.normal * budget // 1000
            while len(self.entries) > self.capacity:
                self.entries.popitem(last=False)

    def get(self, key: int) -> bytes:
        with self.lock:
            v = self.entries.get(key)
            if v is not None:
                self.entries.move_to_end(key)
                return v
        v = b"x" * 1024  # the expensive computation
        with self.lock:
            if self.capacity > 0:
                self.entries[key] = v
                while len(self.entries) > self.capacity:
                    self.entries.popitem(last=False)
        return v


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--normal", type=int, default=10000, help="entries at budget 1000")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=0.05, help="poll interval of the watcher")
    args = ap.parse_args()

    cache = Cache(args.normal)
    page = oomless.default()
    print(f"supervised: {page.attached}" + ("" if page.attached else f" ({page.why})"), flush=True)

    def on_change(st: oomless.State, prev) -> None:
        cache.resize(st.budget)
        print(
            f"stage {st.stage} budget {st.budget} weight {st.weight} ready {st.ready}: "
            f"cache capacity {cache.capacity} entries (holds {len(cache.entries)})",
            flush=True,
        )

    watcher = oomless.watch(on_change, interval=args.interval)
    end = time.monotonic() + args.seconds
    key = 0
    while time.monotonic() < end:
        for _ in range(200):
            cache.get(key % (2 * args.normal))
            key += 1
        time.sleep(0.005)
    watcher.stop()
    print(f"done: capacity {cache.capacity}, holds {len(cache.entries)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

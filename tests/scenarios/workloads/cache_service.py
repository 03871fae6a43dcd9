# SPDX-License-Identifier: MIT
"""A cache service that follows the oomless budget (contrib/python/oomless.py).

It answers REQUESTS requests at up to RATE per second, each for a new key most of the time, and
caches every answer (about 1.1 KiB each): at its normal size the cache holds NORMAL entries, more
than the limit has room for. The work is a count, not a time, so a slower machine does the same. The capacity follows the budget: normal * budget // 1000. Every answer is
checked, so "done" means every request was answered correctly, whatever the cache held.

    PYTHONMALLOC=malloc python3 cache_service.py NORMAL RATE REQUESTS [CLIENT_DIR]
"""
import collections
import os
import sys
import threading
import time

sys.path.insert(0, sys.argv[4] if len(sys.argv) > 4 else os.path.join(os.path.dirname(__file__), "../../../contrib/python"))
import oomless  # noqa: E402


def compute(key):
    return (b"%08d" % key) * 128


def main():
    normal, rate, requests = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    cache = collections.OrderedDict()
    lock = threading.Lock()
    cap = [normal]

    def on_change(st, prev):
        with lock:
            cap[0] = normal * st.budget // 1000
            while len(cache) > cap[0]:
                cache.popitem(last=False)
        print(f"budget {st.budget}: capacity {cap[0]} entries", flush=True)

    w = oomless.watch(on_change, interval=0.05)
    start = time.monotonic()
    served = hits = 0
    key = 0
    while served < requests:
        for _ in range(min(rate // 100, requests - served)):
            k = key if served % 10 else max(0, key - 1000)
            key += 1
            with lock:
                v = cache.get(k)
                if v is not None:
                    hits += 1
                    cache.move_to_end(k)
            if v is None:
                v = compute(k)
                with lock:
                    if cap[0] > 0:
                        cache[k] = v
                        while len(cache) > cap[0]:
                            cache.popitem(last=False)
            if v != compute(k):
                print(f"cache: wrong answer for {k}", flush=True)
                return 1
            served += 1
        ahead = served / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    w.stop()
    print(f"done: {served} requests answered correctly, {hits} hits, capacity {cap[0]}, holds {len(cache)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

# Compatibility workload for python3 under LD_PRELOAD (run with PYTHONMALLOC=malloc): allocation-heavy,
# with output that depends only on the input. Every line it prints must match a plain run.
import collections
import hashlib
import json
import re
import threading

N = 100000

# Dicts, lists and strings of many sizes, serialised and parsed back.
records = [{"id": i, "name": "item-%d" % i, "tags": ["t%d" % (i % 13)] * (i % 5), "w": i / 7} for i in range(N)]
blob = json.dumps(records, sort_keys=True)
back = json.loads(blob)
print("json", len(blob), hashlib.sha256(blob.encode()).hexdigest(), back[-1]["name"])

# Growing and shrinking containers.
counts = collections.Counter()
for i in range(N):
    counts["w%x" % (i * 2654435761 % 65521)] += 1
top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
print("counter", len(counts), top)
d = {}
for i in range(N):
    d[i] = str(i) * (i % 9)
    if i % 3 == 0:
        del d[i // 2]
print("dict", len(d), sum(len(v) for v in d.values()))

# Big string building, bytes and regular expressions.
text = "".join("line %d: %s\n" % (i, "abc" * (i % 30)) for i in range(N // 2))
words = re.findall(r"\b\w{6,}\b", text)
print("re", len(text), len(words), hashlib.md5(text.encode()).hexdigest())
ba = bytearray()
for i in range(N):
    ba += bytes([i % 256]) * (i % 7)
print("bytes", len(ba), hashlib.sha1(ba).hexdigest())

# Threads allocating at the same time; results combined in a fixed order.
out = [None] * 4


def work(k):
    acc = []
    for i in range(30000):
        acc.append(tuple(range(i % 20)))
        if len(acc) > 1000:
            acc = acc[500:]
    out[k] = sum(len(t) for t in acc)


ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("threads", out)

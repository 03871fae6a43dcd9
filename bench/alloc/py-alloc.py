# Allocation-heavy Python workload for the allocator benchmark (run with PYTHONMALLOC=malloc so that every
# object goes through the preloaded malloc). Deterministic; prints a checksum.
import json
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
acc = 0
records = []
for i in range(n):
    rec = {"id": i, "name": "item-%d" % i, "tags": [str(i % 7), str(i % 11)], "v": i * 0.5}
    records.append(rec)
    if len(records) > 5000:
        text = json.dumps(records[:2500])
        acc += len(json.loads(text))
        del records[:2500]
words = {}
for i in range(n):
    w = ("w%x" % (i * 2654435761 % 100003)) * (1 + i % 5)
    words[w] = words.get(w, 0) + 1
acc += sum(words.values()) + len(words)
parts = []
for i in range(n // 2):
    parts.append("%d:%s" % (i, "x" * (i % 40)))
    if len(parts) == 1000:
        acc += len("".join(parts))
        parts = []
s = sorted((str(k) for k in range(n // 4)), key=lambda x: x[::-1])
acc += len(s[0]) + len(s[-1])
print(acc)

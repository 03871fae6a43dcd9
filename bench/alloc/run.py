#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Allocator benchmark driver: runs every workload under every allocator (LD_PRELOAD) in one invocation,
takes the median of several repetitions and prints markdown tables of absolute numbers, ratios against
glibc and the best peer, and PASS/MISS against the targets of issue 4.

Usage: run.py [--mode quick|full] [--reps N] [--only w1,w2] [--allocs a,b] --bin-dir DIR
              [--oomless PATH/liboomless.so] [--glibc-shim PATH] [--require-all] [--json FILE]
Exit: 0; 1 when a run failed or (with --require-all) a number is missing; 77 when a peer library or a
program the workloads need is not installed.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

LIBDIR = "/usr/lib/x86_64-linux-gnu"
# Debian packages: libjemalloc2, libmimalloc2.0, libtcmalloc-minimal4.
PEERS = {
    "jemalloc": LIBDIR + "/libjemalloc.so.2",
    "mimalloc": LIBDIR + "/libmimalloc.so.2",
    "tcmalloc": LIBDIR + "/libtcmalloc_minimal.so.4",
}
PROGRAMS = ["/usr/bin/python3", "/usr/bin/sqlite3", "/usr/bin/gcc", "/usr/bin/redis-server",
            "/usr/bin/redis-benchmark", "/usr/bin/redis-cli"]

# Per-mode sizes. quick: the smoke test (one repetition, < 2 minutes for everything); full: recording.
SIZES = {
    "quick": dict(reps=1, churn_ops=400000, churn_window=20000, xthread=400000, realloc=1000000,
                  large=600, frag_mib=64, py=40000, sqlite_rows=20000, gcc_funcs=150,
                  redis_n=20000, redis_keys=20000, redis_value=512, timeout=120),
    "full": dict(reps=3, churn_ops=5000000, churn_window=20000, xthread=5000000, realloc=10000000,
                 large=4000, frag_mib=1024, py=300000, sqlite_rows=300000, gcc_funcs=500,
                 redis_n=100000, redis_keys=300000, redis_value=700, timeout=600),
}

MIB = 1024.0 * 1024.0


class RunError(Exception):
    pass


def run(cmd, env, timeout, stdin=None, cwd=None):
    """Runs cmd; returns (stdout text, wall seconds, peak RSS in bytes, CPU seconds of it and its
    waited-for children). Raises RunError on failure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, env=env, stdin=stdin or subprocess.DEVNULL, stdout=out, stderr=err,
                             cwd=cwd, start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, etext = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if "cannot be preloaded" in etext:
        raise RunError("%s: preload failed: %s" % (cmd[0], etext.strip()[:300]))
    if p.returncode != 0:
        raise RunError("%s exited with %d: %s" % (" ".join(cmd)[:120], p.returncode, etext.strip()[-400:]))
    return text, wall, ru.ru_maxrss * 1024, ru.ru_utime + ru.ru_stime


def keyvals(text):
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def env_for(alloc, libs, extra=None, shim=False):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    lib = libs.get(alloc)
    if alloc == "glibc" and shim:
        lib = libs.get("glibc-shim")
    if lib:
        env["LD_PRELOAD"] = lib
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------------------------------------
# Workloads. Each returns a dict of metrics; "value" is the headline figure.

def w_churn(threads):
    def f(ctx, alloc):
        text, _, rss, _ = run([ctx.bin("bench-churn"), str(threads), str(ctx.s["churn_ops"]),
                            str(ctx.s["churn_window"])], env_for(alloc, ctx.libs), ctx.s["timeout"])
        return {"value": float(keyvals(text)["ops_per_sec"]), "peak_rss": rss}
    return f


def w_simple(name, args):
    def f(ctx, alloc):
        text, _, rss, _ = run([ctx.bin(name)] + [str(a(ctx.s)) for a in args], env_for(alloc, ctx.libs),
                           ctx.s["timeout"])
        return {"value": float(keyvals(text)["ops_per_sec"]), "peak_rss": rss}
    return f


def w_frag(ctx, alloc):
    text, _, rss, _ = run([ctx.bin("bench-frag"), str(ctx.s["frag_mib"]), "64", "1000"],
                       env_for(alloc, ctx.libs), ctx.s["timeout"])
    kv = keyvals(text)
    r = {k: float(kv[k]) for k in ("live_bytes", "rss_peak", "rss_idle", "rss_trim")}
    r["value"] = r["rss_idle"]
    r["trim_api"] = kv["trim_api"]
    return r


def w_python(ctx, alloc):
    _, wall, rss, cpu = run(["/usr/bin/python3", ctx.src("py-alloc.py"), str(ctx.s["py"])],
                            env_for(alloc, ctx.libs, {"PYTHONMALLOC": "malloc"}), ctx.s["timeout"])
    return {"value": cpu, "wall": wall, "peak_rss": rss}


def w_sqlite(ctx, alloc):
    with open(ctx.sqlite_script) as f:
        _, wall, rss, cpu = run(["/usr/bin/sqlite3", ":memory:"], env_for(alloc, ctx.libs), ctx.s["timeout"],
                                stdin=f)
    return {"value": cpu, "wall": wall, "peak_rss": rss}


def w_gcc(ctx, alloc):
    out = os.path.join(ctx.tmp, "big-%s.o" % alloc)
    _, wall, rss, cpu = run(["/usr/bin/gcc", "-O2", "-c", ctx.gcc_source, "-o", out], env_for(alloc, ctx.libs),
                            ctx.s["timeout"])
    return {"value": cpu, "wall": wall, "peak_rss": rss}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_cli(port, *args, timeout=30):
    return subprocess.run(["/usr/bin/redis-cli", "-h", "127.0.0.1", "-p", str(port)] + list(args),
                          capture_output=True, text=True, timeout=timeout).stdout.strip()


def vmrss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RunError("no VmRSS for %d" % pid)


class RedisServer:
    def __init__(self, ctx, alloc):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=ctx.tmp)
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.p = subprocess.Popen(
            ["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--protected-mode", "no", "--daemonize", "no"],
            env=env_for(alloc, ctx.libs, shim=True), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while redis_cli(self.port, "PING") != "PONG":
            if self.p.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RunError("redis-server did not start: %s" % self.logtext())
            time.sleep(0.05)
        lib = env_for(alloc, ctx.libs, shim=True).get("LD_PRELOAD")
        if lib:
            with open("/proc/%d/maps" % self.p.pid) as f:
                if os.path.basename(lib) not in f.read():
                    self.stop()
                    raise RunError("redis-server does not have %s mapped" % lib)

    def logtext(self):
        self.log.seek(0)
        return self.log.read()[-500:]

    def stop(self):
        if self.p.poll() is None:
            redis_cli(self.port, "SHUTDOWN", "NOSAVE")
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.p.returncode not in (0, None):
            raise RunError("redis-server exited with %d" % self.p.returncode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def w_redis(ctx, alloc):
    with RedisServer(ctx, alloc) as srv:
        cpu0 = proc_cpu(srv.p.pid)
        _, wall, _, _ = run(["/usr/bin/redis-benchmark", "-h", "127.0.0.1", "-p", str(srv.port), "-q", "-c", "16",
                          "-P", "16", "-r", "100000", "-d", "64", "-n", str(ctx.s["redis_n"]), "-t",
                          "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset"],
                         env_for("glibc", {}), ctx.s["timeout"])
        rss = vmrss(srv.p.pid)
        cpu = proc_cpu(srv.p.pid) - cpu0
    return {"value": cpu, "wall": wall, "rss_end": rss}


def w_redis_mem(ctx, alloc):
    with RedisServer(ctx, alloc) as srv:
        with open(ctx.redis_dataset, "rb") as f:
            r = subprocess.run(["/usr/bin/redis-cli", "-h", "127.0.0.1", "-p", str(srv.port), "--pipe"], stdin=f,
                               capture_output=True, text=True, timeout=ctx.s["timeout"])
        if r.returncode != 0 or "errors: 0" not in r.stdout:
            raise RunError("redis-cli --pipe failed: %s" % (r.stdout + r.stderr)[-300:])
        loaded = vmrss(srv.p.pid)
        if redis_cli(srv.port, "FLUSHALL") != "OK":
            raise RunError("FLUSHALL failed")
        time.sleep(2)
        after = vmrss(srv.p.pid)
    return {"value": after, "rss_loaded": loaded}


def gen_sqlite(path, rows):
    with open(path, "w") as f:
        f.write("PRAGMA cache_size=-65536;\nCREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v TEXT, n INT);\n"
                "BEGIN;\n")
        for i in range(rows):
            f.write("INSERT INTO t(k,v,n) VALUES('k%d','%s',%d);\n" % ((i * 7919) % rows, "v" * (i % 97), i % 1000))
        f.write("COMMIT;\nCREATE INDEX tk ON t(k);\nCREATE INDEX tn ON t(n, k);\n"
                "SELECT n, count(*), sum(length(v)) FROM t GROUP BY n ORDER BY 2 DESC, 1 LIMIT 5;\n"
                "SELECT count(DISTINCT k) FROM t;\n"
                "SELECT group_concat(k, ',') FROM (SELECT k FROM t ORDER BY v, k LIMIT 2000);\n"
                "UPDATE t SET v = v || 'x' WHERE n % 3 = 0;\nDELETE FROM t WHERE n % 5 = 0;\n"
                "SELECT count(*), sum(n) FROM t;\n"
                "SELECT a.n, count(*) FROM t a JOIN t b ON a.k = b.k WHERE a.n < 50 GROUP BY a.n LIMIT 3;\n"
                "VACUUM;\n")


def gen_c(path, funcs):
    with open(path, "w") as f:
        f.write("#include <string.h>\nstruct s { int a[16]; double d; char name[32]; };\n")
        for i in range(funcs):
            f.write(
                "int f%d(struct s *p, int n) {\n  int acc = %d;\n  for (int i = 0; i < n; i++) {\n"
                "    switch ((i + %d) %% 7) {\n    case 0: acc += p->a[i & 15] * %d; break;\n"
                "    case 1: acc ^= (int)(p->d * %d.0); break;\n    case 2: acc -= (int)strlen(p->name) + i; break;\n"
                "    case 3: p->a[(i + %d) & 15] = acc; break;\n    case 4: acc = acc * 31 + %d; break;\n"
                "    default: for (int j = 0; j < (i & 7); j++) acc += p->a[j] ^ j * %d;\n    }\n  }\n"
                "  if (acc & 1) return f%d(p, n - 1) + acc;\n  return acc;\n}\n"
                % (i, i, i, i + 3, i % 13 + 1, i % 16, i * 17, i % 5 + 1, max(i - 1, 0)))


def gen_redis(path, keys, value):
    def cmd(*parts):
        out = b"*%d\r\n" % len(parts)
        for p in parts:
            p = p if isinstance(p, bytes) else str(p).encode()
            out += b"$%d\r\n%s\r\n" % (len(p), p)
        return out
    with open(path, "wb") as f:
        for i in range(keys):
            size = 16 + (i * 7919) % (2 * value)
            f.write(cmd("SET", "key:%d" % i, b"v" * size))
            if i % 20 == 0:
                f.write(cmd("RPUSH", "list:%d" % i, *["item-%d-%d" % (i, j) for j in range(20)]))
                f.write(cmd("HSET", "hash:%d" % i, *sum((["f%d" % j, "x" * (j * 3)] for j in range(10)), [])))


class Ctx:
    def __init__(self, args, sizes, libs, tmp):
        self.args, self.s, self.libs, self.tmp = args, sizes, libs, tmp
        self.srcdir = os.path.dirname(os.path.abspath(__file__))

    def bin(self, name):
        return os.path.join(self.args.bin_dir, name)

    def src(self, name):
        return os.path.join(self.srcdir, name)


# name -> (function, unit, higher_is_better)
WORKLOADS = {
    "churn-1t": (w_churn(1), "ops/s", True),
    "churn-2t": (w_churn(2), "ops/s", True),
    "churn-4t": (w_churn(4), "ops/s", True),
    "xthread": (w_simple("bench-xthread", [lambda s: 1, lambda s: s["xthread"]]), "ops/s", True),
    "realloc": (w_simple("bench-realloc", [lambda s: s["realloc"], lambda s: 64, lambda s: 65536]), "ops/s", True),
    "large": (w_simple("bench-large", [lambda s: s["large"], lambda s: 4]), "ops/s", True),
    "python3": (w_python, "cpu s", False),
    "sqlite3": (w_sqlite, "cpu s", False),
    "gcc-O2": (w_gcc, "cpu s", False),
    "redis": (w_redis, "cpu s", False),
    "frag": (w_frag, "B", False),
    "redis-flush": (w_redis_mem, "B", False),
}


def fmt_num(v, unit):
    if unit == "ops/s":
        return "%.2fM" % (v / 1e6) if v >= 1e6 else "%.1fk" % (v / 1e3)
    if unit in ("s", "cpu s"):
        return "%.3f s" % v
    return "%.1f MiB" % (v / MIB)


def speed(a, b, higher):
    """How much better a is than b (> 1: a is better)."""
    if a is None or b is None or a == 0 or b == 0:
        return None
    return a / b if higher else b / a


def fr(x):
    return "n/a" if x is None else "%.2fx" % x


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=SIZES, default="quick")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--only")
    ap.add_argument("--allocs")
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--oomless")
    ap.add_argument("--glibc-shim", required=True)
    ap.add_argument("--require-all", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()

    sizes = dict(SIZES[args.mode])
    if args.reps:
        sizes["reps"] = args.reps
    for path in list(PEERS.values()) + PROGRAMS + [args.glibc_shim]:
        if not os.path.exists(path):
            print("SKIP: %s is missing (install libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 python3 "
                  "sqlite3 gcc redis-server redis-tools)" % path)
            return 77
    libs = {"glibc": None, "glibc-shim": args.glibc_shim, **PEERS}
    allocs = ["glibc", "jemalloc", "mimalloc", "tcmalloc"]
    if args.oomless:
        if not os.path.exists(args.oomless):
            print("run.py: --oomless %s does not exist (build the oomless-alloc target)" % args.oomless)
            return 1
        libs["oomless"] = args.oomless
        allocs.append("oomless")
    if args.allocs:
        allocs = [a for a in args.allocs.split(",") if a in libs]
    names = [w for w in WORKLOADS if not args.only or w in args.only.split(",")]

    tmp = tempfile.mkdtemp(prefix="oomless-bench-")
    results = {w: {a: [] for a in allocs} for w in names}
    failures = []
    t_start = time.monotonic()
    load0 = " ".join(open("/proc/loadavg").read().split()[:3])
    try:
        ctx = Ctx(args, sizes, libs, tmp)
        ctx.sqlite_script = os.path.join(tmp, "work.sql")
        gen_sqlite(ctx.sqlite_script, sizes["sqlite_rows"])
        ctx.gcc_source = os.path.join(tmp, "big.c")
        gen_c(ctx.gcc_source, sizes["gcc_funcs"])
        ctx.redis_dataset = os.path.join(tmp, "dataset.resp")
        if "redis-flush" in names:
            gen_redis(ctx.redis_dataset, sizes["redis_keys"], sizes["redis_value"])
        # Repetitions are the outer loop, so slow drifts of a shared machine hit every allocator alike.
        for rep in range(sizes["reps"]):
            for w in names:
                for a in allocs:
                    try:
                        results[w][a].append(WORKLOADS[w][0](ctx, a))
                    except (RunError, OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
                        failures.append("%s under %s (rep %d): %s" % (w, a, rep + 1, e))
                        print("FAILED: " + failures[-1], file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - t_start

    def med(w, a, key="value"):
        vals = [r[key] for r in results.get(w, {}).get(a, []) if key in r]
        return statistics.median(vals) if vals else None

    peers = [a for a in allocs if a != "oomless"]
    print("# Allocator benchmark (%s mode, median of %d, %s, %.0f s)\n" %
          (args.mode, sizes["reps"], time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), elapsed))
    print("Ratios are speed-ups: > 1.00x means faster than the reference (for times: reference / this).")
    print("Real programs are timed in CPU seconds (user + sys of the process and its children; for redis, of")
    print("the server during redis-benchmark), which a loaded machine distorts far less than wall time.")
    print("Load average at start %s, at end %s (%d CPUs).\n" % (load0, " ".join(open("/proc/loadavg").read().split()[:3]),
                                                         os.cpu_count()))
    print("## Throughput\n")
    print("| workload | unit | " + " | ".join(allocs) + " | oomless vs best peer |")
    print("|---|---|" + "---|" * len(allocs) + "---|")
    for w in names:
        fn, unit, higher = WORKLOADS[w]
        if unit == "B":
            continue
        base = med(w, "glibc")
        cells = []
        for a in allocs:
            v = med(w, a)
            cells.append("FAILED" if v is None else "%s (%s)" % (fmt_num(v, unit), fr(speed(v, base, higher))))
        best = [med(w, p) for p in peers if med(w, p) is not None]
        bp = (max(best) if higher else min(best)) if best else None
        print("| %s | %s | %s | %s |" % (w, unit, " | ".join(cells), fr(speed(med(w, "oomless"), bp, higher))))

    real = [w for w in names if WORKLOADS[w][1] == "cpu s"]
    if real:
        print("\nWall time of the same runs (s): " + "; ".join(
            "%s: %s" % (w, ", ".join("%s %s" % (a, "n/a" if med(w, a, "wall") is None else "%.2f" % med(w, a, "wall"))
                                     for a in allocs)) for w in real))
    print("\n## Memory (MiB)\n")
    print("| measure | " + " | ".join(allocs) + " |")
    print("|---|" + "---|" * len(allocs))
    rows = [("peak RSS churn-%dt" % t, "churn-%dt" % t, "peak_rss") for t in (1, 2, 4)]
    rows += [("peak RSS xthread", "xthread", "peak_rss"), ("frag: live set", "frag", "live_bytes"),
             ("frag: RSS at peak", "frag", "rss_peak"), ("frag: RSS after 1 s idle", "frag", "rss_idle"),
             ("frag: RSS after release call", "frag", "rss_trim"),
             ("redis: RSS loaded", "redis-flush", "rss_loaded"), ("redis: RSS 2 s after FLUSHALL", "redis-flush", "value")]
    for label, w, key in rows:
        if w in names:
            print("| %s | %s |" % (label, " | ".join(
                "n/a" if med(w, a, key) is None else "%.1f" % (med(w, a, key) / MIB) for a in allocs)))
    if "frag" in names:
        apis = {a: results["frag"][a][0].get("trim_api") for a in allocs if results["frag"][a]}
        print("\nRelease call used: " + ", ".join("%s: %s" % kv for kv in apis.items()))

    print("\n## Targets (oomless)\n")
    print("| target | oomless | reference | ratio | result |")
    print("|---|---|---|---|---|")
    targets = []

    def target(label, w, key, ref_value, ref_label, ok, ratio_fmt):
        if w not in names:
            return
        v = med(w, "oomless", key)
        if v is None or ref_value is None:
            targets.append((label, "n/a", ref_label, "n/a", "n/a"))
            return
        ratio, passed = ok(v, ref_value)
        targets.append((label, ratio_fmt(v), "%s %s" % (ref_label, ratio_fmt(ref_value)), "%.2fx" % ratio,
                        "PASS" if passed else "MISS"))

    ops = lambda v: fmt_num(v, "ops/s")
    sec = lambda v: fmt_num(v, "s")
    mib = lambda v: fmt_num(v, "B")
    for w in ("churn-1t", "churn-2t", "churn-4t"):
        target("%s >= mimalloc" % w, w, "value", med(w, "mimalloc"), "mimalloc", lambda v, r: (v / r, v >= r), ops)
    target("xthread >= tcmalloc", "xthread", "value", med("xthread", "tcmalloc"), "tcmalloc",
           lambda v, r: (v / r, v >= r), ops)
    target("realloc >= tcmalloc", "realloc", "value", med("realloc", "tcmalloc"), "tcmalloc",
           lambda v, r: (v / r, v >= r), ops)
    target("large >= mimalloc", "large", "value", med("large", "mimalloc"), "mimalloc",
           lambda v, r: (v / r, v >= r), ops)
    for w in ("python3", "sqlite3", "gcc-O2", "redis"):
        best = [(med(w, p), p) for p in peers if med(w, p) is not None]
        if best:
            bv, bp = min(best)
            target("%s time <= 1.05x best peer" % w, w, "value", bv, "best (%s)" % bp,
                   lambda v, r: (v / r, v <= 1.05 * r), sec)
    for w in ("churn-1t", "churn-2t", "churn-4t"):
        target("peak RSS %s <= 1.1x glibc" % w, w, "peak_rss", med(w, "glibc", "peak_rss"), "glibc",
               lambda v, r: (v / r, v <= 1.1 * r), mib)
    target("frag RSS after 1 s idle <= 1.3x live", "frag", "rss_idle", med("frag", "oomless", "live_bytes"),
           "live set", lambda v, r: (v / r, v <= 1.3 * r), mib)
    target("frag RSS after malloc_trim(0) <= glibc", "frag", "rss_trim", med("frag", "glibc", "rss_trim"),
           "glibc", lambda v, r: (v / r, v <= r), mib)
    target("redis RSS 2 s after FLUSHALL <= 30 MiB", "redis-flush", "value", 30 * MIB, "limit",
           lambda v, r: (v / r, v <= r), mib)
    for t in targets:
        print("| %s |" % " | ".join(t))
    if "oomless" not in allocs:
        print("\n(oomless not measured: pass --oomless PATH/liboomless.so)")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mode": args.mode, "sizes": sizes, "results": results, "failures": failures}, f, indent=1)

    missing = [(w, a) for w in names for a in allocs if med(w, a) is None]
    if failures:
        print("\nFailures:\n" + "\n".join("- " + f for f in failures))
    if args.require_all and missing:
        print("\nMissing numbers: " + ", ".join("%s/%s" % m for m in missing))
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

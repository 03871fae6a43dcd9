#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The supervisor's own footprint while it supervises an idle workload with the built-in policy.

For each binary (the one under test, and optionally a baseline built from another commit in the same
run), starts `oomless run -- sleep N`, waits a warm-up, then measures over --seconds:
  - RSS and PSS of the supervisor process from /proc/PID/smaps_rollup at the end;
  - its CPU over the window: utime+stime from /proc/PID/stat (clock ticks) and, finer, the sum of
    /proc/PID/task/*/schedstat run times (ns);
  - the mappings that make up the RSS, grouped by file, from /proc/PID/smaps.
The binaries run side by side, so both see the same machine. Only the supervisor is measured, never
the workload. Prints markdown; --json writes the raw numbers.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
RSS_TARGET_KIB = 4 * 1024
CPU_TARGET = 0.001  # of one core


def kib(path, key):
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def stat_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))


def sched_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def mappings(pid):
    """{name: [rss_kib, pss_kib]} from /proc/PID/smaps. An anonymous region that starts where a
    library's mappings end is that library's .bss, named "<library> .bss"; other anonymous regions are
    grouped as [anon]."""
    out = {}
    cur = None
    prev_end, prev_lib = None, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
                start, end = (int(x, 16) for x in parts[0].split("-"))
                name = parts[5] if len(parts) >= 6 else None
                if name is None:
                    name = f"{prev_lib} .bss" if prev_lib and start == prev_end else "[anon]"
                elif name.startswith("/"):
                    prev_lib = name
                else:
                    prev_lib = None
                if not name.endswith(".bss") and not name.startswith("/"):
                    prev_lib = None
                prev_end = end
                cur = out.setdefault(name, [0, 0])
            elif parts[0] == "Rss:":
                cur[0] += int(parts[1])
            elif parts[0] == "Pss:":
                cur[1] += int(parts[1])
    return out


def build_baseline(repo, rev, work):
    src, bld = os.path.join(work, "src"), os.path.join(work, "build")
    os.makedirs(src)
    archive = subprocess.run(["git", "-C", repo, "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
    subprocess.run(["cmake", "-S", src, "-B", bld, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                    "-DOOMLESS_BUILD_TESTS=OFF", "-DOOMLESS_BUILD_BENCH=OFF"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", bld, "--target", "oomless", "-j", str(os.cpu_count() or 1)],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(bld, "supervisor", "oomless")


class Run:
    def __init__(self, label, binary, seconds, warmup, work):
        self.label, self.binary = label, binary
        self.runtime = os.path.join(work, f"rt-{label}")
        os.makedirs(self.runtime)
        env = dict(os.environ, OOMLESS_RUNTIME_DIR=self.runtime)
        self.log = open(os.path.join(work, f"{label}.log"), "w")
        self.proc = subprocess.Popen([binary, "run", "--", "sleep", str(int(seconds + warmup + 30))],
                                     env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def begin(self):
        self.t0, self.ticks0, self.ns0 = time.monotonic(), stat_ticks(self.pid), sched_ns(self.pid)

    def end(self):
        t1, ticks1, ns1 = time.monotonic(), stat_ticks(self.pid), sched_ns(self.pid)
        roll = f"/proc/{self.pid}/smaps_rollup"
        wall = t1 - self.t0
        with open(f"/proc/{self.pid}/maps") as f:
            libs = sorted({l.split()[-1] for l in f if ".so" in l.split()[-1]})
        self.res = {
            "binary": self.binary,
            "seconds": wall,
            "rss_kib": kib(roll, "Rss"),
            "pss_kib": kib(roll, "Pss"),
            "anon_kib": kib(f"/proc/{self.pid}/status", "RssAnon"),
            "file_kib": kib(f"/proc/{self.pid}/status", "RssFile"),
            "cpu_ticks": ticks1 - self.ticks0,
            "cpu_stat": (ticks1 - self.ticks0) / CLK_TCK / wall,
            "cpu_sched": (ns1 - self.ns0) / 1e9 / wall,
            "startup_cpu_s": self.ticks0 / CLK_TCK,
            "libraries": libs,
            "mappings": mappings(self.pid),
        }
        return self.res

    def stop(self):
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def mib(k):
    return f"{k / 1024:.2f} MiB"


def pct(x):
    return f"{x * 100:.3f}%"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oomless", default=os.path.join(repo, "build", "supervisor", "oomless"),
                    help="the supervisor under test (default build/supervisor/oomless)")
    ap.add_argument("--before", help="a baseline oomless binary to compare with")
    ap.add_argument("--baseline-rev", help="build the baseline from this commit (git archive, temp dir)")
    ap.add_argument("--seconds", type=float, default=30.0, help="measuring window (default 30)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before the window (default 3)")
    ap.add_argument("--top", type=int, default=12, help="mappings listed per binary (default 12)")
    ap.add_argument("--json", help="write the raw numbers here")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="oomless-footprint-")
    runs = []
    try:
        before = a.before
        if a.baseline_rev:
            print(f"building the baseline {a.baseline_rev} in {work} ...", file=sys.stderr, flush=True)
            before = build_baseline(repo, a.baseline_rev, work)
        if before:
            runs.append(Run("before", before, a.seconds, a.warmup, work))
        runs.append(Run("after", os.path.abspath(a.oomless), a.seconds, a.warmup, work))
        time.sleep(a.warmup)
        for r in runs:
            if not r.alive():
                sys.exit(f"{r.label}: oomless exited with {r.proc.returncode}, see {r.log.name}")
            r.begin()
        time.sleep(a.seconds)
        for r in runs:
            r.end()
    finally:
        for r in runs:
            r.stop()

    res = {r.label: r.res for r in runs}
    load = os.getloadavg()
    print(f"# oomless footprint, idle `sleep` workload, built-in policy, {a.seconds:.0f} s window "
          f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs)\n")
    cols = list(res)
    print("| measure | " + " | ".join(cols) + (" | after/before |" if "before" in res else " |"))
    print("|---|" + "---|" * len(cols) + ("---|" if "before" in res else ""))

    def row(name, key, fmt, ratio=True):
        cells = [fmt(res[c][key]) for c in cols]
        extra = ""
        if "before" in res:
            b, f = res["before"][key], res["after"][key]
            extra = f" {f / b:.2f}x |" if ratio and b else " - |"
        print(f"| {name} | " + " | ".join(cells) + " |" + extra)

    row("RSS (smaps_rollup Rss)", "rss_kib", mib)
    row("PSS (smaps_rollup Pss)", "pss_kib", mib)
    row("RssAnon", "anon_kib", mib)
    row("RssFile", "file_kib", mib)
    row("shared libraries mapped", "libraries", lambda l: str(len(l)), ratio=False)
    row("CPU, utime+stime (/proc/PID/stat)", "cpu_stat", pct)
    row("CPU, scheduler run time (schedstat)", "cpu_sched", pct)
    row("CPU ticks in the window", "cpu_ticks", str, ratio=False)
    row("CPU before the window (start-up), s", "startup_cpu_s", lambda x: f"{x:.2f}", ratio=False)
    after = res["after"]
    print(f"\nTargets (issue 9): RSS <= 4 MiB: {'PASS' if after['rss_kib'] <= RSS_TARGET_KIB else 'MISS'} "
          f"({mib(after['rss_kib'])}"
          + (f", over by {mib(after['rss_kib'] - RSS_TARGET_KIB)}" if after['rss_kib'] > RSS_TARGET_KIB else "")
          + f"); CPU <= 0.1% of one core: {'PASS' if after['cpu_sched'] <= CPU_TARGET else 'MISS'} "
          f"({pct(after['cpu_sched'])}).")
    for c in cols:
        m = sorted(res[c]["mappings"].items(), key=lambda kv: -kv[1][0])
        print(f"\n## {c}: largest mappings by Rss ({len(res[c]['libraries'])} libraries)\n")
        print("| mapping | Rss | Pss |")
        print("|---|---|---|")
        for name, (rss, pss) in m[: a.top]:
            print(f"| {os.path.basename(name)} | {rss} KiB | {pss} KiB |")
        rest = m[a.top:]
        if rest:
            print(f"| {len(rest)} others | {sum(v[0] for _, v in rest)} KiB | {sum(v[1] for _, v in rest)} KiB |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

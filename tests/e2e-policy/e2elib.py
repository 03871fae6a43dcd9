# SPDX-License-Identifier: MIT
"""Shared harness for the policy end-to-end tests: runs the real `oomless` binary on the real kernel
(cgroup v1/hybrid here, pure v2 inside tests/vm), reads `oomless status --json`, reads the leaf's
cgroup files for side effects, and on failure prints what the supervisor logged.

Every test script calls `main(body)`: body(ctx) raises Failure (or AssertionError) to fail; the
environment lacking what the test needs exits 77. Nothing here parses log text to decide a result.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 77


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def mib(n):
    return n * 1024 * 1024


def fmt_bytes(n):
    return "null" if n is None else f"{n / 1048576:.1f}M"


# ---- cgroup tier of this machine (independent of what oomless detects, so a wrong detection shows) ----

def _mounts():
    with open("/proc/self/mounts") as f:
        return [l.split() for l in f]


def host_tier():
    """'v2' when /sys/fs/cgroup is cgroup2 with the memory controller, 'v1' when a writable v1 memory
    hierarchy holds our own cgroup, else None."""
    for dev, mnt, fstype, opts, *_ in _mounts():
        if mnt == "/sys/fs/cgroup" and fstype == "cgroup2":
            try:
                with open("/sys/fs/cgroup/cgroup.controllers") as f:
                    if "memory" in f.read().split():
                        return "v2"
            except OSError:
                pass
    own = own_v1_memory_dir()
    if own and os.access(own, os.W_OK):
        return "v1"
    return None


def _own_dir(fstype, pick):
    """Our own cgroup's directory on the last mount of fstype, from the /proc/self/cgroup line pick()
    accepts (hierarchy id, controllers)."""
    mnt = None
    for dev, m, fs, opts, *_ in _mounts():
        if fs == fstype and (fstype != "cgroup" or "memory" in opts.split(",")):
            mnt = m
    if not mnt:
        return None
    with open("/proc/self/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            if pick(hid, ctrls.split(",")):
                return os.path.normpath(mnt + path)
    return None


def own_v1_memory_dir():
    return _own_dir("cgroup", lambda hid, ctrls: "memory" in ctrls)


def own_v2_dir():
    return _own_dir("cgroup2", lambda hid, ctrls: hid == "0")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def read_keyed(path):
    """'key value' lines (memory.events, memory.oom_control, memory.stat) as a dict of ints."""
    txt = read_file(path)
    if txt is None:
        return None
    out = {}
    for line in txt.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def leaf_oom_kills(leaf):
    """The kernel's own OOM-kill count for a leaf, read from the cgroup files (not from oomless)."""
    if os.path.exists(os.path.join(leaf, "memory.events")):
        ev = read_keyed(os.path.join(leaf, "memory.events")) or {}
        return ev.get("oom_kill", 0)
    oc = read_keyed(os.path.join(leaf, "memory.oom_control"))
    if oc is None:
        return None
    return oc.get("oom_kill", 0)


LIMIT_FILES = ["memory.max", "memory.high", "memory.swap.max", "memory.low", "memory.min",
               "memory.oom.group", "memory.limit_in_bytes", "memory.soft_limit_in_bytes",
               "memory.memsw.limit_in_bytes", "memory.swappiness"]


def limit_snapshot(leaf):
    snap = {}
    for name in LIMIT_FILES:
        v = read_file(os.path.join(leaf, name))
        if v is not None:
            snap[name] = v.strip()
    return snap


# ---- the supervisor under test ----

class Oomless:
    """One `oomless run` (or `oomless check`) with its own runtime dir, logs and status reads."""

    def __init__(self, ctx, name, run_args, cmd, env=None):
        self.ctx, self.name = ctx, name
        self.runtime = os.path.join(ctx.work, f"run-{name}")
        os.makedirs(self.runtime, exist_ok=True)
        self.env = dict(os.environ)
        self.env["OOMLESS_RUNTIME_DIR"] = self.runtime
        if env:
            self.env.update(env)
        self.argv = [ctx.oomless, "run", *run_args, "--", *cmd]
        self.log_path = os.path.join(ctx.work, f"{name}.log")
        self.proc = None
        self.rc = None
        self.leaf = None
        self.t_start = None
        self.t_exit = None
        self.cli_seen = False
        ctx.supervisors.append(self)

    def start(self):
        self.logf = open(self.log_path, "w")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def status(self, cli=None):
        """The status document, parsed; None while the supervisor is not (yet) serving.

        The first answer, and any read with cli=True, comes from `oomless status --pid P --json`, the
        interface users script against. Other reads take the same document straight from the status
        socket (<runtime>/<pid>/status.sock, read to EOF): a program start costs 30-100ms here and
        seconds under TCG, too slow for polling several times per sampling interval."""
        if cli is None:
            cli = not self.cli_seen
        timeout = 5.0 if self.ctx.slack == 0 else 60.0
        if not cli:
            st = self._status_socket(timeout)
        else:
            try:
                r = subprocess.run([self.ctx.oomless, "status", "--pid", str(self.pid), "--json"],
                                   env=self.env, capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise Failure(f"`oomless status --json` took more than {timeout}s")
            if r.returncode != 0:
                return None
            try:
                st = json.loads(r.stdout)
            except ValueError as e:
                raise Failure(f"`oomless status --json` printed invalid JSON ({e}): {r.stdout[:400]!r}")
            check(st.get("version") == 1 and st.get("supervisor_pid") == self.pid,
                  f"`oomless status --pid {self.pid} --json` answered for another instance: {r.stdout[:200]!r}")
            self.cli_seen = True
        if st is not None and st.get("leaf") and not self.leaf:
            self.leaf = st["leaf"]
        return st

    def _status_socket(self, timeout):
        # <runtime>/<pid>-<nonce>/ (common/instance.c)
        names = [n for n in (os.listdir(self.runtime) if os.path.isdir(self.runtime) else [])
                 if n.split("-")[0] == str(self.pid)]
        if not names:
            return None
        path = os.path.join(self.runtime, names[0], "status.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as sk:
            sk.settimeout(timeout)
            try:
                sk.connect(path)
            except (FileNotFoundError, ConnectionRefusedError):
                return None
            chunks = []
            try:
                while True:
                    b = sk.recv(65536)
                    if not b:
                        break
                    chunks.append(b)
            except socket.timeout:
                raise Failure(f"{path} did not answer within {timeout}s")
            except ConnectionResetError:
                return None
        data = b"".join(chunks)
        try:
            return json.loads(data)
        except ValueError as e:
            raise Failure(f"{path} sent invalid JSON ({e}): {data[:400]!r}")

    def wait_status(self, pred=lambda st: True, timeout=10.0, what="a status", interval=0.05):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.poll() is not None:
                raise Failure(f"oomless exited with {self.rc} while waiting for {what}; last status: "
                              f"{json.dumps(last)}")
            st = self.status()
            if st is not None:
                last = st
                if pred(st):
                    return st
            time.sleep(interval)
        raise Failure(f"no {what} within {timeout}s; last status: {json.dumps(last)}")

    def wait_file(self, path, timeout, interval=0.02):
        """Waits until path exists (a hook's output, say) while oomless keeps running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path):
                return time.monotonic()
            check(self.poll() is None, f"oomless exited with {self.rc} before {os.path.basename(path)} appeared")
            time.sleep(interval)
        raise Failure(f"{os.path.basename(path)} was not written within {timeout}s; status: {self.status()}")

    def statuses(self, timeout, what):
        """The status documents, as fast as they come, for timeout seconds; oomless must keep running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            check(self.poll() is None, f"oomless exited with {self.rc} {what}")
            if st is not None:
                yield st

    def poll(self):
        if self.rc is None and self.proc is not None:
            rc = self.proc.poll()
            if rc is not None:
                self.rc, self.t_exit = rc, time.monotonic()
        return self.rc

    def wait(self, timeout):
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"oomless did not exit within {timeout}s")
        if self.t_exit is None:
            self.t_exit = time.monotonic()
        return self.rc

    def signal(self, sig):
        if self.poll() is None:
            os.kill(self.pid, sig)

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit status."""
        if self.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            self.wait(timeout)
        return self.rc

    def teardown(self):
        problems = []
        if self.proc is not None and self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                problems.append("oomless ignored SIGTERM for 15s; killed its session")
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
            self.poll()
        if self.leaf and os.path.isdir(self.leaf):
            problems.append(f"leaf {self.leaf} left behind after oomless exited")
            remove_cgroup(self.leaf)
        if hasattr(self, "logf"):
            self.logf.close()
        return problems

    def log_text(self):
        return read_file(self.log_path) or ""


def remove_cgroup(path):
    """Kill what we started inside a cgroup we (or our oomless) created, then rmdir it. Only ever
    called on paths below our own cgroup."""
    own = [d for d in (own_v1_memory_dir(), own_v2_dir()) if d]
    if not any(os.path.commonpath([path, d]) == d and path != d for d in own):
        return
    for _ in range(50):
        procs = (read_file(os.path.join(path, "cgroup.procs")) or "").split()
        for p in procs:
            try:
                os.kill(int(p), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.1)


class Ctx:
    def __init__(self, args):
        self.oomless = os.path.abspath(args.oomless)
        self.balloon = os.path.abspath(args.balloon) if args.balloon else None
        self.srcdir = os.path.dirname(os.path.abspath(__file__))
        self.python = sys.executable or "/usr/bin/python3"
        self.work = tempfile.mkdtemp(prefix="e2epolicy-")
        os.chmod(self.work, 0o755)
        self.supervisors = []
        self.children = []  # helper processes (HTTP servers)
        self.cgroups = []   # cgroups this test created itself
        self.tier = host_tier()
        self.notes = []
        # Extra seconds allowed on timing bounds: the pure-v2 suite runs under TCG emulation (vm-run
        # sets VM_RUN=1), where every program start costs 40-60ms and CPU work is ~26x slower.
        self.slack = 1.0 if os.environ.get("VM_RUN") == "1" else 0.0
        # And on a machine overloaded by other jobs (load above twice the CPUs), scheduling delays of
        # a few hundred ms are normal: widen the upper bounds. Lower bounds never widen.
        if os.getloadavg()[0] > 2 * (os.cpu_count() or 1):
            self.slack += 0.5

    def note(self, msg):
        self.notes.append(msg)
        print(msg, flush=True)

    def path(self, name):
        return os.path.join(self.work, name)

    def write_policy(self, name, obj):
        p = self.path(name)
        with open(p, "w") as f:
            if isinstance(obj, str):
                f.write(obj)
            else:
                json.dump(obj, f, indent=2)
        return p

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        self.children.append(p)
        return p

    def require_tier(self):
        if self.tier is None:
            raise Skip("no writable cgroup memory controller (neither pure v2 nor our own v1 memory "
                       "cgroup is writable)")
        return self.tier

    def teardown(self):
        problems = []
        for s in self.supervisors:
            problems += s.teardown()
        for p in self.children:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        for cg in reversed(self.cgroups):
            remove_cgroup(cg)
        return problems


def start_cache_app(ctx, name, run_args, app_args):
    """cache-app (built next to balloon) under examples/policies/self-healing.json, started and running."""
    ctx.require_tier()
    cache_app = os.path.join(os.path.dirname(ctx.balloon), "cache-app")
    check(os.access(cache_app, os.X_OK), f"no cache-app next to balloon: {cache_app}")
    pol = os.path.join(os.path.dirname(ctx.srcdir), "..", "examples", "policies", "self-healing.json")
    s = Oomless(ctx, name, ["--policy", pol] + run_args, [cache_app] + app_args).start()
    s.wait_status(lambda st: st["child"]["pid"] is not None, what="a running child")
    return s


def budget_sample(s):
    """(status, its policy.budget, memory as a fraction of the limit), from a running supervisor."""
    st = s.status()
    check(st is not None, "the supervisor stopped serving status")
    b = st["policy"].get("budget")
    check(b is not None, f"no policy.budget in status: {st['policy']}")
    lim = st["memory"]["limit"]
    return st, b, st["memory"]["current"] / lim if lim else 0


def check_log(s, *lines):
    """Each of lines stands in the supervisor's log."""
    log = s.log_text()
    for line in lines:
        check(line in log, f"the log has no {line!r} line")


def make_cgroup(ctx, name, memory_max):
    """A cgroup of our own below our own cgroup with a hard memory limit and no swap, for runs that
    prove what the kernel does without oomless. Returns (path, procs file)."""
    v2 = ctx.tier == "v2"
    path = os.path.join(own_v2_dir() if v2 else own_v1_memory_dir(), name)
    os.mkdir(path)
    ctx.cgroups.append(path)
    limits = {"memory.max": memory_max, "memory.swap.max": 0} if v2 else {"memory.limit_in_bytes": memory_max}
    for fname, value in limits.items():
        fpath = os.path.join(path, fname)
        if fname == "memory.swap.max" and not os.path.exists(fpath):
            continue
        with open(fpath, "w") as f:
            f.write(str(value))
    return path


def dump_failure(ctx, e):
    print(f"FAIL: {e}", flush=True)
    for s in ctx.supervisors:
        print(f"---- {s.name}: {' '.join(s.argv)} (exit {s.rc}) ----")
        txt = s.log_text()
        lines = txt.splitlines()
        if len(lines) > 120:
            print(f"[... {len(lines) - 120} earlier lines ...]")
        print("\n".join(lines[-120:]))
    sys.stdout.flush()


def main(body, need_balloon=True):
    ap = argparse.ArgumentParser()
    ap.add_argument("--oomless", required=True)
    ap.add_argument("--balloon")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if need_balloon and not args.balloon:
        ap.error("--balloon is required")
    ctx = Ctx(args)
    rc = 0
    try:
        body(ctx)
        print("PASS", flush=True)
    except Skip as e:
        print(f"SKIP: {e}", flush=True)
        rc = SKIP
    except (Failure, AssertionError) as e:
        dump_failure(ctx, e)
        rc = 1
    except Exception as e:  # a harness bug is still a failure, with its trace
        traceback.print_exc()
        dump_failure(ctx, e)
        rc = 1
    finally:
        problems = ctx.teardown()
        for p in problems:
            print(f"FAIL (teardown): {p}", flush=True)
        if problems and rc in (0, SKIP):
            rc = 1
        if args.keep or rc == 1:
            print(f"work directory kept: {ctx.work}")
        else:
            shutil.rmtree(ctx.work, ignore_errors=True)
    sys.exit(rc)


# ---- policy builders: the only place that knows the policy language's spelling (docs/policy.md) ----

def policy(name, stages, interval="100ms", restart=None, **extra):
    p = {"version": 1, "name": name, "sampling_interval": interval, "stages": stages}
    if restart is not None:
        p["restart"] = restart
    p.update(extra)
    return p


def stage(name, enter, exit, on_enter=(), on_exit=(), while_=(), max_dwell=None, on_max_dwell=None,
          repeat=None, cooldown=None):
    s = {"name": name, "enter": enter, "exit": exit}
    if on_enter:
        s["on_enter"] = list(on_enter)
    if on_exit:
        s["on_exit"] = list(on_exit)
    if while_:
        s["while"] = list(while_)
    if max_dwell is not None:
        s["max_dwell"] = max_dwell
    if on_max_dwell is not None:
        s["on_max_dwell"] = on_max_dwell
    if repeat is not None:
        s["repeat"] = repeat
    if cooldown is not None:
        s["cooldown"] = cooldown
    return s


def cond(*cmps, hold=None):
    c = {"all": list(cmps)}
    if hold is not None:
        c["for"] = hold
    return c


def mem_ge(size):
    return {"memory": f">= {size}"}


def mem_lt(size):
    return {"memory": f"< {size}"}


def restart_policy(mode, initial="1s", maximum="30s", reset_after="60s", max_restarts=5, window="5m"):
    return {"mode": mode, "initial_delay": initial, "max_delay": maximum, "reset_after": reset_after,
            "max_restarts": max_restarts, "window": window}


def a_exec(argv, timeout="30s"):
    return {"action": "exec", "argv": list(argv), "timeout": timeout}


def a_webhook(url, timeout="1s", retries=0, backoff="200ms"):
    return {"action": "webhook", "url": url, "timeout": timeout, "retries": retries, "backoff": backoff}


def a_notify():
    return {"action": "notify"}


def a_throttle(high):
    return {"action": "throttle", "memory_high": high}


def a_kill(scope="leaf", sig="SIGKILL"):
    return {"action": "kill", "scope": scope, "signal": sig}


def a_restart(grace="2s", sig="SIGTERM"):
    return {"action": "restart", "stop_signal": sig, "grace": grace, "timeout": "10s"}


def a_signal(sig="SIGUSR1", target="main"):
    return {"action": "signal", "signal": sig, "target": target}


def hook_env_argv(path):
    """An exec hook that writes its whole environment to path (atomically, one file per run)."""
    return ["/bin/sh", "-c", f'env > "{path}.tmp.$$" && mv "{path}.tmp.$$" "{path}"']


def hook_log_argv(path, tag):
    """An exec hook that appends one line 'tag monotonic-seconds stage current' to path."""
    return ["/bin/sh", "-c",
            f'echo "{tag} $(cut -d" " -f1 /proc/uptime) ${{OOMLESS_EVENT:-?}} ${{OOMLESS_STAGE:-?}} ${{OOMLESS_MEMORY_CURRENT:-?}}"'
            f' >> "{path}"']


# ---- the balloon workload (examples/workloads/balloon.c) ----

def balloon_cmd(ctx, *args):
    return [ctx.balloon, "--quiet", *args]


def balloon_ramp(ctx, rate, peak, hold, chunk=None):
    """A workload whose memory rises at `rate` up to `peak`, holds `hold` seconds, then falls in steps
    of `chunk` (one per chunk/rate seconds) back to nothing, and exits 0 two seconds later. balloon
    frees all it holds at once, so the ramp is a chain of balloons, each growing `chunk` at `rate`,
    started one after the other and stopped by the shell in reverse order (so a slow start under
    load cannot reorder the way down)."""
    chunk = chunk or mib(16)
    n = peak // chunk
    step_s = chunk / rate
    script = f"""
pids=
i=0
while [ $i -lt {n} ]; do
        "$0" --quiet --rate {rate} --step 256K --max {chunk} --hold inf &
        pids="$! $pids"
        sleep {step_s:.3f}
        i=$((i + 1))
done
sleep {hold:.3f}
for p in $pids; do
        kill $p
        wait $p || :
        sleep {step_s:.3f}
done
sleep 2
"""
    return ["/bin/sh", "-c", script, ctx.balloon]

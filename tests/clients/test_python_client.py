# SPDX-License-Identifier: MIT
"""contrib/python/oomless.py against pages this test writes (tests/clients/ctlpage.py plays the
supervisor): defaults without a page, reads and callbacks, hostile pages (garbage, an odd sequence
forever, truncation, wrong magic or version), the version rules both ways, and the example app."""

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..", "contrib", "python")
sys.path.insert(0, HERE)
sys.path.insert(0, SRC)

import ctlpage  # noqa: E402
import oomless  # noqa: E402

NORMAL = oomless.NORMAL


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="oomless-py-")
        self.path = os.path.join(self.dir.name, "control")

    def tearDown(self):
        self.dir.cleanup()

    def file_page(self, **kw):
        p = ctlpage.Page.file(self.path, **kw)
        self.addCleanup(p.close)
        return p

    def control(self, environ):
        c = oomless.Control.from_environ(environ)
        self.addCleanup(c.close)
        return c


class Defaults(Base):
    def test_no_supervisor(self):
        c = self.control({})
        self.assertFalse(c.attached)
        self.assertEqual(c.read(), NORMAL)
        self.assertEqual((c.stage(), c.budget(), c.weight(), c.ready()), (0, 1000, 100, True))

    def test_module_functions_without_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OOMLESS_CONTROL")}
        code = "import oomless; print(oomless.stage(), oomless.budget(), oomless.weight(), oomless.ready())"
        out = subprocess.run([sys.executable, "-c", code], env=dict(env, PYTHONPATH=SRC), capture_output=True,
                             text=True, timeout=30)
        self.assertEqual((out.returncode, out.stdout, out.stderr), (0, "0 1000 100 True\n", ""))

    def test_missing_file(self):
        self.assertEqual(self.control({"OOMLESS_CONTROL": self.path + ".none"}).read(), NORMAL)

    def test_bad_fd_does_not_fall_back_to_the_path(self):
        p = self.file_page()
        p.write(stage=2, budget=400)
        unsealed = os.open(self.path, os.O_RDONLY)
        self.addCleanup(os.close, unsealed)
        for fdv in ("x", "999", str(unsealed)):
            c = self.control({"OOMLESS_CONTROL_FD": fdv, "OOMLESS_CONTROL": self.path})
            self.assertFalse(c.attached, fdv)
            self.assertEqual(c.read(), NORMAL)


class Reads(Base):
    def test_file_page(self):
        p = self.file_page()
        p.write(stage=1, budget=400, weight=20, flags=ctlpage.SUP_F_BUDGET | ctlpage.SUP_F_NOT_READY)
        c = self.control({"OOMLESS_CONTROL": self.path})
        self.assertTrue(c.attached, c.why)
        self.assertEqual(c.read(), oomless.State(1, 3, 400, 20, False, False, True))
        p.write(stage=0, budget=1000, weight=100, flags=ctlpage.SUP_F_BUDGET | ctlpage.SUP_F_DRY_RUN)
        self.assertEqual(c.read(), oomless.State(0, 3, 1000, 100, True, True, True))

    def test_memfd_page_by_fd(self):
        p = ctlpage.Page.memfd()
        self.addCleanup(p.close)
        p.write(stage=2, budget=0, weight=0)
        c = self.control({"OOMLESS_CONTROL_FD": str(p.fd), "OOMLESS_CONTROL": "/nonexistent"})
        self.assertTrue(c.attached, c.why)
        self.assertEqual((c.stage(), c.budget(), c.weight(), c.ready()), (2, 0, 0, True))

    def test_unsealed_memfd_refused(self):
        p = ctlpage.Page.memfd(seal=False)
        self.addCleanup(p.close)
        p.write(budget=300)
        c = self.control({"OOMLESS_CONTROL_FD": str(p.fd)})
        self.assertFalse(c.attached)
        self.assertIn("sealed", c.why)

    def test_watch_calls_back_on_change(self):
        p = self.file_page()
        p.write(budget=1000)
        c = self.control({"OOMLESS_CONTROL": self.path})
        seen, cond = [], threading.Condition()

        def cb(st, prev):
            with cond:
                seen.append((st.budget, st.weight, None if prev is None else prev.budget))
                cond.notify_all()

        w = c.watch(cb, interval=0.01)
        self.addCleanup(w.stop)

        def wait_for(n):
            with cond:
                self.assertTrue(cond.wait_for(lambda: len(seen) >= n, timeout=5), seen)

        wait_for(1)
        p.write(budget=400, weight=20)
        wait_for(2)
        p.write(budget=550, weight=20)
        wait_for(3)
        p.write(budget=1000, weight=100)
        wait_for(4)
        self.assertEqual(seen, [(1000, 100, None), (400, 20, 1000), (550, 20, 400), (1000, 100, 550)])
        w.stop()
        self.assertFalse(w.running)
        p.write(budget=100)
        time.sleep(0.1)
        self.assertEqual(len(seen), 4)

    def test_watch_survives_a_failing_callback(self):
        p = self.file_page()
        p.write(budget=1000)
        c = self.control({"OOMLESS_CONTROL": self.path})
        calls = []

        def cb(st, prev):
            calls.append(st.budget)
            raise RuntimeError("the program's bug")

        import contextlib
        import io

        with contextlib.redirect_stderr(io.StringIO()) as err:
            w = c.watch(cb, interval=0.01)
            time.sleep(0.1)
            p.write(budget=500)
            deadline = time.monotonic() + 5
            while len(calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            w.stop()
        self.assertEqual(calls, [1000, 500])
        self.assertIn("the program's bug", err.getvalue())

    def test_reader_never_sees_a_torn_snapshot(self):
        p = self.file_page()
        p.write(budget=0, weight=0)
        c = self.control({"OOMLESS_CONTROL": self.path})
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                i = (i + 1) % 1001
                p.write(stage=i, budget=i, weight=i // 10)

        t = threading.Thread(target=writer)
        t.start()
        try:
            good = 0
            for _ in range(3000):
                st = c.read()
                if st == NORMAL:
                    continue  # no settled snapshot within the retries, and none before: the defaults
                good += 1
                self.assertEqual((st.stage, st.weight), (st.budget, st.budget // 10), st)
        finally:
            stop.set()
            t.join()
        self.assertGreater(good, 100)


class Hostile(Base):
    def test_garbage(self):
        p = self.file_page()
        for seed in (-1, -1, 3, 11):
            p.garbage(seed)
            c = self.control({"OOMLESS_CONTROL": self.path})
            self.assertEqual(c.read(), NORMAL)

    def test_garbage_under_a_valid_header_is_clamped(self):
        p = self.file_page()
        c = self.control({"OOMLESS_CONTROL": self.path})
        self.assertTrue(c.attached)
        rnd = random.Random(5)
        for _ in range(200):
            p.garbage(rnd.randrange(1 << 30))
            p.set_header()
            st = c.read()  # the sequence may be odd: then the last good one
            self.assertTrue(0 <= st.budget <= 1000 and 0 <= st.weight <= 100 and 0 <= st.stage <= 1000, st)

    def test_odd_sequence_forever(self):
        p = self.file_page()
        p.write(stage=1, budget=400, weight=20)
        c = self.control({"OOMLESS_CONTROL": self.path})
        self.assertEqual(c.budget(), 400)
        p.begin()  # a writer that died mid-update
        t0 = time.monotonic()
        for _ in range(20):
            self.assertEqual(c.read().budget, 400)  # the last good snapshot
        self.assertLess(time.monotonic() - t0, 2.0)
        # A reader that never saw a good snapshot gets the defaults, as quickly.
        c2 = self.control({"OOMLESS_CONTROL": self.path})
        t0 = time.monotonic()
        self.assertEqual(c2.read(), NORMAL)
        self.assertLess(time.monotonic() - t0, 1.0)

    def test_truncated_file(self):
        p = self.file_page()
        p.write(stage=2, budget=300, weight=30)
        c = self.control({"OOMLESS_CONTROL": self.path})
        w = c.watch(lambda st, prev: None, interval=0.005)
        self.addCleanup(w.stop)
        self.assertEqual(c.budget(), 300)
        for size in (0, 7, 64, 100, 180):
            os.truncate(self.path, size)
            self.assertEqual(c.read(), NORMAL, size)
        time.sleep(0.05)
        self.assertTrue(w.running)
        # Put back by the supervisor: read again (pread needs no remapping).
        os.truncate(self.path, ctlpage.PAGE_SIZE)
        p._fill(2, ctlpage.MAGIC, ctlpage.STRUCT_SIZE)
        p.write(budget=700)
        self.assertEqual(c.budget(), 700)

    def test_truncated_before_open(self):
        self.file_page()
        os.truncate(self.path, 10)
        c = self.control({"OOMLESS_CONTROL": self.path})
        self.assertFalse(c.attached)
        self.assertEqual(c.read(), NORMAL)

    def test_wrong_magic_version_size(self):
        p = self.file_page()
        p.write(stage=1, budget=400)
        for hdr in (dict(magic=0x1234), dict(version=0), dict(size=12), dict(size=8192)):
            p.set_header(**{**dict(magic=ctlpage.MAGIC, version=2, size=ctlpage.STRUCT_SIZE), **hdr})
            self.assertEqual(self.control({"OOMLESS_CONTROL": self.path}).read(), NORMAL, hdr)
        # Overwritten while attached: the page is gone.
        p.set_header()
        c = self.control({"OOMLESS_CONTROL": self.path})
        self.assertEqual(c.budget(), 400)
        p.set_header(magic=0)
        self.assertEqual(c.read(), NORMAL)

    def test_closed_fd(self):
        p = self.file_page()
        p.write(budget=400)
        c = self.control({"OOMLESS_CONTROL": self.path})
        os.close(c._fd)  # the program closed every fd it did not know
        self.assertEqual(c.read(), NORMAL)
        c._fd = -1


class Versions(Base):
    def test_version1_page(self):
        """A version 1 supervisor: the new fields are not there (junk in them is ignored)."""
        p = self.file_page(version=1)
        p.write(stage=2, budget=123, weight=7, flags=ctlpage.SUP_F_BUDGET | ctlpage.SUP_F_NOT_READY)
        st = self.control({"OOMLESS_CONTROL": self.path}).read()
        self.assertEqual(st, oomless.State(2, 3, 1000, 100, True, False, True))

    def test_version2_without_budget_flag(self):
        """A half not yet published must not read as 'shed everything'."""
        p = self.file_page()
        p.write(stage=1, budget=0, weight=0, flags=0)
        self.assertEqual(self.control({"OOMLESS_CONTROL": self.path}).read()[:5], (1, 3, 1000, 100, True))

    def test_future_version3_page(self):
        """A newer supervisor: the fields this client knows keep their offsets and meaning."""
        p = self.file_page(version=3, size=1024)
        os.pwrite(p.fd, b"\xff" * 64, ctlpage.SUP_OFF + 48)  # fields of version 3
        p.write(stage=1, budget=250, weight=50, flags=ctlpage.SUP_F_BUDGET | ctlpage.SUP_F_NOT_READY | 1 << 20)
        self.assertEqual(self.control({"OOMLESS_CONTROL": self.path}).read(),
                         oomless.State(1, 3, 250, 50, False, False, True))

    def test_out_of_range_clamped(self):
        p = self.file_page()
        p.write(stage=5000, budget=5000, weight=300)
        self.assertEqual(self.control({"OOMLESS_CONTROL": self.path}).read()[:4], (1000, 3, 1000, 100))


class Example(Base):
    def test_example_follows_the_budget(self):
        p = self.file_page()
        p.write(budget=1000)
        env = dict(os.environ, OOMLESS_CONTROL=self.path)
        env.pop("OOMLESS_CONTROL_FD", None)
        proc = subprocess.Popen([sys.executable, os.path.join(SRC, "example.py"), "--normal", "1000", "--seconds",
                                 "30", "--interval", "0.02"], env=env, stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)

        def expect(fragment):
            while True:
                line = proc.stdout.readline()
                self.assertTrue(line, f"example ended before {fragment!r}")
                if fragment in line:
                    return line

        expect("supervised: True")
        expect("budget 1000 weight 100 ready True: cache capacity 1000")
        p.write(stage=1, budget=400, weight=20, flags=ctlpage.SUP_F_BUDGET | ctlpage.SUP_F_NOT_READY)
        line = expect("budget 400 weight 20 ready False: cache capacity 400 ")
        self.assertLessEqual(int(line.rsplit("holds ", 1)[1].rstrip(")\n")), 400)
        for b in (550, 700, 850, 1000):
            p.write(stage=0, budget=b, weight=100)
            expect(f"budget {b} weight 100 ready True: cache capacity {b} ")


if __name__ == "__main__":
    unittest.main()

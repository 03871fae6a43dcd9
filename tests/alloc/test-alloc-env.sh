#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# liboomless's environment (issue 8 §7): a bad OOMLESS_* value is reported once per process tree.
# A python3 start under LD_PRELOAD that runs a python child, a shell and a shell's child, all with
# OOMLESS_HEAP_CAP=banana, prints exactly one line, naming the default in force; a child given a
# different bad value reports that one only; a size in the CLI's forms (1.5G) is taken silently.
# Costs about 1 s.
# Usage: test-alloc-env.sh /path/to/liboomless.so
set -u
lib=$1
fail() { echo "FAIL: $*"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

err=$(LD_PRELOAD=$lib OOMLESS_HEAP_CAP=banana python3 -c '
import subprocess, sys
subprocess.run([sys.executable, "-c", "pass"], check=True)
subprocess.run(["sh", "-c", "sh -c true; cat /dev/null"], check=True)
' 2>&1 >/dev/null)
echo "python start with OOMLESS_HEAP_CAP=banana:"
echo "$err" | sed 's/^/  | /'
n=$(printf '%s\n' "$err" | grep -c 'liboomless: ignoring OOMLESS_HEAP_CAP="banana"')
[ "$n" -eq 1 ] || fail "expected one line for the process tree, got $n"
printf '%s\n' "$err" | grep -q 'using the default cap, now [0-9]*M (the memory limit less' ||
        fail "the line does not name the default in force"
[ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] || fail "other output: $err"

# A descendant given another bad value reports that one only.
err=$(LD_PRELOAD=$lib OOMLESS_HEAP_CAP=banana python3 -c '
import os, subprocess, sys
env = dict(os.environ, OOMLESS_SCAVENGE_DELAY="soon")
subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
' 2>&1 >/dev/null)
echo "child with another bad value:"
echo "$err" | sed 's/^/  | /'
[ "$(printf '%s\n' "$err" | grep -c 'OOMLESS_HEAP_CAP="banana"')" -eq 1 ] ||
        fail "OOMLESS_HEAP_CAP=banana should be reported once for the tree"
[ "$(printf '%s\n' "$err" | grep -c 'OOMLESS_SCAVENGE_DELAY="soon".*using 250ms')" -eq 1 ] ||
        fail "expected one line for OOMLESS_SCAVENGE_DELAY naming its default 250ms"

# Sizes in the CLI's forms are taken as they are.
for v in 1.5G 512M 64k 2GiB; do
        err=$(LD_PRELOAD=$lib OOMLESS_BACKGROUND_MIN=$v sh -c true 2>&1)
        [ -z "$err" ] || fail "OOMLESS_BACKGROUND_MIN=$v: $err"
done
err=$(LD_PRELOAD=$lib OOMLESS_BACKGROUND_MIN=1.5 sh -c true 2>&1)
printf '%s\n' "$err" | grep -q 'OOMLESS_BACKGROUND_MIN="1.5".*using 16M' || fail "1.5 (fractional bytes) accepted: $err"
echo "ok"

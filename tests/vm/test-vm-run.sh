#!/usr/bin/env bash
# test-vm-run.sh VM_RUN: checks the runner's own contract from the host side, in three boots: the
# job's arguments, environment, working directory, stdout, stderr and exit status pass through; a
# timeout gives 124; a guest that cannot boot gives 125 with its console; nothing is left behind.
set -uo pipefail

vm_run=$1
fails=0
check() { # $1 description, then a command that must succeed
        local what=$1
        shift
        if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}

t=$(mktemp -d "${TMPDIR:-/tmp}/test-vm-run.XXXXXX")
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
# A private TMPDIR makes "nothing left behind" checkable while other runs may be going on.
mkdir tmp && export TMPDIR=$t/tmp

# 1. Plumbing: quoting, environment, cwd shared read-write, separate streams, exit status.
export VM_RUN_PROBE='two  spaces $dollar "quote"'
job='printf "<%s>" "$@"; echo; echo "$VM_RUN_PROBE"; echo "vm=$OOMLESS_VM"; pwd -P;
     cat /proc/self/cgroup; cat /sys/fs/cgroup/cgroup.subtree_control; id -u;
     echo written-in-guest > from-guest; echo to-stderr >&2; exit 42'
"$vm_run" --timeout 300 -- bash -c "$job" job 'a b' '' "c'd" >out 2>err
rc=$?
check "exit status passes through (got $rc)" test $rc = 42
check "arguments keep their quoting" grep -qxF "<a b><><c'd>" out
check "environment passes through" grep -qxF "$VM_RUN_PROBE" out
check "OOMLESS_VM=1 in the guest" grep -qxF vm=1 out
check "same working directory" grep -qxF "$t" out
check "job in the root cgroup" grep -qxF 0::/ out
check "every controller enabled at the root" grep -qE '^cpuset cpu io memory( |$)' out
check "job runs as root" grep -qx 0 out
check "working directory written through" grep -qxF written-in-guest from-guest
check "stderr kept apart from stdout" sh -c 'grep -qxF to-stderr err && ! grep -q to-stderr out'
[ $fails = 0 ] || { echo "--- stdout:"; cat out; echo "--- stderr:"; cat err; }

# 2. A job that outlives --timeout: 124, and the guest is stopped.
start=$(date +%s)
"$vm_run" --timeout 15 -- sleep 1000 >out 2>err
rc=$?
check "timeout gives 124 (got $rc)" test $rc = 124
check "timeout stops the guest promptly ($(($(date +%s) - start))s)" test $(($(date +%s) - start)) -lt 60

# 3. A guest that cannot start its init: 125 and the console on stderr.
"$vm_run" --timeout 120 --append rdinit=/does-not-exist -- true >out 2>err
rc=$?
check "boot failure gives 125 (got $rc)" test $rc = 125
check "boot failure shows the guest console" grep -q 'Kernel panic' err

# 4. Usage errors are not VM failures.
"$vm_run" --cpus zero -- true >out 2>err
rc=$?
check "bad option gives 2 (got $rc)" test $rc = 2

# Nothing left: work directories, virtiofsd, qemu.
check "no work directory left" test -z "$(ls -A "$TMPDIR")"
none_running() { ! pgrep -f "$TMPDIR/" >/dev/null; }
check "no qemu or virtiofsd left" none_running
echo "test-vm-run: $fails failed"
[ $fails = 0 ]

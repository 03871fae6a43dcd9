#!/usr/bin/env bash
# The pid-reuse check on leftovers (code review, finding 2b). An instance's runtime directory
# "<pid>-<nonce>" and its leaves "oomless-<pid>-<nonce>" are told apart by their lock, not by the pid
# alone (common/instance.c, instance_may_be_alive()): an unlocked one whose pid now belongs to a
# process younger than the directory was not made by that process, so it is a dead instance's and is
# removed; the unrelated process is left alone. An unlocked one whose pid is an older live process
# (an instance between mkdir and flock, maybe) is left.
#
# Inside a new pid namespace (pids are predictable there, and ns_last_pid hands out the pid wanted):
#   1. make "$RUN/N-0badc0de" and "oomless-N-0badc0de" in each of our cgroup parents, for a pid N
#      nobody has yet, and "$RUN/1-0badf00d" and "oomless-1-0badf00d" for pid 1 (this namespace's
#      shell, older than them);
#   2. 4 s later (more than the 2 s slack of the start-time comparison) start `sleep` as pid N;
#   3. `oomless run -- true`: its sweep removes N's directory and leaves, logs "which is gone", and
#      `sleep` N still runs; pid 1's are left and not mentioned.
# Costs about 6 s.
source "$(dirname "$0")/lib.sh"
[[ $(id -u) -eq 0 ]] && unshare -pf --mount-proc true 2>/dev/null || skip "needs root and unshare -pf --mount-proc"

run=$OOMLESS_RUNTIME_DIR
mkdir -p "$run"
cgdirs=$(own_cgroup_dirs | tr '\n' ' ')
for d in $cgdirs; do
        E2E_CGROUP_CREATED+=" $d/oomless-1-0badf00d"
done

cat >"$E2E_TMP/inner.sh" <<'SH'
set -eu
n=$(($(cat /proc/sys/kernel/ns_last_pid) + 100))
echo "$n" >"$E2E_TMP/n"
mkdir "$RUN/$n-0badc0de" "$RUN/1-0badf00d"
# As an instance makes them: mkdir, then its times set (cg_lock_leaf(); kernfs would otherwise stamp
# the leaf when it is first looked up, in the sweep below).
for d in $CGDIRS; do
        mkdir "$d/oomless-$n-0badc0de" "$d/oomless-1-0badf00d"
        touch "$d/oomless-$n-0badc0de" "$d/oomless-1-0badf00d"
done
sleep 4
echo $((n - 1)) >/proc/sys/kernel/ns_last_pid
sleep 300 &
reused=$!
echo "$reused" >"$E2E_TMP/reused"
[ "$reused" = "$n" ] || exit 3
rc=0
"$OOMLESS" run --no-preload -- true >"$E2E_TMP/sweep.out" 2>"$E2E_TMP/sweep.log" || rc=$?
echo "$rc" >"$E2E_TMP/rc"
if kill -0 "$reused" 2>/dev/null; then echo alive; else echo dead; fi >"$E2E_TMP/reused-state"
kill "$reused"
SH
rc=0
E2E_TMP=$E2E_TMP RUN=$run CGDIRS=$cgdirs OOMLESS=$OOMLESS unshare -pf --mount-proc bash "$E2E_TMP/inner.sh" || rc=$?
n=$(cat "$E2E_TMP/n")
for d in $cgdirs; do
        E2E_CGROUP_CREATED+=" $d/oomless-$n-0badc0de"
done
assert_eq "$rc" 0 "the namespace's script (3: the reused pid was $(cat "$E2E_TMP/reused" 2>/dev/null), not $n)"
assert_eq "$(cat "$E2E_TMP/rc")" 0 "exit status of the sweeping run"
cat "$E2E_TMP/sweep.log" >&2

# Pid N was reused by a younger, unrelated process: not ours, removed; the process is not touched.
[[ ! -e $run/$n-0badc0de ]] || fail "the runtime directory of pid $n, reused by an unrelated process, is left"
assert_file_contains "$E2E_TMP/sweep.log" "Removed $run/$n-0badc0de, left behind by oomless $n, which is gone" \
        "the removal is logged"
for d in $cgdirs; do
        [[ ! -d $d/oomless-$n-0badc0de ]] || fail "the leaf $d/oomless-$n-0badc0de of reused pid $n is left"
done
assert_eq "$(cat "$E2E_TMP/reused-state")" alive "the unrelated process with the reused pid after the sweep"

# Pid 1 is older than its directory: it may be an instance that has not locked yet; left alone.
[[ -d $run/1-0badf00d ]] || fail "the runtime directory of pid 1 (older than it, alive) was removed"
for d in $cgdirs; do
        [[ -d $d/oomless-1-0badf00d ]] || fail "the leaf $d/oomless-1-0badf00d of pid 1 was removed"
done
if grep -q "oomless 1," "$E2E_TMP/sweep.log"; then
        fail "the sweep touched pid 1's leftovers: $(grep "oomless 1," "$E2E_TMP/sweep.log")"
fi
rmdir "$run/1-0badf00d"
say "ok"

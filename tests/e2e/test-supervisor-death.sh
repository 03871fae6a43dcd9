#!/usr/bin/env bash
# A supervisor killed with SIGKILL (issue 14, finding 3):
#   1. by default its workload dies with it (PR_SET_PDEATHSIG), leaving its leaves and runtime directory;
#   2. the next run removes the dead one's, one log line each, and leaves a live instance's alone;
#   3. with --keep-on-supervisor-death the workload lives on, and its populated leaf is left alone
#      (logged) until it is empty, then removed by the next run.
# Leaves: "oomless-<pid>" in the v1 memory cgroup and its unified twin (hybrid), or
# "oomless-<pid>-supervisor" and "-workload" (v2); none on tiers observe and none.
source "$(dirname "$0")/lib.sh"

leaves_of() { # PID: the leaves oomless PID created, in both hierarchies
        local d
        for d in $(own_cgroup_dirs); do
                find "$d" -mindepth 1 -maxdepth 1 -type d \( -name "oomless-$1" -o -name "oomless-$1-*" \) 2>/dev/null
        done
}
gone() { exited "$1"; }
alive() { ! exited "$1"; }
child_of() { jget "$(status_json "$1")" .child.pid; }

# Starts `oomless run ARGS -- sleep 300`; sets SUP and CHILD.
start_sleeper() {
        local log=$1
        shift
        start_oomless "$log" run --no-preload "$@" -- sleep 300
        SUP=$OOMLESS_PID
        wait_status "$SUP"
        CHILD=$(child_of "$SUP")
        [[ $CHILD =~ ^[0-9]+$ && $CHILD != 0 ]] || fail "no workload pid from oomless $SUP"
        E2E_PIDS+=("$CHILD")
}

# A live instance, started first: every later start sweeps, and must leave it alone.
start_sleeper "$E2E_TMP/live.log"
live=$SUP
live_child=$CHILD
live_leaves=$(leaves_of "$live")

# 1. Default: the workload dies with the supervisor.
start_sleeper "$E2E_TMP/dead.log"
dead=$SUP
tier=$(jget "$(status_json "$dead")" .tier)
dead_leaves=$(leaves_of "$dead")
if [[ $tier == v1 || $tier == v2 ]]; then
        [[ -n $dead_leaves ]] || fail "no leaf of oomless $dead found on tier $tier"
fi
kill -KILL "$dead"
wait_exit "$dead" 20
wait_for 30 gone "$CHILD" || fail "the workload $CHILD outlived its SIGKILLed supervisor $dead"
dead_dir=$(echo "$OOMLESS_RUNTIME_DIR/$dead"-*)
[[ -d $dead_dir ]] || fail "no runtime directory left by the killed oomless (nothing to test)"

# 2. The next run removes the dead one's leftovers, and only those.
rc=0
"$OOMLESS" run --no-preload -- true >"$E2E_TMP/sweep.out" 2>"$E2E_TMP/sweep.log" || rc=$?
assert_eq "$rc" 0 "exit status of the sweeping run"
assert_file_contains "$E2E_TMP/sweep.log" "Removed $dead_dir, left behind by oomless $dead, which is gone" \
        "the dead instance's runtime directory is removed and logged"
[[ ! -e $dead_dir ]] || fail "$dead_dir is left"
for l in $dead_leaves; do
        [[ ! -d $l ]] || fail "the leaf $l of the dead oomless $dead is left"
        assert_file_contains "$E2E_TMP/sweep.log" "Removed the cgroup $l, left behind by oomless $dead, which is gone" \
                "removing $l is logged"
done
assert_cleaned "$dead"
compgen -G "$OOMLESS_RUNTIME_DIR/$live-*" >/dev/null || fail "the live instance's runtime directory was removed"
for l in $live_leaves; do
        [[ -d $l ]] || fail "the live instance's leaf $l was removed"
done
if grep -q "oomless $live" "$E2E_TMP/sweep.log"; then
        fail "the sweeping run touched the live instance $live: $(grep "oomless $live" "$E2E_TMP/sweep.log")"
fi
status_json "$live" >/dev/null || fail "the live instance stopped answering"
alive "$live_child" || fail "the live instance's workload died"
kill -TERM "$live"
wait_exit "$live" 30
assert_cleaned "$live"

# 3. --keep-on-supervisor-death: the workload lives on, unsupervised; its leaf is not removed while
# it is populated.
start_sleeper "$E2E_TMP/keep.log" --keep-on-supervisor-death
keep=$SUP
keep_child=$CHILD
keep_leaves=$(leaves_of "$keep")
kill -KILL "$keep"
wait_exit "$keep" 20
sleep 1
alive "$keep_child" || fail "the workload $keep_child died with its supervisor despite --keep-on-supervisor-death"
rc=0
"$OOMLESS" run --no-preload -- true >"$E2E_TMP/keep-sweep.out" 2>"$E2E_TMP/keep-sweep.log" || rc=$?
assert_eq "$rc" 0 "exit status of the run next to a kept workload"
alive "$keep_child" || fail "the next run killed the kept workload $keep_child"
if [[ $tier == v1 || $tier == v2 ]]; then
        assert_file_contains "$E2E_TMP/keep-sweep.log" "left behind by oomless $keep, which is gone, still holds processes" \
                "the populated leaf is logged and left"
fi
kill -KILL "$keep_child"
wait_for 30 gone "$keep_child" || fail "the kept workload $keep_child did not die"
rc=0
"$OOMLESS" run --no-preload -- true >"$E2E_TMP/final.out" 2>"$E2E_TMP/final.log" || rc=$?
assert_eq "$rc" 0 "exit status of the last run"
assert_cleaned "$keep"
say "ok"

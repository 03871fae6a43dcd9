#!/usr/bin/env bash
# v2 tier, writable and delegated: oomless moves itself into <own>/oomless-PID-RANDOM-supervisor,
# hands +memory +pids down from <own>, starts the child directly (CLONE_INTO_CGROUP) in
# <own>/oomless-PID-RANDOM-workload with the limits asked for, reports that leaf in status, and on exit
# removes both leaves and gives <own> back as it found it.
. "$(dirname "$0")/lib-v2.sh"

new_scratch
own=${SCRATCH#$CG}
start_in "$SCRATCH" "$TMP/run.log" "$OOMLESS" run --log-level=debug --memory-max 96M --memory-high 64M -- "$BALLOON" --max 16M --hold inf
oomless=$PID
wait_for 60 status_json "$oomless" >/dev/null || fail "oomless never answered on its status socket"
json=$(status_json "$oomless")

[[ $(jget "$json" .tier) == v2 ]] || fail "tier is $(jget "$json" .tier), not v2"
# The instance's name is its pid plus a random suffix (two PID-1 instances never share one).
sup=$(cgroup_of "$oomless")
[[ $sup =~ ^$own/oomless-$oomless-[0-9a-f]{8}-supervisor$ ]] ||
        fail "oomless is in $sup, not $own/oomless-$oomless-<random>-supervisor"
ok "oomless evacuated itself into $sup"
base=${sup%-supervisor}
child=$(jget "$json" .child.pid)
leaf=$CG$base-workload
[[ $(cgroup_of "$child") == "$base-workload" ]] ||
        fail "the child $child is in $(cgroup_of "$child"), not $base-workload"
[[ $(jget "$json" .leaf) == "$leaf" ]] || fail "status leaf $(jget "$json" .leaf) is not $leaf"
ok "the child is in the workload leaf, and status names it"
grep -q 'started as pid [0-9]* (CLONE_INTO_CGROUP)' "$TMP/run.log" || fail "the log does not say the child was cloned into its leaf"
ok "the child was started with CLONE_INTO_CGROUP"
for c in memory pids; do
        grep -qw $c "$SCRATCH/cgroup.subtree_control" || fail "+$c not enabled in $SCRATCH/cgroup.subtree_control"
done
ok "$own/cgroup.subtree_control: $(cat "$SCRATCH/cgroup.subtree_control")"
[[ $(cat "$leaf/memory.max") == 100663296 ]] || fail "memory.max is $(cat "$leaf/memory.max"), not 96M"
[[ $(cat "$leaf/memory.high") == 67108864 ]] || fail "memory.high is $(cat "$leaf/memory.high"), not 64M"
[[ $(jget "$json" .memory.max) == 100663296 && $(jget "$json" .memory.high) == 67108864 ]] ||
        fail "status memory.max/high are $(jget "$json" .memory.max)/$(jget "$json" .memory.high)"
ok "memory.max and memory.high applied to the leaf and shown in status"
# Nothing but the two leaves, and only oomless in its own leaf.
[[ -z $(cat "$SCRATCH/cgroup.procs") ]] || fail "$SCRATCH still holds processes: $(cat "$SCRATCH/cgroup.procs")"
[[ $(cat "$CG$sup/cgroup.procs") == "$oomless" ]] ||
        fail "the supervisor leaf holds $(cat "$CG$sup/cgroup.procs")"

kill -TERM "$oomless"
wait_exit "$oomless" 60
[[ $RC == 143 ]] || fail "oomless exited $RC after SIGTERM to a balloon, not 143"
left=$(find "$SCRATCH" -mindepth 1 -type d)
[[ -z $left ]] || fail "leaves left behind: $left"
[[ -z $(cat "$SCRATCH/cgroup.subtree_control") ]] ||
        fail "$own/cgroup.subtree_control still has $(cat "$SCRATCH/cgroup.subtree_control")"
[[ -z $(compgen -G "$OOMLESS_RUNTIME_DIR/$oomless-*") && ! -e $OOMLESS_RUNTIME_DIR/$oomless ]] || fail "runtime directory left behind"
ok "exit 143; both leaves removed, subtree_control given back, runtime directory gone"

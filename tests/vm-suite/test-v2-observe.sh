#!/usr/bin/env bash
# The observe tier on pure v2: /sys/fs/cgroup bind-mounted read-only in a private mount namespace (as
# in an unprivileged container). `--cgroup-mode=auto` picks observe, creates nothing, reports its own
# cgroup's numbers, and still exits with the child's status; forcing v2 there fails with 125 and a
# message naming the path and the way out.
. "$(dirname "$0")/lib-v2.sh"

new_scratch
own=${SCRATCH#$CG}
echo 1 >"$SCRATCH/memory.oom.group" 2>/dev/null || true
# ro_run LOG ARGS...: oomless ARGS as the only process of the scratch cgroup, cgroupfs read-only.
ro_run() {
        local log=$1
        shift
        start_in "$SCRATCH" "$log" unshare --mount --propagation private -- bash -c \
                'mount --bind /sys/fs/cgroup /sys/fs/cgroup && mount -o remount,bind,ro /sys/fs/cgroup && exec "$@"' \
                _ "$OOMLESS" "$@"
}

ro_run "$TMP/observe.log" run -- "$BALLOON" --max 24M --hold 30s
oomless=$PID
wait_for 60 status_json "$oomless" >/dev/null || fail "oomless never answered on its status socket"
json=$(status_json "$oomless")
[[ $(jget "$json" .tier) == observe ]] || fail "tier is $(jget "$json" .tier), not observe"
[[ $(jget "$json" .leaf) == "$SCRATCH" ]] || fail "status leaf $(jget "$json" .leaf) is not its own cgroup $SCRATCH"
[[ $(cgroup_of "$oomless") == "$own" ]] || fail "oomless moved to $(cgroup_of "$oomless")"
child=$(jget "$json" .child.pid)
[[ $(cgroup_of "$child") == "$own" ]] || fail "the child is in $(cgroup_of "$child"), not $own"
[[ -z $(find "$SCRATCH" -mindepth 1 -type d) ]] || fail "observe created cgroups: $(find "$SCRATCH" -mindepth 1 -type d)"
ok "observe: tier observe, own cgroup $own reported, nothing created"
# Its numbers are its own cgroup's: the balloon's 24M shows in both.
wait_for 60 bash -c '(( $(cat "$1/memory.current") > 20 * 1048576 ))' _ "$SCRATCH" || fail "the balloon never grew"
json=$(status_json "$oomless")
cur=$(jget "$json" .memory.current) file=$(cat "$SCRATCH/memory.current")
d=$((cur - file))
((${d#-} < 8 * 1048576)) || fail "status memory.current $cur is far from $SCRATCH/memory.current $file"
ok "observe: status memory.current $cur matches $own/memory.current $file"
kill -TERM "$oomless"
wait_exit "$oomless" 60
[[ $RC == 143 ]] || fail "oomless exited $RC after SIGTERM, not 143"
ok "observe: SIGTERM gives 143"

ro_run "$TMP/forced.log" run --cgroup-mode=v2 -- true
wait_exit "$PID" 60
[[ $RC == 125 ]] || fail "--cgroup-mode=v2 on a read-only cgroupfs exited $RC, not 125"
grep -q "$SCRATCH" "$TMP/forced.log" || fail "the error does not name $SCRATCH"
grep -q -- '--cgroup-mode=observe' "$TMP/forced.log" || fail "the error does not suggest --cgroup-mode=observe"
ok "forced v2 on a read-only cgroupfs: 125, $(head -c 300 "$TMP/forced.log")"

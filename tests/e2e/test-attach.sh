#!/usr/bin/env bash
# attach: a process started outside oomless, in a memory cgroup we create for it under our own,
# is supervised with `attach --pid` (status shows its cgroup; ends when it exits) and with
# `attach --cgroup` (ends when the cgroup empties). attach creates and moves nothing.
source "$(dirname "$0")/lib.sh"

make_target_cgroup oomless-e2e-attach

# Ends the target; oomless attach must then exit 0 by itself with END_MESSAGE in its log, and clean up.
end_target() {
        local when=$1 end_message=$2
        kill -TERM "$target"
        wait "$target" 2>/dev/null || true
        wait_exit "$OOMLESS_PID" 10; rc=$RC
        assert_eq "$rc" 0 "attach exit status when $when"
        assert_file_contains "$E2E_TMP/log" "$end_message" "the end message"
        assert_cleaned "$OOMLESS_PID"
}

sleep 300 &
target=$!
E2E_PIDS+=("$target")
echo "$target" >"$cg/cgroup.procs"

start_oomless "$E2E_TMP/log" attach --pid "$target"
wait_status "$OOMLESS_PID"
json=$(status_json "$OOMLESS_PID")
assert_eq "$(jget "$json" .mode)" attach "mode"
assert_eq "$(jget "$json" .leaf)" "$cg" "the target's cgroup"
assert_eq "$(jget "$json" .child.pid)" "$target" "the target pid"
assert_match "$(jget "$json" .memory.current)" '^[0-9]+$' "memory.current"
[[ -z $(find "$mem_dir" -maxdepth 1 -name "oomless-$OOMLESS_PID*") ]] || fail "attach created a cgroup"
grep -qx "$target" "$cg/cgroup.procs" || fail "attach moved the target"

end_target "the target exits" "target process $target exited"

# --cgroup: ends when the cgroup empties.
sleep 300 &
target=$!
E2E_PIDS+=("$target")
echo "$target" >"$cg/cgroup.procs"
start_oomless "$E2E_TMP/log" attach --cgroup "$cg" --interval 200ms
wait_status "$OOMLESS_PID"
assert_eq "$(jget "$(status_json "$OOMLESS_PID")" .leaf)" "$cg" "the cgroup given"
end_target "the cgroup empties" "is empty"
rmdir "$cg"
say "ok"

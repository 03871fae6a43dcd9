#!/usr/bin/env bash
# Reaping: the workload double-forks a grandchild and its middle process exits at once, so the
# grandchild is re-parented to oomless (the subreaper). When it exits, oomless reaps it: no zombie
# is ever left under oomless, and the workload's own exit status still comes through.
source "$(dirname "$0")/lib.sh"

start_oomless "$E2E_TMP/log" run --no-preload -- sh -c 'sh -c "sleep 0.7 & exit 0"; sleep 2.5; exit 3'
wait_status "$OOMLESS_PID"

orphan_reparented() {
        local p
        for p in $(ps -o pid= --ppid "$OOMLESS_PID"); do
                [[ $(cat /proc/"$p"/comm 2>/dev/null) == sleep ]] && return 0
        done
        return 1
}
wait_for 5 orphan_reparented || fail "the orphaned grandchild was not re-parented to oomless"
sleep 1.2 # the orphan has exited by now
assert_no_zombie_children "$OOMLESS_PID"
n=$(ps -o pid= --ppid "$OOMLESS_PID" | wc -l)
assert_eq "$n" 1 "children of oomless after the orphan exited (only the workload)"

wait_exit "$OOMLESS_PID" 10; rc=$RC
assert_eq "$rc" 3 "the workload's own exit status"
assert_cleaned "$OOMLESS_PID"
say "ok"

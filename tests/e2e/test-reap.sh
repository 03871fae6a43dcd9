#!/usr/bin/env bash
# Reaping: the workload double-forks a grandchild whose parent exits at once, so the grandchild is
# re-parented to oomless (the subreaper). When it exits, oomless reaps it: its /proc entry goes away
# instead of lingering as a zombie, and the workload's own exit status still comes through. Files,
# not sleeps, sequence the steps, so a slow (emulated) machine cannot reorder them.
source "$(dirname "$0")/lib.sh"

orphan_go=$E2E_TMP/orphan-go
main_go=$E2E_TMP/main-go
start_oomless "$E2E_TMP/log" run --no-preload -- sh -c "
        ( sh -c 'while [ ! -e $orphan_go ]; do sleep 0.05; done' & )
        while [ ! -e $main_go ]; do sleep 0.05; done
        exit 3"
wait_status "$OOMLESS_PID"
child=$(jget "$(status_json "$OOMLESS_PID")" .child.pid)

orphan=
find_orphan() {
        local p
        for p in $(ps -o pid= --ppid "$OOMLESS_PID"); do
                if [[ $p != "$child" ]] && grep -q orphan-go "/proc/$p/cmdline" 2>/dev/null; then
                        orphan=$p
                        return 0
                fi
        done
        return 1
}
wait_for 20 find_orphan || fail "the orphaned grandchild was not re-parented to oomless"

touch "$orphan_go"
gone() { [[ ! -e /proc/$orphan ]]; }
wait_for 20 gone || fail "the orphan $orphan exited but was not reaped ($(awk '{print $3}' /proc/"$orphan"/stat 2>/dev/null))"
assert_no_zombie_children "$OOMLESS_PID"
assert_eq "$(ps -o pid= --ppid "$OOMLESS_PID" | tr -d ' ')" "$child" "children of oomless after the orphan exited"

touch "$main_go"
wait_exit "$OOMLESS_PID" 20
assert_eq "$RC" 3 "the workload's own exit status"
assert_cleaned "$OOMLESS_PID"
say "ok"

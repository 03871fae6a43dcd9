#!/usr/bin/env bash
# Forced tiers: observe reads our own cgroup and creates nothing (and a stop must not touch the other
# processes there, this test among them); none supervises the process tree's RSS against
# --memory-limit; a tier this host does not offer is refused with exit 125 and a reason.
source "$(dirname "$0")/lib.sh"

own=$(own_cgroup_dirs | sed -n 1p)

start_oomless "$E2E_TMP/log" run --no-preload --cgroup-mode observe -- sleep 1000
answered_or_exited() { status_json "$OOMLESS_PID" >/dev/null 2>&1 || exited "$OOMLESS_PID"; }
wait_for 20 answered_or_exited || fail "observe: oomless neither answered nor exited"
if exited "$OOMLESS_PID"; then
        # The root cgroup (a VM's test runner) has no memory figures of its own to observe.
        wait_exit "$OOMLESS_PID"
        [[ $own == /sys/fs/cgroup && $RC == 125 ]] || fail "observe refused in $own (exit $RC): $(cat "$E2E_TMP/log")"
        assert_file_contains "$E2E_TMP/log" 'cgroup-mode=observe: ' "the refusal names the mode"
        say "observe: refused in the root cgroup, as it must be"
else
        json=$(status_json "$OOMLESS_PID")
        assert_eq "$(jget "$json" .tier)" observe "tier"
        assert_eq "$(jget "$json" .leaf)" "$own" "observe reads our own cgroup"
        assert_match "$(jget "$json" .memory.current)" '^[0-9]+$' "memory.current"
        kill -TERM "$OOMLESS_PID"
        wait_exit "$OOMLESS_PID" 15
        assert_eq "$RC" 143 "observe: exit status after SIGTERM"
fi
assert_cleaned "$OOMLESS_PID"

start_oomless "$E2E_TMP/log" run --no-preload --cgroup-mode none --memory-limit 100M -- sleep 1000
wait_status "$OOMLESS_PID"
json=$(status_json "$OOMLESS_PID")
assert_eq "$(jget "$json" .tier)" none "tier"
assert_eq "$(jget "$json" .memory.limit)" 104857600 "none: the --memory-limit"
cur=$(jget "$json" .memory.current)
((cur > 0 && cur < 104857600)) || fail "none: memory.current $cur is not the tree's RSS"
kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID" 15
assert_eq "$RC" 143 "none: exit status after SIGTERM"
assert_cleaned "$OOMLESS_PID"

if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then missing=v1; else missing=v2; fi
rc=0
"$OOMLESS" run --no-preload --cgroup-mode "$missing" -- touch "$E2E_TMP/started" 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 125 "a forced tier this host lacks"
assert_file_contains "$E2E_TMP/err" "cgroup-mode=$missing" "the refusal names the mode"
[[ ! -e $E2E_TMP/started ]] || fail "the workload started on a refused tier"
say "ok"

#!/usr/bin/env bash
# Status: during a run, `oomless status --json` shows the tier, the leaf and memory.current matching
# the leaf's own usage file; the human form prints the same; several instances need --pid.
source "$(dirname "$0")/lib.sh"
[[ -x $BALLOON ]] || fail "BALLOON is not set to the balloon binary"

start_oomless "$E2E_TMP/log" run --no-preload -- "$BALLOON" --max 40M --hold 60s
first=$OOMLESS_PID
wait_status "$first"
reached() { grep -q 'reached 40 MiB' "$E2E_TMP/log.out"; }
wait_for 20 reached || fail "balloon never reached 40 MiB"

json=$(status_json)
tier=$(jget "$json" .tier)
leaf=$(jget "$json" .leaf)
assert_eq "$(jget "$json" .version)" 1 "version"
assert_eq "$(jget "$json" .mode)" run "mode"
assert_eq "$(jget "$json" .supervisor_pid)" "$first" "supervisor_pid"
assert_match "$tier" '^(v2|v1|observe|none)$' "tier"
for k in .memory.current .memory.limit .events.oom_kill .child.pid .child.restarts .policy.stage .uptime_sec; do
        assert_match "$(jget "$json" "$k")" '^[0-9.]+$' "$k"
done
for k in .policy.name .policy.stage_name; do
        assert_match "$(jget "$json" "$k")" '.' "$k"
done
assert_eq "$(jget "$json" '.policy.recent_actions | type')" array "recent_actions"
assert_eq "$(jget "$json" '.child.last_exit')" null "last_exit while running"
assert_eq "$(jget "$json" '.command | join(" ")')" "$BALLOON --max 40M --hold 60s" "command"
assert_match "$(jget "$json" .instance_id)" '^[0-9a-f]{32}$' "instance_id"
if [[ $tier == v1 || $tier == v2 ]]; then
        [[ -d $leaf ]] || fail "leaf $leaf does not exist"
        cur=$(jget "$(status_json)" .memory.current)
        file=$(cat "$leaf/$(usage_file "$tier")")
        ((cur >= 40 * 1048576)) || fail "memory.current $cur is below the 40 MiB the balloon holds"
        assert_close "$cur" "$file" $((2 * 1048576)) "status memory.current vs $(usage_file "$tier")"
        expected_tier=$( [[ -f /sys/fs/cgroup/cgroup.controllers ]] && echo v2 || echo v1)
        assert_eq "$tier" "$expected_tier" "tier on this host"
fi
"$OOMLESS" status >"$E2E_TMP/human"
assert_file_contains "$E2E_TMP/human" "tier: +$tier" "human status tier"
assert_file_contains "$E2E_TMP/human" "leaf: +$leaf" "human status leaf"

# A second instance: status without --pid lists both, each with its command line and leaf.
start_oomless "$E2E_TMP/log2" run --no-preload -- sleep 1000
second=$OOMLESS_PID
wait_status "$second"
"$OOMLESS" status --json >"$E2E_TMP/all.json" || fail "status --json with two instances exited $?"
assert_eq "$(jq -r 'type' "$E2E_TMP/all.json")" array "status --json with two instances"
assert_eq "$(jq -r 'length' "$E2E_TMP/all.json")" 2 "instances in the array"
assert_eq "$(jq -r --argjson p "$second" '.[] | select(.supervisor_pid == $p) | .command | join(" ")' \
        "$E2E_TMP/all.json")" "sleep 1000" "the second instance's command"
assert_eq "$(jq -r --argjson p "$first" '.[] | select(.supervisor_pid == $p) | .leaf' "$E2E_TMP/all.json")" \
        "$leaf" "the first instance's leaf"
"$OOMLESS" status >"$E2E_TMP/list" || fail "status with two instances exited $?"
assert_file_contains "$E2E_TMP/list" "^oomless $first \\(run\\): stage 0" "the first instance in the list"
assert_file_contains "$E2E_TMP/list" "^oomless $second \\(run\\): stage 0" "the second instance in the list"
assert_file_contains "$E2E_TMP/list" "command: sleep 1000$" "the second instance's command line"
assert_file_contains "$E2E_TMP/list" "command: $BALLOON --max 40M --hold 60s$" "the first instance's command line"
assert_file_contains "$E2E_TMP/list" "leaf: +$leaf$" "the first instance's leaf"
# --pid still picks one, in full.
"$OOMLESS" status --pid "$second" >"$E2E_TMP/one"
assert_file_contains "$E2E_TMP/one" "command: sleep 1000$" "status --pid shows the command"

kill -TERM "$second"
wait_exit "$second"
kill -TERM "$first"
wait_exit "$first"; assert_eq "$RC" 143 "exit status"
assert_cleaned "$first" "$leaf"
assert_cleaned "$second"
say "ok"

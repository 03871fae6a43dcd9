#!/usr/bin/env bash
# PSI on v2: oomless arms the policy's kernel PSI trigger (psi-trigger.json: "some 100ms per 1s") on
# the leaf's memory.pressure, and a workload throttled by memory.high makes it fire and wake the loop
# (logged at debug level) and the stage it guards is entered; status shows the leaf's PSI figures.
. "$(dirname "$0")/lib-v2.sh"

new_scratch
start_in "$SCRATCH" "$TMP/run.log" "$OOMLESS" run --log-level=debug --dry-run \
        --policy "$(dirname "$0")/psi-trigger.json" --memory-high 24M --memory-max 512M \
        -- "$BALLOON" --max 160M --rate 0 --hold inf
oomless=$PID
wait_for 60 status_json "$oomless" >/dev/null || fail "oomless never answered on its status socket"
wait_for 120 grep -q 'PSI trigger [0-9]* fired' "$TMP/run.log" || fail "no PSI trigger fired within 120 s"
ok "$(grep -m1 'PSI trigger [0-9]* fired' "$TMP/run.log")"
json=$(status_json "$oomless")
[[ $(jget "$json" '.psi.some.total') =~ ^[1-9][0-9]*$ ]] || fail "status psi.some.total is $(jget "$json" '.psi.some.total')"
(($(jget "$json" .events.high) > 0)) || fail "status events.high is $(jget "$json" .events.high)"
in_stage_1() { [[ $(jget "$(status_json "$oomless")" .policy.stage) == 1 ]]; }
wait_for 30 in_stage_1 ||
        fail "the trigger-guarded stage was never entered (stage $(jget "$(status_json "$oomless")" .policy.stage))"
ok "status: stage 1 entered; psi.some.total $(jget "$json" '.psi.some.total'), events.high $(jget "$json" .events.high)"
kill -TERM "$oomless"
wait_exit "$oomless" 60
[[ $RC == 143 ]] || fail "oomless exited $RC, not 143"

#!/usr/bin/env bash
# Stop on v2: SIGTERM to oomless whose workload ignores TERM and has forked helpers (some in their own
# session, out of reach of process-group signals): after --stop-timeout, cgroup.kill takes the whole
# leaf. oomless exits 128+9 for the main child, and no process of the leaf survives.
. "$(dirname "$0")/lib-v2.sh"

new_scratch
start_in "$SCRATCH" "$TMP/run.log" "$OOMLESS" run --stop-timeout 2s -- bash -c \
        "trap '' TERM; setsid sleep 301 & sleep 302 & exec bash -c 'trap \"\" TERM; while :; do sleep 1; done'"
oomless=$PID
wait_for 60 status_json "$oomless" >/dev/null || fail "oomless never answered on its status socket"
leaf=$(jget "$(status_json "$oomless")" .leaf)
wait_for 30 bash -c '[[ $(wc -l <"$1/cgroup.procs") -ge 3 ]]' _ "$leaf" || fail "the workload never had 3 processes"
members=$(tr '\n' ' ' <"$leaf/cgroup.procs")
ok "leaf $leaf holds $members"
start=$(date +%s%N)
kill -TERM "$oomless"
wait_exit "$oomless" 60
took=$((($(date +%s%N) - start) / 1000000))
[[ $RC == 137 ]] || fail "oomless exited $RC, not 137 (its child ignored TERM and was SIGKILLed)"
((took >= 1800)) || fail "oomless stopped after ${took} ms, before its 2 s --stop-timeout"
for p in $members; do
        [[ ! -e /proc/$p ]] || fail "process $p of the leaf survived: $(tr '\0' ' ' <"/proc/$p/cmdline")"
done
[[ ! -d $leaf ]] || fail "leaf $leaf left behind"
ok "SIGTERM ignored: everything in the leaf killed after ${took} ms, exit 137, leaf removed"

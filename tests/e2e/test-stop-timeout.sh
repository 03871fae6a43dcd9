#!/usr/bin/env bash
# Stop-timeout escalation: a workload that ignores SIGTERM is killed (with everything in its leaf)
# after --stop-timeout, so oomless exits 137 about that long after the signal.
source "$(dirname "$0")/lib.sh"

start_oomless "$E2E_TMP/log" run --no-preload --stop-timeout 2s -- sh -c 'trap "" TERM; sleep 1000 & wait; sleep 1000'
wait_status "$OOMLESS_PID"
json=$(status_json "$OOMLESS_PID")
leaf=$(jget "$json" .leaf)
sleep 0.3
kids=$(pgrep -P "$(jget "$json" .child.pid)" || true)

t0=$(date +%s%N)
kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID" 15; rc=$RC
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
assert_eq "$rc" 137 "exit status after the escalation"
((ms >= 1800 && ms <= 4500)) || fail "stopped after ${ms}ms, expected about 2000ms"
assert_file_contains "$E2E_TMP/log" 'did not stop within 2s' "escalation message"
for k in $kids; do
        [[ ! -e /proc/$k ]] || fail "grandchild $k survived the escalation"
done
assert_cleaned "$OOMLESS_PID" "$leaf"
say "ok (stopped after ${ms}ms)"

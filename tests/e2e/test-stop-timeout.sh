#!/usr/bin/env bash
# Stop-timeout escalation: a workload that ignores SIGTERM is killed (with everything in its leaf)
# after --stop-timeout, so oomless exits 137 about that long after the signal. Every process of the
# workload is reaped before oomless exits: oomless runs under a parent that, like some container
# inits, does not reap what is handed to it, so a grandchild left a zombie is seen (CI once saw one).
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

python3 "$here/reaper-parent.py" "$E2E_TMP/left" -- \
        "$OOMLESS" run --no-preload --stop-timeout 2s -- sh -c 'trap "" TERM; for i in $(seq 8); do sleep 1000 & done; wait; sleep 1000' \
        >"$E2E_TMP/log.out" 2>"$E2E_TMP/log" &
parent=$!
E2E_PIDS+=("$parent")
oomless_pid() { [[ -s $E2E_TMP/left.pid ]] && OOMLESS_PID=$(cat "$E2E_TMP/left.pid"); }
wait_for 10 oomless_pid || fail "oomless did not start under reaper-parent.py ($(cat "$E2E_TMP/log"))"
E2E_PIDS+=("$OOMLESS_PID")
wait_status "$OOMLESS_PID"
json=$(status_json "$OOMLESS_PID")
leaf=$(jget "$json" .leaf)
sleep 0.3
kids=$(pgrep -P "$(jget "$json" .child.pid)" || true)
[[ -n $kids ]] || fail "the workload's grandchild (sleep) did not start"

t0=$(date +%s%N)
kill -TERM "$OOMLESS_PID"
wait_exit "$parent" 15; rc=$RC
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
assert_eq "$rc" 137 "exit status after the escalation"
# reaper-parent.py waits 300 ms for late orphans after oomless exits, and exits slowly in the VM.
hi=$((4800 + (${OOMLESS_TEST_TIME_FACTOR:-1} - 1) * 300))
((ms >= 1800 && ms <= hi)) || fail "stopped after ${ms}ms, expected about 2300ms (at most ${hi}ms)"
assert_file_contains "$E2E_TMP/log" 'did not stop within 2s' "escalation message"
[[ -e $E2E_TMP/left ]] || fail "reaper-parent.py wrote no report"
[[ ! -s $E2E_TMP/left ]] || fail "oomless exited and left processes to its parent (pid state): $(tr '\n' ' ' <"$E2E_TMP/left")"
for k in $kids; do
        [[ ! -e /proc/$k ]] || fail "grandchild $k survived the escalation"
done
assert_cleaned "$OOMLESS_PID" "$leaf"
say "ok (stopped after ${ms}ms)"

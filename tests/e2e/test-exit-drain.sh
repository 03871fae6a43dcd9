#!/usr/bin/env bash
# Exit drain: when the workload ends while a policy hook still runs, oomless waits for it (bounded by
# the hook's own timeout, capped at 10s) instead of killing it silently, records its outcome, and
# exits with the workload's status. A hook past the cap, or a SIGINT during the wait, is cancelled
# and logged as "failed: cancelled at exit".
source "$(dirname "$0")/lib.sh"

# policy FILE HOOK_SCRIPT TIMEOUT [WEBHOOK_URL]: one stage entered at 24M, left below 8M, whose on_exit
# runs the hook (and posts to the URL).
policy() {
        local webhook=""
        [[ -z ${4:-} ]] || webhook=",{\"action\":\"webhook\",\"url\":\"$4\",\"timeout\":\"$3\"}"
        cat >"$1" <<JSON
{"version":1,"name":"drain","sampling_interval":"100ms","restart":{"mode":"never"},
 "stages":[{"name":"s1","enter":{"all":[{"memory":">= 24M"}]},"exit":{"all":[{"memory":"< 8M"}]},
   "on_exit":[{"action":"exec","argv":["/bin/sh","-c","$2"],"timeout":"$3"}$webhook]}]}
JSON
}
# The workload grows past 24M, frees everything and exits 0.8s later: the on_exit hook starts then
# and is still running when the workload is gone.
balloon=("$BALLOON" --quiet --rate 64M --max 48M --hold 1s --free --after 800ms)
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# 1. The hook outlives the workload by about 2s and still completes.
policy "$E2E_TMP/p1.json" "sleep 2; echo done > $E2E_TMP/exit-hook" 10s
rc=0
"$OOMLESS" run --no-preload --policy "$E2E_TMP/p1.json" -- "${balloon[@]}" 2>"$E2E_TMP/log1" || rc=$?
assert_eq "$rc" 0 "exit status with a drained hook"
[[ -s $E2E_TMP/exit-hook ]] || fail "the on_exit hook never completed (no $E2E_TMP/exit-hook)"
assert_file_contains "$E2E_TMP/log1" 'Waiting up to 10s for 1 running action \(exec /bin/sh\) before exiting' \
        "drain announcement"
assert_file_contains "$E2E_TMP/log1" 'Action exec of stage 1 .* on exit: ok: hook pid [0-9]+ exited 0' \
        "the hook's outcome"

# 1b. The same on tier none, where the sweep of leftovers goes over oomless's own children: the
# running hook is one of them and must be left to the drain, not SIGKILLed with the leftovers.
rm -f "$E2E_TMP/exit-hook"
rc=0
"$OOMLESS" run --no-preload --cgroup-mode=none --memory-limit 256M --policy "$E2E_TMP/p1.json" -- \
        "${balloon[@]}" 2>"$E2E_TMP/log1b" || rc=$?
assert_eq "$rc" 0 "exit status with a drained hook on tier none"
[[ -s $E2E_TMP/exit-hook ]] || fail "tier none: the on_exit hook was killed with the leftovers"
assert_file_contains "$E2E_TMP/log1b" 'Action exec of stage 1 .* on exit: ok: hook pid [0-9]+ exited 0' \
        "the hook's outcome on tier none"

# 2. A hook and a webhook that would run past the 10s cap (their own timeouts are 30s) are cancelled
# at the cap. The HTTP server accepts connections and never answers.
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$E2E_TMP/port" &
E2E_PIDS+=($!)
wait_for 10 test -s "$E2E_TMP/port" || fail "the silent HTTP server did not start"
url="http://127.0.0.1:$(cat "$E2E_TMP/port")/hook"
policy "$E2E_TMP/p2.json" "echo \$\$ > $E2E_TMP/hook2.pid; exec sleep 60" 30s "$url"
rc=0
t0=$(date +%s%N)
"$OOMLESS" run --no-preload --policy "$E2E_TMP/p2.json" -- "${balloon[@]}" 2>"$E2E_TMP/log2" || rc=$?
ms=$(ms_since "$t0")
assert_eq "$rc" 0 "exit status after a cancelled hook"
# About 2.6s of workload, then the 10s cap.
((ms >= 10500 && ms <= 20000)) || fail "oomless exited after ${ms}ms, expected about 12600ms"
assert_file_contains "$E2E_TMP/log2" "Waiting up to 10s for 2 running actions \\((exec /bin/sh, webhook $url|webhook $url, exec /bin/sh)\\) before exiting" \
        "drain announcement"
assert_file_contains "$E2E_TMP/log2" '2 actions still running at the exit deadline, cancelling' "deadline"
assert_file_contains "$E2E_TMP/log2" 'Action exec of stage 1 .* on exit: failed: cancelled at exit' \
        "the cancelled hook's outcome"
assert_file_contains "$E2E_TMP/log2" "Action webhook of stage 1 .* on exit: failed: cancelled at exit: webhook $url" \
        "the cancelled webhook's outcome"
hp=$(cat "$E2E_TMP/hook2.pid")
[[ ! -e /proc/$hp ]] || fail "the cancelled hook (pid $hp) outlived oomless"

# 3. A signal during the drain cancels it; the workload's own exit status (3) stays oomless's.
policy "$E2E_TMP/p3.json" "exec sleep 60" 30s
start_oomless "$E2E_TMP/log3" run --no-preload --policy "$E2E_TMP/p3.json" -- \
        sh -c '"$@"; exit 3' sh "${balloon[@]}"
wait_for 20 grep -q 'Waiting up to' "$E2E_TMP/log3" || fail "no drain within 20s: $(cat "$E2E_TMP/log3")"
t0=$(date +%s%N)
kill -INT "$OOMLESS_PID"
wait_exit "$OOMLESS_PID" 10
ms=$(ms_since "$t0")
assert_eq "$RC" 3 "exit status after a cancelled drain"
((ms <= 4000)) || fail "oomless took ${ms}ms to exit after SIGINT during the drain"
assert_file_contains "$E2E_TMP/log3" 'SIGINT: not waiting any longer, cancelling: exec /bin/sh' "the signal"
assert_file_contains "$E2E_TMP/log3" 'on exit: failed: cancelled at exit' "the cancelled hook's outcome"
say "ok"

#!/usr/bin/env bash
# Exit statuses of `oomless run`: the child's code, 128+signal, 127 not found, 126 not executable,
# 125 for a bad option; 2 for status usage errors. Every run leaves no cgroup behind.
source "$(dirname "$0")/lib.sh"

run_case() { # EXPECTED_RC WHAT ARGS...
        local want=$1 what=$2 rc
        shift 2
        start_oomless "$E2E_TMP/log" run --no-preload "$@"
        wait_exit "$OOMLESS_PID" 20; rc=$RC
        [[ $rc == "$want" ]] || {
                cat "$E2E_TMP/log" >&2
                fail "$what: exit status $rc, expected $want"
        }
        assert_cleaned "$OOMLESS_PID" "$(leaf_from_log "$E2E_TMP/log")"
}

run_case 0 "true" -- true
run_case 7 "exit 7" -- sh -c 'exit 7'
run_case 137 "kill -9" -- sh -c 'kill -9 $$'
run_case 143 "kill -TERM self" -- sh -c 'kill -TERM $$'
run_case 127 "not found" -- /nonexistent/command
assert_file_contains "$E2E_TMP/log" 'Cannot execute /nonexistent/command: No such file or directory' "127 message"
run_case 127 "not in PATH" -- oomless-no-such-command-e2e
printf '#!/bin/sh\necho hi\n' >"$E2E_TMP/noexec"
chmod 0644 "$E2E_TMP/noexec"
run_case 126 "not executable" -- "$E2E_TMP/noexec"
assert_file_contains "$E2E_TMP/log" 'not executable' "126 message"

# --success-exit: the listed statuses of the workload end oomless with 0, the others pass through;
# the restart policy sees a success too (on-failure does not restart it), status shows the real one.
run_case 0 "--success-exit=143, ended by its SIGTERM" --success-exit=143 -- sh -c 'kill -TERM $$'
assert_file_contains "$E2E_TMP/log" 'Exit status 143 counts as success \(--success-exit\)' "the remap is logged"
assert_file_contains "$E2E_TMP/log" 'exit status 0: the workload was killed by SIGTERM, which counts as success' \
        "the summary says why"
run_case 0 "--success-exit=3,7 and exit 7" --success-exit=3,7 -- sh -c 'exit 7'
run_case 0 "--success-exit repeated" --success-exit=3 --success-exit=7 -- sh -c 'exit 7'
run_case 4 "--success-exit=3 and exit 4" --success-exit=3 -- sh -c 'exit 4'
write_stage_policy "$E2E_TMP/onfail.json" onfail never '{ "all": [ { "memory": ">= 99%" } ] }' \
        '{ "all": [ { "memory": "< 50%" } ] }'
sed -i 's/"mode": "never"/"mode": "on-failure", "initial_delay": "100ms"/' "$E2E_TMP/onfail.json"
run_case 0 "--success-exit=3 under on-failure" --success-exit=3 --policy "$E2E_TMP/onfail.json" -- \
        sh -c 'echo run >>"$1"; exit 3' sh "$E2E_TMP/runs"
assert_eq "$(wc -l <"$E2E_TMP/runs")" 1 "runs of a workload whose exit 3 counts as success under on-failure"
for v in 0 256 abc 3, -1 ""; do
        rc=0
        "$OOMLESS" run --success-exit="$v" -- true 2>"$E2E_TMP/err" || rc=$?
        assert_eq "$rc" 125 "--success-exit='$v'"
        assert_file_contains "$E2E_TMP/err" "--success-exit: invalid value '$v' \(expected exit statuses from 1 to 255" \
                "--success-exit='$v' message"
done

# Usage errors name the option, the value and the form, and start nothing.
rc=0
"$OOMLESS" run --memory-max 12Q -- true 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 125 "bad --memory-max"
assert_file_contains "$E2E_TMP/err" "--memory-max: invalid value '12Q'" "bad --memory-max message"
rc=0
"$OOMLESS" run --stop-timeout soon -- true 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 125 "bad --stop-timeout"
assert_file_contains "$E2E_TMP/err" "--stop-timeout: invalid value 'soon'" "bad --stop-timeout message"
rc=0
"$OOMLESS" run --heap-cap lots -- true 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 125 "bad --heap-cap"
assert_file_contains "$E2E_TMP/err" "--heap-cap: invalid value 'lots' .*or none" "bad --heap-cap message names every form"
rc=0
"$OOMLESS" run --cgroup-mode v3 -- true 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 125 "bad --cgroup-mode"
rc=0
"$OOMLESS" run 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 125 "run without a command"
# A bad policy refuses to start anything and prints the checker's messages.
printf '{ "version": 1, "stages": [ \n' >"$E2E_TMP/bad.json"
rc=0
"$OOMLESS" run --policy "$E2E_TMP/bad.json" -- touch "$E2E_TMP/started" 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 125 "run --policy with a broken file"
[[ ! -e $E2E_TMP/started ]] || fail "the workload was started despite the bad policy"
assert_file_contains "$E2E_TMP/err" "bad\.json:[0-9]+:[0-9]+: " "the policy diagnostics with line and column"
rc=0
"$OOMLESS" run --policy "$E2E_TMP/missing.json" -- true 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 125 "run --policy with a missing file"
rc=0
"$OOMLESS" status --pid abc 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 2 "status --pid abc"
rc=0
"$OOMLESS" frobnicate 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 2 "unknown command"
"$OOMLESS" --version | grep -Eq '^oomless [0-9]' || fail "--version"
"$OOMLESS" help run | grep -q -- '--stop-timeout' || fail "help run"
say "ok"

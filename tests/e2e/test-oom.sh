#!/usr/bin/env bash
# OOM kill: a workload that touches 200 MB under --memory-max 64M is killed by the kernel; oomless
# reports it in one line with the leaf and the counters, exits 137 and leaves no leaf behind.
# --dry-run: the built-in policy would otherwise win the race at the limit with a graceful restart
# (its stage 3), which is the policy tests' subject; here the kernel's kill and its report are.
source "$(dirname "$0")/lib.sh"
[[ -x $BALLOON ]] || fail "BALLOON is not set to the balloon binary"

start_oomless "$E2E_TMP/log" run --no-preload --dry-run --memory-max 64M -- "$BALLOON" --max 200M --hold 5s
wait_exit "$OOMLESS_PID" 60; rc=$RC
leaf=$(leaf_from_log "$E2E_TMP/log")
[[ -n $leaf ]] || fail "no leaf in the tier line"
assert_eq "$rc" 137 "exit status of an OOM-killed workload"
assert_file_contains "$E2E_TMP/log" "workload OOM-killed by the kernel in $leaf: limit 64.0M, peak [0-9.]+M, oom_kill [1-9]" \
        "the OOM report"
assert_file_contains "$E2E_TMP/log" "would" "the dry-run policy only logging"
assert_cleaned "$OOMLESS_PID" "$leaf"
say "ok"

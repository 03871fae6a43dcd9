#!/usr/bin/env bash
# OOM kill: a workload that touches 200 MB under --memory-max 64M is killed by the kernel; oomless
# reports it in one line with the leaf and the counters, exits 137 and leaves no leaf behind (the
# built-in policy in --dry-run, see below).
# balloon --mmap takes memory from mmap(2), like a runtime with its own allocator: the preloaded
# liboomless cap does not apply to it. The second half shows what the cap does for a malloc user.
source "$(dirname "$0")/lib.sh"
[[ -x $BALLOON ]] || fail "BALLOON is not set to the balloon binary"

# --dry-run leaves the kill, and its report, to the kernel. Without it the built-in policy races the
# kernel: on pure v2 its degrade stage sets memory.high (96%), which slows even this burst enough for
# the restart stage to win; on v1 the sample that the kernel's OOM notification wakes may enter the
# restart stage in the same instant as the kill, and a restart the policy asked for restarts however
# the workload then died (policy-restart.c). Both are the policy's business (tests/e2e-policy); this
# test is about the report of a kill.
extra=(--dry-run)
start_oomless "$E2E_TMP/log" run "${extra[@]}" --memory-max 64M -- "$BALLOON" --mmap --max 200M --hold 5s
wait_exit "$OOMLESS_PID" 60; rc=$RC
leaf=$(leaf_from_log "$E2E_TMP/log")
[[ -n $leaf ]] || fail "no leaf in the tier line"
assert_eq "$rc" 137 "exit status of an OOM-killed workload"
assert_file_contains "$E2E_TMP/log" "workload OOM-killed by the kernel in $leaf: limit 64.0M, peak [0-9.]+M, oom_kill [1-9]" \
        "the OOM report"
assert_cleaned "$OOMLESS_PID" "$leaf"

# The same burst through malloc, with liboomless preloaded (the default): the published heap cap
# (95% of 64M) turns the kernel's kill into ENOMEM inside the program, which exits 3 by itself.
start_oomless "$E2E_TMP/log2" run --memory-max 64M -- "$BALLOON" --max 200M --hold 5s
wait_exit "$OOMLESS_PID" 60; rc=$RC
leaf=$(leaf_from_log "$E2E_TMP/log2")
assert_eq "$rc" 3 "exit status of a malloc user stopped by the heap cap"
assert_file_contains "$E2E_TMP/log2" "malloc\\([0-9]+\\) failed after (5[0-9]|6[0-1]) MiB" "ENOMEM near 95% of 64M"
if grep -q "OOM-killed" "$E2E_TMP/log2"; then
        fail "the kernel OOM-killed a workload whose heap was capped"
fi
assert_cleaned "$OOMLESS_PID" "$leaf"
say "ok"

#!/usr/bin/env bash
# The control page under `oomless run` (issue 14):
#  - finding 2: the page is a sealed memfd; a workload that tries `truncate -s 0` on it (by its
#    /proc/self/fd path) fails with EPERM, and every liboomless process keeps running (no SIGBUS,
#    status 135). No path is handed over in run mode, so there is no file to truncate either.
#  - finding 4: a shell-like workload that execs a second liboomless program under the same pid
#    still gets its heap conditions evaluated (the stage is entered), and no "went backwards"
#    warning appears; the same with a scripted publisher whose instance id changes.
#  - finding 9: --heap-cap under the allocator's 4M floor is refused at parse time (exit 125).
source "$(dirname "$0")/lib.sh"
[[ -x $BALLOON ]] || fail "BALLOON is not set to the balloon binary"
[[ -x ${HOSTILE:-} ]] || fail "HOSTILE is not set to the control-hostile binary"
export HOSTILE BALLOON

# --- finding 2: truncation of the sealed page ---
cat >"$E2E_TMP/trunc.sh" <<'SH'
"$BALLOON" --max 8M --hold 2s --quiet &
b=$!
sleep 0.5
ls -l "/proc/self/fd/$OOMLESS_CONTROL_FD" | sed 's/.*-> /page: /'
if truncate -s 0 "/proc/self/fd/$OOMLESS_CONTROL_FD" 2>/dev/null; then echo TRUNCATED; fi
[ -n "${OOMLESS_CONTROL:-}" ] && truncate -s 0 "$OOMLESS_CONTROL" 2>/dev/null && echo TRUNCATED-PATH
"$BALLOON" --max 8M --hold 200ms --quiet
echo "second=$?"
wait $b
echo "first=$?"
SH
rc=0
"$OOMLESS" run --memory-max 256M -- sh "$E2E_TMP/trunc.sh" >"$E2E_TMP/trunc.out" \
        2>"$E2E_TMP/trunc.log" || rc=$?
cat "$E2E_TMP/trunc.out" >&2
assert_eq "$rc" 0 "the workload that tried to truncate its page exits 0"
assert_file_contains "$E2E_TMP/trunc.out" '^page: /memfd:oomless-control' "the page is the control memfd"
! grep -q TRUNCATED "$E2E_TMP/trunc.out" || fail "the page could be truncated"
assert_file_contains "$E2E_TMP/trunc.out" '^first=0$' "a liboomless process mapping the page across the attempt survives"
assert_file_contains "$E2E_TMP/trunc.out" '^second=0$' "a liboomless process started after the attempt runs"
! grep -Eq 'status 135|SIGBUS|Bus error' "$E2E_TMP/trunc.log" "$E2E_TMP/trunc.out" || fail "a SIGBUS somewhere"

# The hostile program's truncation attempts, counted by itself.
rc=0
"$OOMLESS" run -- env -u LD_PRELOAD "$HOSTILE" adversary 1 >"$E2E_TMP/adv.out" 2>"$E2E_TMP/adv.log" || rc=$?
cat "$E2E_TMP/adv.out" >&2
assert_eq "$rc" 0 "the adversary found its page intact"
assert_file_contains "$E2E_TMP/adv.out" ' 0 truncations succeeded, page intact$' "no truncation or seal succeeded"

# --- finding 4: an exec under the same pid ---
write_stage_policy "$E2E_TMP/heap.json" heap heapy \
        '{ "all": [ { "heap": ">= 32M" } ] }' \
        '{ "all": [ { "heap": "< 4M" } ] }'
# The first image works its heap (its counters grow), the second starts them from zero.
cat >"$E2E_TMP/first.py" <<'PY'
import os, sys, time
for _ in range(8):
    x = [bytearray(1 << 20) for _ in range(24)]  # under the 32M of the stage
    del x
    time.sleep(0.1)
time.sleep(0.5)
os.execv(sys.argv[1], [sys.argv[1], "--max", "48M", "--hold", "4s", "--quiet"])
PY
start_oomless "$E2E_TMP/exec.log" run --policy "$E2E_TMP/heap.json" --memory-max 256M -- \
        /usr/bin/python3 "$E2E_TMP/first.py" "$BALLOON"
pid=$OOMLESS_PID
wait_status "$pid"
stage_heapy() { [[ $(jget "$(status_json "$pid")" .policy.stage) == 1 ]]; }
wait_for 20 stage_heapy || fail "the heap stage was never entered after the exec: $(status_json "$pid")"
held=$(jget "$(status_json "$pid")" .heap.held)
assert_match "$held" '^[0-9]+$' "heap figures after the exec"
wait_exit "$pid" 30
assert_eq "$RC" 0 "python -> exec balloon"
! grep -q 'went backwards' "$E2E_TMP/exec.log" || fail "a 'went backwards' warning after the exec: $(cat "$E2E_TMP/exec.log")"

# The same, deterministic: a publisher with huge counters, then a new instance id with small ones.
start_oomless "$E2E_TMP/id.log" run --memory-max 256M -- env -u LD_PRELOAD "$HOSTILE" exec 3
pid=$OOMLESS_PID
wait_status "$pid"
small() { [[ $(jget "$(status_json "$pid")" .heap.cap_hits) =~ ^[0-9]{1,3}$ ]]; }
wait_for 10 small || fail "the new image's figures were never accepted: $(status_json "$pid")"
wait_exit "$pid" 20
assert_eq "$RC" 0 "scripted exec"
! grep -q 'went backwards' "$E2E_TMP/id.log" || fail "a 'went backwards' warning: $(cat "$E2E_TMP/id.log")"

# --- finding 9: the floor on --heap-cap ---
rc=0
"$OOMLESS" run --heap-cap 1M -- true 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 125 "--heap-cap 1M"
assert_file_contains "$E2E_TMP/err" "--heap-cap: '1M' is under the allocator's floor of 4M" "the reason is named"
rc=0
"$OOMLESS" run --heap-cap 1 -- true 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 125 "--heap-cap 1"
"$OOMLESS" run --heap-cap 4M -- true 2>"$E2E_TMP/err" || fail "--heap-cap 4M refused: $(cat "$E2E_TMP/err")"
say "ok"

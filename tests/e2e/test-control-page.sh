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

# The same, deterministic: a publisher with huge counters (1000000..1000019), then a new instance id
# with small ones (20, 21, ...). The new image's figures are accepted, and the totals add them to the
# first image's, each image counted once (docs/control-page.md): above 1000019, far below 2000000.
start_oomless "$E2E_TMP/id.log" run --memory-max 256M -- env -u LD_PRELOAD "$HOSTILE" exec 3
pid=$OOMLESS_PID
wait_status "$pid"
added() {
        local v
        v=$(jget "$(status_json "$pid")" .heap.cap_hits)
        [[ $v =~ ^[0-9]+$ ]] && ((v > 1000019 && v < 2000000))
}
wait_for 10 added || fail "the new image's figures were never added to the first's: $(status_json "$pid")"
wait_exit "$pid" 20
assert_eq "$RC" 0 "scripted exec"
! grep -q 'went backwards' "$E2E_TMP/id.log" || fail "a 'went backwards' warning: $(cat "$E2E_TMP/id.log")"

# --- a launcher that closes fds and stays ---
# Python's subprocess closes every inherited fd, the page's too: its children open the page again
# through OOMLESS_CONTROL_REOPEN, and put it back at the inherited number for their own children
# (the shell below is preloaded; the readlink it starts is not, and only inherits).
# The launcher also waits for its program (so do npm start and a prefork master): it maps the page
# first and publishes its own 12M heap, and the program, holding far more, takes the allocator half
# over.
cat >"$E2E_TMP/wrap.py" <<'PY'
import os, subprocess, sys, time
subprocess.run(["sh", "-c", 'echo "fd: $(env -u LD_PRELOAD readlink /proc/self/fd/$OOMLESS_CONTROL_FD)"'])
keep = [bytearray(1 << 20) for _ in range(12)]
time.sleep(0.5)  # the launcher's background thread publishes first
p = subprocess.Popen([os.environ["BALLOON"], "--max", "64M", "--hold", "60s", "--quiet"])
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
p.terminate()
p.wait()
PY
start_oomless "$E2E_TMP/wrap.log" run --memory-max 256M -- /usr/bin/python3 "$E2E_TMP/wrap.py" "$E2E_TMP/wrap.stop"
pid=$OOMLESS_PID
wait_status "$pid"
heap_at_least() { local v; v=$(jget "$(status_json "$pid")" .heap.in_use); [[ $v =~ ^[0-9]+$ ]] && ((v >= $1 << 20)); }
wait_for 10 heap_at_least 10 || fail "the launcher never published: heap $(jget "$(status_json "$pid")" .heap)"
wait_for 10 heap_at_least 60 || fail "the launcher kept the allocator half: heap $(jget "$(status_json "$pid")" .heap)"
touch "$E2E_TMP/wrap.stop"
wait_exit "$pid" 30
assert_eq "$RC" 0 "python launcher -> balloon"
cat "$E2E_TMP/wrap.log.out" >&2
assert_file_contains "$E2E_TMP/wrap.log.out" '^fd: /memfd:oomless-control' "the page back at its inherited number"
! grep -q 'running without a control page' "$E2E_TMP/wrap.log" || fail "a child ran without the page: $(cat "$E2E_TMP/wrap.log")"
! grep -q 'went backwards' "$E2E_TMP/wrap.log" || fail "a 'went backwards' warning at the takeover: $(cat "$E2E_TMP/wrap.log")"

# A wrapper that puts another file at the inherited number (`exec N>file` in bash; dash takes one
# digit only): the program it starts finds a plain file there, not the sealed page, and opens the
# page again too.
cat >"$E2E_TMP/reuse.sh" <<'SH'
eval "exec $OOMLESS_CONTROL_FD>\"\$1\""
"$BALLOON" --max 64M --hold 60s --quiet &
b=$!
while [ ! -e "$2" ]; do sleep 0.05; done
kill $b
wait $b
echo "fd now: $(env -u LD_PRELOAD readlink /proc/self/fd/$OOMLESS_CONTROL_FD)"
SH
start_oomless "$E2E_TMP/reuse.log" run --memory-max 256M -- bash "$E2E_TMP/reuse.sh" "$E2E_TMP/other" "$E2E_TMP/reuse.stop"
pid=$OOMLESS_PID
wait_status "$pid"
wait_for 10 heap_at_least 60 || fail "a program behind a reused fd number did not publish: $(jget "$(status_json "$pid")" .heap); $(cat "$E2E_TMP/reuse.log")"
touch "$E2E_TMP/reuse.stop"
wait_exit "$pid" 30
assert_eq "$RC" 0 "sh with the fd number reused -> balloon"
assert_file_contains "$E2E_TMP/reuse.log.out" "^fd now: $E2E_TMP/other\$" "the other file keeps the number (nothing is put over it)"
! grep -q 'running without a control page' "$E2E_TMP/reuse.log" || fail "a process ran without the page: $(cat "$E2E_TMP/reuse.log")"

# A bad OOMLESS_CONTROL_REOPEN (it is only the environment): one line naming the problem, and the
# program runs without the page. Only /proc/<pid>/fd/<n> is opened, and a FIFO there cannot block.
[[ -f ${LIBOOMLESS:-} ]] || fail "LIBOOMLESS is not set to liboomless.so"
mkfifo "$E2E_TMP/fifo"
exec 7<>"$E2E_TMP/fifo"
for bad in /etc/passwd /proc/self/fd/7 "/proc/$$/fd/7" "/proc/$$/fd/7x"; do
        # (not under timeout(1): it would be preloaded too, and print its own line)
        out=$(OOMLESS_CONTROL_FD=77 OOMLESS_CONTROL_REOPEN=$bad LD_PRELOAD=$LIBOOMLESS \
                "$BALLOON" --max 4M --quiet 2>&1) || fail "OOMLESS_CONTROL_REOPEN=$bad: the program failed: $out"
        [[ $(grep -c 'liboomless: ignoring OOMLESS_CONTROL_FD=77: .*running without a control page' <<<"$out") == 1 ]] ||
                fail "OOMLESS_CONTROL_REOPEN=$bad: expected one line, got: $out"
done
out=$(OOMLESS_CONTROL_FD=77 OOMLESS_CONTROL_REOPEN=/etc/passwd LD_PRELOAD=$LIBOOMLESS "$BALLOON" --max 4M --quiet 2>&1)
assert_match "$out" 'is not of the form /proc/<pid>/fd/<n>' "a path not under /proc is named as such"
out=$(OOMLESS_CONTROL_FD=77 OOMLESS_CONTROL_REOPEN=/proc/$$/fd/7 LD_PRELOAD=$LIBOOMLESS "$BALLOON" --max 4M --quiet 2>&1)
assert_match "$out" 'not a regular file' "a FIFO behind the /proc link is refused"
exec 7>&-

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

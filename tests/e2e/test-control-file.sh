#!/usr/bin/env bash
# The control page's file fallback (code review, finding 2a). Where memfd_create(2) fails (a kernel
# before 3.17, a seccomp profile; here a real seccomp filter, no-memfd), `oomless run` logs it and
# creates the page as the file "control" in its runtime directory instead, and the workload gets
# OOMLESS_CONTROL=PATH, not OOMLESS_CONTROL_FD. Through that file:
#  - the preloaded allocator gets the heap cap: balloon asking for 64M under --heap-cap 32M (the
#    cgroup allows 256M) fails its malloc (exit 3), and a 16M balloon runs;
#  - the supervisor sees the allocator's figures: status shows heap.held >= 16M and heap.cap 32M
#    while the small balloon holds.
# Costs about 5 s.
source "$(dirname "$0")/lib.sh"
[[ -x $BALLOON ]] || fail "BALLOON is not set to the balloon binary"
[[ -x ${NO_MEMFD:-} ]] || fail "NO_MEMFD is not set to the no-memfd binary"
"$NO_MEMFD" true || skip "cannot install a seccomp filter here"
if "$NO_MEMFD" python3 -c 'import os; os.memfd_create("x")' 2>/dev/null; then
        fail "memfd_create still works under no-memfd: the test would prove nothing"
fi

cat >"$E2E_TMP/work.sh" <<'SH'
echo "env: fd=${OOMLESS_CONTROL_FD:-none} reopen=${OOMLESS_CONTROL_REOPEN:-none} path=${OOMLESS_CONTROL:-none}"
"$BALLOON" --max 64M --step 1M --quiet
echo "big=$?"
# exec: the small balloon takes over the shell's pid, which may already publish into the page's
# allocator half (the first process to claim it does; a slow machine lets the shell's background
# thread claim before a child starts). The same pid claims it again from the new image.
exec "$BALLOON" --max 16M --step 1M --hold 8s --quiet
SH
export BALLOON
# no-memfd execs oomless, so $! is oomless's pid. An outer oomless's fd variables must not reach the
# workload: the allocator prefers the fd to the path, and would look for the outer page.
OOMLESS_CONTROL_FD=99 OOMLESS_CONTROL_REOPEN=/proc/1/fd/99 "$NO_MEMFD" "$OOMLESS" run --memory-max 256M --heap-cap 32M -- sh "$E2E_TMP/work.sh" \
        >"$E2E_TMP/run.log.out" 2>"$E2E_TMP/run.log" &
pid=$!
E2E_PIDS+=("$pid")
wait_status "$pid"
dir=$(echo "$OOMLESS_RUNTIME_DIR/$pid"-*)
[[ -f $dir/control ]] || fail "no control file in $dir: $(ls -la "$dir")"
held_16m() {
        local st
        st=$(status_json "$pid")
        [[ $(jget "$st" .heap.held) =~ ^[0-9]+$ ]] && (($(jget "$st" .heap.held) >= 16 << 20))
}
wait_for 20 held_16m || fail "the supervisor never saw the 16M heap through the file page: $(status_json "$pid")"
st=$(status_json "$pid")
assert_eq "$(jget "$st" .heap.cap)" $((32 << 20)) "heap.cap in status"
wait_exit "$pid" 30
cat "$E2E_TMP/run.log.out" >&2
assert_eq "$RC" 0 "exit status (the 16M balloon under the cap runs)"
assert_file_contains "$E2E_TMP/run.log" "Cannot create a sealed control page, using a file" "the fallback is logged"
assert_file_contains "$E2E_TMP/run.log.out" "^env: fd=none reopen=none path=$dir/control$" "the workload is given the file"
assert_file_contains "$E2E_TMP/run.log.out" '^big=3$' "64M under a 32M heap cap fails its malloc"
assert_cleaned "$pid"
say "ok"

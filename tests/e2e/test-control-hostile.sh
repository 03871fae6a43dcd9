#!/usr/bin/env bash
# A hostile workload writing the allocator half of its control page itself (issue 14):
#  - finding 7: a snapshot claiming 1.5x the machine's memory held and a cap of 1 byte cannot make a
#    heap condition true: the heap % denominator is the cap oomless published, and held is clamped
#    to what the cgroup is charged (status shows the clamped figure).
#  - finding 7: a publisher that changes its pid on every publish under one instance id is still
#    held to the monotonic checks (its counters going down are rejected and logged).
#  - findings 5 and 2, the adversarial suite: garbage, seq left odd, lies, truncation attempts and a
#    thread writing to the wake FIFO without pause, for 10 s. The supervisor's own CPU time
#    (utime+stime from /proc/PID/stat, so the load of a shared host does not count) stays under 10%
#    of one core, sampling goes on (a memory stage is entered during the attack), and the workload
#    exits 0.
source "$(dirname "$0")/lib.sh"
[[ -x $BALLOON ]] || fail "BALLOON is not set to the balloon binary"
[[ -x ${HOSTILE:-} ]] || fail "HOSTILE is not set to the control-hostile binary"
export HOSTILE BALLOON

# --- absurd figures ---
write_stage_policy "$E2E_TMP/heap.json" heap heap-half \
        '{ "any": [ { "heap": ">= 50%" }, { "heap": ">= 1G" } ] }' \
        '{ "all": [ { "heap": "< 1M" } ] }'
start_oomless "$E2E_TMP/absurd.log" run --policy "$E2E_TMP/heap.json" --memory-max 256M -- \
        env -u LD_PRELOAD "$HOSTILE" absurd 120
pid=$OOMLESS_PID
wait_status "$pid"
heap_seen() { [[ $(jget "$(status_json "$pid")" .heap.held) =~ ^[0-9]+$ ]]; }
wait_for 20 heap_seen || fail "the snapshots were never accepted: $(status_json "$pid")"
checked=0
for _ in 1 2 3 4 5; do
        json=$(status_json "$pid")
        held=$(jget "$json" .heap.held)
        cur=$(jget "$json" .memory.current)
        cap=$(jget "$json" .heap.cap)
        [[ $held == null ]] && continue
        # Each figure of the status comes from one sample, so the clamp holds exactly.
        ((held <= cur)) || fail "heap.held $held exceeds memory.current $cur"
        ((cap >= 4 * 1024 * 1024)) || fail "heap.cap $cap: the workload's cap of 1 byte was taken"
        assert_eq "$(jget "$json" .policy.stage)" 0 "no heap stage from absurd figures"
        checked=$((checked + 1))
        sleep 0.3
done
((checked >= 3)) || fail "only $checked status reads showed heap figures"
kill -TERM "$pid"
wait_exit "$pid" 30
assert_eq "$RC" 143 "absurd publisher, stopped with SIGTERM"

# --- a new pid on every publish ---
start_oomless "$E2E_TMP/flip.log" run --memory-max 256M -- env -u LD_PRELOAD "$HOSTILE" pidflip 2
pid=$OOMLESS_PID
wait_exit "$pid" 20
assert_eq "$RC" 0 "pid-flipping publisher"
assert_file_contains "$E2E_TMP/flip.log" 'went backwards' "the counters of a pid-flipping publisher are still checked"

# --- the adversary, 10 s ---
write_stage_policy "$E2E_TMP/mem.json" mem big \
        '{ "all": [ { "memory": ">= 32M" } ] }' \
        '{ "all": [ { "memory": "< 16M" } ] }'
cat >"$E2E_TMP/adv.sh" <<'SH'
env -u LD_PRELOAD "$HOSTILE" adversary 10 &
a=$!
sleep 4
"$BALLOON" --max 48M --hold 3s --quiet
echo "balloon=$?"
wait $a
echo "adversary=$?"
SH
tck=$(getconf CLK_TCK)
# utime+stime of the main thread (the event loop) of a live process; fails for a zombie. The
# process-wide figure sums threads that come and go, and went backwards in the VM.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); if ($1 == "Z" || $1 == "X") exit 1; print $12 + $13 }' "/proc/$1/task/$1/stat"; }
start_oomless "$E2E_TMP/adv.log" run --policy "$E2E_TMP/mem.json" \
        --memory-max 256M -- sh "$E2E_TMP/adv.sh"
pid=$OOMLESS_PID
wait_status "$pid"
t0=$(date +%s%N)
c0=$(cpu_ticks "$pid")
entered=0
while ! exited "$pid"; do
        # A status request costs the supervisor a sample too: a few a second at most.
        st=$(jget "$(status_json "$pid" 2>/dev/null || echo '{}')" .policy.stage)
        [[ $st == 1 ]] && entered=1
        c1=$(cpu_ticks "$pid" 2>/dev/null) || break
        t1=$(date +%s%N)
        sleep 0.5
done
wait_exit "$pid" 30
cat "$E2E_TMP/adv.log.out" >&2
assert_eq "$RC" 0 "the workload under attack exits 0"
assert_file_contains "$E2E_TMP/adv.log.out" '^balloon=0$' "a liboomless process under the attack runs to its end"
assert_file_contains "$E2E_TMP/adv.log.out" '^adversary=0$' "the page stays intact"
assert_file_contains "$E2E_TMP/adv.log.out" ' 0 truncations succeeded' "no truncation succeeded"
# The FIFO was really spammed (thousands of bytes), so the test measured what it claims to.
fifo=$(sed -n 's/.* \([0-9]*\) FIFO bytes.*/\1/p' "$E2E_TMP/adv.log.out")
((fifo > 10000)) || fail "the adversary wrote only $fifo bytes to the FIFO"
((entered == 1)) || fail "the memory stage was never entered during the attack: sampling stopped?"
wall_ms=$(((t1 - t0) / 1000000))
cpu_ms=$(((c1 - c0) * 1000 / tck))
say "supervisor CPU: ${cpu_ms} ms in ${wall_ms} ms of attack ($((cpu_ms * 100 / wall_ms))% of a core), $fifo FIFO bytes"
# The attack lasts 10 s from the workload's start; in the VM the first status answer alone can take
# a few seconds of it.
((wall_ms >= 6000)) || fail "the attack was measured for only ${wall_ms} ms"
# The target is 10% of a core on real hardware. Inside the emulated v2 VM (tests/vm sets
# OOMLESS_TEST_TIME_FACTOR) every syscall costs many times more and a busy host inflates the guest's
# accounting, so the bound scales with the factor, up to 80% of a core (measured alone there: 35%):
# uncoalesced wakes still peg a whole one.
factor=${OOMLESS_TEST_TIME_FACTOR:-1}
((factor > 8)) && factor=8
((factor < 1)) && factor=1
((cpu_ms * 10 < wall_ms * factor)) ||
        fail "the supervisor used ${cpu_ms} ms of CPU in ${wall_ms} ms (>= $((10 * factor))% of a core)"
! grep -Eq 'SIGBUS|Bus error|status 135' "$E2E_TMP/adv.log" || fail "a SIGBUS somewhere"
# Each kind of problem (torn, unreadable, invalid) is logged at most once per 10 s: the attack's
# thousands of bad snapshots give a handful of lines, and at least one.
lines=$(grep -c "ignoring this snapshot" "$E2E_TMP/adv.log" || true)
((lines >= 1 && lines <= 6)) || fail "$lines lines about discarded snapshots in a 10 s attack (want 1..6)"
say "ok"

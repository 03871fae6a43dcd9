#!/usr/bin/env bash
# attach made for sidecars (issue 12 part 3): the target started after attach is found by --wait
# (comm, cmdline, pidfile, control page); --follow goes on across a kill and a restart by a small
# shell "runtime" loop, keeping its counters and its HTTP endpoint; the restart action in attach mode
# sends TERM, waits the grace, sends KILL, and attach follows the new process; the capability line at
# start; `check --mode attach`; and a leaking app under LD_PRELOAD=liboomless.so with
# OOMLESS_CONTROL=FILE (started before the page exists) is capped and restarted gracefully; the
# page's wake FIFO (PATH.wake, OOMLESS_WAKE) acts on a heap crossing before the tick; forged pids in
# the page (a process that does not map it, pid 1) and a FIFO planted as the pidfile are refused.
# Cost: about 25 s.
source "$(dirname "$0")/lib.sh"
: "${LIBOOMLESS:?set LIBOOMLESS to liboomless.so}"

make_target_cgroup oomless-e2e-attach-wait
# The runtimes' apps are in $cg, not all our children: kill them before the cgroup is removed.
kill_cg() {
        touch "$E2E_TMP"/stop-comm "$E2E_TMP"/stop-stubborn "$E2E_TMP"/stop-leak "$E2E_TMP"/stop-leak6 2>/dev/null || true
        kill_cgroup_procs "$cg"
}
trap 'kill_cg; e2e_cleanup' EXIT

# Waits stretch by the VM's factor (tests/vm runs this under emulation).
factor=${OOMLESS_TEST_TIME_FACTOR:-1}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() {
        python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
                "http://127.0.0.1:$port/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
log_has() { grep -Eq -- "$1" "$E2E_TMP/log"; }

# runtime NAME CMD...: a container runtime in miniature: runs CMD in the cgroup, again each time it
# ends, until $E2E_TMP/stop-NAME exists.
runtime() {
        local name=$1
        shift
        (
                echo "$BASHPID" >"$cg/cgroup.procs"
                while [[ ! -e $E2E_TMP/stop-$name ]]; do
                        "$@" || true
                        sleep 0.3
                done
        ) &
        E2E_PIDS+=("$!")
}
stop_runtime() { touch "$E2E_TMP/stop-$1"; }
pid_of() { pgrep -f -- "$1" | head -1; }
# in_cg CMD...: CMD in the test's cgroup (with &, $! is CMD's pid). On pure v2 the suite itself may
# run in the root cgroup, which has no memory.max to supervise against.
in_cg() {
        echo "$BASHPID" >"$cg/cgroup.procs"
        exec "$@"
}

# An app with its own name (comm), which ignores nothing.
app=$E2E_TMP/sidecar-app
cp "$(command -v sleep)" "$app"

## 1. --wait=comm: the target appears after attach; --follow across a kill and a restart.
port=$(free_port)
start_oomless "$E2E_TMP/log" attach --wait=comm:sidecar-app --follow --interval 100ms --listen "127.0.0.1:$port"
wait_for $((5 * factor)) log_has "Waiting for the target \(--wait=comm:sidecar-app\)" || fail "no waiting line"
sleep 0.5
kill -0 "$OOMLESS_PID" || fail "attach --wait ended while the target was not there yet"
runtime comm "$app" 300
wait_for $((5 * factor)) log_has "Found the target: pid [0-9]+" || fail "the target was not found"
first=$(pid_of "$app 300")
assert_file_contains "$E2E_TMP/log" "Found the target: pid $first" "the target found by comm"
assert_file_contains "$E2E_TMP/log" "attach can here: tier [a-z0-9]+, reading $cg; .*restart: stops the target" \
        "the capability line"
[[ $(grep -c "attach can here" "$E2E_TMP/log") == 1 ]] || fail "more than one capability line"
wait_status "$OOMLESS_PID"
has_metrics() { [[ -n $(metric oomless_samples_total) ]]; }
wait_for $((5 * factor)) has_metrics || fail "no /metrics"
samples1=$(metric oomless_samples_total)
kill -KILL "$first"
wait_for $((5 * factor)) log_has "target pid $first exited; following" || fail "no 'exited; following' line"
wait_for $((5 * factor)) log_has "now following pid [0-9]+" || fail "the restarted target was not followed"
second=$(pid_of "$app 300")
[[ -n $second && $second != "$first" ]] || fail "the runtime did not restart the app"
assert_file_contains "$E2E_TMP/log" "now following pid $second" "the new pid"
json=$(status_json "$OOMLESS_PID")
assert_eq "$(jget "$json" .child.pid)" "$second" "status: the followed pid"
samples2=$(metric oomless_samples_total)
((samples2 > samples1)) || fail "the samples counter went from $samples1 to $samples2 across the follow"
stop_runtime comm
kill -TERM "$OOMLESS_PID"
kill -KILL "$second"
wait_exit "$OOMLESS_PID" $((10 * factor))
assert_eq "$RC" 0 "attach --follow exit status on SIGTERM"

## 2. --wait=cmdline and --wait=pidfile, the target started after attach; ends with the target.
: >"$E2E_TMP/log"
start_oomless "$E2E_TMP/log" attach --wait="cmdline:sidecar-app 301" --interval 100ms
sleep 0.4
in_cg "$app" 301 &
t=$!
E2E_PIDS+=("$t")
wait_for $((5 * factor)) log_has "Found the target: pid $t " || fail "cmdline: not found"
kill "$t"
wait_exit "$OOMLESS_PID" $((10 * factor))
assert_eq "$RC" 0 "attach --wait without --follow ends with the target"
assert_file_contains "$E2E_TMP/log" "target process $t exited" "ends when the target exits"

: >"$E2E_TMP/log"
start_oomless "$E2E_TMP/log" attach --wait="pidfile:$E2E_TMP/app.pid" --wait-timeout 10s --interval 100ms
sleep 0.4
in_cg "$app" 302 &
t=$!
E2E_PIDS+=("$t")
echo "$t" >"$E2E_TMP/app.pid"
wait_for $((5 * factor)) log_has "Found the target: pid $t " || fail "pidfile: not found"
kill "$t"
wait_exit "$OOMLESS_PID" $((10 * factor))

: >"$E2E_TMP/log"
start_oomless "$E2E_TMP/log" attach --wait=comm:never-there --wait-timeout 500ms
wait_exit "$OOMLESS_PID" $((10 * factor))
assert_eq "$RC" 125 "--wait-timeout expired"
assert_file_contains "$E2E_TMP/log" "No target matching --wait=comm:never-there appeared within 500ms" "timeout message"

# restart_policy FILE NAME ENTER EXIT EXIT_FOR GRACE: one stage that restarts (SIGTERM, then KILL
# after GRACE) on entering at the condition ENTER, left at EXIT held EXIT_FOR.
restart_policy() {
        cat >"$1" <<JSON
{ "version": 1, "name": "$2", "sampling_interval": "100ms",
  "stages": [ { "name": "restart", "enter": { "all": [ { $3 } ] },
                "exit": { "all": [ { $4 } ], "for": "$5" },
                "on_enter": [ { "action": "restart", "stop_signal": "SIGTERM", "grace": "$6", "timeout": "5s" } ] } ] }
JSON
}

## 3. The restart action in attach mode: TERM, the grace, KILL; the runtime restarts; attach follows.
restart_policy "$E2E_TMP/restart.json" restart-now '"headroom": ">= 2B"' '"headroom": "< 1B"' 1h 1s
cat >"$E2E_TMP/stubborn" <<SH
#!/bin/sh
trap 'echo "TERM \$\$" >>$E2E_TMP/terms' TERM
while :; do sleep 0.1; done
SH
chmod +x "$E2E_TMP/stubborn"
: >"$E2E_TMP/log"
runtime stubborn "$E2E_TMP/stubborn"
stubborn_pid() {
        local p
        p=$(pgrep -f "^/bin/sh $E2E_TMP/stubborn" | head -1)
        [[ -n $p ]] && echo "$p"
}
wait_for $((5 * factor)) stubborn_pid >/dev/null || fail "stubborn did not start"
first=$(stubborn_pid)
port=$(free_port)
start_oomless "$E2E_TMP/log" attach --wait=comm:stubborn --follow --policy "$E2E_TMP/restart.json" --interval 100ms \
        --listen "127.0.0.1:$port"
wait_for $((10 * factor)) log_has "Sent SIGTERM to the target \(pid $first\) to restart it" || { cat "$E2E_TMP/log" >&2; fail "no SIGTERM for the restart"; }
wait_for $((5 * factor)) grep -q "TERM $first" "$E2E_TMP/terms" || fail "the target did not get SIGTERM"
wait_for $((5 * factor)) log_has "did not stop within its grace; sending SIGKILL" || fail "no SIGKILL after the grace"
wait_for $((5 * factor)) log_has "now following pid [0-9]+" || fail "attach did not follow the restarted target"
second=$(grep -oE "now following pid [0-9]+" "$E2E_TMP/log" | head -1 | grep -oE '[0-9]+$')
[[ $second != "$first" ]] || fail "followed the same pid"
wait_status "$OOMLESS_PID"
assert_eq "$(jget "$(status_json "$OOMLESS_PID")" .child.restarts)" 1 "status: restarts"
# The metric counts attach's restarts too, and its help says so.
assert_eq "$(metric oomless_restarts_total)" 1 "oomless_restarts_total after the restart in attach mode"
help=$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
        "http://127.0.0.1:$port/metrics" | grep "^# HELP oomless_restarts_total")
assert_match "$help" "attach" "oomless_restarts_total's help names attach"
[[ $help != *"(run mode)"* ]] || fail "oomless_restarts_total's help still says run mode only: $help"
stop_runtime stubborn
kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID" $((10 * factor))
pkill -KILL -f "^/bin/sh $E2E_TMP/stubborn" || true

# Without --follow the restart cannot work: said at start, and skipped.
in_cg "$E2E_TMP/stubborn" &
t=$!
E2E_PIDS+=("$t")
: >"$E2E_TMP/log"
start_oomless "$E2E_TMP/log" attach --pid "$t" --policy "$E2E_TMP/restart.json" --interval 100ms
wait_for $((5 * factor)) log_has "attach can here: .*restart: no, without --follow" || fail "the capability line does not say restart is skipped"
assert_file_contains "$E2E_TMP/log" "skipped actions: restart \(stage \"restart\"\): skipped" "the skipped action"
wait_for $((5 * factor)) log_has "Skipping the restart" || fail "the restart was not skipped with a line"
kill -0 "$t" || fail "the target was stopped although restart is skipped"
wait_status "$OOMLESS_PID"
outcome=$(jget "$(status_json "$OOMLESS_PID")" '[.policy.recent_actions[]? | select(.action == "restart") | .outcome][0]')
assert_eq "$outcome" skipped "the restart action's outcome"
kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID" $((10 * factor))
kill -KILL "$t"

## 4. check --mode attach lists what attach cannot do; --mode run (the default) on this host.
out=$("$OOMLESS" check --mode attach "$E2E_TMP/restart.json")
assert_match "$out" "mode attach: restart \(stage \"restart\"\): skipped: needs --wait=SPEC --follow" "check --mode attach"
out=$("$OOMLESS" check --mode=attach "$(dirname "$0")/../../examples/policies/self-healing.json" || true)
[[ $(grep -c "mode attach:" <<<"$out") -ge 1 ]] || fail "check --mode attach printed no line for self-healing.json: $out"
out=$("$OOMLESS" check "$E2E_TMP/restart.json")
[[ $out != *"mode run:"* ]] || fail "check --mode run reports restart as impossible: $out"
"$OOMLESS" check --mode bogus "$E2E_TMP/restart.json" 2>/dev/null && fail "check --mode bogus accepted"

## 5. A leaking app under LD_PRELOAD with OOMLESS_CONTROL=FILE, started before the page exists: it
## takes the heap cap from the page, and is restarted gracefully (SIGTERM) before it reaches it.
limit_f=memory.limit_in_bytes
[[ -f $cg/$limit_f ]] || limit_f=memory.max
echo $((64 << 20)) >"$cg/$limit_f"
restart_policy "$E2E_TMP/leak.json" restart-leak '"memory": ">= 50%"' '"memory": "< 30%"' 200ms 2s
page=$E2E_TMP/shared/control
mkdir -p "$E2E_TMP/shared"
runtime leak env LD_PRELOAD="$LIBOOMLESS" OOMLESS_CONTROL="$page" "$BALLOON" --leak --rate 30M --step 1M --quiet
sleep 0.5
: >"$E2E_TMP/log"
port=$(free_port)
start_oomless "$E2E_TMP/log" attach --wait="control:$page" --control-page="$page" --follow --listen "127.0.0.1:$port" \
        --policy "$E2E_TMP/leak.json"
wait_for $((10 * factor)) log_has "Found the target: pid [0-9]+" || fail "the control page never became live"
wait_status "$OOMLESS_PID"
# The status socket is up while attach waits: the cap is published at the first tick after "Found",
# and the allocator reports it once its background thread has seen it.
reports_cap() { [[ $(jget "$(status_json "$OOMLESS_PID")" .heap.cap) =~ ^[0-9]+$ ]]; }
wait_for $((5 * factor)) reports_cap || fail "the allocator reports no heap cap: $(jget "$(status_json "$OOMLESS_PID")" .heap)"
json=$(status_json "$OOMLESS_PID")
cap=$(jget "$json" .heap.cap)
assert_match "$cap" '^[0-9]+$' "the heap cap the allocator reports"
((cap > 0 && cap <= 64 << 20)) || fail "heap cap $cap is not within the 64M limit"
# The allocator's own half of the page says the cap it enforces (struct oomless_control_alloc.heap_cap),
# which must be the one oomless publishes (struct oomless_control_sup.heap_cap). Both are read from the
# page, not the status's earlier figure: the live cap moves with the samples (the leak restarts, and
# what the cgroup holds outside the heap changes), so the status's cap may be a publish behind.
alloc_cap() { od -An -t u8 -j 224 -N 8 "$page" | tr -d ' '; }
sup_cap() { od -An -t u8 -j 80 -N 8 "$page" | tr -d ' '; }
capped() {
        local a s
        a=$(alloc_cap) s=$(sup_cap)
        [[ $a =~ ^[0-9]+$ && $a != 0 && $a == "$s" ]]
}
wait_for $((5 * factor)) capped || fail "the allocator enforces a heap cap of $(alloc_cap), not the published $(sup_cap)"
wait_for $((20 * factor)) log_has "Sent SIGTERM to the target \(pid [0-9]+\) to restart it" || fail "the leak was not restarted"
wait_for $((10 * factor)) log_has "now following pid [0-9]+" || fail "the restarted leak was not followed"
! log_has "OOM-killed" || fail "the kernel OOM-killed the leak"
! log_has "did not stop within its grace" || fail "the leak needed SIGKILL"
! log_has "went backwards" || fail "a counter went backwards across the follow"
restarted() { (($(jget "$(status_json "$OOMLESS_PID")" .child.restarts) >= 1)); }
wait_for $((10 * factor)) restarted || fail "restarts not counted"
stop_runtime leak
kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID" $((10 * factor))
assert_eq "$RC" 0 "attach exit status"
[[ -f $page ]] || fail "the control page was removed at exit (the app keeps mapping it)"
pkill -KILL -f "$BALLOON --leak" || true
wait_for $((10 * factor)) test ! -s "$cg/cgroup.procs" || true

## 5b. Forged targets. The page's pid is written by the workload: a pid that does not map the page
## (here a sleep in the same cgroup), or pid 1, is not taken. A FIFO planted where the pidfile should
## be does not block attach.
in_cg sleep 60 &
forged=$!
E2E_PIDS+=("$forged")
forge_pid() { python3 -c 'import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(196); f.write(struct.pack("<I", int(sys.argv[2])))' "$page" "$1"; }
for p in "$forged" 1; do
        forge_pid "$p"
        : >"$E2E_TMP/log"
        start_oomless "$E2E_TMP/log" attach --wait="control:$page" --wait-timeout 1s
        wait_exit "$OOMLESS_PID" $((10 * factor))
        assert_eq "$RC" 125 "--wait=control with a forged pid $p in the page"
        ! log_has "Found the target" || fail "attach took the forged pid $p from the page"
done
kill -KILL "$forged"
mkfifo "$E2E_TMP/planted.pid"
: >"$E2E_TMP/log"
start_oomless "$E2E_TMP/log" attach --wait="pidfile:$E2E_TMP/planted.pid" --wait-timeout 1s
wait_exit "$OOMLESS_PID" $((10 * factor))
assert_eq "$RC" 125 "--wait=pidfile on a FIFO ends at its timeout"

## 6. The file page's wake FIFO, PATH.wake: with a 30 s tick, the heap crossing the watermark (85% of
## the limit) is handled at once through OOMLESS_WAKE, not at the next tick.
page=$E2E_TMP/shared6/control
mkdir -p "$E2E_TMP/shared6"
: >"$E2E_TMP/log"
start_oomless "$E2E_TMP/log" attach --wait="control:$page" --control-page="$page" --follow --interval 30s \
        --policy "$E2E_TMP/leak.json"
wait_for $((5 * factor)) log_has "Created the control page $page: .*OOMLESS_WAKE=$page.wake" || fail "no wake FIFO named at start"
[[ -p $page.wake ]] || fail "$page.wake is not a FIFO"
[[ $(stat -c %a "$page.wake") == 660 ]] || fail "$page.wake has mode $(stat -c %a "$page.wake"), not 0660"
runtime leak6 env LD_PRELOAD="$LIBOOMLESS" OOMLESS_CONTROL="$page" OOMLESS_WAKE="$page.wake" "$BALLOON" --leak --rate 30M --step 1M --quiet
wait_for $((10 * factor)) log_has "Found the target: pid [0-9]+" || fail "the control page never became live"
# The tick after the first sample is 30 s away: only the wake-up can act within 10 s.
wait_for $((10 * factor)) log_has "Sent SIGTERM to the target \(pid [0-9]+\) to restart it" || { cat "$E2E_TMP/log" >&2; fail "the crossing did not wake attach (no restart before the tick)"; }
stop_runtime leak6
kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID" $((10 * factor))
assert_eq "$RC" 0 "attach exit status"
[[ -p $page.wake ]] || fail "the wake FIFO was removed at exit (the app keeps it open)"
pkill -KILL -f "$BALLOON --leak" || true
for p in "${E2E_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
wait_for $((10 * factor)) test ! -s "$cg/cgroup.procs" || true
say "ok"

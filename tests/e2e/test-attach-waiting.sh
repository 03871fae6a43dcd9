#!/usr/bin/env bash
# attach while it waits for its target (a native sidecar starts before the app): the status socket and
# the HTTP endpoint are up from the start, /livez answers 200, /readyz 503 saying what attach waits for,
# /metrics serves oomless_target_up 0 (1 once attached, 0 again while --follow looks for the next
# process), `oomless status` says "waiting for target"; SIGTERM during the wait (the first one and
# the one between targets) ends attach with status 0 and a log line.
# Cost: about 5 s.
source "$(dirname "$0")/lib.sh"

make_target_cgroup oomless-e2e-attach-waiting
kill_cg() {
        kill_cgroup_procs "$cg"
}
trap 'kill_cg; e2e_cleanup' EXIT

factor=${OOMLESS_TEST_TIME_FACTOR:-1}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# get PATH: "CODE BODY" of GET http://127.0.0.1:$port/PATH (a 503 is an answer, not an error), through
# bash's /dev/tcp: a python3 start-up per request costs a second on a loaded machine.
get() {
        local fd resp
        exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
        printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&"$fd"
        resp=$(tr -d '\r' <&"$fd")
        exec {fd}>&-
        printf '%s %s' "$(head -1 <<<"$resp" | awk '{print $2}')" "${resp#*$'\n\n'}"
}
metric() { get /metrics | awk -v n="$1" '$1 == n {print $2}'; }
log_has() { grep -Eq -- "$1" "$E2E_TMP/log"; }

app=$E2E_TMP/waiting-app
cp "$(command -v sleep)" "$app"
spawn_app() { # in $cg, like a container's process
        (
                echo "$BASHPID" >"$cg/cgroup.procs"
                exec "$app" 300
        ) &
        APP=$!
        E2E_PIDS+=("$APP")
}

## 1. Waiting at start: every endpoint answers, and says so.
port=$(free_port)
start_oomless "$E2E_TMP/log" attach --wait=comm:waiting-app --follow --interval 100ms --listen "127.0.0.1:$port"
wait_for $((5 * factor)) log_has "Waiting for the target \(--wait=comm:waiting-app\)" || fail "no waiting line"
wait_status "$OOMLESS_PID"
json=$(status_json "$OOMLESS_PID")
assert_eq "$(jget "$json" .waiting)" "comm:waiting-app" "status --json: waiting"
assert_eq "$(jget "$json" .child.pid)" null "status --json: no target yet"
human=$("$OOMLESS" status --pid "$OOMLESS_PID")
assert_match "$human" "waiting for target \(--wait=comm:waiting-app\)" "oomless status while waiting"
up() { [[ $(get /livez) == "200 ok"* ]]; }
wait_for $((5 * factor)) up || fail "/livez does not answer 200 while waiting: $(get /livez)"
ready=$(get /readyz)
assert_match "$ready" "^503 not ready: waiting for the target \(--wait=comm:waiting-app\)" "/readyz while waiting"
metrics=$(get /metrics)
assert_match "$metrics" "^200 " "/metrics while waiting"
assert_match "$metrics" $'\noomless_target_up 0\n' "oomless_target_up while waiting"
assert_match "$metrics" $'\noomless_samples_total 0\n' "no sample while waiting"
assert_match "$metrics" $'\noomless_restarts_total 0\n' "restarts family while waiting"
[[ $metrics != *"oomless_memory_current_bytes "* ]] || fail "a memory sample while waiting"
kill -0 "$OOMLESS_PID" || fail "attach ended while serving the endpoints"

## 2. The target appears: attached, ready, up.
spawn_app
first=$APP
wait_for $((5 * factor)) log_has "Found the target: pid $first " || fail "the target was not found"
attached() { [[ $(metric oomless_target_up) == 1 ]]; }
wait_for $((5 * factor)) attached || fail "oomless_target_up is not 1 once attached"
assert_match "$(get /readyz)" "^200 ready" "/readyz once attached"
json=$(status_json "$OOMLESS_PID")
assert_eq "$(jget "$json" .waiting)" null "status --json: not waiting once attached"
assert_eq "$(jget "$json" .child.pid)" "$first" "status --json: the target"
sampled() { (($(metric oomless_samples_total) > 0)); }
wait_for $((5 * factor)) sampled || fail "no samples once attached"

## 3. Between targets (--follow): waiting again, said everywhere; SIGTERM then ends attach cleanly.
kill -KILL "$first"
wait_for $((5 * factor)) log_has "target pid $first exited; following" || fail "no 'exited; following' line"
lost() { [[ $(metric oomless_target_up) == 0 ]]; }
wait_for $((5 * factor)) lost || fail "oomless_target_up is not 0 between targets"
assert_match "$(get /readyz)" "^503 not ready: waiting for the target \(--wait=comm:waiting-app\)" "/readyz between targets"
assert_match "$(get /livez)" "^200 ok" "/livez between targets"
assert_eq "$(jget "$(status_json "$OOMLESS_PID")" .waiting)" "comm:waiting-app" "status between targets"
kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID" $((10 * factor))
assert_eq "$RC" 0 "SIGTERM between targets"
assert_file_contains "$E2E_TMP/log" "SIGTERM: oomless attach ends while waiting for the target \(--wait=comm:waiting-app\)" \
        "the SIGTERM line between targets"

## 4. SIGTERM and SIGINT during the first wait: status 0 and a line, not death by the signal (143).
for sig in TERM INT; do
        : >"$E2E_TMP/log"
        start_oomless "$E2E_TMP/log" attach --wait=comm:never-there
        wait_status "$OOMLESS_PID"
        kill -"$sig" "$OOMLESS_PID"
        wait_exit "$OOMLESS_PID" $((10 * factor))
        assert_eq "$RC" 0 "SIG$sig while waiting"
        assert_file_contains "$E2E_TMP/log" "SIG$sig: oomless attach ends while waiting for the target \(--wait=comm:never-there\)" \
                "the SIG$sig line while waiting"
done
say "ok"

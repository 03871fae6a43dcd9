#!/usr/bin/env bash
# run --stop-delay: on SIGTERM oomless goes not-ready at once (/readyz 503, the oomless_ready metric
# and oomless_ready() in the workload 0) while the workload keeps running, and passes the signal on
# only after the delay; a second SIGTERM passes it on at once; a workload that ends during the delay
# is not restarted; bad values are refused. Costs about 7 s.
source "$(dirname "$0")/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# get PATH: "CODE BODY" from the endpoint ("000 why" when it cannot be reached). The timeout is
# generous: in the VM, with the host's lane running beside it, one request can take seconds.
get() {
        python3 - "http://127.0.0.1:$port$1" "$((5 * ${OOMLESS_TEST_TIME_FACTOR:-1}))" <<'PY'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2]))
    print(r.status, r.read().decode().strip().replace("\n", " | "))
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip().replace("\n", " | "))
except OSError as e:
    print("000", e)
PY
}
ready_200() { [[ $(get /readyz) == 200* ]]; }
metric() { get /metrics | tr '|' '\n' | awk -v n="$1" '$1 == n {print $2}'; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# The workload notes when SIGTERM reached it, and exits 0 then.
cat >"$E2E_TMP/app.sh" <<'SH'
trap 'echo "TERM $(cut -d" " -f1 /proc/uptime)" >>"$1"; exit 0' TERM
while :; do sleep 0.05; done
SH
# The same in Python under liboomless, which also notes when oomless_ready() turned 0 (FILE.nr).
cat >"$E2E_TMP/app.py" <<'PY'
import ctypes, signal, sys, time
lib, out = ctypes.CDLL(None), sys.argv[1]
uptime = lambda: open("/proc/uptime").read().split()[0]
def term(*_):
    open(out, "a").write(f"TERM {uptime()}\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
seen = False
while True:
    if not seen and lib.oomless_ready() == 0:
        open(out + ".nr", "w").write(f"NOTREADY {uptime()}\n")
        seen = True
    time.sleep(0.02)
PY

## 1. The delay: not ready at once, the signal D s later (60 s in the VM, where the factor is 10: under
# a full run the five checks below once outlasted a 30 s delay, and /metrics found oomless gone).
F=${OOMLESS_TEST_TIME_FACTOR:-1}
D=$((F > 2 ? 6 * F : 4))
port=$(free_port)
start_oomless "$E2E_TMP/log" run --stop-delay "${D}s" --listen "127.0.0.1:$port" -- \
        /usr/bin/python3 "$E2E_TMP/app.py" "$E2E_TMP/term1"
wait_for $((10 * F)) ready_200 || fail "/readyz never answered 200: $(get /readyz)"
assert_eq "$(metric oomless_ready)" 1 "oomless_ready before the stop"
t0=$(uptime_s)
kill -TERM "$OOMLESS_PID"
sleep 0.3
[[ ! -e $E2E_TMP/term1 ]] || fail "the workload got SIGTERM before the delay was over"
out=$(get /readyz)
assert_match "$out" '^503 not ready: oomless is stopping the workload' "/readyz during the stop delay"
m=$(metric oomless_ready)
[[ -n $m ]] || fail "no oomless_ready in /metrics during the stop delay: $(get /metrics | cut -c1-200)"
assert_eq "$m" 0 "oomless_ready during the stop delay"
assert_eq "$(jget "$(status_json "$OOMLESS_PID")" .policy.ready)" false "status .policy.ready during the stop delay"
wait_for $((2 * F)) test -e "$E2E_TMP/term1.nr" || fail "oomless_ready() in the workload stayed 1 during the stop delay"
[[ ! -e $E2E_TMP/term1 ]] || fail "the workload got SIGTERM before the delay was over"
wait_exit "$OOMLESS_PID" $((15 * F))
assert_eq "$RC" 0 "exit status (the workload exits 0 on SIGTERM)"
t1=$(awk '{print $2}' "$E2E_TMP/term1")
ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
say "SIGTERM reached the workload ${ms} ms after oomless got it (--stop-delay ${D}s)"
((ms >= D * 1000 - 100 && ms < D * 1000 + 4000 * F)) ||
        fail "the workload got SIGTERM ${ms} ms after oomless did (want about $((D * 1000)))"
assert_file_contains "$E2E_TMP/log" "SIGTERM: not ready; the workload gets it in ${D}s \(--stop-delay\)" "the delay is logged"
assert_file_contains "$E2E_TMP/log" "The stop delay is over: stopping the workload" "the end of the delay is logged"

## 2. A second SIGTERM cuts the delay short.
port=$(free_port)
: >"$E2E_TMP/log"
start_oomless "$E2E_TMP/log" run --no-preload --stop-delay "$((60 * F))s" --listen "127.0.0.1:$port" -- \
        sh "$E2E_TMP/app.sh" "$E2E_TMP/term2"
wait_for $((10 * F)) ready_200 || fail "/readyz never answered 200"
t0=$(uptime_s)
kill -TERM "$OOMLESS_PID"
sleep 0.3
[[ ! -e $E2E_TMP/term2 ]] || fail "the workload got SIGTERM before the delay was over"
kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID" $((10 * F))
assert_eq "$RC" 0 "exit status after two SIGTERMs"
t1=$(awk '{print $2}' "$E2E_TMP/term2")
ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
((ms < 5000 * F)) || fail "after a second SIGTERM the workload got it ${ms} ms after the first (the delay is $((60 * F))s)"
assert_file_contains "$E2E_TMP/log" "SIGTERM again: stopping the workload now" "the cut is logged"

## 3. A workload that ends during the delay is not restarted, and its status is oomless's.
printf '{ "version": 1, "name": "onfail", "sampling_interval": "100ms", "restart": { "mode": "on-failure", "initial_delay": "100ms" },\n  "stages": [ { "name": "never", "enter": { "all": [ { "memory": ">= 99%%" } ] }, "exit": { "all": [ { "memory": "< 50%%" } ] } } ] }\n' \
        >"$E2E_TMP/onfail.json"
start_oomless "$E2E_TMP/log3" run --no-preload --stop-delay 30s --policy "$E2E_TMP/onfail.json" -- \
        sh -c 'echo run >>"$1"; while [ ! -e "$2" ]; do sleep 0.05; done; exit 3' sh "$E2E_TMP/runs" "$E2E_TMP/go"
wait_status "$OOMLESS_PID"
kill -TERM "$OOMLESS_PID"
wait_for $((10 * F)) grep -q "not ready; the workload gets it in 30s" "$E2E_TMP/log3" || fail "the delay did not begin: $(cat "$E2E_TMP/log3")"
touch "$E2E_TMP/go"
wait_exit "$OOMLESS_PID" $((10 * F))
assert_eq "$RC" 3 "exit status of a workload that ended during the delay"
assert_eq "$(wc -l <"$E2E_TMP/runs")" 1 "runs (on-failure must not restart a workload oomless was told to stop)"

## 4. Bad values.
for v in soon 2h -1s; do
        rc=0
        "$OOMLESS" run --stop-delay="$v" -- true 2>"$E2E_TMP/err" || rc=$?
        assert_eq "$rc" 125 "--stop-delay=$v"
        assert_file_contains "$E2E_TMP/err" "--stop-delay: invalid value '$v'" "--stop-delay=$v message"
done
say "ok"

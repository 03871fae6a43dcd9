#!/usr/bin/env bash
# Under systemd (Type=notify): READY=1 once the workload runs, STATUS= with the tier and memory,
# watchdog keep-alives when WATCHDOG_USEC is set, STOPPING=1 at the end. A real datagram socket
# stands in for the service manager.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

sock=$E2E_TMP/notify.sock
"$PY" - "$sock" "$E2E_TMP/msgs" <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + 15
with open(sys.argv[2], "w") as f:
    while time.time() < end:
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            continue
        f.write(m.replace("\n", " ") + "\n")
        f.flush()
        if "STOPPING=1" in m:
            break
PYEOF
listener=$!
E2E_PIDS+=("$listener")
wait_for 10 test -S "$sock" || fail "the notify listener did not start"

NOTIFY_SOCKET=$sock WATCHDOG_USEC=400000 "$OOMLESS" run --no-preload -- sleep 2 2>"$E2E_TMP/log" ||
        fail "run failed: $(cat "$E2E_TMP/log")"
wait_for 5 grep -q STOPPING=1 "$E2E_TMP/msgs" || fail "no STOPPING=1: $(cat "$E2E_TMP/msgs")"
assert_file_contains "$E2E_TMP/msgs" 'READY=1' "READY=1"
assert_file_contains "$E2E_TMP/msgs" 'STATUS=tier (v2|v1|observe|none), memory [0-9.]+[KMGT]? of ' "STATUS="
n=$(grep -c 'WATCHDOG=1' "$E2E_TMP/msgs" || true)
((n >= 3)) || fail "only $n watchdog keep-alives in 2s with WATCHDOG_USEC=400ms"
# READY comes before STOPPING.
r=$(grep -n 'READY=1' "$E2E_TMP/msgs" | head -1 | cut -d: -f1)
s=$(grep -n 'STOPPING=1' "$E2E_TMP/msgs" | head -1 | cut -d: -f1)
((r < s)) || fail "READY=1 after STOPPING=1"
say "ok ($n keep-alives)"

#!/usr/bin/env bash
# The workload's environment: liboomless.so prepended to LD_PRELOAD (and left out with --no-preload),
# the control page handed over, runtime heap caps derived from the limit, the service manager's variables
# removed.
source "$(dirname "$0")/lib.sh"

show='echo "P=$LD_PRELOAD"; echo "C=${OOMLESS_CONTROL-unset}"; echo "F=$OOMLESS_CONTROL_FD"; readlink /proc/self/fd/${OOMLESS_CONTROL_FD:-none} | sed "s/^/L=/"; echo "W=$OOMLESS_WAKE"; echo "G=$GOMEMLIMIT"; echo "N=${NOTIFY_SOCKET-unset}"; echo "R=$OOMLESS_CONTROL_REOPEN"'
# An outer oomless's page variables (nested supervisors) are replaced, the path one included.
NOTIFY_SOCKET=$E2E_TMP/nowhere LD_PRELOAD=libm.so.6 OOMLESS_CONTROL=/outer/control OOMLESS_CONTROL_FD=99 \
        OOMLESS_CONTROL_REOPEN=/proc/1/fd/99 "$OOMLESS" run --memory-max 256M -- sh -c "$show" \
        >"$E2E_TMP/out" 2>"$E2E_TMP/log" || fail "run failed: $(cat "$E2E_TMP/log")"
assert_file_contains "$E2E_TMP/out" '^P=/.*/liboomless\.so:libm\.so\.6$' "liboomless.so prepended to LD_PRELOAD"
# The control page is a sealed memfd handed over by fd (docs/control-page.md); no path is named.
assert_file_contains "$E2E_TMP/out" '^C=unset$' "no OOMLESS_CONTROL path"
assert_file_contains "$E2E_TMP/out" '^F=[0-9]+$' "OOMLESS_CONTROL_FD"
assert_file_contains "$E2E_TMP/out" '^L=/memfd:oomless-control' "OOMLESS_CONTROL_FD is the control memfd, inherited"
fd=$(sed -n 's/^F=//p' "$E2E_TMP/out")
assert_file_contains "$E2E_TMP/out" "^R=/proc/[0-9]+/fd/$fd\$" "OOMLESS_CONTROL_REOPEN names oomless's own copy"
[[ $(sed -n 's/^R=//p' "$E2E_TMP/out") != /proc/1/fd/99 ]] || fail "the outer OOMLESS_CONTROL_REOPEN was kept"
assert_file_contains "$E2E_TMP/out" "^W=$OOMLESS_RUNTIME_DIR/[0-9]+-[0-9a-f]{8}/wake$" "OOMLESS_WAKE"
assert_file_contains "$E2E_TMP/out" '^G=[0-9]' "GOMEMLIMIT from the 256M limit"
assert_file_contains "$E2E_TMP/out" '^N=unset$' "NOTIFY_SOCKET removed"
! grep -q 'liboomless.so not found' "$E2E_TMP/log" || fail "liboomless.so was not found next to the build"

# systemd's memory pressure protocol: the workload finds its own cgroup's memory.pressure in
# MEMORY_PRESSURE_WATCH and arms the trigger from MEMORY_PRESSURE_WRITE, as sd-event and GLib do.
cat >"$E2E_TMP/psi.py" <<'PY'
import base64, os
path = os.environ["MEMORY_PRESSURE_WATCH"]
trigger = base64.b64decode(os.environ["MEMORY_PRESSURE_WRITE"])
own = [l.split(":", 2)[2].strip() for l in open("/proc/self/cgroup") if l.startswith("0::")][0]
assert path.endswith(own.rstrip("/") + "/memory.pressure"), (path, own)
fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
os.write(fd, trigger + b"\0")
print("armed", path, trigger.decode())
PY
"$OOMLESS" run --no-preload -- /usr/bin/python3 "$E2E_TMP/psi.py" >"$E2E_TMP/psi.out" 2>"$E2E_TMP/psi.log" ||
        fail "a workload could not follow MEMORY_PRESSURE_WATCH/WRITE: $(cat "$E2E_TMP/psi.log")"
assert_file_contains "$E2E_TMP/psi.out" '^armed /.*/memory\.pressure some [0-9]+ [0-9]+$' "the pressure trigger armed"

GOMEMLIMIT=1GiB "$OOMLESS" run --no-preload -- sh -c "$show" >"$E2E_TMP/out" 2>"$E2E_TMP/log" ||
        fail "run --no-preload failed"
assert_file_contains "$E2E_TMP/out" '^P=$' "no LD_PRELOAD with --no-preload"
assert_file_contains "$E2E_TMP/out" '^G=1GiB$' "a GOMEMLIMIT the user set wins"

# A missing library: one warning, the workload still runs.
mkdir "$E2E_TMP/bin"
cp "$OOMLESS" "$E2E_TMP/bin/oomless"
OOMLESS_LIBDIR=$E2E_TMP/none "$E2E_TMP/bin/oomless" run -- sh -c "$show" >"$E2E_TMP/out" 2>"$E2E_TMP/log" || true
if grep -q '^P=/' "$E2E_TMP/out"; then
        say "an installed liboomless.so was found; the not-found path is not exercised here"
else
        assert_eq "$(grep -c 'liboomless.so not found' "$E2E_TMP/log")" 1 "one warning when the library is missing"
        assert_file_contains "$E2E_TMP/out" '^N=unset$' "the workload ran without the library"
fi
say "ok"

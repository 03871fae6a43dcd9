#!/usr/bin/env bash
# Under a real systemd (the VM runner's --systemd guest): a Type=notify, Delegate=yes transient
# service running `oomless run` becomes active only through READY=1, shows oomless's STATUS= text,
# runs on tier v2 with the workload in its own leaf inside the service's cgroup, survives a watchdog
# period, and stops cleanly (STOPPING=1, exit 143 mapped to a clean stop by SuccessExitStatus).
# Needs systemd as PID 1: exits 77 elsewhere. Not registered with ctest here; run it in the VM:
#   tests/vm/vm-run --systemd -- bash tests/e2e/test-systemd.sh BUILD/supervisor/oomless
source "$(dirname "$0")/lib.sh"

[[ $(cat /proc/1/comm) == systemd ]] || skip "systemd is not PID 1"
command -v systemd-run >/dev/null || skip "no systemd-run"

unit=oomless-e2e-$$
systemd-run --unit="$unit" -p Type=notify -p NotifyAccess=main -p Delegate=yes -p WatchdogSec=3s \
        -p KillMode=mixed -p SuccessExitStatus=143 \
        -E OOMLESS_RUNTIME_DIR="$OOMLESS_RUNTIME_DIR" \
        "$OOMLESS" run --no-preload -- sleep 1000 || fail "systemd-run failed"
stop_unit() { systemctl stop "$unit" 2>/dev/null || true; }
trap 'stop_unit; e2e_cleanup' EXIT

active() { [[ $(systemctl show -P ActiveState "$unit") == active ]]; }
wait_for 60 active || fail "the unit never became active: $(systemctl status "$unit" 2>&1 | tail -5)"
pid=$(systemctl show -P MainPID "$unit")
status_text() { systemctl show -P StatusText "$unit" | grep -Eq '^tier v2, memory '; }
wait_for 30 status_text || fail "no STATUS= from oomless: '$(systemctl show -P StatusText "$unit")'"
json=$(status_json "$pid")
assert_eq "$(jget "$json" .tier)" v2 "tier under Delegate=yes"
cg=$(systemctl show -P ControlGroup "$unit")
assert_match "$(jget "$json" .leaf)" "^/sys/fs/cgroup$cg/oomless-$pid-[0-9a-f]{8}-workload$" "the workload leaf inside the unit's cgroup"
sleep 7 # more than two watchdog periods: the keep-alives must keep it alive
active || fail "the unit died within two watchdog periods: $(systemctl status "$unit" 2>&1 | tail -5)"
systemctl stop "$unit"
result=$(systemctl show -P Result "$unit" 2>/dev/null || echo gone)
[[ $result == success || $result == gone || -z $result ]] || fail "stop result $result"
say "ok"

#!/usr/bin/env bash
# Under a real systemd (vm-run --systemd): oomless as a Type=notify service with Delegate=yes gets the
# v2 tier inside its service cgroup, reports READY=1 (systemd-run returns with the unit active) and a
# STATUS= line with the tier and the memory, and stops cleanly on `systemctl stop`; as a delegated
# scope (systemd-run --scope) it passes the child's exit status through.
. "$(dirname "$0")/lib-v2.sh"
[[ $(cat /proc/1/comm) == systemd ]] || fail "PID 1 is $(cat /proc/1/comm), not systemd (run with vm-run --systemd)"

unit=oomless-vmcheck-$$
systemd-run --quiet --unit="$unit" -p Type=notify -p Delegate=yes -p TimeoutStartSec=300 \
        -E OOMLESS_RUNTIME_DIR="$OOMLESS_RUNTIME_DIR" \
        -- "$OOMLESS" run -- "$BALLOON" --max 16M --hold inf >"$TMP/systemd-run.log" 2>&1 ||
        fail "systemd-run of a Type=notify oomless failed: $(cat "$TMP/systemd-run.log")"
stop_unit() { systemctl stop "$unit" 2>/dev/null || true; }
trap 'stop_unit; cleanup_v2' EXIT
[[ $(systemctl is-active "$unit") == active ]] || fail "unit $unit is $(systemctl is-active "$unit") after READY"
ok "Type=notify: systemd-run returned with $unit active (READY=1 sent)"
main=$(systemctl show -p MainPID --value "$unit")
svc=$(systemctl show -p ControlGroup --value "$unit")
[[ $(cgroup_of "$main") =~ ^$svc/oomless-$main-[0-9a-f]{8}-supervisor$ ]] ||
        fail "oomless (pid $main) is in $(cgroup_of "$main"), not $svc/oomless-$main-<random>-supervisor"
ok "oomless evacuated itself inside its delegated service: $(cgroup_of "$main")"
has_status() { systemctl show -p StatusText --value "$unit" | grep -Eq 'tier v2, memory [0-9.]+[KMGT]? of '; }
wait_for 60 has_status || fail "StatusText is '$(systemctl show -p StatusText --value "$unit")'"
ok "STATUS=: $(systemctl show -p StatusText --value "$unit")"
systemctl stop "$unit"
[[ -z $(find "/sys/fs/cgroup$svc" -mindepth 1 -type d 2>/dev/null) ]] || fail "leaves left in $svc"
ok "systemctl stop: unit stopped, nothing left in $svc"

rc=0
systemd-run --quiet --scope -p Delegate=yes -- "$OOMLESS" run -- sh -c 'exit 7' >"$TMP/scope.log" 2>&1 || rc=$?
[[ $rc == 7 ]] || fail "oomless in a delegated scope exited $rc, not 7: $(cat "$TMP/scope.log")"
grep -q 'cgroup tier v2' "$TMP/scope.log" || fail "the scope run was not on tier v2: $(cat "$TMP/scope.log")"
ok "systemd-run --scope -p Delegate=yes: tier v2, exit status 7 passed through"

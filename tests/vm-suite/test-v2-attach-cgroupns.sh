#!/usr/bin/env bash
# attach as a Kubernetes sidecar on pure v2 (issue 12): the app runs in its own cgroup namespace with
# its own cgroup2 mount (as containerd and CRI-O run containers), and the sidecar oomless in another
# one, so the app's /proc/PID/cgroup reads "/../app" and our /sys/fs/cgroup does not show it. attach
# --wait finds the app, reads its cgroup through /proc/PID/root/sys/fs/cgroup (logged), on the
# observe tier (nothing written), with the app's own numbers; --follow moves to the restarted app and
# reads through the new pid. Cost: one short balloon, about 10 s under TCG.
. "$(dirname "$0")/lib-v2.sh"

new_scratch app
new_scratch side
echo +memory >"$SCRATCH/cgroup.subtree_control"

# app LOG: a 24M balloon in its own cgroup and mount namespaces, cgroup2 mounted at its root.
app() {
        start_in "$SCRATCH/app" "$1" unshare --cgroup --mount --propagation private -- bash -c \
                'umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' _ "$BALLOON" --max 24M --hold 120s
}

start_in "$SCRATCH/side" "$TMP/attach.log" unshare --cgroup -- "$OOMLESS" attach --wait=comm:balloon --follow \
        --interval 200ms
oomless=$PID
wait_for 30 grep -q "Waiting for the target" "$TMP/attach.log" || fail "attach is not waiting"
app "$TMP/app1.log"
wait_for 60 grep -q "Found the target" "$TMP/attach.log" || fail "attach never found the app"
app_pid=$(grep -oE "Found the target: pid [0-9]+" "$TMP/attach.log" | grep -oE '[0-9]+$')
view=$(nsenter -t "$oomless" --cgroup cat "/proc/$app_pid/cgroup")
[[ $view == "0::/../app" ]] || fail "the app's cgroup as the sidecar sees it is '$view', not 0::/../app"
grep -q "The cgroup of pid $app_pid is not visible under /sys/fs/cgroup .*reading it through /proc/$app_pid/root/sys/fs/cgroup, read-only" \
        "$TMP/attach.log" || fail "no line saying the cgroup is read through /proc/$app_pid/root"
ok "attach reads the app's cgroup through /proc/$app_pid/root/sys/fs/cgroup ($view from the sidecar)"
grep -q "attach can here: tier observe, reading /proc/$app_pid/root/sys/fs/cgroup; not writable: memory.max, memory.high, memory.reclaim" \
        "$TMP/attach.log" || fail "the capability line does not say the observe tier and the read-only files"
wait_for 60 status_json "$oomless" >/dev/null || fail "attach never answered on its status socket"
wait_for 60 bash -c '(( $(cat "$1/memory.current") > 20 * 1048576 ))' _ "$SCRATCH/app" || fail "the balloon never grew"
sleep 0.5
json=$(status_json "$oomless")
[[ $(jget "$json" .tier) == observe ]] || fail "tier $(jget "$json" .tier), not observe"
cur=$(jget "$json" .memory.current) file=$(cat "$SCRATCH/app/memory.current")
d=$((cur - file))
((${d#-} < 8 * 1048576)) || fail "status memory.current $cur is far from the app's $file"
ok "status memory.current $cur matches the app's $SCRATCH/app/memory.current $file"

# The runtime restarts the app: attach follows it and reads through the new pid.
kill -KILL "$app_pid"
app "$TMP/app2.log"
wait_for 60 grep -q "now following pid" "$TMP/attach.log" || fail "attach did not follow the restarted app"
new_pid=$(grep -oE "now following pid [0-9]+" "$TMP/attach.log" | grep -oE '[0-9]+$')
[[ $new_pid != "$app_pid" ]] || fail "followed the old pid"
wait_for 60 bash -c '[[ $("$1" status --json --pid "$2" | jq -r .leaf) == "/proc/$3/root/sys/fs/cgroup" ]]' \
        _ "$OOMLESS" "$oomless" "$new_pid" || fail "status leaf is not read through the new pid $new_pid"
ok "--follow: now reading through /proc/$new_pid/root/sys/fs/cgroup"
kill -TERM "$oomless"
wait_exit "$oomless" 60
[[ $RC == 0 ]] || fail "attach exited $RC after SIGTERM, not 0"

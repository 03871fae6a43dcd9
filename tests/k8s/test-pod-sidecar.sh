#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# contrib/k8s/sidecar/classic under `podman kube play`: the app (the glibc-only test image) runs with
# liboomless preloaded from the shared volume; the oomless sidecar (the built image, as uid 65534 with
# every capability dropped) waits for it in the shared process namespace, reads its memory through
# /proc/<pid>/root, stops the leak gracefully and follows the restarted process. Asserts: the app's
# memory limit is the manifest's; the sidecar reports the app's memory and limit (not its own); the leak
# is stopped with SIGTERM, with no kernel OOM kill, podman restarts the container and the sidecar
# follows the new pid; the app's liboomless publishes its heap on the control page in the shared
# volume; /readyz answers on the pod's address; nothing is left behind.
# Substitutions (render.py): no initContainer (each costs ~20 s on podman 4.3, and under "Always" it
# loops, containers/podman#15631): the shared volume is a host directory filled with liboomless.so as
# oomless-install would; no service-account token volume (podman has none; without it and an API
# server --k8s-events says so once and goes on: tests/k8s-events covers Events); POD_NAMESPACE is a
# literal. Cost: about 20 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${OOMLESS:?}"
# The sidecar needs attach's --wait/--follow/--control-page (issue 12, part 3).
attach_help=$("$OOMLESS" attach --help 2>&1 || true)
if ! grep -q -- '--follow' <<<"$attach_help"; then
        echo "SKIP: this oomless has no attach --follow" >&2
        exit 77
fi
k8s_init

shared=$TMP/shared
mkdir -p "$shared"
chmod 0777 "$shared" # an emptyDir's mode
cp "$OOMLESS_BUILD_DIR/allocator/liboomless.so" "$shared/liboomless.so"
grep -q -- '--k8s-events' <<<"$attach_help" || fail "this oomless has no --k8s-events, which the manifest passes"
manifest=$TMP/sidecar.yaml
k8s_render contrib/k8s/sidecar/classic "$manifest" --no-init "$shared" --drop-volume token \
        --env oomless:POD_NAMESPACE=default --arg-replace /app/server=/app/leak-app \
        --app-args '["/app/leak-app", "/oomless/app.log", "8", "100"]'
pod=oomless-sidecar-pod-0
app=$pod-app
side=$pod-oomless
k8s_play "$manifest" "$pod"

limit=$(k8s_manifest_limit "$manifest" app)
side_limit=$(k8s_manifest_limit "$manifest" oomless)
note "the app container's memory limit is the manifest's ($limit)"
wait_for 30 k8s_memcg "$app" >/dev/null || fail "$app is not running: $(podman logs "$app" 2>&1 | tail -5)"
cg=$(k8s_memcg "$app")
[ -d "$cg" ] || fail "no memory cgroup $cg for $app"
[ "$(k8s_cg limit "$cg")" = "$limit" ] || fail "the memory limit of $app ($cg) is $(k8s_cg limit "$cg"), the manifest says $limit"

status_json()
{
        podman exec "$side" oomless status --json
}
json_get()
{
        python3 -c 'import json,sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1"
}

note "the sidecar finds the app and reads its memory and limit (not its own $side_limit)"
log=$shared/app.log
wait_for 60 grep -q '^start leak' "$log" || fail "the app did not start: $(podman logs "$app" 2>&1 | tail -5)"
first=$(awk '$1 == "start" && $2 == "leak" {print $3; exit}' "$log")
sidecar_sees_limit()
{
        [ "$(status_json | json_get memory.limit)" = "$limit" ]
}
wait_for 60 sidecar_sees_limit || {
        k8s_logs "$side"
        fail "the sidecar does not report the app's limit $limit (status: $(status_json))"
}

note "the leak is stopped with SIGTERM, podman restarts the app, the sidecar follows"
max_oom=0
app_restarted()
{
        local k
        k=$(k8s_cg oom_kills "$cg" 2>/dev/null || echo 0)
        [ "${k:-0}" -le "$max_oom" ] || max_oom=$k
        grep -q '^start idle' "$log"
}
wait_for 90 app_restarted || {
        k8s_logs "$side" "$app"
        fail "the leaking app was not restarted: $(cat "$log")"
}
second=$(awk '$1 == "start" && $2 == "idle" {print $3; exit}' "$log")
grep -qx "TERM $first" "$log" || {
        k8s_logs "$side"
        fail "the leaking app ($first) did not get SIGTERM: $(cat "$log")"
}
[ "$max_oom" = 0 ] || fail "the kernel OOM-killed in $app: oom_kill $max_oom"
[ "$(podman inspect "$app" --format '{{.State.OOMKilled}}')" = false ] || fail "podman says $app was OOM-killed"
[ "$(podman inspect "$app" --format '{{.RestartCount}}')" -ge 1 ] || fail "podman did not restart $app"
following()
{
        [ "$(status_json | json_get child.pid)" = "$second" ]
}
wait_for 60 following || {
        k8s_logs "$side"
        fail "the sidecar does not follow the new app process $second (status: $(status_json))"
}

note "the sidecar reads the restarted app's memory; /readyz answers"
cg=$(k8s_memcg "$app")
if [ "$K8S_V2" = 0 ]; then
        ip=$(k8s_pod_ip "$pod")
        [ -n "$ip" ] || fail "no address for $pod"
        wait_for 20 curl -sf -o /dev/null "http://$ip:9090/readyz" || fail "GET /readyz on $ip:9090"
        metrics=$(curl -sf "http://$ip:9090/metrics") || fail "GET /metrics on $ip:9090"
        cur=$(awk '$1 == "oomless_memory_current_bytes" {print $2}' <<<"$metrics")
        [ "$(awk '$1 == "oomless_memory_limit_bytes" {print $2}' <<<"$metrics")" = "$limit" ] ||
                fail "/metrics reports another limit than the app's $limit"
else # no network in the VM's pods: the same figures from the status socket
        st=$(status_json) || fail "oomless status in the sidecar"
        [ "$(json_get policy.ready <<<"$st")" = True ] || fail "the sidecar is not ready: $st"
        cur=$(json_get memory.current <<<"$st")
fi
# The restarted app's liboomless publishes its heap on the shared control page, and the sidecar reads it.
heap_published()
{
        local held
        held=$(status_json | json_get heap.held)
        [ -n "$held" ] && [ "$held" -gt 0 ]
}
wait_for 20 heap_published || fail "the sidecar sees no heap on the control page: $(status_json)"
host=$(k8s_cg usage "$cg")
[ -n "$cur" ] && [ "$cur" -gt 0 ] || fail "the sidecar reports memory.current $cur"
diff=$((cur > host ? cur - host : host - cur))
[ "$diff" -le $((8 << 20)) ] || fail "the sidecar reports $cur bytes, the app's cgroup holds $host"
[ -z "${K8S_VERBOSE:-}" ] || k8s_logs "$pod-oomless" "$app" 2>&1 | grep -v 'no container with name'
echo "PASS: limit $limit; leak $first stopped with TERM, followed to $second; memory $cur (host $host)"

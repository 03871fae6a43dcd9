#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# contrib/k8s/entrypoint under `podman kube play`, with its real initContainer: the bundle is copied into
# the emptyDir by the oomless image and runs inside a test app image that has only glibc (so every
# other library comes from the bundle's $ORIGIN RUNPATH). Asserts: the app container's memory limit is
# the manifest's; oomless runs on the observe tier (read-only cgroupfs) and caps the heap (the live cap) under
# that limit; a leaking app is stopped with SIGTERM and restarted in place, in the same container, with
# no kernel OOM kill; /readyz and /livez answer on the pod's address; nothing is left behind.
# Cost: about 15 s (the image is cached by content hash). The pod plays with restartPolicy OnFailure:
# podman 4.3 loops on a finished initContainer under "Always" (containers/podman#15631); oomless
# restarts the app itself here, so the container's restart policy plays no part.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
k8s_init

manifest=$TMP/entrypoint.yaml
k8s_render contrib/k8s/entrypoint "$manifest" --restart-policy OnFailure \
        --app-args '["/app/leak-app", "/oomless/app.log", "8", "100"]'
grep -q 'name: oomless-install' "$manifest" || fail "the rendered manifest lost its initContainer"
pod=oomless-entrypoint-pod-0
app=$pod-app
k8s_play "$manifest" "$pod"

limit=$(k8s_manifest_limit "$manifest" app)
note "the app container's memory limit is the manifest's ($limit)"
wait_for 20 k8s_memcg "$app" >/dev/null || fail "$app is not running: $(podman logs "$app" 2>&1 | tail -5)"
cg=$(k8s_memcg "$app")
[ -d "$cg" ] || fail "no memory cgroup $cg for $app"
got=$(k8s_cg limit "$cg")
[ "$got" = "$limit" ] || fail "the memory limit of $app ($cg) is $got, the manifest says $limit"

note "the initContainer copied the bundle and oomless runs from it, on the observe tier"
[ "$(podman inspect "$pod-oomless-install" --format '{{.State.ExitCode}}' 2>/dev/null || echo removed)" != 1 ] ||
        fail "the initContainer failed"
vol=$(podman volume inspect oomless --format '{{.Mountpoint}}')
[ -x "$vol/bin/oomless" ] && [ -f "$vol/lib/liboomless.so" ] || fail "the emptyDir holds no bundle: $(ls -R "$vol")"
wait_for 20 grep -q 'Supervising /app/leak-app' <(podman logs "$app" 2>&1) || {
        k8s_logs "$app"
        fail "oomless did not start the app from the bundle"
}
# Whole logs into grep: with pipefail, grep -q ending the pipe early would fail it through SIGPIPE.
grep -q 'cgroup tier observe' <<<"$(podman logs "$app" 2>&1)" || {
        k8s_logs "$app"
        fail "oomless is not on the observe tier in the pod"
}

note "the leak is stopped with SIGTERM and the app restarted in place"
log=$vol/app.log
wait_for 60 grep -q '^start idle' "$log" || {
        k8s_logs "$app"
        cat "$log" >&2 || true
        fail "the leaking app was not restarted"
}
first=$(awk '$1 == "start" && $2 == "leak" {print $3; exit}' "$log")
second=$(awk '$1 == "start" && $2 == "idle" {print $3; exit}' "$log")
[ -n "$first" ] && [ -n "$second" ] && [ "$first" != "$second" ] || fail "app.log: $(cat "$log")"
grep -qx "TERM $first" "$log" || fail "the leaking app ($first) did not get SIGTERM: $(cat "$log")"
grep -q 'Sent SIGTERM to the workload' <<<"$(podman logs "$app" 2>&1)" || fail "oomless did not log the TERM"
oomkills=$(k8s_cg oom_kills "$cg")
[ "${oomkills:-0}" = 0 ] || fail "the kernel OOM-killed in $app: oom_kill $oomkills"
[ "$(podman inspect "$app" --format '{{.RestartCount}}')" = 0 ] ||
        fail "the container was restarted: oomless should have restarted the app in place"

note "/readyz and /livez answer on the pod's address; the heap cap is the live cap under the limit"
status=$(podman exec "$app" /oomless/bin/oomless status --json) || fail "oomless status in $app"
json() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$status" "$1"; }
if [ "$K8S_V2" = 0 ]; then
        ip=$(k8s_pod_ip "$pod")
        [ -n "$ip" ] || fail "no address for $pod"
        wait_for 10 curl -sf -o /dev/null "http://$ip:9090/readyz" || fail "GET /readyz on $ip:9090"
        curl -sf -o /dev/null "http://$ip:9090/livez" || fail "GET /livez on $ip:9090"
        metrics=$(curl -sf "http://$ip:9090/metrics") || fail "GET /metrics on $ip:9090"
        mlimit=$(awk '$1 == "oomless_memory_limit_bytes" {print $2}' <<<"$metrics")
        cap=$(awk '$1 == "oomless_heap_cap_bytes" {print $2}' <<<"$metrics")
else # no network in the VM's pods
        [ "$(json policy.ready)" = True ] || fail "oomless is not ready: $status"
        mlimit=$(json memory.limit)
        cap=$(json heap.cap)
fi
restarts=$(json child.restarts)
[ "$mlimit" = "$limit" ] || fail "oomless sees a limit of $mlimit, not $limit"
# The live cap (--heap-cap=auto): the limit less what the container holds outside the heap, less a
# reserve of 1/64 of the limit (at least 4M): below the limit, and above 80% of it for this small app.
[ "$cap" -lt "$limit" ] && [ "$cap" -gt $((limit * 80 / 100)) ] ||
        fail "heap cap $cap is not the live cap under the limit $limit (want between 80% and 100%)"
[ "$restarts" -ge 1 ] || fail "oomless status counts $restarts restarts"
[ -z "${K8S_VERBOSE:-}" ] || k8s_logs "$pod-oomless" "$app" 2>&1 | grep -v 'no container with name'
echo "PASS: limit $limit, heap cap $cap, leak $first stopped with TERM, restarted in place as $second"

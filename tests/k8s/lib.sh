# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Shared by tests/k8s/test-pod-*.sh: podman set up as shared/notes/kubernetes.md says (containers.conf
# next to this file: runc, cgroupfs, lower ulimits), the oomless image (contrib/k8s/build-image.sh,
# cached by content hash), a test app image that holds glibc and leak-app only (no shell, no busybox,
# none of oomless's libraries: where the injected bundle must bring its own), and the cleanup of
# everything a test's pods leave: pods, volumes, and their libpod_parent cgroup directories.
# Needs: OOMLESS, LEAK_APP, OOMLESS_BUILD_DIR (set by tests/k8s/CMakeLists.txt). K8S_VERBOSE=1 shows
# the containers' logs at the end of a passing test too.

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$K8S_DIR/../.." && pwd)
K8S_PLAYED=()  # rendered manifests, for kube down
K8S_PODS=()    # pod ids, for their cgroup directories
K8S_VOLUMES=() # volume names the manifests create
K8S_PLAY_ARGS=() # extra `podman kube play` options
K8S_RENDER_ARGS=() # extra render.py options

fail()
{
        echo "FAIL: $*" >&2
        exit 1
}

note()
{
        echo "--- [${SECONDS}s] $*" >&2
}

k8s_init()
{
        if [ "$(id -u)" -ne 0 ]; then
                echo "SKIP: podman kube play needs root here" >&2
                exit 77
        fi
        command -v podman >/dev/null || {
                echo "SKIP: podman is not installed (scripts/deps.sh installs it)" >&2
                exit 77
        }
        : "${OOMLESS:?}" "${LEAK_APP:?}" "${OOMLESS_BUILD_DIR:?}"
        TMP=$(mktemp -d "${TMPDIR:-/tmp}/oomless-k8s.XXXXXX")
        trap k8s_cleanup EXIT
        if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
                # Pure cgroup v2: the tests/vm guest (vm-run --systemd). Pods start there only under
                # systemd's cgroup manager; the guest's / is an overlay, which podman's overlay storage
                # cannot sit on, so the storage goes on a tmpfs of the throwaway guest. The guest has
                # no network: the pod gets none, so no ports and no probes (podman would run them as
                # curl in the image).
                K8S_V2=1
                [ "$(cat /proc/1/comm)" = systemd ] || {
                        echo "SKIP: podman pods on pure cgroup v2 need systemd as PID 1 (vm-run --systemd)" >&2
                        exit 77
                }
                export CONTAINERS_CONF=$K8S_DIR/containers-v2.conf
                if [ -n "${OOMLESS_VM:-}" ] && ! mountpoint -q /var/lib/containers; then
                        mkdir -p /var/lib/containers
                        mount -t tmpfs -o size=1g tmpfs /var/lib/containers || fail "tmpfs on /var/lib/containers"
                fi
                K8S_PLAY_ARGS=(--network none)
                note "pure cgroup v2: podman with cgroup_manager systemd, storage on $(findmnt -no FSTYPE /var/lib/containers)"
                K8S_RENDER_ARGS=(--no-ports --no-probes)
        else
                K8S_V2=0
                export CONTAINERS_CONF=$K8S_DIR/containers.conf
        fi
        OOMLESS_IMAGE=$("$SRC_DIR/contrib/k8s/build-image.sh" --build-dir "$OOMLESS_BUILD_DIR" 2>"$TMP/build-image.log") ||
                fail "contrib/k8s/build-image.sh: $(cat "$TMP/build-image.log")"
        cat "$TMP/build-image.log" >&2
        k8s_app_image
}

# localhost/oomless-test-app:<hash>: leak-app at /app/leak-app and glibc's own libraries, nothing else.
k8s_app_image()
{
        local root=$TMP/app-root lib
        mkdir -p "$root/app" "$root/usr/lib/x86_64-linux-gnu" "$root/usr/lib64" "$root/tmp"
        chmod 1777 "$root/tmp"
        install -m 0755 "$LEAK_APP" "$root/app/leak-app"
        for lib in libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libresolv.so.2; do
                cp -L "/lib/x86_64-linux-gnu/$lib" "$root/usr/lib/x86_64-linux-gnu/"
        done
        cp -L /lib64/ld-linux-x86-64.so.2 "$root/usr/lib64/"
        ln -s usr/lib "$root/lib"
        ln -s usr/lib64 "$root/lib64"
        tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$TMP/app.tar" .
        APP_IMAGE=localhost/oomless-test-app:$(sha256sum "$TMP/app.tar" | cut -c1-16)
        if ! podman image exists "$APP_IMAGE"; then
                # Older tags of the test app are this suite's own leftovers.
                podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/oomless-test-app:' |
                        xargs -r podman rmi -f >/dev/null 2>&1 || true
                podman import -q --change 'ENV PATH=/usr/bin:/bin' "$TMP/app.tar" "$APP_IMAGE" >/dev/null ||
                        fail "podman import of the test app image"
        fi
}

# k8s_render DIR OUT [render.py options]: the manifest as podman will play it.
k8s_render()
{
        local dir=$1 out=$2
        shift 2
        python3 "$K8S_DIR/render.py" "$SRC_DIR/$dir" --image "registry.example/app:latest=$APP_IMAGE" \
                --image "localhost/oomless:0.1.0=$OOMLESS_IMAGE" "${K8S_RENDER_ARGS[@]}" "$@" >"$out" ||
                fail "render.py $dir"
        # The volumes it will create (named after the emptyDir or the ConfigMap), removed before and after.
        mapfile -t vols < <(python3 -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] in ("Deployment", "Pod"):
        s = d["spec"]["template"]["spec"] if d["kind"] == "Deployment" else d["spec"]
        for v in s.get("volumes", []):
            if "emptyDir" in v: print(v["name"])
            if "configMap" in v: print(v["configMap"]["name"])
' "$out")
        K8S_VOLUMES+=("${vols[@]}")
        podman volume rm -f "${vols[@]}" >/dev/null 2>&1 || true
}

# k8s_play FILE POD_NAME: plays it and records the pod for the cleanup.
k8s_play()
{
        local file=$1 pod=$2
        local before
        K8S_PLAYED+=("$file")
        before=$(k8s_libpod_dirs)
        podman kube play --replace "${K8S_PLAY_ARGS[@]}" "$file" >"$TMP/play.log" 2>&1 || {
                cat "$TMP/play.log" >&2
                POD_ID=$(podman pod inspect "$pod" --format '{{.ID}}' 2>/dev/null) && K8S_PODS+=("$POD_ID")
                # A failed play removes its pod but leaves the pod's directories in every hierarchy:
                # those that appeared during this play are its own.
                mapfile -t -O ${#K8S_PODS[@]} K8S_PODS < <(comm -13 <(echo "$before") <(k8s_libpod_dirs))
                fail "podman kube play $file"
        }
        POD_ID=$(podman pod inspect "$pod" --format '{{.ID}}') || fail "no pod $pod after kube play"
        K8S_PODS+=("$POD_ID")
}

k8s_libpod_dirs()
{
        find /sys/fs/cgroup/*/libpod_parent -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null |
                grep -v '^conmon$' | sort -u || true
}

# The host's memory cgroup directory of a running container, from its main process's /proc/PID/cgroup
# (read here, it shows host paths even when the container has a cgroup namespace of its own): on v1
# under /sys/fs/cgroup/memory/libpod_parent/<pod>/libpod-<ctr>, on v2 under machine.slice.
k8s_memcg()
{
        local pid
        pid=$(podman inspect "$1" --format '{{.State.Pid}}') && [ "$pid" -gt 0 ] || return 1
        if [ "$K8S_V2" = 1 ]; then
                awk -F: '$1 == "0" {print "/sys/fs/cgroup" $3}' "/proc/$pid/cgroup"
        else
                awk -F: '$2 == "memory" {print "/sys/fs/cgroup/memory" $3}' "/proc/$pid/cgroup"
        fi
}

# k8s_cg FIELD DIR: limit, usage or oom_kills of a memory cgroup, whichever the version.
k8s_cg()
{
        case $K8S_V2:$1 in
        0:limit) cat "$2/memory.limit_in_bytes" ;;
        0:usage) cat "$2/memory.usage_in_bytes" ;;
        0:oom_kills) awk '$1 == "oom_kill" {print $2}' "$2/memory.oom_control" ;;
        1:limit) cat "$2/memory.max" ;;
        1:usage) cat "$2/memory.current" ;;
        1:oom_kills) awk '$1 == "oom_kill" {print $2}' "$2/memory.events" ;;
        esac
}

# k8s_manifest_limit FILE CONTAINER: the container's resources.limits.memory in bytes.
k8s_manifest_limit()
{
        python3 -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "Deployment":
        c = next(c for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == sys.argv[2])
        v = c["resources"]["limits"]["memory"]
        print(int(v[:-2]) << {"Ki": 10, "Mi": 20, "Gi": 30}[v[-2:]])
' "$1" "$2"
}

k8s_pod_ip()
{
        local infra
        infra=$(podman pod inspect "$1" --format '{{.InfraContainerID}}') &&
                podman inspect "$infra" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}'
}

# wait_for SECONDS CMD...: polls CMD every 0.2 s.
wait_for()
{
        local deadline=$((SECONDS + $1))
        shift
        while ! "$@" 2>/dev/null; do
                [ $SECONDS -lt $deadline ] || return 1
                sleep 0.2
        done
}

k8s_logs()
{
        local c
        for c in "$@"; do
                echo "=== podman logs $c" >&2
                podman logs "$c" 2>&1 | tail -40 >&2
        done
}

k8s_cleanup()
{
        local rc=$? f id d left=0
        for f in "${K8S_PLAYED[@]}"; do
                podman kube down "$f" >/dev/null 2>&1 || true
        done
        for id in "${K8S_PODS[@]}"; do
                podman pod rm -f "$id" >/dev/null 2>&1 || true
        done
        [ ${#K8S_VOLUMES[@]} -eq 0 ] || podman volume rm -f "${K8S_VOLUMES[@]}" >/dev/null 2>&1 || true
        # Removed pods leave their libpod_parent/<pod id> directories behind (shared/notes/kubernetes.md);
        # only those of this test's pods are ours to remove.
        for id in "${K8S_PODS[@]}"; do
                for d in /sys/fs/cgroup/*/libpod_parent/"$id"; do
                        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
                        if [ -d "$d" ]; then
                                echo "FAIL: $d is left behind" >&2
                                left=1
                        fi
                done
                if podman pod exists "$id" 2>/dev/null; then
                        echo "FAIL: pod $id is left behind" >&2
                        left=1
                fi
        done
        for v in "${K8S_VOLUMES[@]}"; do
                if podman volume exists "$v" 2>/dev/null; then
                        echo "FAIL: volume $v is left behind" >&2
                        left=1
                fi
        done
        rm -rf "$TMP"
        if [ $rc -eq 0 ] && [ $left -ne 0 ]; then
                exit 1
        fi
        exit $rc
}

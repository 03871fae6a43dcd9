# SPDX-License-Identifier: MIT
# Shared by tests/k8s/test-pod-*.sh: podman set up as shared/notes/kubernetes.md says (containers.conf
# next to this file: runc, cgroupfs, lower ulimits), the oomless image (contrib/k8s/build-image.sh,
# cached by content hash), a test app image that holds glibc and leak-app only (no shell, no busybox,
# none of oomless's libraries: where the injected bundle must bring its own), and the cleanup of
# everything a test's pods leave: pods, volumes, and their libpod_parent cgroup directories.
# Needs: OOMLESS, LEAK_APP, OOMLESS_BUILD_DIR (set by tests/k8s/CMakeLists.txt).

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$K8S_DIR/../.." && pwd)
K8S_PLAYED=()  # rendered manifests, for kube down
K8S_PODS=()    # pod ids, for their cgroup directories
K8S_VOLUMES=() # volume names the manifests create

fail()
{
        echo "FAIL: $*" >&2
        exit 1
}

note()
{
        echo "--- $*" >&2
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
        export CONTAINERS_CONF=$K8S_DIR/containers.conf
        TMP=$(mktemp -d "${TMPDIR:-/tmp}/oomless-k8s.XXXXXX")
        trap k8s_cleanup EXIT
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
                --image "localhost/oomless:0.1.0=$OOMLESS_IMAGE" "$@" >"$out" || fail "render.py $dir"
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
        podman kube play --replace "$file" >"$TMP/play.log" 2>&1 || {
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

# The host's memory cgroup directory of a container (cgroup v1 here, under libpod_parent).
k8s_memcg()
{
        local cid
        cid=$(podman inspect "$1" --format '{{.ID}}') || return 1
        echo "/sys/fs/cgroup/memory/libpod_parent/$POD_ID/libpod-$cid"
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

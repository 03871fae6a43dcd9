#!/usr/bin/env bash
# Installs everything oomless needs to build, test and benchmark on Debian 12, as root.
# Idempotent: it asks apt only for what is missing, so re-runs cost about a second.
set -euo pipefail

packages=(
        # build
        build-essential cmake pkg-config clang lld llvm libclang-rt-14-dev clang-format
        # the supervisor's libraries
        libsystemd-dev libcgroup-dev libcjson-dev libcurl4-openssl-dev libmicrohttpd-dev ca-certificates openssl
        # tests: tools and real programs run under LD_PRELOAD
        python3 libpython3.11-testsuite jq procps util-linux psmisc sqlite3 perl git g++ redis-server redis-tools
        # a real Prometheus scrapes /metrics in tests/http; promtool checks the text format
        prometheus
        # tests/k8s-events: the stand-in Kubernetes API server validates requests with its models
        python3-kubernetes
        # the control page clients (contrib/go; contrib/python needs only python3)
        golang-go
        # the runtimes of the scenario suite (tests/scenarios): Java (javac builds its workload) and Node
        openjdk-17-jdk-headless nodejs
        # the pure cgroup v2 VM (tests/vm)
        qemu-system-x86 linux-image-cloud-amd64 busybox-static cpio kmod systemd
        # pods on a real container runtime (tests/k8s, contrib/k8s): podman kube play with runc (crun refuses
        # the hybrid layout here) and catatonit (its pause image), patchelf for the injection bundle's
        # $ORIGIN RUNPATH, python3-yaml for tests/k8s/render.py
        podman runc catatonit patchelf python3-yaml
        # benchmark peers (bench/alloc)
        libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4
)

if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/deps.sh: must run as root (it installs Debian packages with apt-get)" >&2
        exit 1
fi

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
        exit 0
fi
echo "scripts/deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

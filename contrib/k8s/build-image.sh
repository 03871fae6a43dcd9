#!/usr/bin/env bash
# Builds the oomless OCI image from the build tree and the host's Debian libraries, with no registry:
#   contrib/k8s/build-image.sh            -> localhost/oomless:<version>, loaded into podman
#   contrib/k8s/build-image.sh --tar F    -> also writes the rootfs as a tar (for ctr import, kind, ...)
#   contrib/k8s/build-image.sh --slim     -> localhost/oomless:<version>-slim, without libcurl and its
#                                            libraries (9 MB): no webhooks and no --k8s-events
# The rootfs is the injection bundle (/oomless-bundle: bin/oomless, lib/liboomless.so and every library
# they load, RUNPATH $ORIGIN-relative) plus the few files a container needs around it: glibc, busybox
# (for the initContainer's cp), CA certificates, passwd/group. contrib/k8s/README.md justifies each.
# The tar is reproducible (sorted, mtime 0, numeric owners); its sha256 is the image's label
# dev.oomless.content-hash, and an image with the same hash is not imported again.
set -euo pipefail

usage()
{
        echo "usage: $0 [--build-dir DIR] [--tag NAME:TAG] [--tar FILE] [--slim] [--print-name]" >&2
        exit 2
}

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build
tag=
tar_out=
print_name=0
slim=0
while [ $# -gt 0 ]; do
        case $1 in
        --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
        --tag) tag=$2; shift 2 ;;
        --tar) tar_out=$2; shift 2 ;;
        --print-name) print_name=1; shift ;;
        --slim) slim=1; shift ;;
        *) usage ;;
        esac
done

bin=$build/supervisor/oomless
lib=$build/allocator/liboomless.so
for f in "$bin" "$lib"; do
        [ -x "$f" ] || [ -f "$f" ] || {
                echo "$0: $f is missing: build first (scripts/build.sh), or pass --build-dir" >&2
                exit 1
        }
done
version=$("$bin" --version | awk '{print $2}')
suffix=
[ "$slim" = 0 ] || suffix=-slim
tag=${tag:-localhost/oomless:$version$suffix}
if [ "$print_name" = 1 ]; then
        echo "$tag"
        exit 0
fi
for t in patchelf ldd tar sha256sum; do
        command -v "$t" >/dev/null || {
                echo "$0: $t not found: run scripts/deps.sh (as root) first" >&2
                exit 1
        }
done

# Libraries that are loaded with dlopen() and so do not show in ldd of the binary: libmicrohttpd for
# --listen, libcurl for webhooks and Kubernetes Events.
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
dlopened=(libmicrohttpd.so.12)
[ "$slim" = 1 ] || dlopened+=(libcurl.so.4)
# glibc itself is not bundled: the bundle runs on the app image's glibc (liboomless has to anyway,
# it is loaded into the app), and ld.so and libc must come from one build.
glibc_re='^(ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libresolv\.so\.2)$'

work=$(mktemp -d "${TMPDIR:-/tmp}/oomless-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
b=$root/oomless-bundle
mkdir -p "$b/bin" "$b/lib" "$root/usr/bin" "$root/usr/lib/$multiarch" "$root/usr/lib64" "$root/etc/ssl/certs" \
        "$root/tmp" "$root/run" "$root/proc" "$root/sys" "$root/dev"
chmod 1777 "$root/tmp"

install -m 0755 "$bin" "$b/bin/oomless"
install -m 0644 "$lib" "$b/lib/liboomless.so"

# Every library the binary and the dlopen()ed ones need, by their sonames.
dl_paths=()
for so in "${dlopened[@]}"; do
        p=/usr/lib/$multiarch/$so
        [ -e "$p" ] || p=/lib/$multiarch/$so
        [ -e "$p" ] || {
                echo "$0: $so not found: run scripts/deps.sh (libmicrohttpd-dev, libcurl4-openssl-dev)" >&2
                exit 1
        }
        dl_paths+=("$p")
done
declare -A seen=()
while read -r name path; do
        [ -n "$path" ] || continue
        seen[$name]=$path
done < <(ldd "$bin" "$lib" "${dl_paths[@]}" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
for p in "${dl_paths[@]}"; do
        seen[$(basename "$p")]=$p
done
for name in "${!seen[@]}"; do
        if [[ $name =~ $glibc_re ]]; then
                # The image's own glibc, where the bundle runs as the image's main program.
                cp -L "${seen[$name]}" "$root/usr/lib/$multiarch/$name"
        else
                cp -L "${seen[$name]}" "$b/lib/$name"
                chmod 0644 "$b/lib/$name"
        fi
done
for name in libc.so.6 libm.so.6; do
        [ -e "$root/usr/lib/$multiarch/$name" ] || cp -L "/lib/$multiarch/$name" "$root/usr/lib/$multiarch/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/usr/lib64/"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

# $ORIGIN-relative search paths: the bundle works wherever it is copied, and DT_RUNPATH is not
# inherited, so every library carries its own (a library's dependencies are looked up through the
# RUNPATH of the library that needs them), and the app that oomless starts sees none of it.
patchelf --set-rpath '$ORIGIN/../lib' "$b/bin/oomless"
for f in "$b"/lib/*.so*; do
        [ "$(basename "$f")" = liboomless.so ] && continue
        patchelf --set-rpath '$ORIGIN' "$f"
done

ln -s ../../oomless-bundle/bin/oomless "$root/usr/bin/oomless"
# busybox: the initContainer's `cp`, and a shell for kubectl exec; static, so it needs nothing else.
install -m 0755 /bin/busybox "$root/usr/bin/busybox"
for a in sh cp ls cat mkdir rm ps sleep; do
        ln -s busybox "$root/usr/bin/$a"
done
ln -s usr/bin "$root/bin"
# Webhooks over https verify against the system CAs (Kubernetes Events use the service account's CA).
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
        >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

# The oldest glibc the bundle can run on: the highest symbol version any of its files needs.
need=$(objdump -T "$b/bin/oomless" "$b"/lib/*.so* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "$need" | sed 's/GLIBC_//' >"$b/GLIBC_MIN"

tarball=$work/rootfs.tar
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$tarball" .
hash=$(sha256sum "$tarball" | cut -c1-64)
if [ -n "$tar_out" ]; then
        cp "$tarball" "$tar_out"
fi

size_of() { du -sb --apparent-size "$@" | awk '{s+=$1} END {printf "%.1f MB", s/1e6}'; }
if ! command -v podman >/dev/null; then
        echo "$0: podman not found; rootfs written only${tar_out:+ to $tar_out}" >&2
        [ -n "$tar_out" ] || exit 1
        exit 0
fi
have=$(podman image inspect --format '{{index .Labels "dev.oomless.content-hash"}}' "$tag" 2>/dev/null || true)
if [ "$have" = "$hash" ]; then
        echo "$tag: up to date (content $hash)" >&2
else
        old_id=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
        podman import -q \
                --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
                --change 'CMD ["/usr/bin/oomless", "help"]' \
                --change "LABEL dev.oomless.content-hash=$hash" \
                --change "LABEL org.opencontainers.image.version=$version" \
                --change 'LABEL org.opencontainers.image.source=contrib/k8s/build-image.sh' \
                "$tarball" "$tag" >/dev/null
        # The image this one replaces, now untagged, unless something else still uses it.
        [ -z "$old_id" ] || podman rmi "$old_id" >/dev/null 2>&1 || true
        echo "$tag: built, rootfs $(size_of "$root") (bundle $(size_of "$b"), needs glibc >= ${need#GLIBC_})" >&2
fi
echo "$tag"

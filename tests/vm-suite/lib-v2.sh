# shellcheck shell=bash
# Helpers for the v2-only checks in tests/vm-suite: sourced by each test-*.sh, which tests/vm runs
# inside a vm-run guest (pure cgroup2, job in the root cgroup) as `bash test-X.sh OOMLESS BALLOON`.
# Each check makes its own scratch cgroup under /sys/fs/cgroup and starts oomless as the only process
# in it, as a delegated service or a container init would; everything is removed on exit.
set -euo pipefail

OOMLESS=${1:?usage: $0 OOMLESS BALLOON}
BALLOON=${2:?usage: $0 OOMLESS BALLOON}
NAME=$(basename "$0" .sh)
CG=/sys/fs/cgroup
[[ -n ${OOMLESS_VM:-} && $(stat -fc %T $CG) == cgroup2fs ]] || {
        echo "$NAME: not inside a tests/vm/vm-run guest" >&2
        exit 77
}
TMP=$(mktemp -d /tmp/$NAME.XXXXXX)
export OOMLESS_RUNTIME_DIR=$TMP/run
SCRATCH=$CG/vmsuite-$NAME-$$
BG_PIDS=()

say() { printf '%s: %s\n' "$NAME" "$*" >&2; }
fail() {
        say "FAIL: $*"
        for f in "$TMP"/*.log; do
                [[ -s $f ]] && { say "---- $f"; cat "$f" >&2; }
        done
        exit 1
}
ok() { say "ok: $*"; }

# Kills what we started, then removes every cgroup under the scratch one, deepest first.
cleanup_v2() {
        local p d
        for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
        for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
        if [[ -d $SCRATCH ]]; then
                for d in $(find "$SCRATCH" -depth -type d); do
                        echo 1 >"$d/cgroup.kill" 2>/dev/null || true
                        for _ in $(seq 50); do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
                done
        fi
        rm -rf "$TMP"
}
trap cleanup_v2 EXIT

# wait_for SECONDS CMD...: polls CMD every 50 ms against a deadline (under TCG each poll costs far
# more than 50 ms, so counting iterations would stretch the wait many times over).
wait_for() {
        local end=$((SECONDS + $1))
        while ((SECONDS < end)); do
                "${@:2}" 2>/dev/null && return 0
                sleep 0.05
        done
        "${@:2}" 2>/dev/null
}

# new_scratch [SUBDIR]: an empty cgroup to start oomless in.
new_scratch() {
        mkdir -p "$SCRATCH${1:+/$1}"
}

# start_in CGROUP_DIR LOG CMD...: starts CMD as the only process of CGROUP_DIR; sets PID.
start_in() {
        local dir=$1 log=$2
        shift 2
        bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$dir" "$@" >"$log.out" 2>"$log" &
        PID=$!
        BG_PIDS+=("$PID")
}

status_json() { "$OOMLESS" status --json --pid "$1"; }
jget() { jq -r "$2" <<<"$1"; }
cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
# wait_exit PID SECONDS: sets RC to its exit status (PID must be a child of this shell).
exited() { [[ ! -e /proc/$1 || $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]; }
wait_exit() {
        wait_for "$2" exited "$1" || fail "process $1 did not exit within $2 s"
        RC=0
        wait "$1" || RC=$?
}

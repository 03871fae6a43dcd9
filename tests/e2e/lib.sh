# shellcheck shell=bash
# Shared helpers for the oomless e2e tests: real processes, the real kernel, any cgroup tier.
# Each test script sources this, then uses $OOMLESS and $BALLOON (set by ctest, or by the caller).
# Assertions are tier-aware: the tier comes from `oomless status --json`, never from the host.
set -euo pipefail

# The binaries come from the environment (ctest) or as arguments 1 and 2 (the VM suites' manifests).
OOMLESS=${OOMLESS:-${1:-}}
BALLOON=${BALLOON:-${2:-}}
: "${OOMLESS:?set OOMLESS to the oomless binary (or pass it as the first argument)}"
E2E_NAME=$(basename "$0" .sh)
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/oomless-e2e-${E2E_NAME}.XXXXXX")
export OOMLESS_RUNTIME_DIR="$E2E_TMP/run"
E2E_PIDS=()
# The tests' own helpers (ports, HTTP checks, fake servers) run on the system's python3, not a pyenv
# shim: in the VM each shim exec costs seconds, which once made a check outlast what it checked.
# (On PATH, not a shell function: "python3 ... &" must leave python3's own pid in $!.)
if [[ -x /usr/bin/python3 ]]; then
        mkdir "$E2E_TMP/.lib-python"
        ln -s /usr/bin/python3 "$E2E_TMP/.lib-python/python3"
        export PATH="$E2E_TMP/.lib-python:$PATH"
fi

say() { printf '%s: %s\n' "$E2E_NAME" "$*" >&2; }
fail() {
        say "FAIL: $*"
        exit 1
}
skip() {
        say "SKIP: $*"
        exit 77
}

e2e_cleanup() {
        local p
        for p in "${E2E_PIDS[@]}"; do
                kill -KILL "$p" 2>/dev/null || true
        done
        for p in "${E2E_PIDS[@]}"; do
                wait "$p" 2>/dev/null || true
        done
        if [[ -n ${E2E_CGROUP_CREATED:-} ]]; then
                local d
                # A process killed a moment ago may still hold the cgroup until it is reaped: retry.
                local i
                for d in $E2E_CGROUP_CREATED; do
                        for i in {1..100}; do
                                [[ -d $d ]] || break
                                rmdir "$d" 2>/dev/null && break
                                sleep 0.05
                        done
                        [[ ! -d $d ]] || echo "warning: cannot remove the test cgroup $d" >&2
                done
        fi
        [[ -n ${E2E_KEEP:-} ]] || rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT
# E2E_KEEP=1 keeps the scratch directory for a post-mortem.

# wait_for TIMEOUT_SECONDS CMD...: polls CMD every 50ms until it succeeds.
wait_for() {
        local timeout=$1 i
        shift
        for ((i = 0; i < timeout * 20; i++)); do
                if "$@" 2>/dev/null; then
                        return 0
                fi
                sleep 0.05
        done
        return 1
}

assert_eq() { # ACTUAL EXPECTED WHAT
        [[ $1 == "$2" ]] || fail "$3: expected '$2', got '$1'"
}
assert_match() { # TEXT REGEX WHAT
        [[ $1 =~ $2 ]] || fail "$3: '$1' does not match /$2/"
}
assert_file_contains() { # FILE REGEX WHAT
        grep -Eq -- "$2" "$1" || {
                say "---- $1 ----"
                cat "$1" >&2
                fail "$3: no line matches /$2/ in $1"
        }
}
# assert_close A B TOLERANCE_BYTES WHAT
assert_close() {
        local d=$(($1 - $2))
        ((d < 0)) && d=$((-d))
        ((d <= $3)) || fail "$4: $1 and $2 differ by $d (> $3)"
}

# status_json [PID]: the instance's status document (the only instance when PID is empty).
status_json() {
        if [[ -n ${1:-} ]]; then
                "$OOMLESS" status --json --pid "$1"
        else
                "$OOMLESS" status --json
        fi
}
# jget JSON FILTER: one value (jq syntax), "null" when absent.
jget() { jq -r "$2" <<<"$1"; }

# write_stage_policy FILE NAME STAGE ENTER EXIT: a policy of one stage, sampled every 100 ms, that
# never restarts the workload. ENTER and EXIT are the stage's condition groups, as JSON.
write_stage_policy() {
        printf '{ "version": 1, "name": "%s", "sampling_interval": "100ms", "restart": { "mode": "never" },\n' "$2" >"$1"
        printf '  "stages": [ { "name": "%s", "enter": %s, "exit": %s } ] }\n' "$3" "$4" "$5" >>"$1"
}

# start_oomless LOGFILE ARGS...: runs `oomless ARGS` in the background; sets OOMLESS_PID.
start_oomless() {
        local log=$1
        shift
        "$OOMLESS" "$@" >"$log.out" 2>"$log" &
        OOMLESS_PID=$!
        E2E_PIDS+=("$OOMLESS_PID")
}
# wait_status PID: waits until the instance answers on its status socket.
wait_status() {
        wait_for 10 status_json "$1" >/dev/null || fail "oomless $1 never answered on its status socket"
}
# exited PID: true once PID is gone or a zombie waiting for us.
exited() {
        local st
        st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
        [[ -z $st || $st == Z ]]
}
# wait_exit PID [TIMEOUT]: sets RC to its exit status, or fails after TIMEOUT seconds. (Not in a
# command substitution: only this shell can wait for its children.)
wait_exit() {
        local pid=$1 timeout=${2:-20}
        RC=0
        wait_for "$timeout" exited "$pid" || fail "process $pid did not exit within ${timeout}s"
        wait "$pid" || RC=$?
}

# The directories where oomless may create cgroups for us: our own v1 memory cgroup and our own v2
# cgroup (the unified mount on hybrid hosts, /sys/fs/cgroup on pure v2).
own_cgroup_dirs() {
        local line v1 v2
        v1=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
        v2=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
        if [[ -n $v1 && -d /sys/fs/cgroup/memory$v1 ]]; then
                echo "/sys/fs/cgroup/memory${v1%/}"
        fi
        if [[ -n $v2 ]]; then
                if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
                        echo "/sys/fs/cgroup${v2%/}"
                elif [[ -d /sys/fs/cgroup/unified ]]; then
                        echo "/sys/fs/cgroup/unified${v2%/}"
                fi
        fi
}

# make_target_cgroup NAME: creates $cg, a cgroup for an app that attach watches (like a container's),
# below $mem_dir, our own memory cgroup; e2e_cleanup removes it. Skips where the memory controller is
# not ours to delegate.
make_target_cgroup() {
        mem_dir=$(own_cgroup_dirs | sed -n 1p)
        [[ -n $mem_dir ]] || fail "no cgroup of our own found in /proc/self/cgroup"
        if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
                grep -qw memory "$mem_dir/cgroup.subtree_control" || skip "memory controller not enabled below $mem_dir"
        fi
        cg=$mem_dir/$1-$$
        mkdir "$cg"
        E2E_CGROUP_CREATED=$cg
}

# kill_cgroup_procs DIR: its processes are not all our children; kill them before it is removed.
kill_cgroup_procs() {
        local p
        for p in $(cat "$1/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        wait_for $((5 * ${OOMLESS_TEST_TIME_FACTOR:-1})) test ! -s "$1/cgroup.procs" || true
}

# assert_cleaned OOMLESS_PID [LEAF]: no cgroup oomless PID created is left in either hierarchy, and
# its runtime directory is gone.
assert_cleaned() {
        local pid=$1 leaf=${2:-} d left
        if [[ -n $leaf && -d $leaf ]]; then
                fail "leaf $leaf is left behind"
        fi
        for d in $(own_cgroup_dirs); do
                left=$(find "$d" -maxdepth 2 -type d -name "oomless-$pid*" 2>/dev/null || true)
                [[ -z $left ]] || fail "cgroups of oomless $pid left behind: $left"
        done
        left=$(compgen -G "$OOMLESS_RUNTIME_DIR/$pid-*" || true)
        [[ ! -e $OOMLESS_RUNTIME_DIR/$pid && -z $left ]] || fail "runtime directory of oomless $pid left behind: $left"
}

# leaf_from_log LOGFILE: the leaf named in the tier line.
leaf_from_log() {
        grep -oE 'leaf /[^ ]+' "$1" | head -1 | cut -d' ' -f2 || true
}

# The file holding the leaf's hard limit and its usage, by tier.
limit_file() {
        case $1 in
        v2) echo memory.max ;;
        v1) echo memory.limit_in_bytes ;;
        *) fail "no limit file on tier $1" ;;
        esac
}
usage_file() {
        case $1 in
        v2) echo memory.current ;;
        v1) echo memory.usage_in_bytes ;;
        *) fail "no usage file on tier $1" ;;
        esac
}

# No zombie among PID's children.
assert_no_zombie_children() {
        local pid=$1 z
        z=$(ps -o pid=,stat= --ppid "$pid" | awk '$2 ~ /^Z/ {print $1}')
        [[ -z $z ]] || fail "zombie children of $pid: $z"
}

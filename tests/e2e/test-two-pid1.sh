#!/usr/bin/env bash
# Two instances that are each PID 1 (two containers sharing a cgroup parent and a runtime-dir volume)
# never collide (issue 8 §6): distinct leaves, runtime directories and status sockets; each keeps its
# own memory limit; both answer `oomless status`.
source "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] && unshare -pf true 2>/dev/null || skip "needs root and unshare -pf"
run=$OOMLESS_RUNTIME_DIR
mkdir -p "$run"

unshare -pf "$OOMLESS" run --no-preload --memory-max 64M -- sleep 8 >"$E2E_TMP/a.out" 2>"$E2E_TMP/a.log" &
A=$!
E2E_PIDS+=("$A")
unshare -pf "$OOMLESS" run --no-preload --memory-max 96M -- sleep 8 >"$E2E_TMP/b.out" 2>"$E2E_TMP/b.log" &
B=$!
E2E_PIDS+=("$B")

two_dirs() { [[ $(compgen -G "$run/1-*/status.sock" | wc -l) -eq 2 ]]; }
wait_for 20 two_dirs || fail "not two instance directories with sockets in $run: $(ls "$run")"
dirs=$(compgen -G "$run/1-*")
say "instance directories: $dirs"

# Both answer, each with its own leaf and its own limit.
docs=$("$OOMLESS" status --json --pid 1)
assert_eq "$(jq -r 'length' <<<"$docs")" 2 "instances answering for pid 1"
la=$(jq -r '.[0].leaf' <<<"$docs")
lb=$(jq -r '.[1].leaf' <<<"$docs")
[[ -n $la && -n $lb && $la != "$lb" ]] || fail "the two instances share a leaf: $la / $lb"
limits=$(for l in "$la" "$lb"; do cat "$l/memory.limit_in_bytes" 2>/dev/null || cat "$l/memory.max"; done | sort -n | tr '\n' ' ')
assert_eq "$limits" "$((64 << 20)) $((96 << 20)) " "the leaves' own memory limits"
"$OOMLESS" status >"$E2E_TMP/status.txt" || fail "oomless status failed with two instances"
assert_file_contains "$E2E_TMP/status.txt" "2 instances in $run" "the text status lists both"

kill -TERM "$A" "$B"
wait "$A" "$B" || true
[[ -z $(compgen -G "$run/1-*") ]] || fail "instance directories left: $(ls "$run")"
for l in "$la" "$lb"; do [[ ! -d $l ]] || fail "leaf $l left behind"; done

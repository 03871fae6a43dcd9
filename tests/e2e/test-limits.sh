#!/usr/bin/env bash
# Limits: --memory-max 64M lands in the leaf's limit file (memory.limit_in_bytes on v1, memory.max
# on v2) and in the status; a percent resolves against the effective limit above the leaf. Sizes
# below 4M are refused.
source "$(dirname "$0")/lib.sh"

# Limits below 4M are refused before anything starts, with the reason, exit 125 (any tier).
for opt in --memory-max --memory-high; do
        rc=0
        "$OOMLESS" run --no-preload "$opt" 1M -- true 2>"$E2E_TMP/small" || rc=$?
        assert_eq "$rc" 125 "$opt 1M exit status"
        assert_file_contains "$E2E_TMP/small" "^oomless run: $opt: 1M is below the 4M minimum" "$opt 1M refusal"
done
# --memory-max has no leaf to go to on tier none: an error, not ignored.
rc=0
"$OOMLESS" run --no-preload --cgroup-mode none --memory-max 64M -- true 2>"$E2E_TMP/none" || rc=$?
assert_eq "$rc" 125 "--memory-max on tier none exit status"
assert_file_contains "$E2E_TMP/none" "--memory-max does not apply to tier none" "--memory-max on tier none"

start_oomless "$E2E_TMP/log" run --no-preload --memory-max 64M -- sleep 1000
wait_status "$OOMLESS_PID"
json=$(status_json "$OOMLESS_PID")
tier=$(jget "$json" .tier)
leaf=$(jget "$json" .leaf)
[[ $tier == v1 || $tier == v2 ]] || skip "tier $tier has no leaf limits"
assert_eq "$(cat "$leaf/$(limit_file "$tier")")" 67108864 "the leaf's $(limit_file "$tier")"
assert_eq "$(jget "$json" .memory.max)" 67108864 "status memory.max"
assert_eq "$(jget "$json" .memory.limit)" 67108864 "status memory.limit (effective)"
kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID"; assert_eq "$RC" 143 "exit status"
assert_cleaned "$OOMLESS_PID" "$leaf"

# 50% of the effective limit above the leaf: the smallest limit of our own cgroup and its
# ancestors, bounded by MemTotal.
effective_parent_limit() {
        local lim d
        lim=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 1024))
        if [[ $1 == v1 ]]; then
                d=$(own_cgroup_dirs | grep /memory | sed -n 1p)
                local h
                h=$(awk '$1 == "hierarchical_memory_limit" {print $2}' "$d/memory.stat")
                [[ -n $h ]] && ((h < lim)) && lim=$h
        else
                d=$(own_cgroup_dirs | tail -1)
                while [[ $d == /sys/fs/cgroup* ]]; do
                        if [[ -f $d/memory.max ]]; then
                                local v
                                v=$(cat "$d/memory.max")
                                [[ $v != max ]] && ((v < lim)) && lim=$v
                        fi
                        [[ $d == /sys/fs/cgroup || $d == /sys/fs/cgroup/unified ]] && break
                        d=$(dirname "$d")
                done
        fi
        echo "$lim"
}
start_oomless "$E2E_TMP/log" run --no-preload --memory-max 50% -- sleep 1000
wait_status "$OOMLESS_PID"
json=$(status_json "$OOMLESS_PID")
leaf=$(jget "$json" .leaf)
got=$(cat "$leaf/$(limit_file "$tier")")
want=$(($(effective_parent_limit "$tier") / 2))
assert_close "$got" "$want" $((want / 100 + 8192)) "50% of the effective limit"
kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID"; assert_eq "$RC" 143 "exit status"
assert_cleaned "$OOMLESS_PID" "$leaf"
say "ok"

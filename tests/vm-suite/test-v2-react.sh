#!/usr/bin/env bash
# The adaptive tick on v2 (issue 9), where no kernel memory threshold exists: an mmap workload (the
# allocator never sees it) grows at 32 MiB/s towards a stage at 50% of 512M with the policy's
# interval at 500 ms. The tick shortens as the headroom shrinks ("Adaptive tick: every N ms" at debug
# level, down to the 5-50 ms range near the level), the stage is entered, and once the workload has
# freed its memory the tick relaxes to the policy's interval again. Timing under TCG is indicative
# only, so the stage's latency is bounded loosely (scaled by OOMLESS_TEST_TIME_FACTOR).
. "$(dirname "$0")/lib-v2.sh"

REACTION=${REACTION:-$(dirname "$OOMLESS")/../tests/e2e/reaction-workload}
[[ -x $REACTION ]] || fail "no reaction workload at $REACTION"
factor=${OOMLESS_TEST_TIME_FACTOR:-1}
cat >"$TMP/p.json" <<'JSON'
{"version":1,"sampling_interval":"500ms","stages":[{"name":"react",
 "enter":{"all":[{"memory":">= 50%"}]},"exit":{"all":[{"memory":"< 25%"}]},
 "on_enter":[{"action":"signal","signal":"USR1","target":"main"}],
 "on_exit":[{"action":"signal","signal":"USR2","target":"main"}]}]}
JSON
new_scratch
start_in "$SCRATCH" "$TMP/run.log" "$OOMLESS" run --log-level=debug --no-preload --memory-max 512M \
        --policy "$TMP/p.json" -- "$REACTION" mmap 32 $((256 << 20)) 2 1500
oomless=$PID
wait_exit "$oomless" $((60 * factor))
[[ $RC == 0 ]] || fail "oomless exited $RC"
grep -q 'cgroup tier v2' "$TMP/run.log" || fail "not on tier v2"
out=$(cat "$TMP/run.log.out")
[[ $out =~ crossing\ 0\ latency_us\ ([0-9]+) ]] || fail "no crossing recorded: '$out'"
lat_ms=$((BASH_REMATCH[1] / 1000))
ok "stage signal ${lat_ms} ms after the crossing (indicative under TCG)"
((lat_ms < 500 * factor)) || fail "the stage came ${lat_ms} ms after the crossing"

# Before the stage: the shortest interval; after it (the workload idles 1.5 s with its memory freed
# before growing again): the longest.
enter_line=$(grep -n 'stage 0 -> 1' "$TMP/run.log" | head -1 | cut -d: -f1)
[[ -n $enter_line ]] || fail "the stage was never entered"
near=$(head -n "$enter_line" "$TMP/run.log" | grep -oE 'Adaptive tick: every [0-9]+ ms' | awk '{print $4}' | sort -n | head -1)
far=$(tail -n +"$enter_line" "$TMP/run.log" | grep -oE 'Adaptive tick: every [0-9]+ ms' | awk '{print $4}' | sort -n | tail -1)
ok "adaptive tick: ${near:-?} ms near the level, ${far:-?} ms once far again"
[[ -n $near ]] && ((near <= 50)) || fail "the tick never got below 50 ms near the level (${near:-no line})"
[[ -n $far ]] && ((far >= 400)) || fail "the tick did not relax once far from the level (${far:-no line})"

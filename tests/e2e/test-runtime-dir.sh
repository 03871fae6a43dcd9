#!/usr/bin/env bash
# The runtime directory is hostile ground (issue 14, finding 1): a workload, or another user who can
# write there, may put a symlink where oomless removes files. Sentinel files in scratch directories
# must survive:
#   1. at exit, a workload that moved its instance directory away and left a symlink in its place;
#   2. at start, a symlink planted under a name of the old form ("1", what PID 1 of a pid namespace
#      used before names carried a random nonce) is neither followed nor taken: oomless makes a fresh
#      "1-<nonce>" of its own, whoever owns the symlink;
#   3. a runtime directory owned by another user, or writable by others without the sticky bit, is
#      refused with the reason and exit 125; a sticky one is used.
source "$(dirname "$0")/lib.sh"

# Parts 2 and 3 need root (chown, a pid namespace): without it the whole test is skipped, never
# passed with a part left out.
[[ $(id -u) -eq 0 ]] && unshare -pf true 2>/dev/null || skip "needs root and unshare -pf"

run=$OOMLESS_RUNTIME_DIR
mkdir -p "$run"
SENTINELS=(keep status.sock control wake)
sentinels() {
        mkdir -p "$1"
        local f
        for f in "${SENTINELS[@]}"; do echo sentinel >"$1/$f"; done
}
assert_sentinels() { # DIR WHAT
        local f
        for f in "${SENTINELS[@]}"; do
                [[ $(cat "$1/$f" 2>/dev/null) == sentinel ]] || fail "$2: $1/$f was deleted or changed"
        done
}

# 1. The swap at exit. $PPID of the workload's shell is oomless, so its directory is $run/$PPID-<nonce>.
s1=$E2E_TMP/scratch-exit
sentinels "$s1"
rc=0
"$OOMLESS" run --no-preload -- bash -c "d=\$(echo $run/\$PPID-*); mv \$d \$d.away && ln -s $s1 \$d && exit 3" \
        >"$E2E_TMP/exit.out" 2>"$E2E_TMP/exit.log" || rc=$?
assert_eq "$rc" 3 "exit status of the workload that swapped its directory"
assert_sentinels "$s1" "the symlink swapped in at exit"
assert_file_contains "$E2E_TMP/exit.log" "was replaced while oomless ran \(by a symlink\); left alone" \
        "the swap is logged"
away=$(find "$run" -maxdepth 1 -name '*.away' | head -1)
[[ -n $away && -z $(ls -A "$away") ]] || fail "the moved-away instance directory $away was not emptied"
rm -rf "$run"/*

# 2. A symlink planted under the old name of PID 1 of a new pid namespace: left alone, never followed.
s2=$E2E_TMP/scratch-start
sentinels "$s2"
for owner in root nobody; do
        ln -s "$s2" "$run/1"
        chown -h "$owner" "$run/1"
        rc=0
        unshare -pf "$OOMLESS" run --no-preload -- sh -c "ls -d $run/1-*" \
                >"$E2E_TMP/start.out" 2>"$E2E_TMP/start.log" || rc=$?
        assert_eq "$rc" 0 "exit status with a planted symlink of $owner"
        assert_sentinels "$s2" "the symlink of $owner planted at start"
        assert_file_contains "$E2E_TMP/start.out" "^$run/1-[0-9a-f]{8}\$" "the instance directory has a fresh name"
        [[ -L $run/1 ]] || fail "the planted symlink $run/1 of $owner was removed"
        rm -f "$run/1"
done

# 3. The runtime directory itself.
foreign=$E2E_TMP/foreign
sentinels "$foreign"
chown -R nobody "$foreign"
rc=0
"$OOMLESS" run --no-preload --runtime-dir "$foreign" -- true >/dev/null 2>"$E2E_TMP/foreign.log" || rc=$?
assert_eq "$rc" 125 "exit status with a runtime directory of another user"
assert_file_contains "$E2E_TMP/foreign.log" "Refusing the runtime directory $foreign: it belongs to uid" \
        "the refusal names the directory and its owner"
assert_sentinels "$foreign" "a runtime directory of another user"
open=$E2E_TMP/open
mkdir "$open"
chmod 0777 "$open"
rc=0
"$OOMLESS" run --no-preload --runtime-dir "$open" -- true >/dev/null 2>"$E2E_TMP/open.log" || rc=$?
assert_eq "$rc" 125 "exit status with a world-writable runtime directory"
assert_file_contains "$E2E_TMP/open.log" "Refusing the runtime directory $open: its mode 0777" "the refusal names the mode"
chmod 1777 "$open"
rc=0
"$OOMLESS" run --no-preload --runtime-dir "$open" -- true >/dev/null 2>"$E2E_TMP/sticky.log" || rc=$?
assert_eq "$rc" 0 "exit status with a sticky world-writable runtime directory"
say "ok"

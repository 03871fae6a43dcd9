#!/usr/bin/env bash
# The runtime directory is hostile ground (issue 14, finding 1): a workload, or another user who can
# write there, may put a symlink where oomless removes files. Sentinel files in scratch directories
# must survive:
#   1. at exit, a workload that moved its instance directory away and left a symlink in its place;
#   2. at start, a symlink planted under the name oomless will use (as PID 1 of a pid namespace, its
#      name is "1"); one owned by another user is refused instead;
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

# 1. The swap at exit. $PPID of the workload's shell is oomless, so its directory is $run/$PPID.
s1=$E2E_TMP/scratch-exit
sentinels "$s1"
rc=0
"$OOMLESS" run --no-preload -- bash -c "d=$run/\$PPID; mv \$d \$d.away && ln -s $s1 \$d && exit 3" \
        >"$E2E_TMP/exit.out" 2>"$E2E_TMP/exit.log" || rc=$?
assert_eq "$rc" 3 "exit status of the workload that swapped its directory"
assert_sentinels "$s1" "the symlink swapped in at exit"
assert_file_contains "$E2E_TMP/exit.log" "was replaced while oomless ran \(by a symlink\); left alone" \
        "the swap is logged"
away=$(find "$run" -maxdepth 1 -name '*.away' | head -1)
[[ -n $away && -z $(ls -A "$away") ]] || fail "the moved-away instance directory $away was not emptied"
rm -rf "$run"/*

# 2. A symlink planted under the name oomless will take: as PID 1 of a new pid namespace it is "1".
s2=$E2E_TMP/scratch-start
sentinels "$s2"
ln -s "$s2" "$run/1"
rc=0
unshare -pf "$OOMLESS" run --no-preload -- true >"$E2E_TMP/start.out" 2>"$E2E_TMP/start.log" || rc=$?
assert_eq "$rc" 0 "exit status with a planted symlink"
assert_sentinels "$s2" "the symlink planted at start"
assert_file_contains "$E2E_TMP/start.log" "$run/1 was not a directory \(a symlink\); removed it" \
        "the planted symlink is logged"
[[ ! -e $run/1 && ! -L $run/1 ]] || fail "$run/1 is left"

# Owned by someone else: not ours to remove, so oomless refuses to start.
ln -s "$s2" "$run/1"
chown -h nobody "$run/1"
rc=0
unshare -pf "$OOMLESS" run --no-preload -- true >"$E2E_TMP/other.out" 2>"$E2E_TMP/other.log" || rc=$?
assert_eq "$rc" 125 "exit status with a planted symlink of another user"
assert_sentinels "$s2" "another user's planted symlink"
assert_file_contains "$E2E_TMP/other.log" "$run/1 exists and belongs to uid [0-9]+; oomless removes only" \
        "the refusal names the entry and its owner"
rm -f "$run/1"

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

#!/bin/bash
# SPDX-License-Identifier: MIT
# Black-box tests of `oomless check`: malformed input of every kind exits 2 with a precise message and
# never crashes; the shipped examples, --print output and --print-default all pass and round-trip.
# Usage: test-check.sh OOMLESS SOURCE_DIR
set -u
OOMLESS=$(realpath "$1")
SRC=$2
FIX=$SRC/tests/policy/fixtures
TMP=$(mktemp -d /tmp/oomless-check-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0

fail() {
        echo "FAIL: $*"
        fails=$((fails + 1))
}

# expect_rc RC PATTERN ARGS...: runs `oomless check ARGS`, wants exit RC and PATTERN (grep -E) in stderr.
expect_rc() {
        local want=$1 pattern=$2
        shift 2
        "$OOMLESS" check "$@" >"$TMP/out" 2>"$TMP/err"
        local rc=$?
        if [ "$rc" != "$want" ]; then
                fail "check $* exited $rc, expected $want; stderr: $(head -c 400 "$TMP/err")"
        elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$TMP/err"; then
                fail "check $*: stderr lacks /$pattern/: $(head -c 400 "$TMP/err")"
        else
                echo "ok   check $* -> $rc"
        fi
}

w() { printf '%s' "$2" >"$TMP/$1"; }

# expect_errors NAME JSON PATTERN [MORE...]: writes JSON to NAME; `oomless check` of it must exit 2 with
# PATTERN (grep -E) in stderr, and each MORE (grep, basic regex) as well.
expect_errors() {
        local name=$1 json=$2 pattern=$3 more
        shift 3
        w "$name" "$json"
        expect_rc 2 "$pattern" "$TMP/$name"
        for more in "$@"; do
                grep -q -- "$more" "$TMP/err" || fail "$name: stderr lacks /$more/"
        done
}

expect_errors broken.json \
        '{ "version": 1, "stages": [ { "enter": } ] }' \
        '^'"$TMP"'/broken.json:1:40: syntax error at .\}'

expect_errors types.json \
        '{ "version": 1, "stages": [ { "enter": { "all": [ { "memory": 80 } ] }, "exit": "low" } ] }' \
        'stages\[0\]\.enter\.all\[0\]: expected a string, got a number' \
        'stages\[0\]\.exit: a condition must be an object, got a string'

expect_errors huge.json \
        '{ "version": 1, "sampling_interval": "99999999999999999999s", "restart": { "max_restarts": 1e999 }, "stages": [ { "enter": { "all": [ { "memory": ">= 99999999999999999999T" } ] }, "exit": { "all": [ { "memory": "< 1%" } ] } } ] }' \
        'sampling_interval: duration "99999999999999999999s" is above the limit' \
        'restart.max_restarts: number out of range' \
        'stages\[0\]\.enter\.all\[0\]: memory 99999999999999999999T is out of range'

expect_errors negative.json \
        '{ "version": 1, "stages": [ { "enter": { "all": [ { "memory": ">= -5M" } ] }, "exit": { "all": [ { "memory": "< 1%" } ] }, "on_enter": [ { "action": "reclaim", "amount": -1 }, { "action": "throttle", "memory_high": "-10%" } ] } ] }' \
        'stages\[0\]\.enter\.all\[0\]: invalid size "-5M" for memory \(hint: sizes cannot be negative\)' \
        'on_enter\[0\]\.amount: amount is negative' \
        'on_enter\[1\]\.memory_high: invalid percentage "-10%"'

{
        printf '{"version": 1, "stages": '
        printf '%.0s[' $(seq 5000)
        printf '%.0s]' $(seq 5000)
        printf '}\n'
} >"$TMP/deep.json"
expect_rc 2 'deep.json:1:[0-9]+: nesting deeper than 32 levels' "$TMP/deep.json"

: >"$TMP/empty.json"
expect_rc 2 'empty.json: the policy is empty' "$TMP/empty.json"

head -c 4096 /dev/urandom >"$TMP/garbage.bin"
printf '\x00\xff' >>"$TMP/garbage.bin"
expect_rc 2 'garbage.bin(:[0-9]+:[0-9]+)?: ' "$TMP/garbage.bin"

printf '{\x01\x02\x03 "version": 1 }' >"$TMP/ctrl.json"
expect_rc 2 'ctrl.json:1:2: control character 0x01 outside the allowed whitespace' "$TMP/ctrl.json"

mkdir "$TMP/dir.json"
expect_rc 2 'dir.json: is a directory' "$TMP/dir.json"
expect_rc 2 'nonexistent.json: No such file or directory \(hint: check the path\)' "$TMP/nonexistent.json"
expect_rc 2 'not a regular file' /dev/null

expect_errors action.json \
        '{ "version": 1, "stages": [ { "enter": { "all": [ { "memory": ">= 80%" } ] }, "exit": { "all": [ { "memory": "< 70%" } ] }, "on_enter": [ { "action": "reboot" }, { "action": "notfy" } ] } ] }' \
        'on_enter\[0\]\.action: unknown action "reboot" \(hint: expected one of: "notify", "signal"' \
        'on_enter\[1\]\.action: unknown action "notfy" (hint: did you mean "notify"?)'

expect_errors signal.json \
        '{ "version": 1, "stages": [ { "enter": { "all": [ { "memory": ">= 80%" } ] }, "exit": { "all": [ { "memory": "< 70%" } ] }, "on_enter": [ { "action": "signal", "signal": "SIGWHATEVER" }, { "action": "kill", "signal": "0" }, { "action": "restart", "stop_signal": "65" } ] } ] }' \
        'on_enter\[0\]\.signal: unknown signal "SIGWHATEVER"' \
        'on_enter\[1\]\.signal: unknown signal "0"' \
        'on_enter\[2\]\.stop_signal: unknown signal "65"'

# Every invalid fixture: exactly the expected lines (all of them, not only the first).
for f in "$FIX"/invalid/*.json; do
        name=$(basename "$f")
        (cd "$FIX/invalid" && "$OOMLESS" check "$name" >/dev/null 2>"$TMP/err")
        rc=$?
        if [ $rc != 2 ] || ! cmp -s "$TMP/err" "${f%.json}.expected"; then
                fail "fixture $name: rc $rc; diff: $(diff "${f%.json}.expected" "$TMP/err" | head -5)"
        else
                echo "ok   fixture $name"
        fi
done

# Usage errors.
expect_rc 2 'no policy file given'
expect_rc 2 'unknown option --frobnicate' --frobnicate "$TMP/x.json"
expect_rc 2 'more than one file given' a.json b.json
expect_rc 2 'takes no file' --print-default a.json

# --json: machine-readable, errors included.
"$OOMLESS" check --json "$FIX/invalid/percent-above-100.json" >"$TMP/out" 2>/dev/null
rc=$?
python3 - "$TMP/out" <<'PY' || fail "--json report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["valid"] is False, r
assert r["errors"][0]["path"] == "stages[1].enter.all[0]", r
assert r["errors"][0]["message"] == "memory 120% is above 100%", r
PY
[ $rc = 2 ] || fail "--json invalid exit $rc"

# Examples pass, --print passes again and re-prints byte for byte.
for f in "$SRC"/examples/policies/*.json "$FIX"/valid/*.json; do
        expect_rc 0 '' "$f"
        grep -q "^$f: valid policy \"" "$TMP/out" || fail "$f: no summary: $(cat "$TMP/out")"
        "$OOMLESS" check --print "$f" >"$TMP/p1.json" || fail "$f --print"
        "$OOMLESS" check "$TMP/p1.json" >/dev/null || fail "$f: --print output does not pass check"
        "$OOMLESS" check --print "$TMP/p1.json" >"$TMP/p2.json" || fail "$f --print (2)"
        cmp -s "$TMP/p1.json" "$TMP/p2.json" || fail "$f: --print is not stable"
        n=$((${n:-0} + 1))
        "$OOMLESS" check --json --print "$f" >"$TMP/report-$n.json" || fail "$f --json --print"
done
# One interpreter for all reports: python start-up is slow on some machines.
python3 - "$TMP"/report-*.json <<'PY' || fail "--json --print reports"
import json, sys
for f in sys.argv[1:]:
    r = json.load(open(f))
    assert r["valid"] is True and r["errors"] == [] and r["policy"]["version"] == 1, f
PY

"$OOMLESS" check --print-default >"$TMP/default.json"
rc=$?
[ $rc = 0 ] || fail "--print-default exited $rc"
expect_rc 0 '' "$TMP/default.json"
grep -q 'valid policy "default": 3 stages (warn, degrade, restart), sampling every 100ms' "$TMP/out" || fail "default summary: $(cat "$TMP/out")"
"$OOMLESS" check --print "$TMP/default.json" | cmp -s - "$TMP/default.json" || fail "--print-default is not normalized"

echo "$fails failures"
[ $fails = 0 ]

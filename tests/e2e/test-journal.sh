#!/usr/bin/env bash
# Under systemd (stderr is the journal's stream: $JOURNAL_STREAM names its device and inode), records
# go to the journal as structured entries through sd_journal_sendv(), not to stderr. A fake journald
# receives them on /run/systemd/journal/socket inside a private mount namespace (tmpfs over /run), so
# the host's /run is not touched: the start entry carries EVENT, COMMAND, INSTANCE_ID, the summary
# entry EXIT_STATUS and EXIT_REASON, every entry MESSAGE, PRIORITY and SYSLOG_IDENTIFIER=oomless.
source "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || skip "needs root for a private mount namespace"
command -v unshare >/dev/null || skip "no unshare"
command -v python3 >/dev/null || skip "no python3"
unshare -m true 2>/dev/null || skip "cannot create a mount namespace here"

here=$(cd "$(dirname "$0")" && pwd)
export E2E_TMP here OOMLESS
unshare -m --propagation private bash -euc '
        mount -t tmpfs tmpfs /run
        python3 "$here/fake-journald.py" /run/systemd/journal/socket "$E2E_TMP/journal.jsonl" "$E2E_TMP/ready" &
        jd=$!
        for _ in $(seq 100); do [[ -e $E2E_TMP/ready ]] && break; sleep 0.05; done
        : >"$E2E_TMP/stderr"
        stream=$(stat -c "%d:%i" "$E2E_TMP/stderr")
        rc=0
        JOURNAL_STREAM=$stream OOMLESS_RUNTIME_DIR=$E2E_TMP/run "$OOMLESS" run --no-preload \
                -- sh -c "sleep 0.3; exit 3" 2>>"$E2E_TMP/stderr" || rc=$?
        echo "$rc" >"$E2E_TMP/rc"
        wait "$jd" || true
' || fail "the namespace run failed"

assert_eq "$(cat "$E2E_TMP/rc")" 3 "oomless's exit status"
[[ ! -s $E2E_TMP/stderr ]] || fail "records went to stderr although it is the journal's stream: $(head -3 "$E2E_TMP/stderr")"
[[ -s $E2E_TMP/journal.jsonl ]] || fail "the fake journald received nothing"
j() { jq -c "select(.EVENT == \"$1\")" "$E2E_TMP/journal.jsonl" | tail -1; }
bad=$(jq -c 'select(.SYSLOG_IDENTIFIER != "oomless" or (.PRIORITY | test("^[3-7]$") | not) or .MESSAGE == null)' \
        "$E2E_TMP/journal.jsonl")
[[ -z $bad ]] || fail "entries without SYSLOG_IDENTIFIER, PRIORITY or MESSAGE: $bad"
start=$(j start)
[[ -n $start ]] || fail "no EVENT=start entry: $(cat "$E2E_TMP/journal.jsonl")"
assert_eq "$(jget "$start" .COMMAND)" '["sh","-c","sleep 0.3; exit 3"]' "COMMAND"
assert_match "$(jget "$start" .INSTANCE_ID)" '^[0-9a-f]{32}$' "INSTANCE_ID"
assert_eq "$(jget "$start" .MODE)" run "MODE"
summary=$(j summary)
[[ -n $summary ]] || fail "no EVENT=summary entry"
assert_eq "$(jget "$summary" .EXIT_STATUS)" 3 "EXIT_STATUS"
assert_eq "$(jget "$summary" .EXIT_REASON)" "the workload exited with status 3" "EXIT_REASON"
assert_eq "$(jget "$summary" .PRIORITY)" 5 "the summary's PRIORITY (notice)"
assert_match "$(jget "$summary" .MESSAGE)" '^Summary: ran ' "the summary's MESSAGE"
assert_match "$(jget "$summary" .CODE_FILE)" 'run-report\.c$' "CODE_FILE"
say "ok"

#!/usr/bin/env bash
# `oomless status` treats the status socket's document as untrusted (issue 14, finding 8): a fake
# instance answering with hostile JSON (huge, negative, fractional and overflowing numbers, wrong
# types, escape sequences, truncated) gets "-" for every nonsensical value, never a converted
# garbage integer such as -2147483648; --json prints well-formed JSON; a truncated document is an error.
source "$(dirname "$0")/lib.sh"

mkdir -p "$OOMLESS_RUNTIME_DIR"
cat >"$E2E_TMP/hostile.json" <<'DOC'
{"version":1,"mode":"run","supervisor_pid":1e300,"uptime_sec":-5,"command":["evil",7],"tier":3,
 "leaf":"\u001b]0;pwned\u0007/x","memory":{"current":-1,"peak":1e999,"limit":18446744073709551616,
 "max":0.5,"high":"1G"},"psi":{"some":{"avg10":1e308,"avg60":-1},"full":null},
 "events":{"high":1e20,"max":-3,"oom":2.5,"oom_kill":true},
 "child":{"pid":-2147483649,"started_sec_ago":1e308,"restarts":4294967296.5},
 "policy":{"name":null,"dry_run":1,"stage":-2147483648,"stage_name":[],"stage_since_sec":1e99},
 "heap":{"held":1e19,"in_use":"x","cap":[],"cap_hits":-1,"scavenges":null}}
DOC
printf '{"version":1,"mode":"run","memory":{"current":12' >"$E2E_TMP/truncated.json"

python3 "$(dirname "$0")/fake-status-server.py" "$OOMLESS_RUNTIME_DIR" "$E2E_TMP/ready" \
        "$E2E_TMP/hostile.json" "$E2E_TMP/hostile.json" "$E2E_TMP/truncated.json" &
E2E_PIDS+=($!)
wait_for 10 test -s "$E2E_TMP/ready" || fail "the fake status server did not start"
fake=$(cat "$E2E_TMP/ready")

"$OOMLESS" status >"$E2E_TMP/human" 2>"$E2E_TMP/err" || fail "status exited $? on a hostile document: $(cat "$E2E_TMP/err")"
cat "$E2E_TMP/human" >&2
! grep -q -- '-2147483648\|2147483649\|4294967296\|nan\|inf' "$E2E_TMP/human" || fail "a nonsensical number was printed"
! grep -q $'\e' "$E2E_TMP/human" || fail "an escape sequence from the socket reached the terminal"
assert_file_contains "$E2E_TMP/human" '^oomless - \(run\), up -s$' "header line"
assert_file_contains "$E2E_TMP/human" '^  memory:  current -, peak -, limit - \(leaf max -, high -\), working set -, non-file -, shmem -, kernel -$' "memory line"
assert_file_contains "$E2E_TMP/human" '^  child:   pid -, up -s, restarts -$' "child line"
assert_file_contains "$E2E_TMP/human" '^  policy:  -, stage - \(-\) for -s$' "policy line"
assert_file_contains "$E2E_TMP/human" '^  events:  high -, max -, oom -, oom_kill -$' "events line"

"$OOMLESS" status --json >"$E2E_TMP/json" || fail "status --json exited $? on a hostile document"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d, dict), d' "$E2E_TMP/json" ||
        fail "status --json printed no JSON object: $(cat "$E2E_TMP/json")"

rc=0
"$OOMLESS" status --pid "$fake" >/dev/null 2>"$E2E_TMP/err" || rc=$?
assert_eq "$rc" 1 "status on a truncated document"
assert_file_contains "$E2E_TMP/err" "not a JSON object" "the truncated document's message"
say "ok"

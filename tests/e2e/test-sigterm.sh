#!/usr/bin/env bash
# SIGTERM to `oomless run -- sleep 1000`: forwarded, the workload dies of it, oomless exits 143, and
# no process, leaf or runtime directory is left.
source "$(dirname "$0")/lib.sh"

start_oomless "$E2E_TMP/log" run --no-preload -- sleep 1000
wait_status "$OOMLESS_PID"
json=$(status_json "$OOMLESS_PID")
child=$(jget "$json" .child.pid)
leaf=$(jget "$json" .leaf)
[[ $child =~ ^[0-9]+$ ]] || fail "no child pid in status: $json"
assert_eq "$(cat /proc/"$child"/comm)" sleep "the child"
tier=$(jget "$json" .tier)
if [[ $tier == v1 || $tier == v2 ]]; then
        grep -qx "$child" "$leaf/cgroup.procs" || fail "child $child is not in its leaf $leaf"
fi

kill -TERM "$OOMLESS_PID"
wait_exit "$OOMLESS_PID" 15; rc=$RC
assert_eq "$rc" 143 "exit status after SIGTERM"
[[ ! -e /proc/$child ]] || fail "the sleep ($child) survived"
assert_cleaned "$OOMLESS_PID" "$leaf"
say "ok"

#!/usr/bin/env bash
# Signal forwarding: USR1, USR2, WINCH, CONT and (with --forward-hup) HUP reach the workload;
# without --forward-hup, HUP stays with oomless; INT is forwarded and stops it.
source "$(dirname "$0")/lib.sh"

rec=$E2E_TMP/received
cat >"$E2E_TMP/trap.sh" <<'SCRIPT'
#!/usr/bin/env bash
rec=$1
for s in USR1 USR2 WINCH HUP CONT; do
        trap "echo $s >>$rec" "$s"
done
trap 'echo INT >>$rec; exit 0' INT
echo READY >>"$rec"
while :; do
        sleep 0.05
done
SCRIPT
chmod +x "$E2E_TMP/trap.sh"

lines() { [[ -f $rec ]] && grep -c . "$rec" || echo 0; }
has() { grep -qx "$1" "$rec"; }

run_one() { # FORWARD_HUP(yes|no)
        : >"$rec"
        local extra=()
        [[ $1 == yes ]] && extra=(--forward-hup)
        start_oomless "$E2E_TMP/log" run --no-preload "${extra[@]}" -- "$E2E_TMP/trap.sh" "$rec"
        wait_for 10 has READY || fail "the trap script never started"
        for s in USR1 USR2 WINCH CONT; do
                kill -"$s" "$OOMLESS_PID"
                wait_for 5 has "$s" || fail "$s was not forwarded"
        done
        kill -HUP "$OOMLESS_PID"
        if [[ $1 == yes ]]; then
                wait_for 5 has HUP || fail "HUP was not forwarded with --forward-hup"
        else
                sleep 0.5
                ! has HUP || fail "HUP was forwarded without --forward-hup"
                kill -0 "$OOMLESS_PID" || fail "oomless died of SIGHUP"
        fi
        kill -INT "$OOMLESS_PID"
        wait_exit "$OOMLESS_PID" 10; rc=$RC
        has INT || fail "INT was not forwarded"
        assert_eq "$rc" 0 "exit status after the trapped INT"
        assert_cleaned "$OOMLESS_PID"
}
run_one no
run_one yes
say "ok"

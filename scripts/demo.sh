#!/usr/bin/env bash
# The live demonstration: installs what is missing, builds, then shows the self-healing loop (issue
# 11) for about 40 seconds. The workload (examples/workloads/cache-app) wants a 240 MiB cache under a
# 256M limit and fills it at 20 MiB/s. The policy (examples/policies/self-healing.json) sees the
# working set held at 75% or more, tells the app through liboomless's control page to shed its cache
# to 40% of its normal size, marks it low-weight and not ready, then lets the budget climb back in
# 15% steps while the working set stays under 60%. Memory converges below the limit instead of
# bouncing off it. Ends by itself with a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh

oomless=build/supervisor/oomless
app=build/examples/workloads/cache-app
policy=examples/policies/self-healing.json
seconds=${OOMLESS_DEMO_SECONDS:-40}
runtime=$(mktemp -d /tmp/oomless-demo.XXXXXX)
log=$(mktemp /tmp/oomless-demo-log.XXXXXX)
trap 'rm -rf "$runtime" "$log"' EXIT

echo
echo "=== oomless run --memory-max 256M --policy $policy -- cache-app --cache-mib 240 --grow 20"
echo "    The app wants 240 MiB (94% of the limit). The policy sheds at a working set >= 75% held 500ms,"
echo "    to a budget of 40%, and recovers in 15% steps every 5s while the working set stays < 60%."
echo
"$oomless" run --runtime-dir "$runtime" --memory-max 256M --policy "$policy" -- \
        "$app" --cache-mib 240 --grow 20 --seconds "$seconds" --quiet >/dev/null 2>"$log" &
pid=$!

# One line a second from `oomless status --json` (the socket the tests read), and one line for each
# change of the stage or the budget, then a summary.
sleep 0.5
/usr/bin/python3 - "$oomless" "$runtime" "$pid" <<'PY' || true
import os, sys, time
sys.path.insert(0, "bench/self-healing")
import run  # the bench's `oomless status --json` reader
oomless, runtime, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])

def status():
    return run.status(oomless, runtime, pid)

def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False

t0, last, prev, hist = time.monotonic(), 0.0, None, []
first_shed = None
while alive():
    s = status()
    now = time.monotonic() - t0
    if not s or "budget" not in s.get("policy", {}):
        time.sleep(0.25)
        continue
    m, p = s["memory"], s["policy"]
    b = p["budget"]
    ws, lim = m.get("working_set") or m["current"], m["limit"] or 1
    frac = ws / lim
    hist.append((now, frac, b["ratio"], b["sheds"]))
    if prev and (p["stage_name"] != prev["stage_name"] or b["ratio"] != prev["budget"]["ratio"]):
        if b["sheds"] > prev["budget"]["sheds"]:
            what = "SHED: the working set held >= 75%% for 500ms; budget %d%% -> %d%%, weight %d, not ready" % (
                prev["budget"]["ratio"] * 100, b["ratio"] * 100, p["weight"])
            if first_shed is None:
                first_shed = (now, max(f for _, f, _, _ in hist))
        elif b["ratio"] > prev["budget"]["ratio"]:
            what = "RECOVER: working set < 60%% held for 5s; budget steps up %d%% -> %d%%" % (
                prev["budget"]["ratio"] * 100, b["ratio"] * 100)
        else:
            what = "stage %s -> %s%s" % (prev["stage_name"], p["stage_name"],
                                        ", ready again" if p.get("ready") else "")
        print("  %5.1fs  >>> %s" % (now, what), flush=True)
    prev = p
    if now - last >= 1.0:
        last = now
        bar = ("#" * int(frac * 40)).ljust(40)
        print("  %5.1fs  working set %5.1fM of %3.0fM %3.0f%% [%s] stage %-6s budget %3.0f%% %-7s weight %3d  %s"
              % (now, ws / 1048576, lim / 1048576, frac * 100, bar, p["stage_name"], b["ratio"] * 100,
                 b["phase"], p["weight"], "ready" if p.get("ready") else "NOT READY"), flush=True)
    time.sleep(0.25)

if hist:
    print()
    peak = max(f for _, f, _, _ in hist)
    print("  summary: peak working set %.0f%% of the limit (the app wanted 94%%)" % (peak * 100))
    if first_shed:
        after = [f for t, f, _, _ in hist if t > first_shed[0] + 1]
        print("           first shed %.1fs in, at %.0f%%; after it the working set stayed <= %.0f%%"
              % (first_shed[0], first_shed[1] * 100, max(after or [0]) * 100))
    end = hist[-1]
    settled = [t for t, _, r, _ in hist if r != end[2]]
    print("           %d shed(s); budget converged at %.0f%% (unchanged for the last %.0fs), working set %.0f%%"
          % (end[3], end[2] * 100, end[0] - (settled[-1] if settled else 0), end[1] * 100))
PY
wait "$pid" && rc=0 || rc=$?
echo
echo "=== what oomless logged about the budget and the stage (one line each, as they happened):"
grep -E "stage [0-9] -> |budget |Summary" "$log" | sed 's/^[^ ]* oomless\[[0-9]*\]: /  /' || true
echo
echo "=== oomless exited with status $rc (the workload's own); its cgroup leaf has been removed."
exit "$rc"

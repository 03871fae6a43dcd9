#!/usr/bin/env bash
# The live demonstration: installs what is missing, builds, then supervises an example workload for
# about 25 seconds and shows what oomless sees while it runs. The workload (examples/workloads/
# cache-app) grows an in-memory cache toward a 256M limit; the policy (examples/policies/demo.json)
# tells it through liboomless's control page to shed its cache as memory rises, and lets it grow back
# once memory has been low for a while. Ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh

oomless=build/supervisor/oomless
app=build/examples/workloads/cache-app
runtime=$(mktemp -d /tmp/oomless-demo.XXXXXX)
trap 'rm -rf "$runtime"' EXIT

echo
echo "=== oomless run --memory-max 256M --policy examples/policies/demo.json -- cache-app --cache-mib 240 --grow 40"
echo "    (cache-app fills its cache at 40 MiB/s; oomless tells it to shed at 55% and 70% of the limit)"
echo
"$oomless" run --runtime-dir "$runtime" --memory-max 256M --policy examples/policies/demo.json -- \
        "$app" --cache-mib 240 --grow 40 --seconds 24 --quiet &
pid=$!

# Live numbers from `oomless status --json` (the same socket the tests read), one line a second.
sleep 1
while kill -0 "$pid" 2>/dev/null; do
        "$oomless" status --runtime-dir "$runtime" --pid "$pid" --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
m, p, h = s["memory"], s["policy"], s.get("heap") or {}
mib = lambda v: "%6.1fM" % (v / 1048576) if isinstance(v, (int, float)) else "     -"
print("  [status] tier %s  memory.current %s of %s  peak %s  heap held %s  stage %d (%s)  psi some avg10 %.2f%%" % (
    s["tier"], mib(m["current"]), mib(m["limit"]), mib(m["peak"]), mib(h.get("held")),
    p["stage"], p["stage_name"], (s.get("psi") or {}).get("some", {}).get("avg10", 0.0)))
' || true
        sleep 1
done
wait "$pid" && rc=0 || rc=$?
echo
echo "=== oomless exited with status $rc (the workload's own); its cgroup leaf has been removed."
exit "$rc"

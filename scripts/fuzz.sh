#!/usr/bin/env bash
# Fuzzes the policy parser under ASan and UBSan with libFuzzer (clang from Debian), in two steps:
#   1. replay: the instrumented target runs every checked-in input once (the corpus, the example
#      policies, the valid and invalid fixtures);
#   2. a time-boxed run (60 s unless told otherwise) that mutates a copy of those inputs.
# Any crash, sanitizer report, leak, timeout or out-of-memory fails it (exit 1). The checked-in corpus
# is never written to: new inputs and artifacts (crash-*, leak-*, timeout-*, oom-*) stay in
# <build-dir>/run for inspection. The ctest entry fuzz/policy-sanitizers runs this script.
#
# Usage: scripts/fuzz.sh [--build-dir DIR] [--seconds N] [-- extra libFuzzer flags]
# Exits 77 (skip) when clang is not installed; scripts/deps.sh installs it.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$src/build/fuzz-clang
secs=${OOMLESS_FUZZ_SECONDS:-60}
while [ $# -gt 0 ]; do
        case $1 in
        --build-dir) dir=$2; shift 2 ;;
        --seconds) secs=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "usage: $0 [--build-dir DIR] [--seconds N] [-- libFuzzer flags]" >&2; exit 2 ;;
        esac
done
inputs=("$src/tests/fuzz/corpus/policy" "$src/examples/policies" "$src/tests/policy/fixtures/valid"
        "$src/tests/policy/fixtures/invalid")

fail() {
        echo "FUZZ FAILED: $*" >&2
        exit 1
}

if ! command -v clang >/dev/null; then
        echo "fuzz: skipped, clang is not installed (scripts/deps.sh installs it)"
        exit 77
fi

# Debug keeps assert() and leaves _FORTIFY_SOURCE out (it hides overflows from ASan); -O1 for speed.
echo "fuzz: building fuzz-policy with clang, ASan and UBSan in $dir"
cmake -S "$src" -B "$dir" -DCMAKE_C_COMPILER=clang -DOOMLESS_ENABLE_FUZZING=ON -DOOMLESS_WERROR=ON \
        -DOOMLESS_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-O1 -g" >/dev/null ||
        fail "cmake configure of $dir"
cmake --build "$dir" --target fuzz-policy -j"$(nproc)" >"$dir/build.log" 2>&1 ||
        { tail -30 "$dir/build.log" >&2; fail "building fuzz-policy (log: $dir/build.log)"; }
bin=$dir/tests/fuzz/fuzz-policy

run=$dir/run
rm -rf "$run"
mkdir -p "$run/corpus" "$run/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Reports what went wrong from a libFuzzer log and the artifacts it left, and fails.
report() {
        local what=$1 log=$2
        local at
        # From the first report line (sanitizer or libFuzzer), else the end of the log.
        at=$(grep -nE -m1 "^==[0-9]+==|ERROR: |runtime error:" "$log" | cut -d: -f1 || true)
        echo "---- $log ----" >&2
        grep -E "^Running: " "$log" | tail -1 >&2 || true # the input, in a replay
        if [ -n "$at" ]; then
                tail -n +"$at" "$log" | head -80 >&2
        else
                tail -40 "$log" >&2
        fi
        echo "----" >&2
        for a in "$run"/artifacts/*; do
                [ -e "$a" ] && echo "artifact: $a (reproduce: $bin $a)" >&2
        done
        fail "$what; full log: $log"
}

# 1. Replay: files (not directories) make libFuzzer run each input once and write nothing.
# The same files as the uninstrumented replay (fuzz/policy-corpus).
mapfile -t files < <(find "${inputs[@]}" -maxdepth 1 -type f ! -name '.*' | sort)
[ ${#files[@]} -gt 0 ] || fail "no inputs found under ${inputs[*]}"
"$bin" -artifact_prefix="$run/artifacts/" "${files[@]}" >"$run/replay.log" 2>&1 ||
        report "replay of ${#files[@]} inputs under ASan+UBSan" "$run/replay.log"
echo "fuzz: replay of ${#files[@]} checked-in inputs under ASan+UBSan: ok"

# 2. The timed run, on a copy of the inputs.
# The same names occur in several directories, so each copy is named after its source path.
for f in "${files[@]}"; do
        rel=${f#"$src"/}
        cp "$f" "$run/corpus/${rel//\//_}"
done
start=$(find "$run/corpus" -type f | wc -l)
rc=0
"$bin" -max_total_time="$secs" -timeout=60 -dict="$src/tests/fuzz/policy.dict" -print_final_stats=1 \
        -artifact_prefix="$run/artifacts/" "$@" "$run/corpus" >"$run/fuzz.log" 2>&1 || rc=$?
if [ $rc -ne 0 ] || compgen -G "$run/artifacts/*" >/dev/null; then
        report "fuzz-policy exited $rc after at most ${secs} s" "$run/fuzz.log"
fi
if grep -qE "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:" "$run/fuzz.log"; then
        report "a sanitizer report in the log although libFuzzer exited 0" "$run/fuzz.log"
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/fuzz.log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$run/fuzz.log")
echo "fuzz: ok, ${secs} s under ASan+UBSan: ${execs:-?} executions (${rate:-?}/s), corpus ${start} -> $(find "$run/corpus" -type f | wc -l) inputs, no reports (log: $run/fuzz.log)"

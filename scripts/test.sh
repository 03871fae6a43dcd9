#!/usr/bin/env bash
# Runs every test: installs what is missing, checks formatting, builds with -Werror, then runs the
# whole ctest suite (unit, policy, fuzz replay, real-kernel cgroup, e2e, actions, allocator, compat,
# benchmark smoke, and the pure cgroup v2 suite inside a VM). Tests labelled purev2 need a pure v2
# host: the vm/* tests run them inside the VM, so the host run leaves them out instead of skipping.
# The fuzz label includes fuzz/policy-sanitizers (scripts/fuzz.sh): a clang build of the policy fuzzer
# replays the corpus, then fuzzes for 60 s under ASan and UBSan, and any report fails the run. It is a
# ctest entry rather than a step after ctest, so ctest's summary stays the last line of the output.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/check-format.sh
scripts/build.sh
cd build
# Two lanes (see CMakeLists.txt, oomless_host_lane): the VM's groups beside the host tests.
ctest --output-on-failure --timeout 1800 -j2 -LE purev2 "$@"

#!/usr/bin/env bash
# Configures and builds oomless in ./build with warnings as errors. Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DOOMLESS_WERROR=ON "$@" >/dev/null
cmake --build build -j"$(nproc)"

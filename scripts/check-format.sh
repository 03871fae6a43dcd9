#!/usr/bin/env bash
# Fails when clang-format would change any tracked C file.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=()
while IFS= read -r f; do
        [ -f "$f" ] || continue
        clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.c' '*.h' '*.cc' '*.cpp')
if [ ${#bad[@]} -gt 0 ]; then
        echo "clang-format would change: ${bad[*]}" >&2
        echo "fix with: clang-format -i ${bad[*]}" >&2
        exit 1
fi

#!/usr/bin/env bash
# Checks that liboomless's files call only down: for every symbol one object file uses and another
# defines (functions and data, from nm), the definer must come earlier in LAYERS than the user.
# A circle between files would need at least one upward edge, so none can pass.
# Usage: check-layers.sh liboomless-static.a (or object files); -v also lists every edge.
set -euo pipefail

# Bottom to top; keep in step with docs/allocator.md ("Layers").
LAYERS="sizeclass os options stats callbacks pageheap central tcache scavenge control scavenger alloc api override"

# Uses that are not calls. alloc.c compares the address glibc's dlsym(RTLD_NEXT, "free") returns
# with our own free, to refuse to hand a foreign pointer to ourselves; it never calls it.
ALLOW="alloc:free"

verbose=0
if [ "${1:-}" = "-v" ]; then
        verbose=1
        shift
fi
[ $# -ge 1 ] || { echo "usage: $0 [-v] liboomless.a | file.o..." >&2; exit 2; }

nm -o "$@" | awk -v layers="$LAYERS" -v allow="$ALLOW" -v verbose="$verbose" '
function unit(s,    n, p) {
        n = split(s, p, ":") # archive.a:member.o:address or file.o:address
        s = p[n - 1]
        sub(/.*\//, "", s)
        sub(/\.c\.o$|\.o$/, "", s)
        return s
}
BEGIN {
        n = split(layers, l, " ")
        for (i = 1; i <= n; i++)
                rank[l[i]] = i
        n = split(allow, l, " ")
        for (i = 1; i <= n; i++)
                allowed[l[i]] = 1
}
{
        f = unit($1)
        seen[f] = 1
        if ($2 == "U")
                use[f, $3] = 1
        else if ($2 ~ /^[A-Z]$/)
                def[$3] = f
}
END {
        bad = 0
        for (f in seen)
                if (!(f in rank)) {
                        printf "check-layers: %s is not in LAYERS\n", f
                        bad = 1
                }
        for (k in use) {
                split(k, p, SUBSEP)
                f = p[1]; s = p[2]
                if (!(s in def) || def[s] == f || ((f ":" s) in allowed))
                        continue
                g = def[s]
                edges[f " -> " g] = 1
                if (rank[g] >= rank[f]) {
                        printf "check-layers: upward call: %s uses %s from %s\n", f, s, g
                        bad = 1
                }
        }
        ne = 0
        for (e in edges) {
                ne++
                if (verbose)
                        print e
        }
        if (!bad)
                printf "check-layers: %d files, %d file-to-file edges, all downward\n", length(seen), ne
        exit bad
}'

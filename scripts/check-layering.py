#!/usr/bin/env python3
"""Checks that the modules' dependencies point one way, from the include graph.

Every `#include "..."` in a C source or header of the project is resolved to the file it names, and
the file's module is looked up in LAYERS. A module may include only itself and the modules listed
below it; the check also fails on any include cycle between headers, and on a quoted include that
names no file of the project (so a moved header cannot hide from the check). It also keeps each C
file of a module to at most MAX_LINES lines: a file that grows past it has more than one job.

Run from anywhere: scripts/check-layering.py [ROOT]. Exit 0 when clean, 1 with one line per problem.
"""
import os
import re
import sys

# module -> the modules it may include (besides itself). The order is the link order of CMake:
# cli -> daemon -> act -> host -> policy -> common -> include; the allocator stands alone.
LAYERS = {
    "include": [],
    "allocator": ["include"],
    "common": ["include"],
    "policy": ["common", "include"],
    "supervisor/host": ["policy", "common", "include"],
    "supervisor/act": ["supervisor/host", "policy", "common", "include"],
    "supervisor/daemon": ["supervisor/act", "supervisor/host", "policy", "common", "include"],
    "supervisor/cli": ["supervisor/daemon", "supervisor/act", "supervisor/host", "policy", "common", "include"],
}
SOURCE_DIRS = list(LAYERS)
MAX_LINES = 900
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(rel):
    for mod in sorted(LAYERS, key=len, reverse=True):
        if rel == mod or rel.startswith(mod + "/"):
            return mod
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    files = []
    for d in SOURCE_DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, d)):
            files += [os.path.relpath(os.path.join(dirpath, n), root) for n in names if n.endswith((".c", ".h"))]
    files = sorted(set(files))
    fileset = set(files)

    problems = []
    graph = {}
    for f in files:
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        n_lines = text.count("\n")
        if f.endswith(".c") and n_lines > MAX_LINES:
            problems.append(f"{f}: {n_lines} lines, more than {MAX_LINES}: split it by job")
        deps = []
        for inc in INCLUDE_RE.findall(text):
            # As the compiler looks: the including file's directory, then every module's directory
            # (CMake exports each one to the modules above it; the check below says which may).
            same_dir = os.path.normpath(os.path.join(os.path.dirname(f), inc))
            if same_dir in fileset:
                target = same_dir
            else:
                cands = [os.path.join(d, inc) for d in SOURCE_DIRS if os.path.join(d, inc) in fileset]
                if len(cands) != 1:
                    problems.append(f"{f}: #include \"{inc}\" names {'no' if not cands else 'more than one'} "
                                    f"file of the project ({', '.join(cands) or 'none'}): give its path")
                    continue
                target = cands[0]
            deps.append(target)
            src, dst = module_of(f), module_of(target)
            if dst != src and dst not in LAYERS[src]:
                problems.append(f"{f}: includes {target}: {src} may not depend on {dst} "
                                f"(allowed: {', '.join(LAYERS[src]) or 'nothing'})")
        graph[f] = deps

    # Cycles among headers (a .c file is never included, so cycles can only run through headers).
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt]
                problems.append("include cycle: " + " -> ".join(cyc))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for f in files:
        if f not in state:
            visit(f, [])

    for p in problems:
        print(p)
    n_edges = sum(len(v) for v in graph.values())
    print(f"check-layering: {len(files)} files, {n_edges} includes, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

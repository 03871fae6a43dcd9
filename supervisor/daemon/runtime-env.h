/* SPDX-License-Identifier: MIT */
/*
 * Heap caps for runtimes that do not allocate through malloc (issue 4): GOMEMLIMIT for Go,
 * -XX:MaxRAMPercentage (with -XX:MaxRAM) in JAVA_TOOL_OPTIONS for the JVM, --max-old-space-size in
 * NODE_OPTIONS for Node.js, computed from the effective memory limit.
 *
 * A pure function over an environment: no I/O, no globals, safe on any thread. A value the user
 * already set always wins: GOMEMLIMIT is left alone when present at all; JAVA_TOOL_OPTIONS and
 * NODE_OPTIONS get our flag appended only when they carry no heap-size flag of their own.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct RuntimeEnvOptions {
        bool go, java, node;     /* which runtimes to cap */
        uint32_t go_permyriad;   /* GOMEMLIMIT as a fraction of the limit; 0 = default 80% */
        uint32_t java_permyriad; /* MaxRAMPercentage; 0 = default 75% */
        uint32_t node_permyriad; /* old space as a fraction of the limit; 0 = default 75% */
} RuntimeEnvOptions;

/* Measured, not guessed: docs/runtimes.md has the runs behind each share (bench/scenarios/share.py). */
#define RUNTIME_ENV_GO_DEFAULT_PERMYRIAD   8000u
#define RUNTIME_ENV_JAVA_DEFAULT_PERMYRIAD 7500u
#define RUNTIME_ENV_NODE_DEFAULT_PERMYRIAD 7500u

/* Builds a new environment (a strv, the caller frees it with strv_free) from envp (may be NULL)
 * with the caps for `limit` bytes added. A limit of 0 or UINT64_MAX (unknown, none) adds nothing.
 * *ret_added (optional) counts the variables added or extended, for the log. */
int runtime_env_apply(char *const *envp, uint64_t limit, const RuntimeEnvOptions *opts, char ***ret,
                      unsigned *ret_added);

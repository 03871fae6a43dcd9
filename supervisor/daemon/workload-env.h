/* SPDX-License-Identifier: MIT */
/* The workload's environment: ours minus the service manager's variables, plus LD_PRELOAD of
 * liboomless.so, systemd's memory pressure protocol, the control page's variables, and heap caps for
 * Go, the JVM and Node.js computed from the effective limit (runtime-env.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct WorkloadEnvSpec {
        bool preload;              /* LD_PRELOAD liboomless.so (warned once when it is not found) */
        const char *pressure_path; /* MEMORY_PRESSURE_WATCH; NULL: not offered */
        char *const *extra;        /* more "NAME=value" (strv, may be NULL), e.g. the control page's */
        uint64_t limit;            /* the effective limit for the heap caps; UINT64_MAX: unknown */
} WorkloadEnvSpec;

/* The child's whole environment (a strv) built from environ and spec. */
int workload_env_build(const WorkloadEnvSpec *spec, char ***ret);

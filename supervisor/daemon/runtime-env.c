/* SPDX-License-Identifier: MIT */
/* Computes the runtime heap caps (GOMEMLIMIT, JAVA_TOOL_OPTIONS, NODE_OPTIONS) for a child's
 * environment from the effective limit, without overriding anything the user set. */
#define _GNU_SOURCE
#include "runtime-env.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strv.h"

/* Flags by which a user already decides the JVM's maximum heap; any of them means we add nothing. */
static const char *const java_heap_flags[] = {
        "-Xmx", "-XX:MaxHeapSize", "-XX:MaxRAMPercentage", "-XX:MaxRAM=", "-XX:MaxRAMFraction",
};
/* Node accepts both spellings. */
static const char *const node_heap_flags[] = { "--max-old-space-size", "--max_old_space_size" };

static int find_var(char **env, const char *name)
{
        size_t len = strlen(name);
        for (int i = 0; env[i]; i++)
                if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
                        return i;
        return -1;
}

static bool has_any(const char *value, const char *const *flags, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strstr(value, flags[i]))
                        return true;
        return false;
}

static uint64_t scale(uint64_t limit, uint32_t permyriad)
{
        /* limit * permyriad / 10000 without overflowing for limits near 2^64 */
        return limit / 10000 * permyriad + limit % 10000 * permyriad / 10000;
}

/* Appends " <flag>" to env[i] ("NAME=value"), or adds "NAME=<flag>" when absent. */
static int add_or_append(char ***env, size_t *n, const char *name, const char *flag)
{
        int i = find_var(*env, name);
        char *s;

        if (i >= 0) {
                const char *value = strchr((*env)[i], '=') + 1;
                if (asprintf(&s, "%s=%s%s%s", name, value, *value ? " " : "", flag) < 0)
                        return -ENOMEM;
                free((*env)[i]);
                (*env)[i] = s;
                return 0;
        }
        if (asprintf(&s, "%s=%s", name, flag) < 0)
                return -ENOMEM;
        (*env)[(*n)++] = s;
        (*env)[*n] = NULL;
        return 0;
}

/* Adds flag to the options variable name unless the user's value already sets a heap size. */
static int cap_options_var(char ***env, size_t *n, const char *name, const char *const *heap_flags,
                           size_t n_heap_flags, const char *flag, unsigned *added)
{
        int i = find_var(*env, name), r;

        if (i >= 0 && has_any((*env)[i], heap_flags, n_heap_flags))
                return 0;
        r = add_or_append(env, n, name, flag);
        if (r < 0)
                return r;
        (*added)++;
        return 0;
}

int runtime_env_apply(char *const *envp, uint64_t limit, const RuntimeEnvOptions *opts, char ***ret,
                      unsigned *ret_added)
{
        size_t n = strv_length(envp);
        unsigned added = 0;
        int r;
        _cleanup_strv_free_ char **env = calloc(n + 4, sizeof(char *));

        if (!env || !opts || !ret)
                return env ? -EINVAL : -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                env[k] = strdup(envp[k]);
                if (!env[k])
                        return -ENOMEM;
        }

        if (limit == 0 || limit == UINT64_MAX)
                goto done;

        if (opts->go && find_var(env, "GOMEMLIMIT") < 0) {
                uint32_t p = opts->go_permyriad ? opts->go_permyriad : RUNTIME_ENV_GO_DEFAULT_PERMYRIAD;
                if (asprintf(&env[n], "GOMEMLIMIT=%" PRIu64, MAX(scale(limit, p), (uint64_t)1)) < 0) {
                        env[n] = NULL;
                        return -ENOMEM;
                }
                env[++n] = NULL;
                added++;
        }

        if (opts->java) {
                uint32_t p = opts->java_permyriad ?: RUNTIME_ENV_JAVA_DEFAULT_PERMYRIAD;
                char flag[128];

                /* MaxRAM pins what the JVM takes as "RAM" to our effective limit, which it may not
                 * detect itself when the limit sits on an ancestor cgroup. */
                snprintf(flag, sizeof(flag), "-XX:MaxRAM=%" PRIu64 " -XX:MaxRAMPercentage=%u.%02u", limit,
                         p / 100, p % 100);
                r = cap_options_var(&env, &n, "JAVA_TOOL_OPTIONS", java_heap_flags,
                                    ELEMENTSOF(java_heap_flags), flag, &added);
                if (r < 0)
                        return r;
        }

        if (opts->node) {
                uint32_t p = opts->node_permyriad ?: RUNTIME_ENV_NODE_DEFAULT_PERMYRIAD;
                char flag[64];

                snprintf(flag, sizeof(flag), "--max-old-space-size=%" PRIu64,
                         MAX(scale(limit, p) >> 20, (uint64_t)1));
                r = cap_options_var(&env, &n, "NODE_OPTIONS", node_heap_flags, ELEMENTSOF(node_heap_flags),
                                    flag, &added);
                if (r < 0)
                        return r;
        }

done:
        if (ret_added)
                *ret_added = added;
        *ret = TAKE_PTR(env);
        return 0;
}

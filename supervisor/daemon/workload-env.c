/* SPDX-License-Identifier: MIT */
/* The workload's environment: finds liboomless.so for LD_PRELOAD, offers systemd's memory pressure
 * protocol, merges environ with what the child needs from us and adds the runtime heap caps. */
#define _GNU_SOURCE 1
#include "workload-env.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "oomless/control.h"
#include "runtime-env.h"
#include "strv.h"

static const char *preload_candidates(char *buf, size_t len, int i)
{
        char exe[PATH_MAX - 64];
        const char *env = getenv("OOMLESS_LIBDIR");
        ssize_t n;

        switch (i) {
        case 0:
                if (!env || !*env)
                        return "";
                snprintf(buf, len, "%s/liboomless.so", env);
                return buf;
        case 1:
        case 2:
        case 3: {
                n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
                if (n <= 0)
                        return "";
                exe[n] = 0;
                char *slash = strrchr(exe, '/');
                if (!slash)
                        return "";
                *slash = 0;
                /* Next to the binary, the build tree (build/supervisor/oomless and
                 * build/allocator/liboomless.so), and the install's ../lib. */
                static const char *const rel[] = { "", "/../allocator", "/../lib" };
                snprintf(buf, len, "%s%s/liboomless.so", exe, rel[i - 1]);
                return buf;
        }
        case 4:
                snprintf(buf, len, "%s/liboomless.so", OOMLESS_LIBDIR);
                return buf;
        default:
                return NULL;
        }
}

/* Finds liboomless.so and returns "LD_PRELOAD=<lib>[:<existing>]", or NULL (warned once). */
static char *preload_env(void)
{
        char buf[PATH_MAX], real[PATH_MAX];
        static bool warned = false;
        const char *p;

        for (int i = 0; (p = preload_candidates(buf, sizeof(buf), i)); i++) {
                if (!*p || access(p, R_OK) < 0 || !realpath(p, real))
                        continue;
                const char *old = getenv("LD_PRELOAD");
                char *e = NULL;
                if (asprintf(&e, "LD_PRELOAD=%s%s%s", real, old && *old ? ":" : "", old && *old ? old : "") <
                    0)
                        return NULL;
                return e;
        }
        if (!warned)
                log_warning(
                    "liboomless.so not found (looked in $OOMLESS_LIBDIR, next to the oomless binary and "
                    "in %s); the workload runs without the oomless allocator. Set OOMLESS_LIBDIR or pass "
                    "--no-preload.",
                    OOMLESS_LIBDIR);
        warned = true;
        return NULL;
}

static char *base64(const char *s)
{
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t len = strlen(s), o = 0;
        char *out = malloc(4 * ((len + 2) / 3) + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
                if (i + 1 < len)
                        v |= (uint32_t)(unsigned char)s[i + 1] << 8;
                if (i + 2 < len)
                        v |= (uint32_t)(unsigned char)s[i + 2];
                out[o++] = tbl[(v >> 18) & 63];
                out[o++] = tbl[(v >> 12) & 63];
                out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
                out[o++] = i + 2 < len ? tbl[v & 63] : '=';
        }
        out[o] = 0;
        return out;
}

/* What the child needs from us, as "NAME=value" overriding environ. */
static int child_env(const WorkloadEnvSpec *spec, char ***ret)
{
        _cleanup_strv_free_ char **env = NULL;
        char *e;
        int r;

        if (spec->preload) {
                e = preload_env();
                if (e && (r = strv_push(&env, e)) < 0)
                        return r;
        }
        /* systemd's memory pressure protocol, for apps that speak it (sd-event, GLib). systemd's
         * default is 100ms per 1s; the same ratio over 2s, because without CAP_SYS_RESOURCE the
         * kernel only accepts windows that are a multiple of 2s and the app would fail to arm it. */
        if (spec->pressure_path) {
                _cleanup_free_ char *b64 = base64("some 200000 2000000");
                if (!b64)
                        return -ENOMEM;
                if ((r = strv_pushf(&env, "MEMORY_PRESSURE_WATCH=%s", spec->pressure_path)) < 0)
                        return r;
                if ((r = strv_pushf(&env, "MEMORY_PRESSURE_WRITE=%s", b64)) < 0)
                        return r;
        }
        for (char *const *x = spec->extra; x && *x; x++)
                if ((r = strv_push(&env, strdup(*x))) < 0)
                        return r;
        *ret = TAKE_PTR(env);
        return 0;
}

static bool env_name_in(const char *entry, char *const *list, bool list_has_values)
{
        size_t n = strcspn(entry, "=");
        for (char *const *l = list; l && *l; l++)
                if (strneq(entry, *l, n) && (*l)[n] == (list_has_values ? '=' : 0))
                        return true;
        return false;
}

int workload_env_build(const WorkloadEnvSpec *spec, char ***ret)
{
        static char *const unset[] = { (char *)"NOTIFY_SOCKET", (char *)"WATCHDOG_USEC",
                                       (char *)"WATCHDOG_PID", NULL };
        static char *const control[] = { (char *)OOMLESS_CONTROL_ENV, (char *)OOMLESS_CONTROL_FD_ENV,
                                         (char *)OOMLESS_CONTROL_REOPEN_ENV, NULL };
        _cleanup_strv_free_ char **add = NULL, **merged = NULL;
        unsigned added = 0;
        bool own_page = false;
        int r;

        r = child_env(spec, &add);
        if (r < 0)
                return r;
        for (char **a = add; a && *a; a++)
                own_page = own_page || env_name_in(*a, control, false);
        /* Ours minus the service manager's variables and what the child gets from us instead. Under
         * an outer oomless, its page's variables go too once we hand over our own: the allocator
         * prefers the fd, and the outer one would win over our path. */
        for (char **e = environ; e && *e; e++) {
                if (env_name_in(*e, unset, false) || env_name_in(*e, add, true) ||
                    (own_page && env_name_in(*e, control, false)))
                        continue;
                if ((r = strv_push(&merged, strdup(*e))) < 0)
                        return r;
        }
        for (char **a = add; a && *a; a++)
                if ((r = strv_push(&merged, strdup(*a))) < 0)
                        return r;

        /* Heap caps for Go, the JVM and Node.js; a value the user set wins. */
        RuntimeEnvOptions opts = { .go = true, .java = true, .node = true };
        r = runtime_env_apply(merged, spec->limit, &opts, ret, &added);
        if (r < 0)
                return r;
        if (added > 0)
                log_debug("Heap caps for %u runtime(s) added to the workload's environment.", added);
        return 0;
}

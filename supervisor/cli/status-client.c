/* SPDX-License-Identifier: MIT */
/* `oomless status`, the command line's half: finds the running instance in the runtime directory,
 * reads its status socket and prints the document for people or programs. */
#define _GNU_SOURCE 1
#include "status-client.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "status.h"
#include "units.h"

/* The client gives up on a supervisor that accepts but does not answer. */
#define STATUS_CLIENT_TIMEOUT_MS 5000
/* A status document is a few KiB; anything far bigger is not ours. */
#define STATUS_MAX_SIZE (1024 * 1024)

static int read_status(const char *path, char **ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return negative_errno();

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r = poll(&p, 1, STATUS_CLIENT_TIMEOUT_MS);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return negative_errno();
                if (r == 0)
                        return -ETIMEDOUT;
                if (len + 4096 + 1 > cap) {
                        if (cap >= STATUS_MAX_SIZE)
                                return -EFBIG;
                        cap = cap ? cap * 2 : 8192;
                        char *n = realloc(buf, cap);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                }
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (!buf)
                return -ENODATA;
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

static bool pid_alive(pid_t pid)
{
        return kill(pid, 0) == 0 || errno == EPERM;
}

/* Instances are <runtime>/<pid>/status.sock whose pid still runs (a SIGKILLed oomless leaves a
 * stale directory behind that must not count). */
static int find_instances(const char *runtime_dir, pid_t **ret, size_t *ret_n)
{
        _cleanup_closedir_ DIR *d = opendir(runtime_dir);
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;

        if (!d)
                return negative_errno();
        for (struct dirent *de; (de = readdir(d));) {
                char *end;
                if (!isdigit((unsigned char)de->d_name[0]))
                        continue;
                long v = strtol(de->d_name, &end, 10);
                if (*end || v <= 0 || v > INT32_MAX)
                        continue;
                char p[4096];
                snprintf(p, sizeof(p), "%s/%s/" STATUS_SOCKET_NAME, runtime_dir, de->d_name);
                if (access(p, F_OK) < 0 || !pid_alive((pid_t)v))
                        continue;
                pid_t *np = realloc(pids, (n + 1) * sizeof(*pids));
                if (!np)
                        return -ENOMEM;
                pids = np;
                pids[n++] = (pid_t)v;
        }
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

static const char *fmt_size_json(char *buf, size_t len, const cJSON *v)
{
        if (!cJSON_IsNumber(v))
                return "-";
        return units_format_size(buf, len, (uint64_t)v->valuedouble);
}

static void print_human(const cJSON *root)
{
        const cJSON *mem = cJSON_GetObjectItemCaseSensitive(root, "memory");
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "events");
        const cJSON *psi = cJSON_GetObjectItemCaseSensitive(root, "psi");
        const cJSON *child = cJSON_GetObjectItemCaseSensitive(root, "child");
        const cJSON *pol = cJSON_GetObjectItemCaseSensitive(root, "policy");
        const cJSON *heap = cJSON_GetObjectItemCaseSensitive(root, "heap");
        const cJSON *leaf = cJSON_GetObjectItemCaseSensitive(root, "leaf");
        char a[32], b[32], c[32], d[32], e[32];

#define NUM(o, k) (cJSON_GetObjectItemCaseSensitive((o), (k)))
#define STR(o, k) (cJSON_IsString(NUM(o, k)) ? NUM(o, k)->valuestring : "-")
#define DBL(o, k) (cJSON_IsNumber(NUM(o, k)) ? NUM(o, k)->valuedouble : 0.0)

        printf("oomless %d (%s), up %.1fs\n", (int)DBL(root, "supervisor_pid"), STR(root, "mode"),
               DBL(root, "uptime_sec"));
        printf("  tier:    %s\n", STR(root, "tier"));
        printf("  leaf:    %s\n", cJSON_IsString(leaf) ? leaf->valuestring : "-");
        printf("  memory:  current %s, peak %s, limit %s (leaf max %s, high %s)\n",
               fmt_size_json(a, sizeof(a), NUM(mem, "current")),
               fmt_size_json(b, sizeof(b), NUM(mem, "peak")), fmt_size_json(c, sizeof(c), NUM(mem, "limit")),
               fmt_size_json(d, sizeof(d), NUM(mem, "max")), fmt_size_json(e, sizeof(e), NUM(mem, "high")));
        if (cJSON_IsObject(psi)) {
                const cJSON *so = NUM(psi, "some"), *fu = NUM(psi, "full");
                printf("  psi:     some %.2f%%/%.2f%%, full %.2f%%/%.2f%% (avg10/avg60)\n", DBL(so, "avg10"),
                       DBL(so, "avg60"), DBL(fu, "avg10"), DBL(fu, "avg60"));
        } else
                printf("  psi:     -\n");
        printf("  events:  high %.0f, max %.0f, oom %.0f, oom_kill %.0f\n", DBL(ev, "high"), DBL(ev, "max"),
               DBL(ev, "oom"), DBL(ev, "oom_kill"));
        if (cJSON_IsNumber(NUM(child, "pid")))
                printf("  child:   pid %d, up %.1fs, restarts %.0f\n", (int)DBL(child, "pid"),
                       DBL(child, "started_sec_ago"), DBL(child, "restarts"));
        else
                printf("  child:   none, restarts %.0f\n", DBL(child, "restarts"));
        printf("  policy:  %s%s, stage %.0f (%s) for %.1fs\n", STR(pol, "name"),
               cJSON_IsTrue(NUM(pol, "dry_run")) ? " (dry run)" : "", DBL(pol, "stage"),
               STR(pol, "stage_name"), DBL(pol, "stage_since_sec"));
        if (cJSON_IsObject(heap))
                printf("  heap:    held %s, in use %s, cap %s, cap hits %.0f, scavenges %.0f\n",
                       fmt_size_json(a, sizeof(a), NUM(heap, "held")),
                       fmt_size_json(b, sizeof(b), NUM(heap, "in_use")),
                       fmt_size_json(c, sizeof(c), NUM(heap, "cap")), DBL(heap, "cap_hits"),
                       DBL(heap, "scavenges"));
#undef NUM
#undef STR
#undef DBL
}

int status_client(const char *runtime_dir, pid_t pid, bool json)
{
        _cleanup_free_ char *doc = NULL;
        char path[4096];
        int r;

        if (pid <= 0) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                r = find_instances(runtime_dir, &pids, &n);
                if (r < 0 && r != -ENOENT) {
                        log_error_errno(r, "Cannot read the runtime directory %s: %m", runtime_dir);
                        return 1;
                }
                if (n == 0) {
                        log_error(
                            "No running oomless found in %s (set --runtime-dir or $OOMLESS_RUNTIME_DIR "
                            "to the one it uses).",
                            runtime_dir);
                        return 1;
                }
                if (n > 1) {
                        fprintf(stderr, "oomless status: %zu instances run in %s; pick one with --pid:\n", n,
                                runtime_dir);
                        for (size_t i = 0; i < n; i++)
                                fprintf(stderr, "  %d\n", (int)pids[i]);
                        return 2;
                }
                pid = pids[0];
        }

        snprintf(path, sizeof(path), "%s/%d/" STATUS_SOCKET_NAME, runtime_dir, (int)pid);
        r = read_status(path, &doc);
        if (r < 0) {
                log_error_errno(r, "Cannot read the status of oomless %d from %s: %m", (int)pid, path);
                return 1;
        }
        if (json) {
                printf("%s\n", doc);
                return 0;
        }
        cJSON *root = cJSON_Parse(doc);
        if (!root) {
                log_error("oomless %d answered with something that is not JSON on %s.", (int)pid, path);
                return 1;
        }
        print_human(root);
        cJSON_Delete(root);
        return 0;
}

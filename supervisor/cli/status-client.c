/* SPDX-License-Identifier: MIT */
/* `oomless status`, the command line's half: finds the running instances in the runtime directory,
 * reads their status sockets and prints the documents for people or programs, treating each document
 * as untrusted input. */
#define _GNU_SOURCE 1
#include "status-client.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "instance.h"
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

/* One instance found in the runtime directory: its pid and its directory's name. */
typedef struct Instance {
        pid_t pid;
        char name[64];
} Instance;

/* Instances are <runtime>/<name>/status.sock, <name> as instance.h makes it ("<pid>-<nonce>", or the
 * old "<pid>"), whose pid still runs (a SIGKILLed oomless leaves a stale directory behind that must not
 * count); only_pid > 0 keeps those of that pid (two may share it, each PID 1 of its container). */
static int find_instances(const char *runtime_dir, pid_t only_pid, Instance **ret, size_t *ret_n)
{
        _cleanup_closedir_ DIR *d = opendir(runtime_dir);
        _cleanup_free_ Instance *found = NULL;
        size_t n = 0;

        if (!d)
                return negative_errno();
        for (struct dirent *de; (de = readdir(d));) {
                pid_t pid;
                if (instance_rundir_name_parse(de->d_name, &pid) < 0 ||
                    strlen(de->d_name) >= sizeof(found->name))
                        continue;
                if (only_pid > 0 && pid != only_pid)
                        continue;
                char p[4096];
                snprintf(p, sizeof(p), "%s/%s/" STATUS_SOCKET_NAME, runtime_dir, de->d_name);
                if (access(p, F_OK) < 0 || !pid_alive(pid))
                        continue;
                Instance *nf = realloc(found, (n + 1) * sizeof(*found));
                if (!nf)
                        return -ENOMEM;
                found = nf;
                found[n].pid = pid;
                snprintf(found[n].name, sizeof(found[n].name), "%s", de->d_name);
                n++;
        }
        *ret = TAKE_PTR(found);
        *ret_n = n;
        return 0;
}

/* ---- the socket's document is untrusted ----
 *
 * Whatever answers on <runtime>/<pid>/status.sock may be any process that can write the runtime
 * directory, or a supervisor of another version: every value is checked for its type and range
 * before it is printed, and nonsense prints as "-". Converting an out-of-range double to an integer
 * is undefined behaviour in C, so no number is converted before its range is known. */

/* Bytes: 1 EiB is far beyond any machine, and well inside what a double and uint64_t both hold. */
#define SANE_BYTES (UINT64_C(1) << 60)
/* Counters: integers a double still holds exactly. */
#define SANE_COUNT (UINT64_C(1) << 53)
/* PIDs: the kernel's PID_MAX_LIMIT. */
#define SANE_PID (UINT64_C(1) << 22)
/* Seconds: a century. */
#define SANE_SECONDS (100.0 * 365 * 24 * 3600)

static const cJSON *field(const cJSON *o, const char *key)
{
        return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

/* A whole number in [0, max]; false for anything else (wrong type, NaN-like overflow, negative,
 * fractional, too large). */
static bool get_uint(const cJSON *o, const char *key, uint64_t max, uint64_t *ret)
{
        const cJSON *v = field(o, key);
        double d;

        if (!cJSON_IsNumber(v))
                return false;
        d = v->valuedouble;
        if (!isfinite(d) || d < 0 || d > (double)max || d != floor(d))
                return false;
        *ret = (uint64_t)d;
        return true;
}

static bool get_double(const cJSON *o, const char *key, double min, double max, double *ret)
{
        const cJSON *v = field(o, key);

        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min || v->valuedouble > max)
                return false;
        *ret = v->valuedouble;
        return true;
}

/* A string made safe for a terminal: control characters (C0, DEL, and C1 as UTF-8 encodes them) would
 * let the document move the cursor or retitle the window; they print as '?'. Cut at len - 1 bytes. */
static const char *sanitize(char *buf, size_t len, const char *s)
{
        size_t o = 0;

        for (const unsigned char *p = (const unsigned char *)s; *p && o + 1 < len; p++) {
                if (*p < 0x20 || *p == 0x7f)
                        buf[o++] = '?';
                else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
                        buf[o++] = '?';
                        p++;
                } else
                        buf[o++] = (char)*p;
        }
        buf[o] = 0;
        return buf;
}

static const char *get_str(char *buf, size_t len, const cJSON *o, const char *key)
{
        const cJSON *v = field(o, key);
        return cJSON_IsString(v) && v->valuestring ? sanitize(buf, len, v->valuestring) : "-";
}

static const char *fmt_bytes(char *buf, size_t len, const cJSON *o, const char *key)
{
        uint64_t v;
        return get_uint(o, key, SANE_BYTES, &v) ? units_format_size(buf, len, v) : "-";
}

static const char *fmt_count(char *buf, size_t len, const cJSON *o, const char *key)
{
        uint64_t v;
        if (!get_uint(o, key, SANE_COUNT, &v))
                return "-";
        snprintf(buf, len, "%" PRIu64, v);
        return buf;
}

/* Fixed-point with digits decimals in [min, max], else "-". */
static const char *fmt_double(char *buf, size_t len, const cJSON *o, const char *key, double min, double max,
                              int digits)
{
        double v;
        if (!get_double(o, key, min, max, &v))
                return "-";
        snprintf(buf, len, "%.*f", digits, v);
        return buf;
}

/* A ratio in [0, 1] as a percentage: "40.0%", or "-". */
static const char *fmt_ratio(char *buf, size_t len, const cJSON *o, const char *key)
{
        double v;
        if (!get_double(o, key, 0, 1, &v))
                return "-";
        snprintf(buf, len, "%.1f%%", v * 100);
        return buf;
}

/* A percentage with its sign: "1.50%", or "-". */
static const char *fmt_percent(char *buf, size_t len, const cJSON *o, const char *key)
{
        double v;
        if (!get_double(o, key, 0, 100, &v))
                return "-";
        snprintf(buf, len, "%.2f%%", v);
        return buf;
}

static const char *fmt_pid(char *buf, size_t len, const cJSON *o, const char *key)
{
        uint64_t v;
        if (!get_uint(o, key, SANE_PID, &v) || v == 0)
                return "-";
        snprintf(buf, len, "%" PRIu64, v);
        return buf;
}

/* The command line as words separated by spaces (each sanitized), "-" when absent or not strings. */
static const char *fmt_command(char *buf, size_t len, const cJSON *root)
{
        const cJSON *cmd = field(root, "command"), *w;
        size_t used = 0;
        char word[1024];

        if (!cJSON_IsArray(cmd) || !cmd->child)
                return "-";
        buf[0] = 0;
        cJSON_ArrayForEach(w, cmd)
        {
                if (!cJSON_IsString(w) || !w->valuestring)
                        return "-";
                sanitize(word, sizeof(word), w->valuestring);
                int k = snprintf(buf + used, len - used, "%s%s", used ? " " : "", word);
                if (k < 0 || (size_t)k >= len - used)
                        break; /* cut: a long command line is still recognisable by its start */
                used += (size_t)k;
        }
        return buf;
}

void status_print_human(FILE *f, const cJSON *root)
{
        const cJSON *mem = field(root, "memory"), *ev = field(root, "events"), *psi = field(root, "psi"),
                    *child = field(root, "child"), *pol = field(root, "policy"), *heap = field(root, "heap");
        char a[64], b[64], c[64], d[64], e[64], g[64], h[64];
        char s1[256], s2[256], s3[4096], s4[8192];

        fprintf(f, "oomless %s (%s), up %ss\n", fmt_pid(a, sizeof(a), root, "supervisor_pid"),
                get_str(s1, sizeof(s1), root, "mode"),
                fmt_double(b, sizeof(b), root, "uptime_sec", 0, SANE_SECONDS, 1));
        if (cJSON_IsString(field(root, "waiting")))
                fprintf(f, "  target:  waiting for target (--wait=%s)\n",
                        get_str(s1, sizeof(s1), root, "waiting"));
        fprintf(f, "  command: %s\n", fmt_command(s4, sizeof(s4), root));
        fprintf(f, "  tier:    %s\n", get_str(s2, sizeof(s2), root, "tier"));
        fprintf(f, "  leaf:    %s\n", get_str(s3, sizeof(s3), root, "leaf"));
        fprintf(f, "  memory:  current %s, peak %s, limit %s (leaf max %s, high %s), working set %s",
                fmt_bytes(a, sizeof(a), mem, "current"), fmt_bytes(b, sizeof(b), mem, "peak"),
                fmt_bytes(c, sizeof(c), mem, "limit"), fmt_bytes(d, sizeof(d), mem, "max"),
                fmt_bytes(e, sizeof(e), mem, "high"), fmt_bytes(g, sizeof(g), mem, "working_set"));
        fprintf(f, ", non-file %s, shmem %s", fmt_bytes(a, sizeof(a), mem, "nonfile"),
                fmt_bytes(h, sizeof(h), mem, "shmem"));
        fprintf(f, ", kernel %s\n", fmt_bytes(a, sizeof(a), mem, "kernel"));
        if (cJSON_IsObject(psi)) {
                const cJSON *so = field(psi, "some"), *fu = field(psi, "full");
                fprintf(f, "  psi:     some %s/%s, full %s/%s (avg10/avg60)\n",
                        fmt_percent(a, sizeof(a), so, "avg10"), fmt_percent(b, sizeof(b), so, "avg60"),
                        fmt_percent(c, sizeof(c), fu, "avg10"), fmt_percent(d, sizeof(d), fu, "avg60"));
        } else
                fprintf(f, "  psi:     -\n");
        fprintf(f, "  events:  high %s, max %s, oom %s, oom_kill %s\n", fmt_count(a, sizeof(a), ev, "high"),
                fmt_count(b, sizeof(b), ev, "max"), fmt_count(c, sizeof(c), ev, "oom"),
                fmt_count(d, sizeof(d), ev, "oom_kill"));
        if (cJSON_IsNumber(field(child, "pid")))
                fprintf(f, "  child:   pid %s, up %ss, restarts %s\n", fmt_pid(a, sizeof(a), child, "pid"),
                        fmt_double(b, sizeof(b), child, "started_sec_ago", 0, SANE_SECONDS, 1),
                        fmt_count(c, sizeof(c), child, "restarts"));
        else
                fprintf(f, "  child:   none, restarts %s\n", fmt_count(c, sizeof(c), child, "restarts"));
        fprintf(f, "  policy:  %s%s, stage %s (%s) for %ss", get_str(s1, sizeof(s1), pol, "name"),
                cJSON_IsTrue(field(pol, "dry_run")) ? " (dry run)" : "",
                fmt_count(a, sizeof(a), pol, "stage"), get_str(s2, sizeof(s2), pol, "stage_name"),
                fmt_double(b, sizeof(b), pol, "stage_since_sec", 0, SANE_SECONDS, 1));
        if (cJSON_IsString(field(pol, "cause")))
                fprintf(f, ", cause %s", get_str(s2, sizeof(s2), pol, "cause"));
        fputc('\n', f);
        const cJSON *bud = field(pol, "budget");
        if (cJSON_IsObject(bud)) {
                char bs[64], bp[64];
                fprintf(f,
                        "  budget:  %s (%s, step %s, ceiling %s, last failed %s, %s steps), weight %s, %s\n",
                        fmt_ratio(a, sizeof(a), bud, "ratio"), get_str(bp, sizeof(bp), bud, "phase"),
                        fmt_ratio(b, sizeof(b), bud, "step"), fmt_ratio(c, sizeof(c), bud, "ceiling"),
                        fmt_ratio(d, sizeof(d), bud, "last_failed"), fmt_count(bs, sizeof(bs), bud, "steps"),
                        fmt_count(g, sizeof(g), pol, "weight"),
                        cJSON_IsFalse(field(pol, "ready")) ? "not ready" : "ready");
        }
        if (cJSON_IsObject(heap))
                fprintf(f, "  heap:    held %s, in use %s, cap %s, cap hits %s, scavenges %s\n",
                        fmt_bytes(a, sizeof(a), heap, "held"), fmt_bytes(b, sizeof(b), heap, "in_use"),
                        fmt_bytes(c, sizeof(c), heap, "cap"), fmt_count(h, sizeof(h), heap, "cap_hits"),
                        fmt_count(g, sizeof(g), heap, "scavenges"));
}

/* One instance of several: its pid, stage and memory on the first line, command and leaf below. */
static void print_brief(FILE *f, pid_t pid, const cJSON *root)
{
        const cJSON *pol = field(root, "policy"), *mem = field(root, "memory");
        char a[64], b[64], c[64], s1[256], s2[4096], s4[8192];

        fprintf(f, "oomless %d (%s): stage %s (%s), memory %s of %s\n", (int)pid,
                get_str(s1, sizeof(s1), root, "mode"), fmt_count(a, sizeof(a), pol, "stage"),
                get_str(s2, sizeof(s2), pol, "stage_name"), fmt_bytes(b, sizeof(b), mem, "current"),
                fmt_bytes(c, sizeof(c), mem, "limit"));
        if (cJSON_IsString(field(root, "waiting")))
                fprintf(f, "  target:  waiting for target (--wait=%s)\n",
                        get_str(s1, sizeof(s1), root, "waiting"));
        fprintf(f, "  command: %s\n", fmt_command(s4, sizeof(s4), root));
        fprintf(f, "  leaf:    %s\n", get_str(s2, sizeof(s2), root, "leaf"));
}

/* Reads and parses one instance's document; errors are logged, naming the socket. */
static int fetch(const char *runtime_dir, const Instance *in, cJSON **ret)
{
        pid_t pid = in->pid;
        _cleanup_free_ char *doc = NULL;
        char path[4096];
        cJSON *root;
        int r;

        snprintf(path, sizeof(path), "%s/%s/" STATUS_SOCKET_NAME, runtime_dir, in->name);
        r = read_status(path, &doc);
        if (r < 0)
                return log_error_errno(r, "Cannot read the status of oomless %d from %s: %m", (int)pid,
                                       path);
        root = cJSON_Parse(doc);
        if (!cJSON_IsObject(root)) {
                cJSON_Delete(root);
                log_error("oomless %d answered with something that is not a JSON object on %s.", (int)pid,
                          path);
                return -EBADMSG;
        }
        *ret = root;
        return 0;
}

/* JSON out is the parsed document printed again, so that what a program reads is well-formed
 * whatever was on the socket (cJSON prints a number it cannot represent as null). */
static void print_json(const cJSON *root)
{
        _cleanup_free_ char *text = cJSON_PrintUnformatted(root);
        if (text)
                printf("%s\n", text);
}

/* Prints one instance's document; 0, or 1 when it did not answer. */
static int status_one(const char *runtime_dir, const Instance *in, bool json)
{
        cJSON *root = NULL;

        if (fetch(runtime_dir, in, &root) < 0)
                return 1;
        if (json)
                print_json(root);
        else
                status_print_human(stdout, root);
        cJSON_Delete(root);
        return 0;
}

int status_client(const char *runtime_dir, pid_t pid, bool json)
{
        _cleanup_free_ Instance *found = NULL;
        size_t n = 0, answered = 0;
        cJSON *arr = NULL;
        int r;

        r = find_instances(runtime_dir, pid, &found, &n);
        if (r < 0 && r != -ENOENT) {
                log_error_errno(r, "Cannot read the runtime directory %s: %m", runtime_dir);
                return 1;
        }
        if (n == 0) {
                if (pid > 0)
                        log_error("No running oomless with pid %d found in %s (set --runtime-dir or "
                                  "$OOMLESS_RUNTIME_DIR to the one it uses).",
                                  (int)pid, runtime_dir);
                else
                        log_error(
                            "No running oomless found in %s (set --runtime-dir or $OOMLESS_RUNTIME_DIR "
                            "to the one it uses).",
                            runtime_dir);
                return 1;
        }
        if (n == 1)
                return status_one(runtime_dir, &found[0], json);

        /* Several: a list (text) or an array of the documents (JSON); one that does not answer is
         * reported on stderr and left out. */
        if (json && !(arr = cJSON_CreateArray())) {
                log_error("Out of memory");
                return 1;
        }
        if (!json)
                printf("%zu instances in %s:\n", n, runtime_dir);
        for (size_t i = 0; i < n; i++) {
                cJSON *root = NULL;
                if (fetch(runtime_dir, &found[i], &root) < 0)
                        continue;
                answered++;
                if (json)
                        cJSON_AddItemToArray(arr, root);
                else {
                        print_brief(stdout, found[i].pid, root);
                        cJSON_Delete(root);
                }
        }
        if (json) {
                print_json(arr);
                cJSON_Delete(arr);
        }
        return answered > 0 ? 0 : 1;
}

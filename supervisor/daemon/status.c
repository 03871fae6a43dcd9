/* SPDX-License-Identifier: MIT */
/* `oomless status`: the supervisor's live state as JSON (keys fixed in INTERFACES.md), served on a
 * unix stream socket in the runtime directory (connect, read to EOF), and the client that prints it
 * for people or programs. */
#define _GNU_SOURCE 1
#include "status.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "units.h"

/* The client gives up on a supervisor that accepts but does not answer. */
#define STATUS_CLIENT_TIMEOUT_MS 5000
/* A status document is a few KiB; anything far bigger is not ours. */
#define STATUS_MAX_SIZE (1024 * 1024)

static cJSON *json_u64(uint64_t v)
{
        return cJSON_CreateNumber((double)v);
}

static cJSON *json_u64_or_null(bool known, uint64_t v)
{
        return known ? json_u64(v) : cJSON_CreateNull();
}

static cJSON *json_psi(const OomlessPsi *p)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "avg10", p->avg10);
        cJSON_AddNumberToObject(o, "avg60", p->avg60);
        cJSON_AddNumberToObject(o, "avg300", p->avg300);
        cJSON_AddItemToObject(o, "total", json_u64(p->total_usec));
        return o;
}

static double round3(double v)
{
        return round(v * 1000.0) / 1000.0;
}

char *status_render_json(StatusInfo *info)
{
        cJSON *root = cJSON_CreateObject(), *o;
        const OomlessSample *s = &info->sample;
        char *text;

        cJSON_AddNumberToObject(root, "version", STATUS_JSON_VERSION);
        cJSON_AddStringToObject(root, "mode", info->mode);
        cJSON_AddNumberToObject(root, "supervisor_pid", info->supervisor_pid);
        cJSON_AddStringToObject(root, "tier", info->tier);
        if (info->leaf)
                cJSON_AddStringToObject(root, "leaf", info->leaf);
        else
                cJSON_AddNullToObject(root, "leaf");
        cJSON_AddNumberToObject(root, "uptime_sec", round3(info->uptime_sec));

        o = cJSON_AddObjectToObject(root, "memory");
        cJSON_AddItemToObject(o, "current", json_u64_or_null(info->sample_valid, s->current));
        cJSON_AddItemToObject(o, "peak", json_u64_or_null(info->sample_valid && s->peak > 0, s->peak));
        cJSON_AddItemToObject(
            o, "limit", json_u64_or_null(info->sample_valid && s->limit != OOMLESS_NO_LIMIT, s->limit));
        cJSON_AddItemToObject(
            o, "high",
            json_u64_or_null(info->leaf_high_known && info->leaf_high != UINT64_MAX, info->leaf_high));
        cJSON_AddItemToObject(
            o, "max",
            json_u64_or_null(info->leaf_max_known && info->leaf_max != UINT64_MAX, info->leaf_max));
        cJSON_AddItemToObject(
            o, "swap_max",
            json_u64_or_null(info->swap_max_known && info->swap_max != UINT64_MAX, info->swap_max));
        cJSON_AddItemToObject(o, "anon", json_u64_or_null(info->sample_valid && s->anon > 0, s->anon));
        cJSON_AddItemToObject(o, "file", json_u64_or_null(info->sample_valid && s->file > 0, s->file));

        if (info->sample_valid && s->psi_valid) {
                o = cJSON_AddObjectToObject(root, "psi");
                cJSON_AddItemToObject(o, "some", json_psi(&s->psi_some));
                cJSON_AddItemToObject(o, "full", json_psi(&s->psi_full));
        } else
                cJSON_AddNullToObject(root, "psi");

        o = cJSON_AddObjectToObject(root, "events");
        cJSON_AddItemToObject(o, "low", json_u64(s->ev_low));
        cJSON_AddItemToObject(o, "high", json_u64(s->ev_high));
        cJSON_AddItemToObject(o, "max", json_u64(s->ev_max));
        cJSON_AddItemToObject(o, "oom", json_u64(s->ev_oom));
        cJSON_AddItemToObject(o, "oom_kill", json_u64(s->ev_oom_kill));

        o = cJSON_AddObjectToObject(root, "child");
        if (info->child_pid > 0) {
                cJSON_AddNumberToObject(o, "pid", info->child_pid);
                cJSON_AddNumberToObject(o, "started_sec_ago", round3(info->child_started_sec_ago));
        } else {
                cJSON_AddNullToObject(o, "pid");
                cJSON_AddNullToObject(o, "started_sec_ago");
        }
        cJSON_AddNumberToObject(o, "restarts", info->restarts);
        if (info->last_exit_valid) {
                cJSON *le = cJSON_AddObjectToObject(o, "last_exit");
                cJSON_AddNumberToObject(le, "status", info->last_exit_status);
                if (info->last_exit_signal > 0) {
                        const char *name = units_signal_to_string(info->last_exit_signal);
                        cJSON_AddStringToObject(le, "signal", name ? name : "unknown");
                } else
                        cJSON_AddNullToObject(le, "signal");
                cJSON_AddBoolToObject(le, "oom_killed", info->last_exit_oom_killed);
                cJSON_AddNumberToObject(le, "sec_ago", round3(info->last_exit_sec_ago));
        } else
                cJSON_AddNullToObject(o, "last_exit");

        o = cJSON_AddObjectToObject(root, "policy");
        cJSON_AddStringToObject(o, "name", info->policy_name ? info->policy_name : "none");
        cJSON_AddBoolToObject(o, "dry_run", info->dry_run);
        cJSON_AddNumberToObject(o, "stage", info->stage);
        cJSON_AddStringToObject(o, "stage_name", info->stage_name ? info->stage_name : "normal");
        cJSON_AddNumberToObject(o, "stage_since_sec", round3(info->stage_since_sec));
        cJSON_AddItemToObject(o, "recent_actions",
                              info->recent_actions ? info->recent_actions : cJSON_CreateArray());
        info->recent_actions = NULL;

        if (info->heap_valid) {
                o = cJSON_AddObjectToObject(root, "heap");
                cJSON_AddItemToObject(o, "held", json_u64(info->heap_held));
                cJSON_AddItemToObject(o, "in_use", json_u64(info->heap_in_use));
                cJSON_AddItemToObject(o, "cap", json_u64(info->heap_cap));
                cJSON_AddItemToObject(o, "cap_hits", json_u64(info->heap_cap_hits));
                cJSON_AddItemToObject(o, "scavenges", json_u64(info->heap_scavenges));
        } else
                cJSON_AddNullToObject(root, "heap");

        text = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        return text;
}

/* ---- server ---- */

struct StatusServer {
        sd_event_source *listen_source;
        int fd;
        char *path;
        StatusRenderFn render;
        void *userdata;
};

typedef struct StatusConn {
        int fd;
        char *buf;
        size_t len, off;
} StatusConn;

static void conn_free(void *p)
{
        StatusConn *c = p;
        if (!c)
                return;
        safe_close(c->fd);
        free(c->buf);
        free(c);
}

/* Returns 1 when everything was written, 0 when the socket is full, <0 when the client is gone. */
static int conn_flush(StatusConn *c)
{
        while (c->off < c->len) {
                ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return negative_errno();
                }
                c->off += (size_t)n;
        }
        return 1;
}

static int on_conn_writable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        (void)fd;
        (void)revents;
        if (conn_flush(userdata) != 0)
                sd_event_source_disable_unref(s);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        StatusServer *srv = userdata;
        (void)revents;

        for (;;) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                log_debug_errno(negative_errno(),
                                                "Status socket accept failed, ignoring: %m");
                        return 0;
                }
                StatusConn *c = calloc(1, sizeof(*c));
                if (!c) {
                        safe_close(cfd);
                        return 0;
                }
                c->fd = cfd;
                c->buf = srv->render(srv->userdata);
                c->len = c->buf ? strlen(c->buf) : 0;
                if (conn_flush(c) != 0) {
                        conn_free(c);
                        continue;
                }
                /* A client that reads slowly gets the rest when it is ready; the loop never waits. */
                sd_event_source *ws = NULL;
                if (sd_event_add_io(sd_event_source_get_event(s), &ws, cfd, EPOLLOUT, on_conn_writable, c) <
                    0) {
                        conn_free(c);
                        continue;
                }
                (void)sd_event_source_set_destroy_callback(ws, conn_free);
                (void)sd_event_source_set_floating(ws, true);
                sd_event_source_unref(ws);
        }
}

int status_server_new(sd_event *e, const char *path, StatusRenderFn render, void *userdata,
                      StatusServer **ret)
{
        _cleanup_(status_server_freep) StatusServer *s = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(
                    -ENAMETOOLONG, "Status socket path %s is too long; use a shorter --runtime-dir", path);
        strcpy(sa.sun_path, path);

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_error_errno(-ENOMEM, "Out of memory");
        s->fd = -EBADF;
        s->render = render;
        s->userdata = userdata;

        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->fd < 0)
                return log_error_errno(negative_errno(), "Failed to create the status socket: %m");
        (void)unlink(path);
        if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return log_error_errno(negative_errno(), "Failed to bind the status socket %s: %m", path);
        s->path = strdup(path);
        if (!s->path)
                return log_error_errno(-ENOMEM, "Out of memory");
        if (listen(s->fd, 16) < 0)
                return log_error_errno(negative_errno(), "Failed to listen on %s: %m", path);
        r = sd_event_add_io(e, &s->listen_source, s->fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the status socket: %m");

        *ret = TAKE_PTR(s);
        return 0;
}

StatusServer *status_server_free(StatusServer *s)
{
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->listen_source);
        safe_close(s->fd);
        if (s->path)
                (void)unlink(s->path);
        free(s->path);
        free(s);
        return NULL;
}

/* ---- client ---- */

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

/* SPDX-License-Identifier: MIT */
/* `oomless status`, the daemon's half: the supervisor's live state as JSON (its keys are documented
 * in oomless(1) under "oomless status"), served on a unix stream socket in the runtime directory
 * (connect, read to EOF). */
#define _GNU_SOURCE 1
#include "status.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "units.h"

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

typedef struct NamedU64 {
        const char *name;
        uint64_t value;
} NamedU64;

/* An object of counters, in the order given. */
static void add_u64s(cJSON *parent, const char *name, const NamedU64 *items, size_t n)
{
        cJSON *o = cJSON_AddObjectToObject(parent, name);
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToObject(o, items[i].name, json_u64(items[i].value));
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
        cJSON_AddStringToObject(root, "instance_id", info->instance_id ? info->instance_id : "");
        if (info->command) {
                size_t n = 0;
                while (info->command[n])
                        n++;
                cJSON_AddItemToObject(root, "command",
                                      cJSON_CreateStringArray((const char *const *)info->command, (int)n));
        } else
                cJSON_AddNullToObject(root, "command");
        if (info->waiting)
                cJSON_AddStringToObject(root, "waiting", info->waiting);
        else
                cJSON_AddNullToObject(root, "waiting");

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
        cJSON_AddItemToObject(o, "shmem", json_u64_or_null(info->sample_valid, s->shmem));
        cJSON_AddItemToObject(o, "kernel", json_u64_or_null(info->sample_valid, s->kernel));
        cJSON_AddItemToObject(
            o, "inactive_file",
            json_u64_or_null(info->sample_valid && s->inactive_file > 0, s->inactive_file));
        cJSON_AddItemToObject(o, "working_set",
                              json_u64_or_null(info->sample_valid, oomless_sample_working_set(s)));
        cJSON_AddItemToObject(o, "nonfile", json_u64_or_null(info->sample_valid, oomless_sample_nonfile(s)));

        if (info->sample_valid && s->psi_valid) {
                o = cJSON_AddObjectToObject(root, "psi");
                cJSON_AddItemToObject(o, "some", json_psi(&s->psi_some));
                cJSON_AddItemToObject(o, "full", json_psi(&s->psi_full));
        } else
                cJSON_AddNullToObject(root, "psi");

        const NamedU64 events[] = {
                { "low", s->ev_low }, { "high", s->ev_high },         { "max", s->ev_max },
                { "oom", s->ev_oom }, { "oom_kill", s->ev_oom_kill },
        };
        add_u64s(root, "events", events, ELEMENTSOF(events));

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
        if (info->cause)
                cJSON_AddStringToObject(o, "cause", info->cause);
        else
                cJSON_AddNullToObject(o, "cause");
        cJSON_AddItemToObject(o, "recent_actions",
                              info->recent_actions ? info->recent_actions : cJSON_CreateArray());
        info->recent_actions = NULL;
        if (info->budget_valid) {
                /* Ratios of the app's normal size; failed is null until pressure came back in a climb. */
                cJSON_AddBoolToObject(o, "ready", info->ready);
                cJSON *b = cJSON_AddObjectToObject(o, "budget");
                cJSON_AddNumberToObject(b, "ratio", info->budget_permille / 1000.0);
                cJSON_AddStringToObject(b, "phase", info->budget_phase ? info->budget_phase : "normal");
                cJSON_AddNumberToObject(b, "step", info->budget_step_permille / 1000.0);
                cJSON_AddNumberToObject(b, "ceiling", info->budget_ceiling_permille / 1000.0);
                if (info->budget_failed_permille)
                        cJSON_AddNumberToObject(b, "last_failed", info->budget_failed_permille / 1000.0);
                else
                        cJSON_AddNullToObject(b, "last_failed");
                cJSON_AddNumberToObject(b, "steps", info->budget_steps);
                cJSON_AddNumberToObject(b, "sheds", info->budget_sheds);
                cJSON_AddNumberToObject(o, "weight", info->weight);
        }

        if (info->heap_valid) {
                const NamedU64 heap[] = {
                        { "held", info->heap_held },
                        { "in_use", info->heap_in_use },
                        { "cap", info->heap_cap },
                        { "cap_hits", info->heap_cap_hits },
                        { "scavenges", info->heap_scavenges },
                };
                add_u64s(root, "heap", heap, ELEMENTSOF(heap));
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
        /* No unlink(s->path): by now the workload may have replaced the directory in that path with a
         * symlink. The socket goes with the instance directory, which runtime-dir.c empties through
         * its fd. */
        free(s->path);
        free(s);
        return NULL;
}

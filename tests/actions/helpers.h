/* SPDX-License-Identifier: MIT */
/* Shared by the action tests: a tiny real HTTP/1.1 server on 127.0.0.1 running in a thread, the
 * monotonic clock, our own cgroup, running an sd-event loop until a condition holds, and a "tick lateness"
 * probe that measures how late a periodic loop timer fires while something else is going on. */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "test.h"

static inline uint64_t t_now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Defines `Done` (done flag plus a copy of the result) and its callback `on_done`, for the mechanisms
 * that report one result of type T to `void (*)(const T *, void *userdata)`. */
#define T_DEFINE_DONE(T)                                                                                    \
        typedef struct Done {                                                                               \
                bool done;                                                                                  \
                T res;                                                                                      \
        } Done;                                                                                             \
        static void on_done(const T *r, void *userdata)                                                     \
        {                                                                                                   \
                Done *d = userdata;                                                                         \
                d->res = *r;                                                                                \
                d->done = true;                                                                             \
        }

/* A new event loop; with _cleanup_(sd_event_unrefp) it goes at the end of the test. */
static inline sd_event *t_event_new(void)
{
        sd_event *e = NULL;
        ASSERT_OK(sd_event_new(&e));
        return e;
}

/* Our own cgroup's directory, from /proc/self/cgroup: in the unified hierarchy under /sys/fs/cgroup
 * (v2), or in the v1 memory hierarchy under /sys/fs/cgroup/memory. False when there is none. */
static inline bool t_own_cgroup(bool v2, char *ret, size_t len)
{
        const char *key = v2 ? "0::" : ":memory:";
        FILE *f = fopen("/proc/self/cgroup", "re");
        char line[512];
        bool found = false;

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                char *p = strstr(line, key);
                if (!p || (v2 && p != line))
                        continue;
                p += strlen(key);
                p[strcspn(p, "\n")] = 0;
                /* a path cut short is no path */
                found = snprintf(ret, len, "%s%s", v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory",
                                 strcmp(p, "/") == 0 ? "" : p) < (int)len;
        }
        fclose(f);
        return found;
}

/* Runs the loop until *flag becomes true or timeout passes; returns *flag. */
static inline bool t_run_until(sd_event *e, volatile bool *flag, uint64_t timeout_usec)
{
        uint64_t end = t_now_usec() + timeout_usec;
        while (!*flag && t_now_usec() < end)
                ASSERT_OK(sd_event_run(e, 50000));
        return *flag;
}

/* ---- tick probe: a periodic timer recording its worst lateness ----
 * Lateness has two causes: the loop was busy (what we test: nothing may block it), or the process
 * was runnable but waited for a CPU, which on a loaded machine (other VMs, parallel tests) says
 * nothing about our code. /proc/thread-self/schedstat counts the second (run-queue wait), so each
 * tick's lateness is also reported minus the run-queue wait accrued in its interval. */
typedef struct TickProbe {
        sd_event_source *src;
        uint64_t period_usec;
        uint64_t next_usec;
        uint64_t max_late_usec;    /* raw */
        uint64_t max_blocked_usec; /* lateness not explained by waiting for a CPU */
        uint64_t last_wait_usec;
        unsigned ticks;
} TickProbe;

static inline uint64_t t_runqueue_wait_usec(void)
{
        unsigned long long run = 0, wait = 0;
        FILE *f = fopen("/proc/thread-self/schedstat", "re");
        if (!f)
                return 0;
        if (fscanf(f, "%llu %llu", &run, &wait) != 2)
                wait = 0;
        fclose(f);
        return wait / 1000;
}

static inline int t_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        TickProbe *p = userdata;
        uint64_t now = t_now_usec(), wait = t_runqueue_wait_usec();
        uint64_t late = now > p->next_usec ? now - p->next_usec : 0;
        uint64_t waited = wait - p->last_wait_usec;
        if (late > p->max_late_usec)
                p->max_late_usec = late;
        if (late > waited && late - waited > p->max_blocked_usec)
                p->max_blocked_usec = late - waited;
        p->last_wait_usec = wait;
        p->ticks++;
        p->next_usec = now + p->period_usec;
        sd_event_source_set_time(s, p->next_usec);
        sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

static inline void t_tick_start(sd_event *e, TickProbe *p, uint64_t period_usec)
{
        memset(p, 0, sizeof(*p));
        p->period_usec = period_usec;
        p->next_usec = t_now_usec() + period_usec;
        p->last_wait_usec = t_runqueue_wait_usec();
        /* accuracy 1 us: measure our own loop, not timer slack coalescing */
        ASSERT_OK(sd_event_add_time(e, &p->src, CLOCK_MONOTONIC, p->next_usec, 1, t_tick, p));
}

/* The loop must stay responsive: 50 ms. Under the TCG VM (OOMLESS_VM set by tests/vm/vm-run), where
 * everything runs ~26x slower, the budget scales by $OOMLESS_VM_TIMEOUT_FACTOR (default 10). */
static inline uint64_t t_lateness_budget_usec(void)
{
        const char *factor = getenv("OOMLESS_VM_TIMEOUT_FACTOR");
        if (!getenv("OOMLESS_VM"))
                return 50000;
        return 50000 * (uint64_t)(factor && atoi(factor) > 0 ? atoi(factor) : 10);
}

/* A duration stretched by the same factor under the TCG VM, for waits that depend on how fast a
 * program starts. */
static inline uint64_t t_slow(uint64_t usec)
{
        return usec * (t_lateness_budget_usec() / 50000);
}

static inline void t_tick_stop(TickProbe *p)
{
        p->src = sd_event_source_disable_unref(p->src);
}

/* ---- HTTP server ---- */
#define HS_MAX_REQ     32
#define HS_MAX_CLIENTS 16
#define HS_BUF         65536

typedef enum HsMode {
        HS_RESPOND,   /* answer with .status at once */
        HS_NO_ANSWER, /* read the request, never answer; close when the client does */
} HsMode;

typedef struct HsRequest {
        uint64_t at_usec;
        char *head; /* request line + headers */
        char *body;
} HsRequest;

typedef struct HttpServer {
        int lfd, port;
        int stop[2];
        pthread_t thread;
        HsMode mode;
        int status;
        pthread_mutex_t lock;
        HsRequest req[HS_MAX_REQ];
        unsigned n_req;
} HttpServer;

typedef struct HsClient {
        int fd;
        size_t len;
        bool done;
        char buf[HS_BUF];
} HsClient;

static inline bool hs_complete(HsClient *c, size_t *ret_head, size_t *ret_body_len)
{
        char *end;
        c->buf[c->len] = 0;
        end = strstr(c->buf, "\r\n\r\n");
        if (!end)
                return false;
        size_t head = (size_t)(end - c->buf) + 4, clen = 0;
        for (char *p = c->buf; p && p < end; p = strstr(p, "\r\n")) {
                if (*p == '\r')
                        p += 2;
                if (strncasecmp(p, "Content-Length:", 15) == 0)
                        clen = strtoul(p + 15, NULL, 10);
                p = strstr(p, "\r\n");
                if (!p)
                        break;
        }
        if (c->len < head + clen)
                return false;
        *ret_head = head;
        *ret_body_len = clen;
        return true;
}

static inline void *hs_main(void *arg)
{
        HttpServer *s = arg;
        HsClient *cl[HS_MAX_CLIENTS] = {};

        for (;;) {
                struct pollfd p[HS_MAX_CLIENTS + 2];
                int map[HS_MAX_CLIENTS + 2];
                nfds_t n = 0;
                p[n] = (struct pollfd){ .fd = s->stop[0], .events = POLLIN };
                map[n++] = -1;
                p[n] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
                map[n++] = -2;
                for (int i = 0; i < HS_MAX_CLIENTS; i++)
                        if (cl[i]) {
                                p[n] = (struct pollfd){ .fd = cl[i]->fd, .events = POLLIN };
                                map[n++] = i;
                        }
                if (poll(p, n, -1) < 0)
                        continue;
                if (p[0].revents)
                        break;
                if (p[1].revents & POLLIN) {
                        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
                        for (int i = 0; fd >= 0 && i < HS_MAX_CLIENTS; i++)
                                if (!cl[i]) {
                                        cl[i] = calloc(1, sizeof(HsClient));
                                        cl[i]->fd = fd;
                                        fd = -1;
                                }
                        if (fd >= 0)
                                close(fd);
                }
                for (nfds_t k = 2; k < n; k++) {
                        HsClient *c = cl[map[k]];
                        ssize_t r;
                        size_t head, blen;
                        if (!p[k].revents)
                                continue;
                        r = read(c->fd, c->buf + c->len, HS_BUF - 1 - c->len);
                        if (r <= 0) {
                                close(c->fd);
                                free(c);
                                cl[map[k]] = NULL;
                                continue;
                        }
                        c->len += (size_t)r;
                        if (c->done || !hs_complete(c, &head, &blen))
                                continue;
                        c->done = true;
                        pthread_mutex_lock(&s->lock);
                        if (s->n_req < HS_MAX_REQ) {
                                HsRequest *q = &s->req[s->n_req++];
                                q->at_usec = t_now_usec();
                                q->head = strndup(c->buf, head);
                                q->body = strndup(c->buf + head, blen);
                        }
                        pthread_mutex_unlock(&s->lock);
                        if (s->mode == HS_RESPOND) {
                                char resp[128];
                                int m = snprintf(
                                    resp, sizeof(resp),
                                    "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                                    s->status);
                                (void)!write(c->fd, resp, (size_t)m);
                                close(c->fd);
                                free(c);
                                cl[map[k]] = NULL;
                        }
                }
        }
        for (int i = 0; i < HS_MAX_CLIENTS; i++)
                if (cl[i]) {
                        close(cl[i]->fd);
                        free(cl[i]);
                }
        return NULL;
}

static inline void hs_start(HttpServer *s, HsMode mode, int status)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);

        memset(s, 0, sizeof(*s));
        s->mode = mode;
        s->status = status;
        pthread_mutex_init(&s->lock, NULL);
        s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(s->lfd >= 0);
        ASSERT_OK(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)));
        ASSERT_OK(listen(s->lfd, 16));
        ASSERT_OK(getsockname(s->lfd, (struct sockaddr *)&a, &len));
        s->port = ntohs(a.sin_port);
        ASSERT_OK(pipe2(s->stop, O_CLOEXEC));
        ASSERT_EQ(pthread_create(&s->thread, NULL, hs_main, s), 0);
}

/* hs_start(), and the server's URL for path into url. */
static inline void hs_start_url(HttpServer *s, HsMode mode, int status, const char *path,
                                char url[static 64])
{
        hs_start(s, mode, status);
        snprintf(url, 64, "http://127.0.0.1:%d%s", s->port, path);
}

static inline void hs_stop(HttpServer *s)
{
        (void)!write(s->stop[1], "x", 1);
        pthread_join(s->thread, NULL);
        close(s->lfd);
        close(s->stop[0]);
        close(s->stop[1]);
        for (unsigned i = 0; i < s->n_req; i++) {
                free(s->req[i].head);
                free(s->req[i].body);
        }
}

static inline unsigned hs_count(HttpServer *s)
{
        pthread_mutex_lock(&s->lock);
        unsigned n = s->n_req;
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* A port nothing listens on: bind an ephemeral port, then close it. */
static inline int t_dead_port(void)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
        ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
        close(fd);
        return ntohs(a.sin_port);
}

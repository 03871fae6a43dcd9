/* SPDX-License-Identifier: MIT */
/* The HTTP endpoint on the sd-event loop; see http.h. Routes: GET (or HEAD) /metrics, /livez,
 * /readyz, /status; another method is 405, another path 404. */
#define _GNU_SOURCE 1
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mhd-dl.h"
#include "time-util.h"

struct HttpServer {
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer;
        HttpCallbacks cb;
};

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        char buf[256];
        (void)cls;

        /* Refused clients and malformed requests are the clients' problem: debug only. */
        vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_debug("HTTP: %s", buf);
}

/* Queues body (malloc'd, taken over; NULL is a 500) with status and content type. */
static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type, char *body,
                               size_t len)
{
        struct MHD_Response *resp;
        enum MHD_Result r;

        if (!body) {
                status = MHD_HTTP_INTERNAL_SERVER_ERROR;
                type = "text/plain; charset=utf-8";
                body = strdup("out of memory\n");
                if (!body)
                        return MHD_NO; /* closes the connection */
                len = strlen(body);
        }
        resp = sym_MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(body);
                return MHD_NO;
        }
        (void)sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        (void)sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                (void)sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        r = sym_MHD_queue_response(c, status, resp);
        sym_MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text)
{
        char *body = strdup(text);
        return respond(c, status, "text/plain; charset=utf-8", body, body ? strlen(body) : 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
        static int seen; /* *req_cls marks the request's first call */
        HttpServer *s = cls;
        (void)version;
        (void)upload_data;

        /* Another method is refused on the first call, before any body is read: MHD then closes the
         * connection rather than read a body nobody asked for. */
        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n");
        /* A GET is answered on the call after the headers: a response queued on the first call counts
         * as early, and MHD would close the connection instead of keeping it alive for the next scrape. */
        if (!*req_cls) {
                *req_cls = &seen;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                *upload_data_size = 0; /* a GET's body, if any, is read and dropped */
                return MHD_YES;
        }

        if (streq(url, "/metrics")) {
                MetricsFormat fmt = metrics_format_for_accept(
                    sym_MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
                size_t len = 0;
                char *body = s->cb.metrics(s->cb.userdata, fmt, &len);
                return respond(c, MHD_HTTP_OK, metrics_content_type(fmt), body, len);
        }
        if (streq(url, "/livez"))
                /* Answered from the loop itself: if this is served, the loop runs. */
                return respond_text(c, MHD_HTTP_OK, "ok\n");
        if (streq(url, "/readyz")) {
                char buf[256] = "";
                if (s->cb.ready(s->cb.userdata, buf, sizeof(buf)))
                        return respond_text(c, MHD_HTTP_OK, "ready\n");
                return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, *buf ? buf : "not ready\n");
        }
        if (streq(url, "/status")) {
                char *body = s->cb.status(s->cb.userdata);
                return respond(c, MHD_HTTP_OK, "application/json", body, body ? strlen(body) : 0);
        }
        return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /livez, /readyz or /status\n");
}

/* Lets MHD do what is ready, then arms the timer for its next deadline (idle connections). */
static void run_mhd(HttpServer *s)
{
        MHD_UNSIGNED_LONG_LONG ms = 0;

        (void)sym_MHD_run(s->mhd);
        if (sym_MHD_get_timeout(s->mhd, &ms) != MHD_YES) {
                (void)sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
                return;
        }
        (void)sd_event_source_set_time_relative(s->timer, ms * USEC_PER_MSEC);
        (void)sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
        (void)es;
        (void)fd;
        (void)revents;
        run_mhd(userdata);
        return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata)
{
        (void)es;
        (void)usec;
        run_mhd(userdata);
        return 0;
}

/* Our own listening socket, so that a bind error names the address and errno, and it is CLOEXEC. */
static int open_listener(const ListenAddr *addr, const char *origin)
{
        _cleanup_close_ int fd = -EBADF;

        fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Cannot create the HTTP socket for %s (%s): %m",
                                       addr->text, origin);
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
        if (addr->sa.ss_family == AF_INET6)
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ 1 }, sizeof(int));
        if (bind(fd, (const struct sockaddr *)&addr->sa, addr->sa_len) < 0)
                return log_error_errno(
                    negative_errno(),
                    "Cannot listen on %s (%s): %m. Pick a free port, or stop what holds it.", addr->text,
                    origin);
        if (listen(fd, HTTP_BACKLOG) < 0)
                return log_error_errno(negative_errno(), "Cannot listen on %s (%s): %m", addr->text, origin);
        return TAKE_FD(fd);
}

int http_server_new(sd_event *e, const ListenAddr *addr, const char *origin, const HttpCallbacks *cb,
                    HttpServer **ret)
{
        _cleanup_(http_server_freep) HttpServer *s = NULL;
        const union MHD_DaemonInfo *info;
        int fd, r;

        r = mhd_dl_load();
        if (r < 0)
                return r;
        s = calloc(1, sizeof(*s));
        if (!s)
                return log_error_errno(-ENOMEM, "Out of memory");
        s->cb = *cb;

        fd = open_listener(addr, origin);
        if (fd < 0)
                return fd;
        /* No internal thread: without MHD_USE_INTERNAL_POLLING_THREAD MHD only works inside MHD_run().
         * MHD_USE_EPOLL gives one fd for all of its sockets, which is what sd-event can watch. */
        s->mhd = sym_MHD_start_daemon(
            MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (addr->sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
            addr->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
            MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS_MAX,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_SEC,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_END);
        if (!s->mhd) {
                safe_close(fd);
                return log_error_errno(-EIO, "Cannot start the HTTP endpoint on %s (%s) (libmicrohttpd %s).",
                                       addr->text, origin, sym_MHD_get_version());
        }
        info = sym_MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info || info->epoll_fd < 0)
                return log_error_errno(-EIO,
                                       "libmicrohttpd %s gives no epoll fd: cannot serve HTTP on the loop.",
                                       sym_MHD_get_version());

        r = sd_event_add_io(e, &s->io, info->epoll_fd, EPOLLIN, on_io, s);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &s->timer, CLOCK_MONOTONIC, USEC_PER_SEC, 0, on_timer, s);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the HTTP endpoint: %m");
        /* Below the tick, PSI and events sources: when both are ready, the sample goes first. */
        (void)sd_event_source_set_priority(s->io, SD_EVENT_PRIORITY_NORMAL + 5);
        (void)sd_event_source_set_priority(s->timer, SD_EVENT_PRIORITY_NORMAL + 5);
        (void)sd_event_source_set_description(s->io, "http");
        run_mhd(s);

        log_info("Serving http://%s/metrics, /livez, /readyz and /status.", addr->text);
        *ret = TAKE_PTR(s);
        return 0;
}

HttpServer *http_server_free(HttpServer *s)
{
        if (!s)
                return NULL;
        s->io = sd_event_source_disable_unref(s->io);
        s->timer = sd_event_source_disable_unref(s->timer);
        if (s->mhd)
                sym_MHD_stop_daemon(s->mhd); /* closes the connections and the listening socket */
        free(s);
        return NULL;
}

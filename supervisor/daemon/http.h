/* SPDX-License-Identifier: MIT */
/*
 * The HTTP endpoint (--listen): GET /metrics, /livez, /readyz and /status, served by GNU
 * libmicrohttpd on the supervisor's sd-event loop, without threads. MHD runs in its external epoll
 * mode: sd-event watches MHD's epoll fd and calls MHD_run() when it is readable, and a timer follows
 * MHD_get_timeout() so idle connections are timed out. Every call is non-blocking, and the source runs
 * below the tick's priority, so no client can delay a sample: connections, the time a connection may
 * sit idle and the memory a request's headers may take are bounded below.
 *
 * The server knows no figures: it asks its callbacks for each document.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "listen-addr.h"
#include "macro.h"
#include "metrics.h"

#define HTTP_CONNECTIONS_MAX   32          /* more wait in the backlog, or are refused */
#define HTTP_BACKLOG           16          /* listen(2) backlog */
#define HTTP_IDLE_TIMEOUT_SEC  5           /* a connection silent this long is closed */
#define HTTP_CONNECTION_MEMORY (32 * 1024) /* per connection: request line and headers; beyond: 431 */

typedef struct HttpCallbacks {
        /* The metrics document in fmt (malloc'd), its length in *ret_len; NULL on OOM. */
        char *(*metrics)(void *userdata, MetricsFormat fmt, size_t *ret_len);
        /* The `oomless status --json` document (malloc'd); NULL on OOM. */
        char *(*status)(void *userdata);
        /* false while not ready (a stage that declares "ready": false, attach still waiting for its
         * target); then why (size bytes) says so in one line, the body of the 503. */
        bool (*ready)(void *userdata, char *why, size_t size);
        void *userdata;
} HttpCallbacks;

typedef struct HttpServer HttpServer;

/* Loads libmicrohttpd, binds addr (origin names where it was given, for the error: "--listen" or
 * "the policy's http.listen") and serves on e. Errors are logged, once, with the address and the way
 * out. */
int http_server_new(sd_event *e, const ListenAddr *addr, const char *origin, const HttpCallbacks *cb,
                    HttpServer **ret);
/* Closes every connection and the socket. NULL-safe. */
HttpServer *http_server_free(HttpServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpServer *, http_server_free)

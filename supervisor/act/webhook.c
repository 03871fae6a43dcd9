/* SPDX-License-Identifier: MIT */
/* libcurl multi on sd-event: sockets and curl's timer become event sources, each finished transfer is
 * classified, retried with backoff or reported. See webhook.h for the model. libcurl is not linked:
 * every call goes through the sym_ table of curl-dl.h, loaded by the first webhook_new(). */
#define _GNU_SOURCE
#include "webhook.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "curl-dl.h"
#include "log.h"
#include "time-util.h"

typedef struct WebhookJob WebhookJob;

struct Webhook {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        size_t queue_max;
        size_t pending;
        WebhookJob *jobs; /* every job not yet reported, in flight or waiting to retry */
        bool freeing;
};

struct WebhookJob {
        WebhookJob *prev, *next;
        Webhook *w;
        CURL *easy;
        struct curl_slist *headers;
        sd_event_source *retry_timer;
        unsigned attempts, retries;
        uint64_t backoff_usec, backoff_max_usec;
        uint64_t started_usec;
        webhook_done_t done;
        void *userdata;
        char *answer; /* answer_max + 1 bytes when the caller wants the answer's body */
        size_t answer_size, answer_max;
        char errbuf[CURL_ERROR_SIZE];
};

/* clang-format off */
DEFINE_STRING_TABLE_TO_STRING(webhook_error_class, WebhookErrorClass, _WEBHOOK_ERR_MAX,
                              [WEBHOOK_OK] = "ok",
                              [WEBHOOK_ERR_TIMEOUT] = "timeout",
                              [WEBHOOK_ERR_CONNECT] = "connect",
                              [WEBHOOK_ERR_TLS] = "tls",
                              [WEBHOOK_ERR_HTTP] = "http",
                              [WEBHOOK_ERR_OTHER] = "other")
/* clang-format on */

static void job_free(WebhookJob *j)
{
        if (!j)
                return;
        if (j->prev)
                j->prev->next = j->next;
        else if (j->w && j->w->jobs == j)
                j->w->jobs = j->next;
        if (j->next)
                j->next->prev = j->prev;
        if (j->w)
                j->w->pending--;
        j->retry_timer = sd_event_source_disable_unref(j->retry_timer);
        if (j->easy)
                sym_curl_easy_cleanup(j->easy);
        sym_curl_slist_free_all(j->headers);
        free(j->answer);
        free(j);
}

static void process_done(Webhook *w);

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Webhook *w = userdata;
        int action = 0, running;

        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;
        (void)sym_curl_multi_socket_action(w->multi, fd, action, &running);
        process_done(w);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Webhook *w = userdata;
        int running;

        (void)sym_curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        process_done(w);
        return 0;
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
        Webhook *w = userp;
        sd_event_source *src = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                if (src) {
                        sd_event_source_disable_unref(src);
                        (void)sym_curl_multi_assign(w->multi, s, NULL);
                }
                return 0;
        }
        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;

        if (src) {
                r = sd_event_source_set_io_events(src, events);
                if (r >= 0)
                        r = sd_event_source_set_enabled(src, SD_EVENT_ON);
        } else {
                r = sd_event_add_io(w->event, &src, s, events, on_io, w);
                if (r >= 0) {
                        (void)sd_event_source_set_description(src, "webhook-socket");
                        (void)sym_curl_multi_assign(w->multi, s, src);
                }
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to watch a webhook socket: %m");
                return -1; /* curl fails this transfer */
        }
        return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
        Webhook *w = userp;
        int r;

        if (timeout_ms < 0) {
                if (w->timer)
                        (void)sd_event_source_set_enabled(w->timer, SD_EVENT_OFF);
                return 0;
        }
        /* Never drive curl from inside its own callback: schedule, and let the loop call back. */
        if (!w->timer) {
                r = sd_event_add_time_relative(w->event, &w->timer, CLOCK_MONOTONIC,
                                               (uint64_t)timeout_ms * USEC_PER_MSEC, 1000, on_timer, w);
                if (r < 0)
                        return -1;
                (void)sd_event_source_set_description(w->timer, "webhook-timer");
                return 0;
        }
        r = sd_event_source_set_time_relative(w->timer, (uint64_t)timeout_ms * USEC_PER_MSEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(w->timer, SD_EVENT_ONESHOT);
        return r < 0 ? -1 : 0;
}

/* curl_multi_init() opens a wake-up socketpair without SOCK_CLOEXEC (libcurl 7.88), which would leak
 * into the workload spawned next: mark whatever fds it opened. */
#define FD_SCAN_MAX 1024
static CURLM *multi_init_cloexec(void)
{
        bool open_before[FD_SCAN_MAX];
        CURLM *m;

        for (int fd = 0; fd < FD_SCAN_MAX; fd++)
                open_before[fd] = fcntl(fd, F_GETFD) >= 0;
        m = sym_curl_multi_init();
        for (int fd = 3; m && fd < FD_SCAN_MAX; fd++) {
                int fl;
                if (open_before[fd] || (fl = fcntl(fd, F_GETFD)) < 0 || (fl & FD_CLOEXEC))
                        continue;
                (void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
        }
        return m;
}

int webhook_new(sd_event *e, size_t queue_max, Webhook **ret)
{
        Webhook *w;
        int r;

        /* The first webhook loads libcurl (see curl-dl.h); when it cannot, that was logged once and
         * every webhook fails with the same error. */
        r = curl_dl_load();
        if (r < 0)
                return r;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->event = sd_event_ref(e);
        w->queue_max = queue_max ? queue_max : WEBHOOK_QUEUE_MAX_DEFAULT;
        w->multi = multi_init_cloexec();
        if (!w->multi) {
                webhook_free(w);
                return -ENOMEM;
        }
        sym_curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
        sym_curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
        sym_curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
        sym_curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
        *ret = w;
        return 0;
}

/* The answer's body is kept only up to answer_max bytes (the Kubernetes API's answer names the object
 * it created); the rest is read and dropped, so a server cannot make us hold more. */
static size_t keep_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        WebhookJob *j = userdata;
        size_t n = size * nmemb;

        if (j->answer && j->answer_size < j->answer_max) {
                size_t k = MIN(n, j->answer_max - j->answer_size);
                memcpy(j->answer + j->answer_size, ptr, k);
                j->answer_size += k;
                j->answer[j->answer_size] = 0;
        }
        return n;
}

/* curl's sockets would otherwise leak into the workload we spawn next. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
        int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
        return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static WebhookErrorClass classify(CURLcode c)
{
        switch (c) {
        case CURLE_OK:
                return WEBHOOK_OK;
        case CURLE_OPERATION_TIMEDOUT:
                return WEBHOOK_ERR_TIMEOUT;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
                return WEBHOOK_ERR_CONNECT;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_USE_SSL_FAILED:
                return WEBHOOK_ERR_TLS;
        default:
                return WEBHOOK_ERR_OTHER;
        }
}

static int start_attempt(WebhookJob *j)
{
        CURLMcode mc;

        j->attempts++;
        j->errbuf[0] = 0;
        j->answer_size = 0;
        if (j->answer)
                j->answer[0] = 0;
        mc = sym_curl_multi_add_handle(j->w->multi, j->easy);
        if (mc != CURLM_OK)
                return log_warning_errno(-EIO, "Failed to start webhook request: %s",
                                         sym_curl_multi_strerror(mc));
        return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        WebhookJob *j = userdata;

        j->retry_timer = sd_event_source_disable_unref(j->retry_timer);
        if (start_attempt(j) < 0) {
                WebhookResult r = {
                        .error_class = WEBHOOK_ERR_OTHER,
                        .attempts = j->attempts,
                        .duration_usec = now_usec(CLOCK_MONOTONIC) - j->started_usec,
                };
                webhook_done_t done = j->done;
                void *ud = j->userdata;
                snprintf(r.message, sizeof(r.message), "could not start attempt %u", j->attempts);
                job_free(j);
                if (done)
                        done(&r, ud);
        }
        return 0;
}

static void finish(WebhookJob *j, CURLcode code)
{
        WebhookResult r = { .curl_code = code, .attempts = j->attempts };
        bool retryable;
        long status = 0;

        (void)sym_curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
        r.http_status = status;
        r.error_class = classify(code);
        if (r.error_class == WEBHOOK_OK && (status < 200 || status > 299)) {
                r.error_class = WEBHOOK_ERR_HTTP;
                snprintf(r.message, sizeof(r.message), "HTTP status %ld", status);
        } else if (r.error_class != WEBHOOK_OK)
                snprintf(r.message, sizeof(r.message), "%s",
                         j->errbuf[0] ? j->errbuf : sym_curl_easy_strerror(code));

        retryable = IN_SET(r.error_class, WEBHOOK_ERR_TIMEOUT, WEBHOOK_ERR_CONNECT, WEBHOOK_ERR_OTHER) ||
                    (r.error_class == WEBHOOK_ERR_HTTP && (status >= 500 || status == 408 || status == 429));

        if (r.error_class != WEBHOOK_OK && retryable && j->attempts <= j->retries) {
                uint64_t delay = j->backoff_usec;
                for (unsigned i = 1; i < j->attempts && delay < j->backoff_max_usec; i++)
                        delay *= 2;
                delay = MIN(delay, j->backoff_max_usec);
                log_debug("Webhook attempt %u failed (%s: %s), retrying in %" PRIu64 " ms.", j->attempts,
                          webhook_error_class_to_string(r.error_class), r.message, delay / USEC_PER_MSEC);
                if (sd_event_add_time_relative(j->w->event, &j->retry_timer, CLOCK_MONOTONIC, delay, 1000,
                                               on_retry, j) >= 0)
                        return;
        }

        r.duration_usec = now_usec(CLOCK_MONOTONIC) - j->started_usec;
        webhook_done_t done = j->done;
        void *ud = j->userdata;
        /* The answer outlives the job until the callback returned. */
        _cleanup_free_ char *answer = TAKE_PTR(j->answer);
        r.answer = answer;
        r.answer_size = answer ? j->answer_size : 0;
        job_free(j);
        if (done)
                done(&r, ud);
}

static void process_done(Webhook *w)
{
        CURLMsg *m;
        int left;

        while ((m = sym_curl_multi_info_read(w->multi, &left))) {
                WebhookJob *j = NULL;
                CURLcode code;

                if (m->msg != CURLMSG_DONE)
                        continue;
                code = m->data.result;
                (void)sym_curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
                (void)sym_curl_multi_remove_handle(w->multi, m->easy_handle);
                if (j)
                        finish(j, code);
        }
}

int webhook_post(Webhook *w, const WebhookRequest *req, webhook_done_t done, void *userdata)
{
        WebhookJob *j;
        int r;

        if (!req || !req->url || !req->body)
                return -EINVAL;
        if (strncasecmp(req->url, "http://", 7) != 0 && strncasecmp(req->url, "https://", 8) != 0)
                return -EINVAL;
        if (strlen(req->body) > WEBHOOK_BODY_MAX)
                return -E2BIG;
        if (w->pending >= w->queue_max)
                return -EBUSY;

        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->started_usec = now_usec(CLOCK_MONOTONIC);
        j->retries = MIN(req->retries, (unsigned)WEBHOOK_RETRIES_MAX);
        j->backoff_usec = req->backoff_usec ? req->backoff_usec : WEBHOOK_BACKOFF_DEFAULT;
        j->backoff_max_usec = MAX(
            req->backoff_max_usec ? req->backoff_max_usec : WEBHOOK_BACKOFF_MAX_DEFAULT, j->backoff_usec);
        j->done = done;
        j->userdata = userdata;
        j->easy = sym_curl_easy_init();
        if (req->answer_max > 0) {
                j->answer_max = MIN(req->answer_max, (size_t)WEBHOOK_BODY_MAX);
                j->answer = malloc(j->answer_max + 1);
                if (!j->answer) {
                        job_free(j);
                        return -ENOMEM;
                }
                j->answer[0] = 0;
        }
        char ct[128];
        if (req->content_type && (strlen(req->content_type) > 100 || strpbrk(req->content_type, "\r\n"))) {
                job_free(j); /* not queued yet (no j->w): frees the easy handle and the buffer */
                return -EINVAL;
        }
        snprintf(ct, sizeof(ct), "Content-Type: %s", req->content_type ?: "application/json");
        j->headers = sym_curl_slist_append(NULL, ct);
        if (j->headers)
                j->headers = sym_curl_slist_append(j->headers, "Expect:"); /* no 100-continue round trip */
        for (size_t i = 0; j->headers && req->headers && req->headers[i]; i++) {
                struct curl_slist *h = sym_curl_slist_append(j->headers, req->headers[i]);
                if (!h)
                        sym_curl_slist_free_all(TAKE_PTR(j->headers));
                j->headers = h;
        }
        if (!j->easy || !j->headers) {
                job_free(j);
                return -ENOMEM;
        }

        long timeout_ms =
            (long)((req->timeout_usec ? req->timeout_usec : WEBHOOK_TIMEOUT_DEFAULT) / USEC_PER_MSEC);
        CURLcode c = CURLE_OK;
#define SET(opt, val)                                                                                       \
        do {                                                                                                \
                if (c == CURLE_OK)                                                                          \
                        c = sym_curl_easy_setopt(j->easy, opt, val);                                        \
        } while (0)
        SET(CURLOPT_URL, req->url);
        SET(CURLOPT_COPYPOSTFIELDS, req->body);
        SET(CURLOPT_HTTPHEADER, j->headers);
        SET(CURLOPT_USERAGENT, "oomless/" OOMLESS_VERSION);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_TIMEOUT_MS, MAX(timeout_ms, 1L));
        SET(CURLOPT_CONNECTTIMEOUT_MS, MAX(timeout_ms, 1L));
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_SSL_VERIFYPEER, req->tls_insecure ? 0L : 1L);
        SET(CURLOPT_SSL_VERIFYHOST, req->tls_insecure ? 0L : 2L);
        if (req->method && !streq(req->method, "POST"))
                SET(CURLOPT_CUSTOMREQUEST, req->method);
        if (req->ca_file)
                SET(CURLOPT_CAINFO, req->ca_file);
        SET(CURLOPT_WRITEFUNCTION, keep_body);
        SET(CURLOPT_WRITEDATA, j);
        SET(CURLOPT_ERRORBUFFER, j->errbuf);
        SET(CURLOPT_PRIVATE, j);
        SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
#undef SET
        if (c != CURLE_OK) {
                log_warning("Failed to set up webhook request to %s: %s", req->url,
                            sym_curl_easy_strerror(c));
                job_free(j);
                return -EINVAL;
        }

        j->w = w;
        j->next = w->jobs;
        if (w->jobs)
                w->jobs->prev = j;
        w->jobs = j;
        w->pending++;

        r = start_attempt(j);
        if (r < 0) {
                job_free(j);
                return r;
        }
        return 0;
}

size_t webhook_pending(const Webhook *w)
{
        return w->pending;
}

Webhook *webhook_free(Webhook *w)
{
        if (!w)
                return NULL;
        w->freeing = true;
        while (w->jobs) {
                WebhookJob *j = w->jobs;
                if (!j->retry_timer)
                        (void)sym_curl_multi_remove_handle(w->multi, j->easy);
                job_free(j);
        }
        if (w->multi)
                sym_curl_multi_cleanup(w->multi);
        w->timer = sd_event_source_disable_unref(w->timer);
        sd_event_unref(w->event);
        free(w);
        return NULL;
}

/* SPDX-License-Identifier: MIT */
/* The webhook executor: the JSON event body, the request's headers (the bearer token read from its
 * file at every send) and its POST through the runner's Webhook (curl multi on the loop). The body's
 * fields are documented one by one in docs/policy.md ("The webhook payload"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runner-internal.h"
#include "strv.h"
#include "time-util.h"

/* Fields may be added within a version; one is bumped when a field goes or changes its meaning. */
#define WEBHOOK_PAYLOAD_VERSION 1
/* A bearer token is a line, not a document (service account tokens are about 1 KiB). */
#define BEARER_TOKEN_MAX 8192

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

char *executor_webhook_body(const ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *mem, *psi, *heap, *inst;
        char when[64], host[HOST_NAME_MAX + 1];
        uint64_t now = now_usec(CLOCK_REALTIME);
        time_t t = (time_t)(now / USEC_PER_SEC);
        struct tm tm;

        if (!o)
                return NULL;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

#define NUM(obj, key, v) cJSON_AddNumberToObject((obj), (key), (double)(v))
        cJSON_AddStringToObject(o, "event", "oomless.action");
        NUM(o, "version", WEBHOOK_PAYLOAD_VERSION);
        cJSON_AddStringToObject(o, "action", runner_kind_name(d->action->kind));
        cJSON_AddStringToObject(o, "when", runner_when_name(d->when));
        NUM(o, "stage", r->stage);
        cJSON_AddStringToObject(o, "stage_name", runner_stage_name(r, r->stage));
        NUM(o, "previous_stage", r->prev_stage);
        cJSON_AddStringToObject(o, "previous_stage_name", runner_stage_name(r, r->prev_stage));
        NUM(o, "action_stage", d->stage);
        cJSON_AddStringToObject(o, "policy", r->policy ? policy_name(r->policy) ?: "" : "");
        cJSON_AddBoolToObject(o, "dry_run", r->dry_run);
        cJSON_AddStringToObject(o, "leaf", runner_leaf(r));
        NUM(o, "pid", runner_main_pid(r));
        NUM(o, "supervisor_pid", getpid());
        if (gethostname(host, sizeof(host)) < 0)
                host[0] = 0;
        host[sizeof(host) - 1] = 0;
        cJSON_AddStringToObject(o, "host", host);
        if ((inst = cJSON_AddObjectToObject(o, "instance"))) {
                cJSON_AddStringToObject(inst, "id", r->instance_id);
                NUM(inst, "supervisor_pid", getpid());
        }
        if (r->command)
                cJSON_AddItemToObject(
                    o, "command",
                    cJSON_CreateStringArray((const char *const *)r->command, (int)strv_length(r->command)));
        else
                cJSON_AddNullToObject(o, "command");
        cJSON_AddStringToObject(o, "time", when);
        NUM(o, "time_usec", now);

        mem = cJSON_AddObjectToObject(o, "memory");
        if (mem) {
                NUM(mem, "current", s->current);
                if (s->limit == OOMLESS_NO_LIMIT)
                        cJSON_AddNullToObject(mem, "limit");
                else
                        NUM(mem, "limit", s->limit);
                if (s->high == OOMLESS_NO_LIMIT)
                        cJSON_AddNullToObject(mem, "high");
                else
                        NUM(mem, "high", s->high);
                NUM(mem, "peak", s->peak);
        }
        if (s->psi_valid && (psi = cJSON_AddObjectToObject(o, "psi"))) {
                NUM(psi, "some_avg10", s->psi_some.avg10);
                NUM(psi, "full_avg10", s->psi_full.avg10);
        } else
                cJSON_AddNullToObject(o, "psi");
        if (s->heap_valid && (heap = cJSON_AddObjectToObject(o, "heap"))) {
                NUM(heap, "held", s->heap_held);
                NUM(heap, "in_use", s->heap_in_use);
                NUM(heap, "cap", s->heap_cap);
                NUM(heap, "cap_hits", s->heap_cap_hits);
        } else
                cJSON_AddNullToObject(o, "heap");
#undef NUM
        return cJSON_PrintUnformatted(o);
}

/* The token in path, read now: a rotated token is used from the next send on. On failure *ret_error
 * says why, naming the file (the token itself never appears in a message). */
static int read_bearer_token(const char *path, char **ret, char *ret_error, size_t len)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        ssize_t n;
        size_t k;

        /* O_NONBLOCK: a FIFO planted at the path must not stall the loop. Links are followed on
         * purpose: Kubernetes mounts secrets through a ..data symlink that it swaps on rotation. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int e = errno;
                snprintf(ret_error, len, "cannot read the bearer token file %s: %s", path, strerror(e));
                return -e;
        }
        if (!S_ISREG(st.st_mode)) {
                snprintf(ret_error, len, "the bearer token file %s is not a regular file", path);
                return -EINVAL;
        }
        buf = malloc(BEARER_TOKEN_MAX + 1);
        if (!buf) {
                snprintf(ret_error, len, "out of memory reading the bearer token file %s", path);
                return -ENOMEM;
        }
        n = read(fd, buf, BEARER_TOKEN_MAX + 1);
        if (n < 0) {
                int e = errno;
                snprintf(ret_error, len, "cannot read the bearer token file %s: %s", path, strerror(e));
                return -e;
        }
        if (n > BEARER_TOKEN_MAX) {
                snprintf(ret_error, len, "the bearer token file %s is larger than %d bytes", path,
                         BEARER_TOKEN_MAX);
                return -EFBIG;
        }
        /* Files written by echo or editors end in a newline; it is not part of the token. */
        k = (size_t)n;
        while (k > 0 && strchr(" \t\r\n", buf[k - 1]))
                k--;
        buf[k] = 0;
        if (k == 0) {
                snprintf(ret_error, len, "the bearer token file %s is empty", path);
                return -ENODATA;
        }
        for (size_t i = 0; i < k; i++)
                if ((unsigned char)buf[i] < 0x21 || (unsigned char)buf[i] == 0x7f) {
                        snprintf(ret_error, len,
                                 "the bearer token file %s holds whitespace or control characters inside "
                                 "the token",
                                 path);
                        return -EINVAL;
                }
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The request's extra headers: the policy's, then the bearer token's. */
static int build_headers(const PolicyAction *a, char ***ret, char *ret_error, size_t len)
{
        _cleanup_strv_free_ char **h = NULL;
        _cleanup_free_ char *token = NULL;
        int q;

        if (a->headers && !(h = strv_copy(a->headers)))
                goto oom;
        if (a->bearer_token_file) {
                q = read_bearer_token(a->bearer_token_file, &token, ret_error, len);
                if (q < 0)
                        return q;
                if (strv_pushf(&h, "Authorization: Bearer %s", token) < 0)
                        goto oom;
                explicit_bzero(token, strlen(token));
        }
        *ret = TAKE_PTR(h);
        return 0;
oom:
        snprintf(ret_error, len, "out of memory");
        return -ENOMEM;
}

static void on_webhook_done(const WebhookResult *res, void *userdata)
{
        Pending *p = userdata;

        if (res->error_class == WEBHOOK_OK)
                PRECORD(p, "ok: HTTP %ld after %u attempt(s)", res->http_status, res->attempts);
        else
                PRECORD(p, "failed: %s after %u attempt(s): %s",
                        webhook_error_class_to_string(res->error_class), res->attempts, res->message);
        pending_done(p);
}

void executor_webhook(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        const PolicyAction *a = d->action;
        _cleanup_free_ char *body = NULL;
        _cleanup_strv_free_ char **headers = NULL;
        char error[ACTIONS_DETAIL_MAX];
        Pending *p;
        int q;

        if (r->dry_run) {
                RECORD(r, d, "would: would POST the event to %s", a->url ?: "?");
                return;
        }
        if (!r->webhook) {
                q = webhook_new(r->event, r->webhook_queue_max, &r->webhook);
                if (q < 0) {
                        RECORD(r, d, "failed: cannot set up HTTP: %s", strerror(-q));
                        return;
                }
        }
        body = executor_webhook_body(r, d, s);
        if (!body) {
                RECORD(r, d, "failed: out of memory");
                return;
        }
        q = build_headers(a, &headers, error, sizeof(error));
        if (q < 0) {
                RECORD(r, d, "failed: %s", error);
                return;
        }
        p = pending_start(r, d);
        if (!p)
                return;
        WebhookRequest req = {
                .headers = headers,
                .url = a->url,
                .body = body,
                .timeout_usec = a->timeout_usec,
                .retries = a->retries,
                .backoff_usec = a->backoff_usec,
                .tls_insecure = !a->tls_verify,
        };
        q = webhook_post(r->webhook, &req, on_webhook_done, p);
        /* curl keeps its own copy of the headers: the token is not left behind in freed memory. */
        if (a->bearer_token_file && headers && headers[0]) {
                char *last = headers[strv_length(headers) - 1];
                explicit_bzero(last, strlen(last));
        }
        if (q < 0) {
                pending_free(p);
                if (q == -EBUSY)
                        RECORD(r, d, "skipped: the webhook queue is full (%zu requests pending)",
                               webhook_pending(r->webhook));
                else
                        RECORD(r, d, "failed: cannot POST to %s: %s", a->url ?: "?", strerror(-q));
        }
}

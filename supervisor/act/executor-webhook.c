/* SPDX-License-Identifier: MIT */
/* The webhook executor: the JSON event body and its POST through the runner's Webhook (curl multi on
 * the loop). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runner-internal.h"
#include "time-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

char *executor_webhook_body(const ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *mem, *psi, *heap;
        char when[64];
        uint64_t now = now_usec(CLOCK_REALTIME);
        time_t t = (time_t)(now / USEC_PER_SEC);
        struct tm tm;

        if (!o)
                return NULL;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

#define NUM(obj, key, v) cJSON_AddNumberToObject((obj), (key), (double)(v))
        cJSON_AddStringToObject(o, "event", "oomless.action");
        NUM(o, "version", 1);
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
        p = pending_start(r, d);
        if (!p)
                return;
        WebhookRequest req = {
                .url = a->url,
                .body = body,
                .timeout_usec = a->timeout_usec,
                .retries = a->retries,
                .backoff_usec = a->backoff_usec,
                .tls_insecure = !a->tls_verify,
        };
        q = webhook_post(r->webhook, &req, on_webhook_done, p);
        if (q < 0) {
                pending_free(p);
                if (q == -EBUSY)
                        RECORD(r, d, "skipped: the webhook queue is full (%zu requests pending)",
                               webhook_pending(r->webhook));
                else
                        RECORD(r, d, "failed: cannot POST to %s: %s", a->url ?: "?", strerror(-q));
        }
}

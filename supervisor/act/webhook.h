/* SPDX-License-Identifier: MIT */
/*
 * Webhooks: HTTP POSTs of JSON through one libcurl multi handle driven by the sd-event loop
 * (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION), with a per-request timeout, retries with exponential
 * backoff, TLS verification unless the request turns it off, a bounded queue and an outcome callback.
 *
 * Threading and ownership: event-loop thread only, and nothing here blocks: connects, TLS and
 * transfers progress only when the loop reports the sockets ready, and name resolution uses curl's
 * threaded resolver. A Webhook owns its requests; webhook_free() drops the pending ones without
 * calling back, so callers may free their own state right after.
 *
 * Success is a 2xx status. Retried: timeouts, connection failures, and 408/429/5xx answers. Not
 * retried: TLS verification failures and other 4xx answers, which a retry cannot fix.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "macro.h"

#define WEBHOOK_QUEUE_MAX_DEFAULT   64
#define WEBHOOK_TIMEOUT_DEFAULT     (5 * USEC_PER_SEC)
#define WEBHOOK_BACKOFF_DEFAULT     (1 * USEC_PER_SEC)
#define WEBHOOK_BACKOFF_MAX_DEFAULT (60 * USEC_PER_SEC)
#define WEBHOOK_RETRIES_MAX         20
#define WEBHOOK_BODY_MAX            (64 * 1024)

typedef enum WebhookErrorClass {
        WEBHOOK_OK,
        WEBHOOK_ERR_TIMEOUT, /* no complete answer within the timeout */
        WEBHOOK_ERR_CONNECT, /* refused, unreachable, name not resolved */
        WEBHOOK_ERR_TLS,     /* handshake or certificate verification failed */
        WEBHOOK_ERR_HTTP,    /* an answer, but not 2xx */
        WEBHOOK_ERR_OTHER,
        _WEBHOOK_ERR_MAX,
} WebhookErrorClass;

const char *webhook_error_class_to_string(WebhookErrorClass c); /* "ok", "timeout", "connect", "tls", ... */

typedef struct WebhookRequest {
        const char *url;           /* http:// or https:// only */
        const char *body;          /* JSON text, at most WEBHOOK_BODY_MAX bytes */
        uint64_t timeout_usec;     /* per attempt; 0 = WEBHOOK_TIMEOUT_DEFAULT */
        unsigned retries;          /* extra attempts after the first, at most WEBHOOK_RETRIES_MAX */
        uint64_t backoff_usec;     /* delay before the first retry, doubled each time; 0 = default */
        uint64_t backoff_max_usec; /* cap of the delay; 0 = default */
        bool tls_insecure;         /* turn certificate and host verification off */
        char *const *headers;      /* extra "Name: value" lines, NULL-terminated; NULL for none */
        const char *method;        /* NULL: POST; else e.g. "PATCH" (the Kubernetes API) */
        const char *content_type;  /* NULL: application/json */
        const char *ca_file;       /* PEM bundle to verify the server with; NULL: the system's */
        size_t answer_max;         /* keep up to this many bytes of the answer for the callback; 0: none */
} WebhookRequest;

typedef struct WebhookResult {
        WebhookErrorClass error_class;
        long http_status; /* last status seen, 0 when none */
        unsigned attempts;
        int curl_code;          /* last CURLcode */
        uint64_t duration_usec; /* from webhook_post() to the outcome */
        char message[256];      /* human-readable reason of the last failure, "" on success */
        const char *answer;     /* the last answer's body (NUL-terminated, at most answer_max bytes, the
                                 * rest dropped) when answer_max was set, else NULL; valid only
                                 * during the callback */
        size_t answer_size;
} WebhookResult;

typedef struct Webhook Webhook;
typedef void (*webhook_done_t)(const WebhookResult *result, void *userdata);

/* The first call loads libcurl (curl-dl.h): -ELIBACC, -ELIBBAD or -EIO when it cannot, logged once. */
int webhook_new(sd_event *e, size_t queue_max, Webhook **ret);
/* Queues a POST. -EBUSY when queue_max requests are in flight or waiting to retry, -EINVAL for a bad
 * URL scheme or an oversized body. The callback runs once, from the loop, after the last attempt. */
int webhook_post(Webhook *w, const WebhookRequest *req, webhook_done_t done, void *userdata);
size_t webhook_pending(const Webhook *w);
Webhook *webhook_free(Webhook *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Webhook *, webhook_free)

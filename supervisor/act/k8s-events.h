/* SPDX-License-Identifier: MIT */
/*
 * Kubernetes Events and the pod condition, from inside the pod (--k8s-events, --k8s-condition; off by
 * default). Requests go through the Webhook machinery (webhook.h: libcurl multi on the sd-event loop),
 * so a slow or absent API server never blocks sampling, and nothing here ever stops the workload.
 *
 * Configuration comes from the pod (docs/kubernetes-events.md):
 *   KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT_HTTPS (or _PORT)  the API server;
 *   POD_NAME, POD_NAMESPACE, POD_UID, POD_CONTAINER   the Downward API (the namespace falls back to the
 *                                                      service account's namespace file);
 *   the service-account directory (K8S_SA_DIR_DEFAULT, or $OOMLESS_K8S_SA_DIR): token, re-read for
 *   every request because bound tokens rotate, and ca.crt, the only CA the server is checked against.
 *
 * Events (events.k8s.io/v1) regard the pod. A repeat of the same reason and action within
 * K8S_SERIES_WINDOW_USEC does not create a new Event: the first one's series {count,
 * lastObservedTime} is patched, as client-go does. Requests are rate-limited: one per series per
 * K8S_SERIES_MIN_INTERVAL_USEC (repeats in between are counted and sent with the next patch), and a
 * global bucket of K8S_BUCKET_BURST requests refilled one per K8S_BUCKET_REFILL_USEC; what the bucket
 * refuses is dropped. The condition K8S_CONDITION_TYPE is patched when its status, reason or message
 * changes, at most once per K8S_CONDITION_MIN_INTERVAL_USEC, always ending on the latest value.
 *
 * Event-loop thread only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "k8s-json.h"
#include "macro.h"

#define K8S_SA_DIR_DEFAULT              "/var/run/secrets/kubernetes.io/serviceaccount"
#define K8S_SA_DIR_ENV                  "OOMLESS_K8S_SA_DIR"
#define K8S_SERIES_WINDOW_USEC          (10 * 60 * USEC_PER_SEC)
#define K8S_SERIES_MIN_INTERVAL_USEC    (10 * USEC_PER_SEC)
#define K8S_BUCKET_BURST                20
#define K8S_BUCKET_REFILL_USEC          (3 * USEC_PER_SEC)
#define K8S_CONDITION_MIN_INTERVAL_USEC (1 * USEC_PER_SEC)
#define K8S_SERIES_MAX                  16 /* distinct (reason, action) pairs followed at once */

typedef struct K8sEventsOptions {
        bool events;             /* --k8s-events */
        bool condition;          /* --k8s-condition */
        const char *instance_id; /* reportingInstance is "<hostname>/<instance_id>" */
} K8sEventsOptions;

typedef struct K8sEvents K8sEvents;

/* Reads the configuration. When a piece is missing or bad, logs one error line saying which and how
 * to provide it, and returns -ENOKEY (or -ELIBACC etc. when libcurl cannot be loaded): the caller goes
 * on without. */
int k8s_events_new(sd_event *e, const K8sEventsOptions *o, K8sEvents **ret);
K8sEvents *k8s_events_free(K8sEvents *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(K8sEvents *, k8s_events_free)

/* One occurrence (NULL-safe, and a no-op without --k8s-events). */
void k8s_events_emit(K8sEvents *k, const K8sEvent *ev);
/* The condition's value now (NULL-safe, and a no-op without --k8s-condition). */
void k8s_events_set_condition(K8sEvents *k, bool status, const char *reason, const char *message);
/* Requests in flight. */
size_t k8s_events_pending(const K8sEvents *k);

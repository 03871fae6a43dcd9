/* SPDX-License-Identifier: MIT */
/*
 * The Kubernetes API's request bodies, built purely (no I/O, no clock: times are arguments), so that
 * tests/unit/test-k8s-json.c checks them against the API server's rules:
 *   - an events.k8s.io/v1 Event for create (POST): regarding the pod, reportingController
 *     K8S_REPORTING_CONTROLLER, eventTime in microseconds, metadata.generateName, action and reason
 *     cut to 128 bytes, note to 1 KiB (on a UTF-8 boundary), and never the deprecated* fields, which
 *     the server refuses on create;
 *   - the series of a repeat (a JSON merge patch, as client-go sends): count >= 2 and
 *     lastObservedTime;
 *   - the pod condition K8S_CONDITION_TYPE, as a strategic-merge patch of pods/status, whose
 *     conditions merge by type (a plain merge patch would replace the kubelet's conditions).
 * Each builder returns malloc()ed JSON text, or NULL when out of memory or given a value the API would
 * refuse (no pod name, a bad type).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define K8S_REPORTING_CONTROLLER "oomless.dev/supervisor"
#define K8S_CONDITION_TYPE       "oomless.dev/MemoryHealthy"
#define K8S_REASON_MAX           128  /* action and reason, each */
#define K8S_NOTE_MAX             1024 /* bytes of the note */
#define K8S_INSTANCE_MAX         128  /* reportingInstance */
#define K8S_NAME_MAX             253  /* a DNS subdomain */
#define K8S_MICROTIME_SIZE       32   /* "2026-11-29T11:40:00.123456Z" and its NUL */

typedef struct K8sPod {
        const char *name;      /* required */
        const char *namespace; /* required */
        const char *uid;       /* may be NULL */
        const char *container; /* may be NULL; else regarding.fieldPath spec.containers{NAME} */
} K8sPod;

typedef struct K8sEvent {
        bool warning;       /* type Warning, else Normal */
        const char *reason; /* CamelCase, e.g. "OOMKilled"; cut to K8S_REASON_MAX */
        const char *action; /* what was done or seen, e.g. "Restart"; cut to K8S_REASON_MAX */
        const char *note;   /* for people; cut to K8S_NOTE_MAX */
} K8sEvent;

/* realtime_usec (CLOCK_REALTIME) as a Kubernetes MicroTime, RFC 3339 in UTC with six digits. */
char *k8s_format_microtime(uint64_t realtime_usec, char buf[static K8S_MICROTIME_SIZE]);

/* The Event to POST to /apis/events.k8s.io/v1/namespaces/NS/events. */
char *k8s_event_create_json(const K8sPod *pod, const char *reporting_instance, const K8sEvent *ev,
                            uint64_t realtime_usec);
/* The merge patch of a repeat: {"series": {"count": count, "lastObservedTime": ...}}; NULL for
 * count < 2, which the server refuses. */
char *k8s_event_series_patch_json(uint64_t count, uint64_t realtime_usec);
/* The strategic-merge patch of pods/status that sets the condition. transition_usec is when its
 * status last changed. */
char *k8s_condition_patch_json(bool status, const char *reason, const char *message,
                               uint64_t transition_usec);

/* A name the API server accepts: a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.', each
 * label starting and ending alphanumeric, at most 253 bytes). */
bool k8s_name_valid(const char *s);
/* metadata.name from the server's answer to a create, copied into buf when it is a valid name:
 * 0, or -EBADMSG when the answer is not JSON or names nothing valid. */
int k8s_answer_name(const char *answer, char *buf, size_t size);

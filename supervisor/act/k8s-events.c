/* SPDX-License-Identifier: MIT */
/* Kubernetes Events and the pod condition on the sd-event loop: the configuration from the pod, the
 * series and rate limits, the requests through webhook.h. See k8s-events.h for the model. */
#define _GNU_SOURCE 1
#include "k8s-events.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "time-util.h"
#include "webhook.h"

#define K8S_TOKEN_MAX            (16 * 1024)
#define K8S_ANSWER_MAX           (16 * 1024) /* enough for an Event object; only metadata.name is read */
#define K8S_TIMEOUT              (5 * USEC_PER_SEC)
#define K8S_RETRIES              2
#define K8S_QUEUE_MAX            (K8S_SERIES_MAX + 2)
#define K8S_PATH_MAX             4096
#define K8S_CONDITION_RETRY_USEC (30 * USEC_PER_SEC)

typedef struct K8sSeries {
        bool used, in_flight;
        bool warning;
        char reason[K8S_REASON_MAX + 1], action[K8S_REASON_MAX + 1];
        char note[K8S_NOTE_MAX + 1];
        char name[K8S_NAME_MAX + 1]; /* the server's name for the Event, "" until created */
        uint64_t count;              /* occurrences in this series */
        uint64_t sent_count;         /* what the server has: 1 once created, then each patch's count */
        uint64_t last_observed_mono, last_observed_real, last_request_mono;
        K8sEvents *k;
} K8sSeries;

typedef struct K8sCondition {
        bool status;
        char reason[K8S_REASON_MAX + 1];
        char message[K8S_NOTE_MAX + 1];
} K8sCondition;

struct K8sEvents {
        sd_event *event;
        Webhook *webhook;
        sd_event_source *timer;
        K8sEventsOptions o;
        char *base_url; /* https://host:port */
        char *sa_dir, *token_path, *ca_path;
        char *pod_name, *namespace, *uid, *container;
        char instance[K8S_INSTANCE_MAX + 1];

        K8sSeries series[K8S_SERIES_MAX];

        bool cond_wanted, cond_sent_valid, cond_in_flight;
        K8sCondition cond, cond_sent;
        uint64_t cond_transition_real, cond_last_request_mono;

        double tokens; /* the global bucket */
        uint64_t tokens_at_mono;
        bool bucket_warned;
        bool failing; /* the last request failed: further failures log at debug until one works */
};

/* ---- configuration ---- */

static char *read_small_file(const char *path, size_t max, int *reterr)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        if (fd < 0) {
                *reterr = negative_errno();
                return NULL;
        }
        buf = malloc(max + 1);
        if (!buf) {
                *reterr = -ENOMEM;
                return NULL;
        }
        for (;;) {
                ssize_t k = read(fd, buf + n, max + 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        *reterr = negative_errno();
                        return NULL;
                }
                if (k == 0)
                        break;
                n += (size_t)k;
                if (n > max) {
                        *reterr = -EFBIG;
                        return NULL;
                }
        }
        while (n > 0 &&
               (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
                n--;
        buf[n] = 0;
        return TAKE_PTR(buf);
}

/* A token goes into a header line: refuse anything that could end it or start another. */
static bool token_valid(const char *t)
{
        if (!*t)
                return false;
        for (const char *p = t; *p; p++)
                if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                        return false;
        return true;
}

static bool host_valid(const char *h)
{
        return *h && strlen(h) < 256 &&
               strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") == strlen(h);
}

static bool port_valid(const char *p)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(p, &end, 10);
        return *p && !*end && !errno && v > 0 && v <= 65535;
}

static bool uid_valid(const char *u)
{
        return *u && strlen(u) <= 64 &&
               strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == strlen(u);
}

static const char *env(const char *name)
{
        const char *v = getenv(name);
        return v && *v ? v : NULL;
}

#define DOWNWARD_API_HINT                                                                                   \
        "set them in the container's env through the Downward API: "                                        \
        "{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}, likewise POD_NAMESPACE "      \
        "(metadata.namespace) and POD_UID (metadata.uid)"

/* Fills k from the environment and the service-account directory; one error line when it cannot. */
static int read_config(K8sEvents *k)
{
        const char *host = env("KUBERNETES_SERVICE_HOST");
        const char *port = env("KUBERNETES_SERVICE_PORT_HTTPS") ?: env("KUBERNETES_SERVICE_PORT");
        const char *name = env("POD_NAME"), *ns = env("POD_NAMESPACE"), *uid = env("POD_UID");
        const char *container = env("POD_CONTAINER");
        _cleanup_free_ char *ns_file = NULL, *ns_path = NULL, *token = NULL;
        char missing[512] = "", host_buf[300], hostname[65] = "";
        int r = 0;

#define MISSING(fmt, ...)                                                                                   \
        do {                                                                                                \
                size_t _l = strlen(missing);                                                                \
                snprintf(missing + _l, sizeof(missing) - _l, "%s" fmt, _l ? "; " : "", ##__VA_ARGS__);      \
        } while (0)

        k->sa_dir = strdup(secure_getenv(K8S_SA_DIR_ENV) ?: K8S_SA_DIR_DEFAULT);
        if (!k->sa_dir || asprintf(&k->token_path, "%s/token", k->sa_dir) < 0 ||
            asprintf(&k->ca_path, "%s/ca.crt", k->sa_dir) < 0 ||
            asprintf(&ns_path, "%s/namespace", k->sa_dir) < 0)
                return log_error_errno(-ENOMEM, "Out of memory");

        if (!host)
                MISSING("KUBERNETES_SERVICE_HOST is not set (the kubelet sets it in every container)");
        else if (!host_valid(host))
                MISSING("KUBERNETES_SERVICE_HOST '%s' is not a host name or address", host);
        if (!port)
                MISSING("KUBERNETES_SERVICE_PORT_HTTPS and KUBERNETES_SERVICE_PORT are not set");
        else if (!port_valid(port))
                MISSING("the API server's port '%s' is not a port number", port);
        if (!name)
                MISSING("POD_NAME is not set");
        else if (!k8s_name_valid(name))
                MISSING("POD_NAME '%s' is not a pod name", name);
        if (!ns) {
                ns_file = read_small_file(ns_path, 253, &r);
                ns = ns_file && *ns_file ? ns_file : NULL;
        }
        if (!ns)
                MISSING("POD_NAMESPACE is not set and %s cannot be read", ns_path);
        else if (!k8s_name_valid(ns))
                MISSING("the namespace '%s' is not a namespace name", ns);
        if (uid && !uid_valid(uid))
                MISSING("POD_UID '%s' is not a uid", uid);
        if (container && !k8s_name_valid(container))
                MISSING("POD_CONTAINER '%s' is not a container name", container);
        token = read_small_file(k->token_path, K8S_TOKEN_MAX, &r);
        if (!token || !token_valid(token))
                MISSING("the service-account token %s %s (automountServiceAccountToken must not be false)",
                        k->token_path, token ? "is not a token" : "cannot be read");
        if (access(k->ca_path, R_OK) < 0)
                MISSING("the API server's CA %s cannot be read", k->ca_path);
#undef MISSING

        if (*missing) {
                log_error("--k8s-events/--k8s-condition: %s. Going on without Kubernetes events and "
                          "conditions; %s.",
                          missing, DOWNWARD_API_HINT);
                return -ENOKEY;
        }
        if (!uid)
                log_warning("--k8s-events: POD_UID is not set, so `kubectl describe pod` will not list "
                            "oomless's events (they are still in `kubectl get events`); %s.",
                            DOWNWARD_API_HINT);

        if (strchr(host, ':'))
                snprintf(host_buf, sizeof(host_buf), "[%s]", host);
        else
                snprintf(host_buf, sizeof(host_buf), "%s", host);
        if (asprintf(&k->base_url, "https://%s:%s", host_buf, port) < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        k->pod_name = strdup(name);
        k->namespace = strdup(ns);
        k->uid = uid ? strdup(uid) : NULL;
        k->container = container ? strdup(container) : NULL;
        if (!k->pod_name || !k->namespace || (uid && !k->uid) || (container && !k->container))
                return log_error_errno(-ENOMEM, "Out of memory");
        if (gethostname(hostname, sizeof(hostname) - 1) < 0 || !*hostname)
                snprintf(hostname, sizeof(hostname), "%s", name);
        snprintf(k->instance, sizeof(k->instance), "%s/%s", hostname, k->o.instance_id ?: "oomless");
        return 0;
}

/* ---- requests ---- */

static bool bucket_take(K8sEvents *k, uint64_t now)
{
        if (now > k->tokens_at_mono) {
                k->tokens = MIN((double)K8S_BUCKET_BURST, k->tokens + (double)(now - k->tokens_at_mono) /
                                                                          (double)K8S_BUCKET_REFILL_USEC);
                k->tokens_at_mono = now;
        }
        if (k->tokens < 1.0) {
                if (!k->bucket_warned)
                        log_warning("Kubernetes events: more than %d requests in a row; dropping events "
                                    "until the rate falls below one per %" PRIu64 "s.",
                                    K8S_BUCKET_BURST, K8S_BUCKET_REFILL_USEC / USEC_PER_SEC);
                k->bucket_warned = true;
                return false;
        }
        k->tokens -= 1.0;
        k->bucket_warned = false;
        return true;
}

static void schedule(K8sEvents *k, uint64_t when);

static void note_result(K8sEvents *k, const char *what, const WebhookResult *res)
{
        if (res->error_class == WEBHOOK_OK) {
                if (k->failing)
                        log_info("Kubernetes API: %s worked again.", what);
                k->failing = false;
                return;
        }
        if (!k->failing)
                log_warning("Kubernetes API: %s failed after %u attempt%s (%s: %s); Kubernetes events are "
                            "dropped until the API server answers (only this first failure is logged).",
                            what, res->attempts, res->attempts == 1 ? "" : "s",
                            webhook_error_class_to_string(res->error_class), res->message);
        else
                log_debug("Kubernetes API: %s failed (%s: %s).", what,
                          webhook_error_class_to_string(res->error_class), res->message);
        k->failing = true;
}

/* Sends method path body with the token read now. */
static int request(K8sEvents *k, const char *method, const char *path, const char *content_type,
                   const char *body, webhook_done_t done, void *userdata, size_t answer_max)
{
        _cleanup_free_ char *url = NULL, *auth = NULL, *token = NULL;
        int r = 0;

        /* Read on every request: bound tokens rotate (about hourly) and the kubelet replaces the file. */
        token = read_small_file(k->token_path, K8S_TOKEN_MAX, &r);
        if (!token || !token_valid(token)) {
                if (!k->failing)
                        log_warning("Kubernetes API: the service-account token %s %s; not sending.",
                                    k->token_path, token ? "is not a token" : "cannot be read");
                k->failing = true;
                return token ? -EBADMSG : r;
        }
        if (asprintf(&url, "%s%s", k->base_url, path) < 0 ||
            asprintf(&auth, "Authorization: Bearer %s", token) < 0)
                return -ENOMEM;
        char *headers[] = { auth, "Accept: application/json", NULL };
        r = webhook_post(k->webhook,
                         &(WebhookRequest){ .url = url,
                                            .body = body,
                                            .timeout_usec = K8S_TIMEOUT,
                                            .retries = K8S_RETRIES,
                                            .headers = headers,
                                            .method = method,
                                            .content_type = content_type,
                                            .ca_file = k->ca_path,
                                            .answer_max = answer_max },
                         done, userdata);
        explicit_bzero(auth, strlen(auth));
        explicit_bzero(token, strlen(token));
        if (r < 0)
                log_debug_errno(r, "Kubernetes API: cannot queue %s %s: %m", method, path);
        return r;
}

/* ---- events and their series ---- */

static void series_reset(K8sSeries *s)
{
        K8sEvents *k = s->k;
        uint64_t last_request = s->last_request_mono;

        *s = (K8sSeries){ .k = k, .last_request_mono = last_request };
}

static void series_pump(K8sSeries *s, uint64_t now);

static void on_series_done(const WebhookResult *res, void *userdata)
{
        K8sSeries *s = userdata;
        K8sEvents *k = s->k;
        bool create = !*s->name;

        s->in_flight = false;
        note_result(k, create ? "creating an Event" : "patching an Event's series", res);
        if (res->error_class != WEBHOOK_OK) {
                /* Dropped: the next occurrence starts a new Event (a patch may have failed because the
                 * Event expired, which a new one mends). */
                series_reset(s);
                return;
        }
        if (create) {
                if (k8s_answer_name(res->answer, s->name, sizeof(s->name)) < 0) {
                        log_debug("Kubernetes API: the answer to a create names no Event; its repeats "
                                  "will create a new one.");
                        series_reset(s);
                        return;
                }
                s->sent_count = 1;
        }
        series_pump(s, now_usec(CLOCK_MONOTONIC));
}

static void series_pump(K8sSeries *s, uint64_t now)
{
        K8sEvents *k = s->k;
        _cleanup_free_ char *body = NULL;
        char path[K8S_PATH_MAX];
        bool create = !*s->name;
        int r;

        if (!s->used || s->in_flight || (!create && s->count <= s->sent_count))
                return;
        if (s->last_request_mono && now < s->last_request_mono + K8S_SERIES_MIN_INTERVAL_USEC) {
                schedule(k, s->last_request_mono + K8S_SERIES_MIN_INTERVAL_USEC);
                return;
        }
        if (!bucket_take(k, now)) {
                if (create)
                        series_reset(s); /* dropped; counted occurrences of a created one wait */
                else
                        schedule(k, now + K8S_BUCKET_REFILL_USEC);
                return;
        }
        if (create) {
                snprintf(path, sizeof(path), "/apis/events.k8s.io/v1/namespaces/%s/events", k->namespace);
                body = k8s_event_create_json(
                    &(K8sPod){ .name = k->pod_name,
                               .namespace = k->namespace,
                               .uid = k->uid,
                               .container = k->container },
                    k->instance,
                    &(K8sEvent){
                        .warning = s->warning, .reason = s->reason, .action = s->action, .note = s->note },
                    s->last_observed_real);
        } else {
                snprintf(path, sizeof(path), "/apis/events.k8s.io/v1/namespaces/%s/events/%s", k->namespace,
                         s->name);
                body = k8s_event_series_patch_json(s->count, s->last_observed_real);
        }
        if (!body) {
                series_reset(s);
                return;
        }
        s->last_request_mono = now;
        r = request(k, create ? "POST" : "PATCH", path,
                    create ? "application/json" : "application/merge-patch+json", body, on_series_done, s,
                    create ? K8S_ANSWER_MAX : 0);
        if (r < 0) {
                series_reset(s);
                return;
        }
        s->in_flight = true;
        if (!create)
                s->sent_count = s->count;
}

void k8s_events_emit(K8sEvents *k, const K8sEvent *ev)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        K8sSeries *s = NULL, *free_slot = NULL, *oldest = NULL;

        if (!k || !k->o.events || !ev || !ev->reason || !ev->action)
                return;
        for (size_t i = 0; i < K8S_SERIES_MAX; i++) {
                K8sSeries *c = &k->series[i];
                if (!c->used) {
                        if (!free_slot)
                                free_slot = c;
                        continue;
                }
                if (c->warning == ev->warning && strneq(c->reason, ev->reason, K8S_REASON_MAX) &&
                    strneq(c->action, ev->action, K8S_REASON_MAX)) {
                        s = c;
                        break;
                }
                if (!c->in_flight && (!oldest || c->last_observed_mono < oldest->last_observed_mono))
                        oldest = c;
        }
        /* An old series is over: a repeat long after starts a new Event, as client-go does. */
        if (s && !s->in_flight && now - s->last_observed_mono > K8S_SERIES_WINDOW_USEC)
                series_reset(s);
        if (!s || !s->used) {
                if (!s)
                        s = free_slot ?: oldest;
                if (!s) {
                        log_debug("Kubernetes events: every series slot is busy, dropping %s.", ev->reason);
                        return;
                }
                if (s != free_slot && s->used)
                        *s = (K8sSeries){ .k = k };
                s->used = true;
                s->warning = ev->warning;
                snprintf(s->reason, sizeof(s->reason), "%s", ev->reason);
                snprintf(s->action, sizeof(s->action), "%s", ev->action);
                snprintf(s->note, sizeof(s->note), "%s", ev->note ?: "");
        }
        s->count++;
        s->last_observed_mono = now;
        s->last_observed_real = now_usec(CLOCK_REALTIME);
        series_pump(s, now);
}

/* ---- the pod condition ---- */

static void condition_pump(K8sEvents *k, uint64_t now);

static void on_condition_done(const WebhookResult *res, void *userdata)
{
        K8sEvents *k = userdata;

        k->cond_in_flight = false;
        note_result(k, "patching the pod's condition", res);
        /* Sent again, but not before K8S_CONDITION_RETRY_USEC: a down API server gets no stream. */
        if (res->error_class != WEBHOOK_OK) {
                k->cond_sent_valid = false;
                k->cond_last_request_mono =
                    now_usec(CLOCK_MONOTONIC) + K8S_CONDITION_RETRY_USEC - K8S_CONDITION_MIN_INTERVAL_USEC;
        }
        condition_pump(k, now_usec(CLOCK_MONOTONIC));
}

static bool condition_same(const K8sCondition *a, const K8sCondition *b)
{
        return a->status == b->status && streq(a->reason, b->reason) && streq(a->message, b->message);
}

static void condition_pump(K8sEvents *k, uint64_t now)
{
        _cleanup_free_ char *body = NULL;
        char path[K8S_PATH_MAX];

        if (!k->cond_wanted || k->cond_in_flight ||
            (k->cond_sent_valid && condition_same(&k->cond, &k->cond_sent)))
                return;
        if (k->cond_last_request_mono && now < k->cond_last_request_mono + K8S_CONDITION_MIN_INTERVAL_USEC) {
                schedule(k, k->cond_last_request_mono + K8S_CONDITION_MIN_INTERVAL_USEC);
                return;
        }
        if (!bucket_take(k, now)) {
                schedule(k, now + K8S_BUCKET_REFILL_USEC);
                return;
        }
        body = k8s_condition_patch_json(k->cond.status, k->cond.reason, k->cond.message,
                                        k->cond_transition_real);
        if (!body)
                return;
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", k->namespace, k->pod_name);
        k->cond_last_request_mono = now;
        if (request(k, "PATCH", path, "application/strategic-merge-patch+json", body, on_condition_done, k,
                    0) < 0)
                return;
        k->cond_in_flight = true;
        k->cond_sent = k->cond;
        k->cond_sent_valid = true;
}

void k8s_events_set_condition(K8sEvents *k, bool status, const char *reason, const char *message)
{
        if (!k || !k->o.condition)
                return;
        if (!k->cond_wanted || k->cond.status != status)
                k->cond_transition_real = now_usec(CLOCK_REALTIME);
        k->cond_wanted = true;
        k->cond.status = status;
        snprintf(k->cond.reason, sizeof(k->cond.reason), "%s", reason ?: "");
        snprintf(k->cond.message, sizeof(k->cond.message), "%s", message ?: "");
        condition_pump(k, now_usec(CLOCK_MONOTONIC));
}

/* ---- the timer behind the rate limits ---- */

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
        K8sEvents *k = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < K8S_SERIES_MAX; i++)
                series_pump(&k->series[i], now);
        condition_pump(k, now);
        return 0;
}

static void schedule(K8sEvents *k, uint64_t when)
{
        int enabled = SD_EVENT_OFF, r;
        uint64_t cur;

        if (k->timer) {
                (void)sd_event_source_get_enabled(k->timer, &enabled);
                if (enabled != SD_EVENT_OFF && sd_event_source_get_time(k->timer, &cur) >= 0 && cur <= when)
                        return;
                r = sd_event_source_set_time(k->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(k->timer, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(k->event, &k->timer, CLOCK_MONOTONIC, when, 100 * USEC_PER_MSEC,
                                      on_timer, k);
                if (r >= 0)
                        (void)sd_event_source_set_description(k->timer, "k8s-events-timer");
        }
        if (r < 0)
                log_debug_errno(r, "Kubernetes events: cannot arm the rate limit's timer: %m");
}

/* ---- life ---- */

int k8s_events_new(sd_event *e, const K8sEventsOptions *o, K8sEvents **ret)
{
        _cleanup_(k8s_events_freep) K8sEvents *k = NULL;
        int r;

        k = calloc(1, sizeof(*k));
        if (!k)
                return log_error_errno(-ENOMEM, "Out of memory");
        k->event = sd_event_ref(e);
        k->o = *o;
        k->tokens = K8S_BUCKET_BURST;
        k->tokens_at_mono = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < K8S_SERIES_MAX; i++)
                k->series[i].k = k;
        r = read_config(k);
        if (r < 0)
                return r;
        r = webhook_new(e, K8S_QUEUE_MAX, &k->webhook);
        if (r < 0)
                return log_error_errno(r, "--k8s-events/--k8s-condition: cannot set up HTTP requests (%m); "
                                          "going on without Kubernetes events and conditions.");
        log_info("Kubernetes: %s%s%s for pod %s/%s through %s.", o->events ? "events" : "",
                 o->events && o->condition ? " and " : "",
                 o->condition ? "condition " K8S_CONDITION_TYPE : "", k->namespace, k->pod_name,
                 k->base_url);
        *ret = TAKE_PTR(k);
        return 0;
}

K8sEvents *k8s_events_free(K8sEvents *k)
{
        if (!k)
                return NULL;
        k->webhook = webhook_free(k->webhook); /* drops pending requests without calling back */
        k->timer = sd_event_source_disable_unref(k->timer);
        sd_event_unref(k->event);
        free(k->base_url);
        free(k->sa_dir);
        free(k->token_path);
        free(k->ca_path);
        free(k->pod_name);
        free(k->namespace);
        free(k->uid);
        free(k->container);
        free(k);
        return NULL;
}

size_t k8s_events_pending(const K8sEvents *k)
{
        return k && k->webhook ? webhook_pending(k->webhook) : 0;
}

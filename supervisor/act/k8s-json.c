/* SPDX-License-Identifier: MIT */
/* The Kubernetes API's request bodies, as the API server validates them (k8s-json.h). */
#define _GNU_SOURCE 1
#include "k8s-json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "macro.h"

/* The server truncates generateName to 58 bytes before adding 5 random characters (the 63 of a
 * label); cut the pod's name so that its own prefix is what stays. */
#define K8S_GENERATE_NAME_BASE_MAX 57

char *k8s_format_microtime(uint64_t realtime_usec, char buf[static K8S_MICROTIME_SIZE])
{
        time_t sec = (time_t)(realtime_usec / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&sec, &tm))
                tm = (struct tm){ .tm_year = 70, .tm_mday = 1 };
        char tmp[96]; /* the compiler cannot know the fields' ranges */
        snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRIu64 "Z",
                 MIN(MAX(tm.tm_year + 1900, 0), 9999), tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, realtime_usec % USEC_PER_SEC);
        snprintf(buf, K8S_MICROTIME_SIZE, "%.*s", K8S_MICROTIME_SIZE - 1, tmp);
        return buf;
}

/* s cut to at most max bytes, never inside a UTF-8 sequence (the server counts bytes; a cut sequence
 * would make the JSON text invalid). */
static char *cut_utf8(const char *s, size_t max)
{
        size_t n = strlen(s);

        if (n > max) {
                n = max;
                while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
                        n--;
        }
        return strndup(s, n);
}

static bool add_cut(cJSON *o, const char *key, const char *value, size_t max)
{
        _cleanup_free_ char *v = cut_utf8(value, max);
        return v && cJSON_AddStringToObject(o, key, v);
}

static char *print_and_delete(cJSON *o, bool ok)
{
        char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        return s;
}

char *k8s_event_create_json(const K8sPod *pod, const char *reporting_instance, const K8sEvent *ev,
                            uint64_t realtime_usec)
{
        char t[K8S_MICROTIME_SIZE], gen[K8S_GENERATE_NAME_BASE_MAX + 2];
        cJSON *o, *meta, *reg;
        bool ok;

        if (!pod || !pod->name || !*pod->name || !pod->namespace || !*pod->namespace || !ev || !ev->reason ||
            !*ev->reason || !ev->action || !*ev->action || !reporting_instance || !*reporting_instance)
                return NULL;
        snprintf(gen, sizeof(gen), "%.*s-", K8S_GENERATE_NAME_BASE_MAX, pod->name);

        o = cJSON_CreateObject();
        if (!o)
                return NULL;
        ok =
            cJSON_AddStringToObject(o, "apiVersion", "events.k8s.io/v1") &&
            cJSON_AddStringToObject(o, "kind", "Event") && (meta = cJSON_AddObjectToObject(o, "metadata")) &&
            cJSON_AddStringToObject(meta, "generateName", gen) &&
            cJSON_AddStringToObject(meta, "namespace", pod->namespace) &&
            cJSON_AddStringToObject(o, "eventTime", k8s_format_microtime(realtime_usec, t)) &&
            cJSON_AddStringToObject(o, "reportingController", K8S_REPORTING_CONTROLLER) &&
            add_cut(o, "reportingInstance", reporting_instance, K8S_INSTANCE_MAX) &&
            add_cut(o, "action", ev->action, K8S_REASON_MAX) &&
            add_cut(o, "reason", ev->reason, K8S_REASON_MAX) &&
            add_cut(o, "note", ev->note ?: "", K8S_NOTE_MAX) &&
            cJSON_AddStringToObject(o, "type", ev->warning ? "Warning" : "Normal") &&
            (reg = cJSON_AddObjectToObject(o, "regarding")) &&
            cJSON_AddStringToObject(reg, "apiVersion", "v1") &&
            cJSON_AddStringToObject(reg, "kind", "Pod") && cJSON_AddStringToObject(reg, "name", pod->name) &&
            cJSON_AddStringToObject(reg, "namespace", pod->namespace);
        if (ok && pod->uid && *pod->uid)
                ok = cJSON_AddStringToObject(reg, "uid", pod->uid);
        if (ok && pod->container && *pod->container) {
                _cleanup_free_ char *fp = NULL;
                ok = asprintf(&fp, "spec.containers{%s}", pod->container) >= 0 &&
                     cJSON_AddStringToObject(reg, "fieldPath", fp);
        }
        return print_and_delete(o, ok);
}

char *k8s_event_series_patch_json(uint64_t count, uint64_t realtime_usec)
{
        char t[K8S_MICROTIME_SIZE];
        cJSON *o, *series;
        bool ok;

        if (count < 2)
                return NULL;
        o = cJSON_CreateObject();
        if (!o)
                return NULL;
        ok = (series = cJSON_AddObjectToObject(o, "series")) &&
             cJSON_AddNumberToObject(series, "count", (double)MIN(count, (uint64_t)INT32_MAX)) &&
             cJSON_AddStringToObject(series, "lastObservedTime", k8s_format_microtime(realtime_usec, t));
        return print_and_delete(o, ok);
}

char *k8s_condition_patch_json(bool status, const char *reason, const char *message,
                               uint64_t transition_usec)
{
        char t[K8S_MICROTIME_SIZE];
        cJSON *o, *st, *conds, *c;
        bool ok;

        o = cJSON_CreateObject();
        if (!o)
                return NULL;
        /* A condition's times are metav1.Time: whole seconds. */
        k8s_format_microtime(transition_usec, t);
        strcpy(t + 19, "Z");
        ok = (st = cJSON_AddObjectToObject(o, "status")) &&
             (conds = cJSON_AddArrayToObject(st, "conditions")) && (c = cJSON_CreateObject()) &&
             cJSON_AddItemToArray(conds, c) && cJSON_AddStringToObject(c, "type", K8S_CONDITION_TYPE) &&
             cJSON_AddStringToObject(c, "status", status ? "True" : "False") &&
             add_cut(c, "reason", reason ?: "", K8S_REASON_MAX) &&
             add_cut(c, "message", message ?: "", K8S_NOTE_MAX) &&
             cJSON_AddStringToObject(c, "lastTransitionTime", t);
        return print_and_delete(o, ok);
}

static bool is_alnum_lower(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool k8s_name_valid(const char *s)
{
        size_t n;

        if (!s)
                return false;
        n = strlen(s);
        if (n == 0 || n > K8S_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';
                if (c == '.' ? i == 0 || i == n - 1 || s[i - 1] == '.'
                             : !(is_alnum_lower(c) || (c == '-' && !edge)))
                        return false;
        }
        return true;
}

int k8s_answer_name(const char *answer, char *buf, size_t size)
{
        cJSON *o, *meta, *name;
        int r = -EBADMSG;

        if (!answer)
                return -EBADMSG;
        o = cJSON_Parse(answer);
        meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
        name = cJSON_GetObjectItemCaseSensitive(meta, "name");
        if (cJSON_IsString(name) && k8s_name_valid(name->valuestring) && strlen(name->valuestring) < size) {
                strcpy(buf, name->valuestring);
                r = 0;
        }
        cJSON_Delete(o);
        return r;
}

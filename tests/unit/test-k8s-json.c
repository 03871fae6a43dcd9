/* SPDX-License-Identifier: MIT */
/* The Kubernetes request bodies (act/k8s-json.c) against the API server's validation rules: fields
 * present and typed, lengths cut on UTF-8 boundaries, no deprecated* fields, series count >= 2, names
 * that are DNS subdomains. tests/k8s-events checks the same bodies with the python3-kubernetes
 * models, through the real binary. */
#include <cjson/cJSON.h>
#include <string.h>

#include "k8s-json.h"
#include "macro.h"
#include "test.h"

/* 2026-11-29T11:40:00.000123Z */
#define T0 (UINT64_C(1795952400) * 1000000 + 123)

static const char *str(const cJSON *o, const char *k)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

TEST(microtime)
{
        char b[K8S_MICROTIME_SIZE];
        ASSERT_STREQ(k8s_format_microtime(T0, b), "2026-11-29T11:40:00.000123Z");
        ASSERT_STREQ(k8s_format_microtime(0, b), "1970-01-01T00:00:00.000000Z");
        ASSERT_STREQ(k8s_format_microtime(999999, b), "1970-01-01T00:00:00.999999Z");
}

TEST(event_create)
{
        K8sPod pod = { .name = "web-7d4b9",
                       .namespace = "shop",
                       .uid = "0b6f1c2e-1111-4a2b-9c3d-000000000001",
                       .container = "app" };
        char *s = k8s_event_create_json(
            &pod, "web-7d4b9/abc",
            &(K8sEvent){ .warning = true, .reason = "OOMKilled", .action = "KernelOOMKill", .note = "n" },
            T0);
        ASSERT_TRUE(s);
        cJSON *o = cJSON_Parse(s);
        ASSERT_TRUE(o);
        ASSERT_STREQ(str(o, "apiVersion"), "events.k8s.io/v1");
        ASSERT_STREQ(str(o, "kind"), "Event");
        ASSERT_STREQ(str(o, "type"), "Warning");
        ASSERT_STREQ(str(o, "reason"), "OOMKilled");
        ASSERT_STREQ(str(o, "action"), "KernelOOMKill");
        ASSERT_STREQ(str(o, "note"), "n");
        ASSERT_STREQ(str(o, "eventTime"), "2026-11-29T11:40:00.000123Z");
        ASSERT_STREQ(str(o, "reportingController"), "oomless.dev/supervisor");
        ASSERT_STREQ(str(o, "reportingInstance"), "web-7d4b9/abc");
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
        ASSERT_STREQ(str(meta, "generateName"), "web-7d4b9-");
        ASSERT_STREQ(str(meta, "namespace"), "shop");
        ASSERT_TRUE(!cJSON_GetObjectItemCaseSensitive(meta, "name"));
        const cJSON *reg = cJSON_GetObjectItemCaseSensitive(o, "regarding");
        ASSERT_STREQ(str(reg, "apiVersion"), "v1");
        ASSERT_STREQ(str(reg, "kind"), "Pod");
        ASSERT_STREQ(str(reg, "name"), "web-7d4b9");
        ASSERT_STREQ(str(reg, "namespace"), "shop");
        ASSERT_STREQ(str(reg, "uid"), pod.uid);
        ASSERT_STREQ(str(reg, "fieldPath"), "spec.containers{app}");
        /* Refused on create by the server; series only on repeats (a patch). */
        static const char *const never[] = { "deprecatedFirstTimestamp",
                                             "deprecatedLastTimestamp",
                                             "deprecatedCount",
                                             "deprecatedSource",
                                             "series",
                                             "related" };
        for (size_t i = 0; i < ELEMENTSOF(never); i++)
                ASSERT_TRUE(!cJSON_GetObjectItemCaseSensitive(o, never[i]));
        cJSON_Delete(o);
        free(s);

        /* Normal, no uid, no container: no fieldPath. */
        s = k8s_event_create_json(&(K8sPod){ .name = "p", .namespace = "n" }, "h/i",
                                  &(K8sEvent){ .reason = "MemoryStageLeft", .action = "LeaveStage" }, T0);
        o = cJSON_Parse(s);
        ASSERT_STREQ(str(o, "type"), "Normal");
        ASSERT_STREQ(str(o, "note"), "");
        reg = cJSON_GetObjectItemCaseSensitive(o, "regarding");
        ASSERT_TRUE(!cJSON_GetObjectItemCaseSensitive(reg, "uid"));
        ASSERT_TRUE(!cJSON_GetObjectItemCaseSensitive(reg, "fieldPath"));
        cJSON_Delete(o);
        free(s);

        /* What the API requires is refused here rather than sent. */
        ASSERT_TRUE(!k8s_event_create_json(&(K8sPod){ .name = "p" }, "h",
                                           &(K8sEvent){ .reason = "R", .action = "A" }, T0));
        ASSERT_TRUE(!k8s_event_create_json(&(K8sPod){ .name = "p", .namespace = "n" }, "h",
                                           &(K8sEvent){ .reason = "", .action = "A" }, T0));
        ASSERT_TRUE(!k8s_event_create_json(&(K8sPod){ .name = "p", .namespace = "n" }, "",
                                           &(K8sEvent){ .reason = "R", .action = "A" }, T0));
}

TEST(event_lengths)
{
        char big[4000], reason[300];
        /* "é" is two bytes: a cut at an odd byte count would split one. */
        for (size_t i = 0; i + 2 < sizeof(big); i += 2)
                memcpy(big + i, "\xc3\xa9", 2);
        big[sizeof(big) - 2] = 0;
        memset(reason, 'R', sizeof(reason) - 1);
        reason[sizeof(reason) - 1] = 0;
        char long_pod[254];
        memset(long_pod, 'p', sizeof(long_pod) - 1);
        long_pod[sizeof(long_pod) - 1] = 0;

        char *s =
            k8s_event_create_json(&(K8sPod){ .name = long_pod, .namespace = "n" }, big,
                                  &(K8sEvent){ .reason = reason, .action = reason, .note = big + 1 }, T0);
        ASSERT_TRUE(s);
        cJSON *o = cJSON_Parse(s);
        ASSERT_TRUE(o); /* valid JSON: no sequence was cut in half */
        ASSERT_TRUE(strlen(str(o, "note")) <= K8S_NOTE_MAX);
        ASSERT_TRUE(strlen(str(o, "note")) >= K8S_NOTE_MAX - 1);
        ASSERT_EQ(strlen(str(o, "reason")), K8S_REASON_MAX);
        ASSERT_EQ(strlen(str(o, "action")), K8S_REASON_MAX);
        ASSERT_TRUE(strlen(str(o, "reportingInstance")) <= K8S_INSTANCE_MAX);
        /* The server keeps 58 bytes of a generateName; ours ends in '-' within that. */
        const char *gen = str(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "generateName");
        ASSERT_EQ(strlen(gen), 58);
        ASSERT_EQ(gen[57], '-');
        cJSON_Delete(o);
        free(s);
}

TEST(series_patch)
{
        ASSERT_TRUE(!k8s_event_series_patch_json(0, T0));
        ASSERT_TRUE(!k8s_event_series_patch_json(1, T0));
        char *s = k8s_event_series_patch_json(7, T0);
        ASSERT_STREQ(s, "{\"series\":{\"count\":7,\"lastObservedTime\":\"2026-11-29T11:40:00.000123Z\"}}");
        free(s);
}

TEST(condition_patch)
{
        char *s = k8s_condition_patch_json(false, "MemoryStageNotReady", "stage 2 (drain)", T0);
        ASSERT_STREQ(
            s, "{\"status\":{\"conditions\":[{\"type\":\"oomless.dev/MemoryHealthy\",\"status\":\"False\","
               "\"reason\":\"MemoryStageNotReady\",\"message\":\"stage 2 (drain)\","
               "\"lastTransitionTime\":\"2026-11-29T11:40:00Z\"}]}}");
        free(s);
        s = k8s_condition_patch_json(true, "MemoryNormal", "m", T0);
        ASSERT_TRUE(strstr(s, "\"status\":\"True\""));
        free(s);
}

TEST(names)
{
        ASSERT_TRUE(k8s_name_valid("web-7d4b9.18a2b3c4d5e6f7a8"));
        ASSERT_TRUE(k8s_name_valid("a"));
        ASSERT_TRUE(k8s_name_valid("0.a-b.c"));
        ASSERT_TRUE(!k8s_name_valid(""));
        ASSERT_TRUE(!k8s_name_valid("A"));
        ASSERT_TRUE(!k8s_name_valid("-a"));
        ASSERT_TRUE(!k8s_name_valid("a-"));
        ASSERT_TRUE(!k8s_name_valid("a.-b"));
        ASSERT_TRUE(!k8s_name_valid("a-.b"));
        ASSERT_TRUE(!k8s_name_valid("a..b"));
        ASSERT_TRUE(!k8s_name_valid(".a"));
        ASSERT_TRUE(!k8s_name_valid("a."));
        ASSERT_TRUE(!k8s_name_valid("a/b"));
        ASSERT_TRUE(!k8s_name_valid("a b"));
        char n[300];
        memset(n, 'a', sizeof(n) - 1);
        n[253] = 0;
        ASSERT_TRUE(k8s_name_valid(n));
        n[253] = 'a';
        n[254] = 0;
        ASSERT_TRUE(!k8s_name_valid(n));
}

TEST(answer_name)
{
        char b[K8S_NAME_MAX + 1];
        ASSERT_OK(
            k8s_answer_name("{\"metadata\":{\"name\":\"web-abcde\",\"namespace\":\"n\"}}", b, sizeof(b)));
        ASSERT_STREQ(b, "web-abcde");
        ASSERT_ERROR(k8s_answer_name(NULL, b, sizeof(b)), EBADMSG);
        ASSERT_ERROR(k8s_answer_name("", b, sizeof(b)), EBADMSG);
        ASSERT_ERROR(k8s_answer_name("{\"metadata\":{}}", b, sizeof(b)), EBADMSG);
        ASSERT_ERROR(k8s_answer_name("{\"metadata\":{\"name\":7}}", b, sizeof(b)), EBADMSG);
        /* A hostile answer cannot put a path into the next request's URL. */
        ASSERT_ERROR(k8s_answer_name("{\"metadata\":{\"name\":\"../../pods/x\"}}", b, sizeof(b)), EBADMSG);
        ASSERT_ERROR(k8s_answer_name("{\"metadata\":{\"name\":\"a?b=c\"}}", b, sizeof(b)), EBADMSG);
        ASSERT_ERROR(k8s_answer_name("{\"metadata\":{\"name\":\"abc\"}}", b, 3), EBADMSG);
}

TEST_MAIN()

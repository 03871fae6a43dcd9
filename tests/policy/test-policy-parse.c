/* SPDX-License-Identifier: MIT */
/* Parser and validator: every fixture under fixtures/invalid produces exactly the diagnostics in its
 * .expected file; every valid fixture and shipped example parses and round-trips byte for byte; limits
 * and accessors behave as documented. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "test.h"

static char *read_all(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "rbe");
        char *buf = NULL;
        size_t len = 0;

        if (!f)
                TEST_FAIL("%s: %s", path, strerror(errno));
        buf = malloc(4 * 1024 * 1024);
        ASSERT_TRUE(buf);
        len = fread(buf, 1, 4 * 1024 * 1024 - 1, f);
        fclose(f);
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return buf;
}

/* All diagnostics of parsing buf, one formatted line each, as `oomless check` prints them. */
static char *diag_text(const char *buf, size_t len, const char *name, int *ret_r)
{
        PolicyDiags d = { 0 };
        Policy *p = NULL;
        char *out = NULL;
        size_t outlen = 0;
        FILE *m = open_memstream(&out, &outlen);

        ASSERT_TRUE(m);
        *ret_r = policy_parse(buf, len, name, &p, &d);
        for (size_t i = 0; i < d.n; i++) {
                char *line = policy_diag_format(&d.items[i], name);
                ASSERT_TRUE(line);
                fprintf(m, "%s\n", line);
                free(line);
        }
        fclose(m);
        if (*ret_r == 0)
                ASSERT_TRUE(p && d.n == 0);
        else
                ASSERT_TRUE(!p && d.n > 0);
        policy_free(p);
        policy_diags_done(&d);
        return out;
}

static int json_files(const char *dir, struct dirent ***ret)
{
        int n = scandir(dir, ret, NULL, alphasort);
        if (n < 0)
                TEST_FAIL("%s: %s", dir, strerror(errno));
        return n;
}

static bool has_suffix(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

TEST(invalid_fixtures_give_exact_messages)
{
        struct dirent **ents;
        int n = json_files(FIXTURES "/invalid", &ents), checked = 0;

        for (int i = 0; i < n; i++) {
                const char *name = ents[i]->d_name;
                char path[4096], exp_path[4096];
                size_t len;
                int r;

                if (has_suffix(name, ".json")) {
                        snprintf(path, sizeof(path), "%s/invalid/%s", FIXTURES, name);
                        snprintf(exp_path, sizeof(exp_path), "%s/invalid/%.*s.expected", FIXTURES,
                                 (int)(strlen(name) - 5), name);
                        char *buf = read_all(path, &len);
                        char *expected = read_all(exp_path, NULL);
                        char *got = diag_text(buf, len, name, &r);

                        printf("  %s\n", name);
                        ASSERT_ERROR(r, EINVAL);
                        if (strcmp(got, expected) != 0)
                                TEST_FAIL("%s: diagnostics differ\n--- expected ---\n%s--- got ---\n%s",
                                          name, expected, got);
                        free(buf);
                        free(expected);
                        free(got);
                        checked++;
                }
                free(ents[i]);
        }
        free(ents);
        ASSERT_TRUE(checked >= 15);
}

/* Printing p, parsing that and printing again gives the same text. */
static void assert_prints_stably(const Policy *p)
{
        PolicyDiags d = { 0 };
        Policy *q = NULL;
        char *a = NULL, *b = NULL;

        ASSERT_OK(policy_to_json(p, &a));
        ASSERT_OK(policy_parse(a, strlen(a), "printed", &q, &d));
        ASSERT_OK(policy_to_json(q, &b));
        ASSERT_STREQ(a, b);
        free(a);
        free(b);
        policy_free(q);
        policy_diags_done(&d);
}

static void assert_round_trip(const char *path)
{
        PolicyDiags d = { 0 };
        Policy *p = NULL;
        size_t len;
        char *buf = read_all(path, &len);
        int r = policy_parse(buf, len, path, &p, &d);

        printf("  %s\n", path);
        if (r < 0) {
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "%s\n", policy_diag_format(&d.items[i], path));
                TEST_FAIL("%s does not parse", path);
        }
        assert_prints_stably(p);
        free(buf);
        policy_free(p);
        policy_diags_done(&d);
}

TEST(valid_fixtures_and_examples_round_trip)
{
        const char *dirs[] = { FIXTURES "/valid", EXAMPLES };
        int checked = 0;

        for (size_t k = 0; k < 2; k++) {
                struct dirent **ents;
                int n = json_files(dirs[k], &ents);
                for (int i = 0; i < n; i++) {
                        if (has_suffix(ents[i]->d_name, ".json") &&
                            !has_suffix(ents[i]->d_name, ".normalized.json")) {
                                char path[4096];
                                snprintf(path, sizeof(path), "%s/%s", dirs[k], ents[i]->d_name);
                                assert_round_trip(path);
                                checked++;
                        }
                        free(ents[i]);
                }
                free(ents);
        }
        ASSERT_TRUE(checked >= 6);
}

/* The normalized form fills every default; pin it so a changed default is a conscious decision. */
TEST(minimal_policy_normalizes_to_expected_defaults)
{
        PolicyDiags d = { 0 };
        Policy *p = NULL;
        char *out = NULL;
        size_t len;
        char *buf = read_all(FIXTURES "/valid/minimal.json", &len);
        char *expected = read_all(FIXTURES "/valid/minimal.normalized.json", NULL);

        ASSERT_OK(policy_parse(buf, len, "minimal.json", &p, &d));
        ASSERT_OK(policy_to_json(p, &out));
        ASSERT_STREQ(out, expected);
        ASSERT_U64_EQ(policy_sampling_interval_usec(p), 250000);
        ASSERT_EQ(policy_restart(p)->mode, POLICY_RESTART_ON_FAILURE);
        ASSERT_STREQ(policy_stage_name(p, 1), "stage1");
        ASSERT_STREQ(policy_stage_name(p, 0), "normal");
        ASSERT_TRUE(policy_stage_name(p, 2) == NULL);
        ASSERT_STREQ(policy_source(p), "minimal.json");
        free(out);
        free(buf);
        free(expected);
        policy_free(p);
}

TEST(default_policy)
{
        Policy *p = policy_default();

        ASSERT_TRUE(p);
        ASSERT_STREQ(policy_name(p), "default");
        ASSERT_STREQ(policy_source(p), "(built-in)");
        ASSERT_EQ(policy_stage_count(p), 3);
        ASSERT_STREQ(policy_stage_name(p, 1), "warn");
        ASSERT_STREQ(policy_stage_name(p, 2), "degrade");
        ASSERT_STREQ(policy_stage_name(p, 3), "restart");
        ASSERT_U64_EQ(policy_sampling_interval_usec(p), 100000);
        ASSERT_EQ(policy_dry_run(p), false);
        assert_prints_stably(p);
        policy_free(p);
}

/* Single quotes stand for double quotes, to keep inline policies readable. */
static char *q2d(const char *s)
{
        char *r = strdup(s);
        ASSERT_TRUE(r);
        for (char *c = r; *c; c++)
                if (*c == '\'')
                        *c = '"';
        return r;
}

static char *first_error(const char *json_sq)
{
        char *json = q2d(json_sq);
        PolicyDiags d = { 0 };
        Policy *p = NULL;
        char *line;

        ASSERT_ERROR(policy_parse(json, strlen(json), NULL, &p, &d), EINVAL);
        ASSERT_TRUE(d.n > 0);
        line = policy_diag_format(&d.items[0], NULL);
        policy_diags_done(&d);
        free(json);
        return line;
}

#define STAGE "{'enter':{'all':[{'memory':'>= 80%'}]},'exit':{'all':[{'memory':'< 70%'}]}}"

TEST(limits)
{
        char buf[16384], *e;
        size_t o;

        o = (size_t)snprintf(buf, sizeof(buf), "{'version':1,'stages':[");
        for (int i = 0; i < POLICY_STAGES_MAX + 1; i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? "," : "", STAGE);
        snprintf(buf + o, sizeof(buf) - o, "]}");
        e = first_error(buf);
        ASSERT_STREQ(e, "stages: a policy needs 1..16 stages, got 17");
        free(e);

        /* nine distinct PSI triggers */
        o = (size_t)snprintf(buf, sizeof(buf), "{'version':1,'stages':[{'enter':{'any':[");
        for (int i = 0; i < 9; i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s{'psi_trigger':'some %dms per 1s'}",
                                      i ? "," : "", 10 + i);
        snprintf(buf + o, sizeof(buf) - o, "]},'exit':{'all':[{'memory':'< 1%%'}]}}]}");
        e = first_error(buf);
        ASSERT_STREQ(
            e, "stages[0].enter.any[8]: more than 8 distinct PSI triggers (hint: reuse the same trigger "
               "strings across stages)");
        free(e);

        e = first_error(
            "{'version':1,'stages':[{'enter':{'all':[{'memory':'>= 80%'}]},'exit':{'all':[{'memory':'< "
            "70%'}]},'on_enter':[{'action':'exec','argv':['a','b','c','d','e','f','g','h','a','b','c','d','"
            "e','f','g','h','a','b','c','d','e','f','g','h','a','b','c','d','e','f','g','h','a','b','c','d',"
            "'e','f','g','h','a','b','c','d','e','f','g','h','a','b','c','d','e','f','g','h','a','b','c','d'"
            ",'e','f','g','h','x']}]}]}");
        ASSERT_STREQ(e, "stages[0].on_enter[0].argv: argv needs 1..64 entries, got 65");
        free(e);

        /* Size limit applies to the buffer, before any parsing. */
        {
                size_t big = POLICY_FILE_SIZE_MAX + 1;
                char *x = malloc(big);
                PolicyDiags d = { 0 };
                Policy *p = NULL;
                ASSERT_TRUE(x);
                memset(x, ' ', big);
                ASSERT_ERROR(policy_parse(x, big, NULL, &p, &d), EINVAL);
                ASSERT_EQ(d.n, 1);
                ASSERT_STREQ(d.items[0].message, "the policy is 1048577 bytes, above the limit of 1048576");
                policy_diags_done(&d);
                free(x);
        }

        /* Diagnostics are capped, the rest counted: 16 stages with 8 bad thresholds each. */
        {
                char *x = malloc(200000), *json;
                PolicyDiags d = { 0 };
                Policy *p = NULL;
                size_t k = (size_t)sprintf(x, "{'version':1,'stages':[");
                for (int i = 0; i < 16; i++) {
                        k += (size_t)sprintf(x + k, "%s{'enter':{'all':[", i ? "," : "");
                        for (int j = 0; j < 8; j++)
                                k += (size_t)sprintf(x + k, "%s{'memory':'>= %d%%'}", j ? "," : "", 101 + j);
                        k += (size_t)sprintf(x + k, "]},'exit':{'all':[{'memory':'< 1%%'}]}}");
                }
                sprintf(x + k, "]}");
                json = q2d(x);
                ASSERT_ERROR(policy_parse(json, strlen(json), NULL, &p, &d), EINVAL);
                ASSERT_EQ(d.n, POLICY_DIAGS_MAX);
                ASSERT_EQ(d.dropped, 16 * 8 - POLICY_DIAGS_MAX);
                ASSERT_STREQ(d.items[99].message, "memory 104% is above 100%");
                ASSERT_STREQ(d.items[99].path, "stages[12].enter.all[3]");
                policy_diags_done(&d);
                free(x);
                free(json);
        }
}

/* Lone UTF-16 surrogates are named (the fixtures lone-surrogate-*.json cover the messages); a valid
 * pair is accepted, and problems before them or broken escapes keep the generic message. */
TEST(surrogate_escapes)
{
        static const struct {
                const char *json, *error;
        } cases[] = {
                { "{'version':1,'description':'\\udbff\\udfff','stages':[" STAGE "]}", NULL },
                { "{'version':1,'description':'\\uD83D\\uDE00\\ude00','stages':[" STAGE "]}",
                  "1:41: invalid JSON string: \"\\ude00\" is a lone UTF-16 surrogate" },
                { "{'version':1,'description':'\\ud800\\ud800','stages':[]}",
                  "1:29: invalid JSON string: \"\\ud800\" is a lone UTF-16 surrogate, followed by "
                  "\"\\ud800\" "
                  "instead of a low one" },
                { "{'version':1 x,'description':'\\ud800'}", "1:14: syntax error at 'x'" },
                { "{'version':1,'description':'\\ud800\\udc'}", "1:29: syntax error at '\\'" },
                { "{'version':1,'description':'\\ud800\\", "1:29: syntax error at '\\'" },
                { "{'version':1,'description':'\\\\ud800','stages':[" STAGE "]}", NULL },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *json = q2d(cases[i].json), *e;
                PolicyDiags d = { 0 };
                Policy *p = NULL;
                int r = policy_parse(json, strlen(json), NULL, &p, &d);

                if (!cases[i].error) {
                        ASSERT_OK(r);
                        policy_free(p);
                } else {
                        ASSERT_ERROR(r, EINVAL);
                        ASSERT_EQ(d.n, 1);
                        e = policy_diag_format(&d.items[0], NULL);
                        if (strncmp(e, cases[i].error, strlen(cases[i].error)) != 0)
                                TEST_FAIL("case %zu: got %s, expected %s...", i, e, cases[i].error);
                        free(e);
                }
                policy_diags_done(&d);
                free(json);
        }
}

TEST(psi_triggers_are_deduplicated_and_exposed)
{
        char *json = q2d("{'version':1,'stages':["
                         "{'enter':{'all':[{'psi_trigger':'full 100ms per 1s'},{'memory':'>= "
                         "50%'}]},'exit':{'all':[{'memory':'< 40%'}]}},"
                         "{'enter':{'any':[{'psi_trigger':'full 0.1s/1000ms'},{'psi_trigger':'some 70ms per "
                         "2s','within':'5s'}]},'exit':{'all':[{'memory':'< 40%'}]}}]}");
        PolicyDiags d = { 0 };
        Policy *p = NULL;

        ASSERT_OK(policy_parse(json, strlen(json), NULL, &p, &d));
        ASSERT_EQ(policy_psi_trigger_count(p), 2);
        ASSERT_STREQ(policy_psi_trigger(p, 0)->arm, "full 100000 1000000");
        ASSERT_STREQ(policy_psi_trigger(p, 0)->text, "full 100ms per 1s");
        ASSERT_TRUE(policy_psi_trigger(p, 0)->full);
        ASSERT_STREQ(policy_psi_trigger(p, 1)->arm, "some 70000 2000000");
        ASSERT_U64_EQ(policy_psi_trigger(p, 1)->window_usec, 2000000);
        ASSERT_TRUE(policy_psi_trigger(p, 2) == NULL);
        policy_free(p);
        free(json);
}

TEST(action_defaults)
{
        char *json = q2d("{'version':1,'stages':[{'enter':{'all':[{'memory':'>= "
                         "50%'}]},'exit':{'all':[{'memory':'< 40%'}]},"
                         "'on_enter':[{'action':'webhook','url':'http://127.0.0.1:1/"
                         "x'},{'action':'restart','grace':'20s'},"
                         "{'action':'kill'},{'action':'dump','argv':['/bin/"
                         "true']},{'action':'signal','signal':'SIGUSR1'}]}]}");
        PolicyDiags d = { 0 };
        Policy *p = NULL;
        PolicyDecisions dec;
        PolicyState *s;
        OomlessSample x = { .current = 60, .limit = 100 };

        ASSERT_OK(policy_parse(json, strlen(json), NULL, &p, &d));
        s = policy_state_new(p, 0);
        policy_evaluate(p, s, &x, 1000, &dec, NULL);
        ASSERT_EQ(dec.n, 5);
        const PolicyAction *w = dec.items[0].action, *r = dec.items[1].action, *k = dec.items[2].action,
                           *du = dec.items[3].action, *sg = dec.items[4].action;
        ASSERT_EQ(w->kind, POLICY_ACTION_WEBHOOK);
        ASSERT_STREQ(w->url, "http://127.0.0.1:1/x");
        ASSERT_EQ(w->retries, 3);
        ASSERT_U64_EQ(w->backoff_usec, 1000000);
        ASSERT_TRUE(w->tls_verify);
        ASSERT_U64_EQ(w->timeout_usec, 5000000);
        ASSERT_EQ(r->stop_signal, 15);
        ASSERT_U64_EQ(r->grace_usec, 20000000);
        ASSERT_U64_EQ(r->timeout_usec, 25000000);
        ASSERT_EQ(k->kill_scope, POLICY_KILL_LEAF);
        ASSERT_EQ(k->kill_signal, 9);
        ASSERT_STREQ(du->argv[0], "/bin/true");
        ASSERT_TRUE(du->argv[1] == NULL);
        ASSERT_U64_EQ(du->headroom, 64 << 20);
        ASSERT_EQ(sg->signal, 10);
        ASSERT_EQ(sg->target, POLICY_TARGET_MAIN);
        ASSERT_STREQ(policy_action_kind_to_string(sg->kind), "signal");
        policy_state_free(s);
        policy_free(p);
        free(json);
}

TEST(diag_format)
{
        PolicyDiag syn = {
                .line = 3, .column = 7, .message = (char *)"syntax error at 'x'", .hint = (char *)"fix it"
        };
        PolicyDiag sem = { .path = (char *)"stages[1].enter", .message = (char *)"bad" };
        PolicyDiag root = { .path = (char *)"", .message = (char *)"the policy is empty" };
        char *a = policy_diag_format(&syn, "p.json"), *b = policy_diag_format(&sem, "p.json"),
             *c = policy_diag_format(&root, "p.json"), *e = policy_diag_format(&sem, NULL);

        ASSERT_STREQ(a, "p.json:3:7: syntax error at 'x' (hint: fix it)");
        ASSERT_STREQ(b, "p.json: stages[1].enter: bad");
        ASSERT_STREQ(c, "p.json: the policy is empty");
        ASSERT_STREQ(e, "stages[1].enter: bad");
        free(a);
        free(b);
        free(c);
        free(e);
}

TEST_MAIN()

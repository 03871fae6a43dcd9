/* SPDX-License-Identifier: MIT */
/*
 * The grammar of actions: {"action": KIND, "timeout": ..., KIND's own keys}. One table row per kind
 * gives its keys, its defaults and the function that reads its own keys; what every kind shares (the
 * kind itself, unknown keys, the timeout, placement) is handled once, in parse_action().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "macro.h"
#include "policy-grammar.h"
#include "policy-validate.h"
#include "strv.h"

static const char *const all_action_keys[] = {
        "action",      "timeout",           "signal",  "target",     "argv",
        "url",         "retries",           "backoff", "tls_verify", "amount",
        "memory_high", "stop_signal",       "grace",   "scope",      "headroom",
        "headers",     "bearer_token_file", "to",      "step",       "recover_every",
        NULL
};

/* Reports a key the kind cannot do without. */
static bool missing_key(Parser *ps, const char *path, const char *hint, const PolicyAction *a,
                        const char *key)
{
        json_error(ps, path, hint, "%s action needs \"%s\"", policy_action_kind_to_string(a->kind), key);
        return false;
}

/* An optional key naming one of names: its index goes to *ret, which keeps its default without it. */
static bool parse_optional_enum(Parser *ps, const cJSON *j, const char *path, const char *key,
                                const char *const *names, int *ret)
{
        const cJSON *x = json_get(j, key);
        char p[PATH_LEN];

        return !x || json_get_enum(ps, x, json_subpath(p, path, key), key, names, ret);
}

static bool parse_optional_signal(Parser *ps, const cJSON *j, const char *path, const char *key, int *ret)
{
        const cJSON *x = json_get(j, key);
        char p[PATH_LEN];

        return !x || json_get_signal(ps, x, json_subpath(p, path, key), ret);
}

static bool parse_argv(Parser *ps, const cJSON *j, const char *path, char ***ret)
{
        _cleanup_strv_free_ char **v = NULL;
        char p[PATH_LEN];
        size_t n, i = 0;

        if (!json_expect(
                ps, j, path, cJSON_IsArray,
                "write an argv array, e.g. [\"/usr/bin/logger\", \"memory high\"]; no shell is used",
                "expected an array of strings"))
                return false;
        n = (size_t)cJSON_GetArraySize(j);
        if (n == 0 || n > POLICY_ARGV_MAX) {
                json_error(ps, path, NULL, "argv needs 1..%d entries, got %zu", POLICY_ARGV_MAX, n);
                return false;
        }
        v = calloc(n + 1, sizeof(char *));
        if (!v)
                return parser_oom(ps);
        for (const cJSON *c = j->child; c; c = c->next, i++) {
                const char *s;

                if (!json_get_string(ps, c, json_subindex(p, path, i), &s))
                        return false;
                if (i == 0 && !*s) {
                        json_error(ps, p, "name the program to run", "argv[0] is empty");
                        return false;
                }
                if (!json_dup_string(ps, s, &v[i]))
                        return false;
        }
        *ret = TAKE_PTR(v);
        return true;
}

static bool parse_signal_action(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        static const char *const targets[] = { "main", "group", "leaf", NULL };
        int target = a->target;
        bool ok = json_get(j, "signal")
                      ? parse_optional_signal(ps, j, path, "signal", &a->signal)
                      : missing_key(ps, path, "add e.g. \"signal\": \"USR1\"", a, "signal");

        if (!parse_optional_enum(ps, j, path, "target", targets, &target))
                ok = false;
        a->target = target;
        return ok;
}

static bool parse_exec_action(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        char p[PATH_LEN];
        const cJSON *x;

        if (!(x = json_get(j, "argv")))
                return missing_key(ps, path, "add e.g. \"argv\": [\"/usr/local/bin/hook\", \"arg\"]", a,
                                   "argv");
        return parse_argv(ps, x, json_subpath(p, path, "argv"), &a->argv);
}

static bool parse_dump_action(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        bool ok = parse_exec_action(ps, j, path, a);
        char p[PATH_LEN];
        const cJSON *x;
        SizeSpec s;

        if (!(x = json_get(j, "headroom")))
                return ok;
        if (!json_get_size(ps, x, json_subpath(p, path, "headroom"), "headroom", false, &s))
                return false;
        if (s.bytes > (UINT64_C(1) << 40)) {
                json_error(ps, p, NULL, "headroom above 1T");
                return false;
        }
        a->headroom = s.bytes;
        return ok;
}

static bool parse_url(Parser *ps, const cJSON *j, const char *path, char **ret)
{
        const char *url;
        bool bad;

        if (!json_get_string(ps, j, path, &url))
                return false;
        bad = strlen(url) > 2048;
        for (const char *c = url; *c && !bad; c++)
                bad = (unsigned char)*c <= ' ' || *c == 0x7f;
        if (bad || (!strneq(url, "http://", 7) && !strneq(url, "https://", 8)) || strlen(url) <= 8) {
                json_error(ps, path, "use an http:// or https:// URL without spaces",
                           "invalid URL \"%.100s\"", url);
                return false;
        }
        return json_dup_string(ps, url, ret);
}

/* RFC 9110 token characters: what a header name may hold. */
static bool header_name_ok(const char *n)
{
        if (!*n || strlen(n) > 64)
                return false;
        for (const char *c = n; *c; c++)
                if (!isalnum((unsigned char)*c) && !strchr("!#$%&'*+-.^_`|~", *c))
                        return false;
        return true;
}

/* A value goes on one header line as it is: no control characters (CR/LF would start a new header). */
static bool header_value_ok(const char *v)
{
        if (strlen(v) > POLICY_HEADER_VALUE_MAX)
                return false;
        for (const char *c = v; *c; c++)
                if (((unsigned char)*c < ' ' && *c != '\t') || *c == 0x7f)
                        return false;
        return true;
}

static bool parse_headers(Parser *ps, const cJSON *j, const char *path, bool bearer, char ***ret)
{
        /* curl writes these from the request itself; a second copy would contradict it. */
        static const char *const reserved[] = { "Content-Length", "Transfer-Encoding", "Host",
                                                "Expect",         "Content-Type",      NULL };
        _cleanup_strv_free_ char **l = NULL;
        char p[PATH_LEN];
        size_t n = 0;

        if (!json_expect(ps, j, path, cJSON_IsObject,
                         "write an object of header names and values, e.g. {\"X-Team\": \"storage\"}",
                         "expected an object"))
                return false;
        for (const cJSON *c = j->child; c; c = c->next, n++) {
                const char *v;

                json_subpath(p, path, c->string);
                if (n >= POLICY_HEADERS_MAX) {
                        json_error(ps, path, NULL, "more than %d headers", POLICY_HEADERS_MAX);
                        return false;
                }
                if (!header_name_ok(c->string)) {
                        json_error(ps, p, "a header name is 1..64 letters, digits or !#$%&'*+-.^_`|~",
                                   "invalid header name \"%.64s\"", c->string);
                        return false;
                }
                for (size_t i = 0; reserved[i]; i++)
                        if (strcasecmp(c->string, reserved[i]) == 0) {
                                json_error(ps, p, "oomless sets it from the request itself",
                                           "header \"%s\" cannot be set", c->string);
                                return false;
                        }
                if (bearer && strcasecmp(c->string, "Authorization") == 0) {
                        json_error(ps, p, "drop it, or drop \"bearer_token_file\"",
                                   "\"Authorization\" and \"bearer_token_file\" both set the same header");
                        return false;
                }
                for (const cJSON *d = j->child; d != c; d = d->next)
                        if (strcasecmp(d->string, c->string) == 0) {
                                json_error(ps, p, "header names are case-insensitive",
                                           "header \"%s\" given twice", c->string);
                                return false;
                        }
                if (!json_get_string(ps, c, p, &v))
                        return false;
                if (!header_value_ok(v)) {
                        json_error(ps, p, "one line of at most 1024 bytes, without control characters",
                                   "invalid value of header \"%s\"", c->string);
                        return false;
                }
                if (strv_pushf(&l, "%s: %s", c->string, v) < 0)
                        return parser_oom(ps);
        }
        *ret = TAKE_PTR(l);
        return true;
}

static bool parse_webhook_action(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        char p[PATH_LEN];
        const cJSON *x;
        bool ok = true;
        uint64_t u;

        if (!(x = json_get(j, "url")))
                ok = missing_key(ps, path, "add e.g. \"url\": \"https://alerts.example/hook\"", a, "url");
        else if (!parse_url(ps, x, json_subpath(p, path, "url"), &a->url))
                ok = false;
        if ((x = json_get(j, "retries"))) {
                if (json_get_uint(ps, x, json_subpath(p, path, "retries"), 0, 10, &u))
                        a->retries = (unsigned)u;
                else
                        ok = false;
        }
        if ((x = json_get(j, "backoff"))) {
                if (!json_get_duration(ps, x, json_subpath(p, path, "backoff"), USEC_PER_MSEC,
                                       &a->backoff_usec))
                        ok = false;
                else if (!json_check_duration_max(ps, p, a->backoff_usec, 600 * USEC_PER_SEC,
                                                  "backoff too long"))
                        ok = false;
        }
        if ((x = json_get(j, "tls_verify")) &&
            !json_get_bool(ps, x, json_subpath(p, path, "tls_verify"), &a->tls_verify))
                ok = false;
        if ((x = json_get(j, "bearer_token_file"))) {
                const char *f;
                if (!json_get_string(ps, x, json_subpath(p, path, "bearer_token_file"), &f))
                        ok = false;
                else if (f[0] != '/') {
                        json_error(ps, p, "the token is read from it at every send; give its absolute path",
                                   "bearer_token_file \"%.100s\" is not an absolute path", f);
                        ok = false;
                } else if (!json_dup_string(ps, f, &a->bearer_token_file))
                        ok = false;
        }
        if ((x = json_get(j, "headers")) && !parse_headers(ps, x, json_subpath(p, path, "headers"),
                                                           json_get(j, "bearer_token_file"), &a->headers))
                ok = false;
        return ok;
}

/* A size the kind needs, absolute or % of the limit; an absolute one below min_bytes is reported as
 * too_small. */
static bool parse_required_size(Parser *ps, const cJSON *j, const char *path, const PolicyAction *a,
                                const char *key, const char *example, uint64_t min_bytes,
                                const char *too_small_hint, const char *too_small, SizeSpec *ret)
{
        const cJSON *x = json_get(j, key);
        char p[PATH_LEN];

        if (!x)
                return missing_key(ps, path, example, a, key);
        if (!json_get_size(ps, x, json_subpath(p, path, key), key, true, ret))
                return false;
        if (!ret->percent && ret->bytes < min_bytes) {
                json_error(ps, p, too_small_hint, "%s", too_small);
                return false;
        }
        return true;
}

static bool parse_reclaim_action(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        return parse_required_size(ps, j, path, a, "amount", "add e.g. \"amount\": \"10%\" or \"64M\"", 1,
                                   NULL, "amount must be above 0", &a->amount);
}

static bool parse_throttle_action(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        return parse_required_size(ps, j, path, a, "memory_high", "add e.g. \"memory_high\": \"90%\"",
                                   1 << 20, "memory.high below 1M would stall the workload",
                                   "memory_high too small", &a->memory_high);
}

static bool parse_restart_action(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        char p[PATH_LEN];
        const cJSON *x;
        bool ok = true;

        if (!parse_optional_signal(ps, j, path, "stop_signal", &a->stop_signal))
                ok = false;
        if ((x = json_get(j, "grace")) &&
            !json_get_duration(ps, x, json_subpath(p, path, "grace"), 0, &a->grace_usec))
                ok = false;
        return ok;
}

static bool parse_kill_action(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        static const char *const scopes[] = { "process", "group", "leaf", NULL };
        int scope = a->kill_scope;
        bool ok = parse_optional_enum(ps, j, path, "scope", scopes, &scope);

        a->kill_scope = scope;
        return parse_optional_signal(ps, j, path, "signal", &a->kill_signal) && ok;
}

/* A share of the app's normal size written as a percent ("40%", "12.5%"), in permille, 1..1000. */
static bool parse_permille(Parser *ps, const cJSON *x, const char *path, const char *what, uint32_t *ret)
{
        const char *str;
        SizeSpec sp;

        if (!json_get_string(ps, x, path, &str))
                return false;
        if (!json_parse_size(ps, str, path, what, true, false, &sp))
                return false;
        if (!sp.percent || sp.permyriad < 10) {
                json_error(ps, path, "write a percent of the app's normal size, e.g. \"40%\"",
                           "%s must be a percent from 1%% to 100%%", what);
                return false;
        }
        *ret = sp.permyriad / 10;
        return true;
}

static bool parse_shed_action(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        char p[PATH_LEN];
        const cJSON *x;
        bool ok = true;

        if (!(x = json_get(j, "to")))
                ok = missing_key(ps, path, "add e.g. \"to\": \"40%\"", a, "to");
        else if (!parse_permille(ps, x, json_subpath(p, path, "to"), "to", &a->shed_permille))
                ok = false;
        if ((x = json_get(j, "step")) &&
            !parse_permille(ps, x, json_subpath(p, path, "step"), "step", &a->step_permille))
                ok = false;
        if ((x = json_get(j, "recover_every"))) {
                if (!json_get_duration(ps, x, json_subpath(p, path, "recover_every"), 100 * USEC_PER_MSEC,
                                       &a->recover_every_usec))
                        ok = false;
                else if (!json_check_duration_max(ps, p, a->recover_every_usec, 3600 * USEC_PER_SEC,
                                                  "recover_every too long"))
                        ok = false;
        }
        return ok;
}

static bool parse_weight_action(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        char p[PATH_LEN];
        const cJSON *x = json_get(j, "to");
        uint64_t u;

        if (!x)
                return missing_key(ps, path, "add e.g. \"to\": \"low\"", a, "to");
        json_subpath(p, path, "to");
        if (cJSON_IsString(x) && streq(x->valuestring, "low")) {
                a->weight = POLICY_WEIGHT_LOW;
                return true;
        }
        if (cJSON_IsString(x) && streq(x->valuestring, "normal")) {
                a->weight = POLICY_WEIGHT_NORMAL;
                return true;
        }
        if (!cJSON_IsNumber(x)) {
                json_error(ps, p, "write \"low\" (10), \"normal\" (100) or a number 0..100",
                           "invalid weight");
                return false;
        }
        if (!json_get_uint(ps, x, p, 0, POLICY_WEIGHT_NORMAL, &u))
                return false;
        a->weight = (uint32_t)u;
        return true;
}

/* The keys of a kind: "action", "timeout" and its own, NULL-terminated. */
#define KEYS(...) ((const char *const[]){ "action", "timeout", __VA_ARGS__ })

/* What each kind accepts and starts from. The defaults are complete, so that the printer always has
 * something to print and the executor never needs its own. */
static const struct {
        const char *const *keys;
        PolicyAction defaults;
        bool (*parse)(Parser *ps, const cJSON *j, const char *path, PolicyAction *a); /* NULL: no own keys */
} action_table[_POLICY_ACTION_KIND_MAX] = {
        [POLICY_ACTION_NOTIFY] = { KEYS(NULL), { .timeout_usec = USEC_PER_SEC }, NULL },
        [POLICY_ACTION_SIGNAL] = { KEYS("signal", "target", NULL),
                                   { .timeout_usec = USEC_PER_SEC },
                                   parse_signal_action },
        [POLICY_ACTION_EXEC] = { KEYS("argv", NULL),
                                 { .timeout_usec = 10 * USEC_PER_SEC },
                                 parse_exec_action },
        [POLICY_ACTION_WEBHOOK] = { KEYS("url", "retries", "backoff", "tls_verify", "headers",
                                         "bearer_token_file", NULL),
                                    { .timeout_usec = 5 * USEC_PER_SEC,
                                      .retries = 3,
                                      .backoff_usec = USEC_PER_SEC,
                                      .tls_verify = true },
                                    parse_webhook_action },
        [POLICY_ACTION_SCAVENGE] = { KEYS(NULL), { .timeout_usec = USEC_PER_SEC }, NULL },
        [POLICY_ACTION_RECLAIM] = { KEYS("amount", NULL),
                                    { .timeout_usec = 5 * USEC_PER_SEC },
                                    parse_reclaim_action },
        [POLICY_ACTION_THROTTLE] = { KEYS("memory_high", NULL),
                                     { .timeout_usec = USEC_PER_SEC },
                                     parse_throttle_action },
        /* timeout_usec 0: grace + 5s unless given, see parse_action() */
        [POLICY_ACTION_RESTART] = { KEYS("stop_signal", "grace", NULL),
                                    { .stop_signal = 15, .grace_usec = 10 * USEC_PER_SEC },
                                    parse_restart_action },
        [POLICY_ACTION_KILL] = { KEYS("scope", "signal", NULL),
                                 { .timeout_usec = 5 * USEC_PER_SEC,
                                   .kill_scope = POLICY_KILL_LEAF,
                                   .kill_signal = 9 },
                                 parse_kill_action },
        [POLICY_ACTION_DUMP] = { KEYS("argv", "headroom", NULL),
                                 { .timeout_usec = 30 * USEC_PER_SEC, .headroom = 64 << 20 },
                                 parse_dump_action },
        [POLICY_ACTION_SHED] = { KEYS("to", "step", "recover_every", NULL),
                                 { .timeout_usec = USEC_PER_SEC,
                                   .step_permille = 150,
                                   .recover_every_usec = 5 * USEC_PER_SEC },
                                 parse_shed_action },
        [POLICY_ACTION_WEIGHT] = { KEYS("to", NULL),
                                   { .timeout_usec = USEC_PER_SEC, .weight = POLICY_WEIGHT_NORMAL },
                                   parse_weight_action },
};

static bool parse_timeout(Parser *ps, const cJSON *j, const char *path, PolicyAction *a)
{
        char p[PATH_LEN];
        const cJSON *x;

        if (!(x = json_get(j, "timeout")))
                return true;
        return json_get_duration(ps, x, json_subpath(p, path, "timeout"), USEC_PER_MSEC, &a->timeout_usec) &&
               json_check_duration_max(ps, p, a->timeout_usec, 3600 * USEC_PER_SEC, "timeout too long");
}

static bool parse_action(Parser *ps, const cJSON *j, const char *path, PolicyWhen when, PolicyAction *a)
{
        char p[PATH_LEN], hint[256];
        const cJSON *kind_item;
        const char *kind_s;
        bool ok = true;
        int kind = -1;

        if (!json_expect(ps, j, path, cJSON_IsObject, "write e.g. {\"action\": \"notify\"}",
                         "an action must be an object"))
                return false;
        kind_item = json_get(j, "action");
        if (!kind_item) {
                json_error(ps, path, json_choices_hint(hint, sizeof(hint), NULL, policy_action_kinds),
                           "missing \"action\"");
                return false;
        }
        if (!json_get_string(ps, kind_item, json_subpath(p, path, "action"), &kind_s))
                return false;
        for (int i = 0; policy_action_kinds[i]; i++)
                if (streq(policy_action_kinds[i], kind_s))
                        kind = i;
        if (kind < 0) {
                json_error(ps, p, json_choices_hint(hint, sizeof(hint), kind_s, policy_action_kinds),
                           "unknown action \"%s\"", kind_s);
                return false;
        }
        *a = action_table[kind].defaults;
        a->kind = kind;
        if (!json_check_object(ps, j, path, kind_s, action_table[kind].keys, all_action_keys))
                ok = false;
        if (action_table[kind].parse && !action_table[kind].parse(ps, j, path, a))
                ok = false;
        if (!parse_timeout(ps, j, path, a))
                ok = false;
        if (a->kind == POLICY_ACTION_RESTART && a->timeout_usec == 0)
                a->timeout_usec = a->grace_usec + 5 * USEC_PER_SEC;
        if (!validate_action(ps, path, when, a))
                ok = false;
        return ok;
}

bool grammar_action_list(Parser *ps, const cJSON *j, const char *path, PolicyWhen when, PolicyActionList *l)

{
        char p[PATH_LEN];
        size_t n, i = 0;
        bool ok = true;

        if (!json_expect(ps, j, path, cJSON_IsArray, "write a list: [ {\"action\": \"notify\"} ]",
                         "expected an array of actions"))
                return false;
        n = (size_t)cJSON_GetArraySize(j);
        if (n > POLICY_ACTIONS_MAX) {
                json_error(ps, path, NULL, "more than %d actions", POLICY_ACTIONS_MAX);
                return false;
        }
        if (n == 0)
                return true;
        l->items = calloc(n, sizeof(PolicyAction));
        if (!l->items)
                return parser_oom(ps);
        l->n = n;
        for (const cJSON *c = j->child; c; c = c->next, i++)
                if (!parse_action(ps, c, json_subindex(p, path, i), when, &l->items[i]))
                        ok = false;
        return ok;
}

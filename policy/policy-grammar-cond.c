/* SPDX-License-Identifier: MIT */
/*
 * The grammar of conditions: {"all": [...], "any": [...], "for": "1s"} with nested groups and
 * comparisons such as {"memory": ">= 80%"}, {"events.max": ">= 1", "within": "2s"} or
 * {"psi_trigger": "full 100ms per 1s"}. Distinct PSI triggers are collected into Policy.triggers.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy-grammar.h"

static bool parse_op(const char **s, PolicyOp *ret)
{
        static const struct {
                const char *text;
                PolicyOp op;
        } ops[] = {
                { ">=", POLICY_OP_GE }, { "<=", POLICY_OP_LE }, { ">", POLICY_OP_GT }, { "<", POLICY_OP_LT }
        };
        const char *p = *s;

        while (*p == ' ')
                p++;
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (strneq(p, ops[i].text, strlen(ops[i].text))) {
                        p += strlen(ops[i].text);
                        while (*p == ' ')
                                p++;
                        *s = p;
                        *ret = ops[i].op;
                        return true;
                }
        return false;
}

/* "20", "20.5", "20%", "0.25%": hundredths of a percent, at most two decimals. */
static bool parse_centi(const char *s, uint32_t *ret)
{
        uint64_t v = 0, frac = 0;
        int digits = 0, fdigits = 0;

        while (isdigit((unsigned char)*s)) {
                v = v * 10 + (uint64_t)(*s++ - '0');
                if (++digits > 4)
                        return false;
        }
        if (digits == 0)
                return false;
        if (*s == '.') {
                s++;
                while (isdigit((unsigned char)*s)) {
                        if (++fdigits > 2)
                                return false;
                        frac = frac * 10 + (uint64_t)(*s++ - '0');
                }
                if (fdigits == 0)
                        return false;
                if (fdigits == 1)
                        frac *= 10;
        }
        if (*s == '%')
                s++;
        if (*s != '\0')
                return false;
        if (v * 100 + frac > 10000)
                return false;
        *ret = (uint32_t)(v * 100 + frac);
        return true;
}

static int add_trigger(Parser *ps, const PolicyPsiTrigger *t)
{
        Policy *p = ps->p;

        for (size_t i = 0; i < p->n_triggers; i++)
                if (p->triggers[i].full == t->full && p->triggers[i].stall_usec == t->stall_usec &&
                    p->triggers[i].window_usec == t->window_usec)
                        return (int)i;
        if (p->n_triggers >= OOMLESS_PSI_TRIGGERS_MAX)
                return -E2BIG;
        p->triggers[p->n_triggers] = *t;
        return (int)p->n_triggers++;
}

/* "full 100ms per 1s" (also "some 70ms/1s"). */
static bool parse_trigger(Parser *ps, const char *s, const char *path, PolicyPsiTrigger *ret)
{
        static const char *const hint = "write \"some|full STALL per WINDOW\", e.g. \"full 100ms per 1s\"";
        char buf[128], *kind, *stall, *window, *save = NULL;
        PolicyPsiTrigger t = { 0 };
        char b1[32], b2[32];

        if (strlen(s) >= sizeof(buf)) {
                json_error(ps, path, hint, "invalid PSI trigger \"%.40s...\"", s);
                return false;
        }
        strcpy(buf, s);
        for (char *c = buf; *c; c++)
                if (*c == '/')
                        *c = ' ';
        kind = strtok_r(buf, " ", &save);
        stall = kind ? strtok_r(NULL, " ", &save) : NULL;
        window = stall ? strtok_r(NULL, " ", &save) : NULL;
        if (window && streq(window, "per"))
                window = strtok_r(NULL, " ", &save);
        if (!window || strtok_r(NULL, " ", &save) || (!streq(kind, "some") && !streq(kind, "full"))) {
                json_error(ps, path, hint, "invalid PSI trigger \"%s\"", s);
                return false;
        }
        t.full = streq(kind, "full");
        if (units_parse_duration(stall, &t.stall_usec) < 0 ||
            units_parse_duration(window, &t.window_usec) < 0) {
                json_error(ps, path, hint, "invalid duration in PSI trigger \"%s\"", s);
                return false;
        }
        if (t.window_usec < 500 * USEC_PER_MSEC || t.window_usec > 10 * USEC_PER_SEC) {
                json_error(ps, path, "the kernel accepts windows from 500ms to 10s",
                           "PSI trigger window %s is out of range", window);
                return false;
        }
        if (t.stall_usec == 0 || t.stall_usec > t.window_usec) {
                json_error(ps, path, "the stall must be above 0 and at most the window",
                           "PSI trigger stall %s does not fit the window %s", stall, window);
                return false;
        }
        snprintf(t.arm, sizeof(t.arm), "%s %" PRIu64 " %" PRIu64, kind, t.stall_usec, t.window_usec);
        snprintf(t.text, sizeof(t.text), "%s %s per %s", kind,
                 policy_format_duration(b1, sizeof(b1), t.stall_usec),
                 policy_format_duration(b2, sizeof(b2), t.window_usec));
        *ret = t;
        return true;
}

static bool parse_cmp_trigger(Parser *ps, const char *s, const char *path, PolicyCmp *c)
{
        PolicyPsiTrigger t;
        int idx;

        if (!parse_trigger(ps, s, path, &t))
                return false;
        idx = add_trigger(ps, &t);
        if (idx < 0) {
                json_error(ps, path, "reuse the same trigger strings across stages",
                           "more than %d distinct PSI triggers", OOMLESS_PSI_TRIGGERS_MAX);
                return false;
        }
        c->trigger = (unsigned)idx;
        c->op = POLICY_OP_GE;
        c->within_usec = t.window_usec;
        return true;
}

static bool parse_event_count(Parser *ps, const char *v, const char *path, PolicyCmp *c)
{
        char *end;
        unsigned long long n;

        errno = 0;
        n = isdigit((unsigned char)*v) ? strtoull(v, &end, 10) : 0;
        if (!isdigit((unsigned char)*v) || *end || errno || n > 1000000000ULL) {
                json_error(ps, path, "give a count 0..1000000000, e.g. \">= 1\"",
                           "invalid event count \"%s\"", v);
                return false;
        }
        c->count = n;
        c->within_usec = 60 * USEC_PER_SEC;
        return true;
}

/* "20M/s": bytes per second, over "within" (default 1s). A bare number or a percent is refused: the
 * rate is the working set's growth in bytes, whatever the limit. */
static bool parse_rate(Parser *ps, const char *key, const char *v, const char *path, PolicyCmp *c)
{
        char buf[64];
        size_t n = strlen(v);

        if (n < 3 || n >= sizeof(buf) || strcmp(v + n - 2, "/s") != 0 || strchr(v, '%')) {
                json_error(ps, path, "write a size per second, e.g. \">= 20M/s\"",
                           "%s \"%s\" is not a rate in bytes per second", key, v);
                return false;
        }
        memcpy(buf, v, n - 2);
        buf[n - 2] = '\0';
        c->within_usec = USEC_PER_SEC;
        return json_parse_size(ps, buf, path, key, false, false, &c->size);
}

/* "80", "12.5": digits with no unit, ambiguous for a size signal (bytes? percent?). */
static bool is_bare_number(const char *s)
{
        size_t n = strspn(s, "0123456789");

        if (n == 0)
                return false;
        if (s[n] == '.') {
                size_t f = strspn(s + n + 1, "0123456789");
                if (f == 0)
                        return false;
                n += 1 + f;
        }
        return s[n] == '\0';
}

/* "OP VALUE", the value read according to c->signal; key is the signal as written, for messages. */
static bool parse_cmp_value(Parser *ps, const char *key, const char *s, const char *path, PolicyCmp *c)
{
        static const char *const op_hint = "write \"OP VALUE\" with OP one of >=, >, <=, <, e.g. \">= 80%\"";
        const char *v = s;

        if (!parse_op(&v, &c->op)) {
                json_error(ps, path, op_hint, "expected a comparison, got \"%s\"", s);
                return false;
        }
        switch (c->signal) {
        POLICY_SIZE_SIGNAL_CASES:
                if (!*v) {
                        json_error(ps, path, op_hint, "missing value after the operator in \"%s\"", s);
                        return false;
                }
                if (is_bare_number(v)) {
                        char hint[160];

                        if (strchr(v, '.'))
                                snprintf(hint, sizeof(hint),
                                         "did you mean \"%.20s%%\" (of the limit) or \"%.20sM\"?", v, v);
                        else
                                snprintf(hint, sizeof(hint),
                                         "did you mean \"%.20s%%\" (of the limit) or \"%.20sM\"? Write "
                                         "\"%.20sB\" "
                                         "for bytes",
                                         v, v, v);
                        json_error(ps, path, hint, "%s %s has no unit", key, v);
                        return false;
                }
                return json_parse_size(ps, v, path, key, true, false, &c->size);
        case POLICY_SIGNAL_SOME10:
        case POLICY_SIGNAL_SOME60:
        case POLICY_SIGNAL_FULL10:
        case POLICY_SIGNAL_FULL60:
                if (isdigit((unsigned char)*v) && strtod(v, NULL) > 100.0) {
                        json_error(ps, path, "PSI averages are percentages 0..100", "%s %s is above 100%%",
                                   key, v);
                        return false;
                }
                if (!parse_centi(v, &c->centi)) {
                        json_error(ps, path, "PSI averages are percentages 0..100 with at most two decimals",
                                   "invalid %s value \"%s\"", key, v);
                        return false;
                }
                return true;
        POLICY_COUNT_SIGNAL_CASES:
                return parse_event_count(ps, v, path, c);
        POLICY_RATE_SIGNAL_CASES:
                return parse_rate(ps, key, v, path, c);
        case POLICY_SIGNAL_STAGE_TIME:
                return json_parse_duration(ps, v, path, &c->usec);
        default:
                return false;
        }
}

/* "within" only counts for windowed signals; without it, their default window must still cover a
 * sample. */
static bool parse_cmp_within(Parser *ps, const cJSON *within, const char *key, const char *path,
                             PolicyCmp *c)
{
        char p[PATH_LEN];

        if (!within) {
                char b[32];

                if (c->within_usec == 0 || c->within_usec >= ps->p->interval_usec)
                        return true;
                json_error(ps, path, "add a \"within\" at least as long as the sampling interval",
                           "the default window %s is shorter than the sampling interval",
                           policy_format_duration(b, sizeof(b), c->within_usec));
                return false;
        }
        json_subpath(p, path, "within");
        if (!policy_signal_windowed(c->signal)) {
                json_error(ps, p,
                           "remove it; only events.*, heap.cap_hits, psi_trigger, working_set_rate and "
                           "nonfile_rate look at a window",
                           "\"within\" does not apply to %s", key);
                return false;
        }
        return json_get_sampled_duration(ps, within, p, ps->p->interval_usec, false, &c->within_usec) &&
               json_check_duration_max(ps, p, c->within_usec,
                                       policy_signal_is_rate(c->signal) ? POLICY_RATE_WINDOW_MAX_USEC
                                                                        : 3600 * USEC_PER_SEC,
                                       "\"within\" window is too long");
}

static bool parse_cmp(Parser *ps, const cJSON *j, const char *path, bool reported, PolicyCmp *ret)
{
        const cJSON *sig_item = NULL, *within = NULL;
        PolicyCmp c = { .signal = _POLICY_SIGNAL_INVALID };
        const char *s;

        for (const cJSON *k = j->child; k; k = k->next) {
                if (streq(k->string, "within")) {
                        within = k;
                        continue;
                }
                for (int i = 0; i < _POLICY_SIGNAL_MAX; i++)
                        if (streq(k->string, policy_signal_to_string(i))) {
                                if (sig_item) {
                                        json_error(
                                            ps, path,
                                            "put each comparison in its own object inside \"all\" or "
                                            "\"any\"",
                                            "more than one signal (\"%s\" and \"%s\") in one comparison",
                                            sig_item->string, k->string);
                                        return false;
                                }
                                sig_item = k;
                                c.signal = i;
                        }
        }
        if (!sig_item) {
                if (!reported) /* else an unknown key was reported, probably a misspelt signal */
                        json_error(ps, path, "name a signal, e.g. {\"memory\": \">= 80%\"}",
                                   "comparison without a signal");
                return false;
        }

        /* Value errors name the comparison, e.g. stages[1].enter.all[0]: memory 120% is above 100%. */
        if (!json_get_string(ps, sig_item, path, &s))
                return false;
        if (c.signal == POLICY_SIGNAL_PSI_TRIGGER ? !parse_cmp_trigger(ps, s, path, &c)
                                                  : !parse_cmp_value(ps, sig_item->string, s, path, &c))
                return false;
        if (!parse_cmp_within(ps, within, sig_item->string, path, &c))
                return false;
        *ret = c;
        return true;
}

static bool parse_cond_list(Parser *ps, const cJSON *j, const char *path, unsigned depth, PolicyCond **ret,
                            size_t *ret_n);

static bool parse_cond_node(Parser *ps, const cJSON *j, const char *path, unsigned depth, PolicyCond *ret)
{
        static const char *const group_keys[] = { "all", "any", NULL };
        const cJSON *all, *any;
        bool ok = true;
        char p[PATH_LEN];

        if (!json_expect(ps, j, path, cJSON_IsObject, "write e.g. {\"memory\": \">= 80%\"}",
                         "a condition must be an object"))
                return false;
        all = json_get(j, "all");
        any = json_get(j, "any");
        if (!all && !any) {
                unsigned before = ps->errors;
                if (!json_check_object(ps, j, path, "a comparison", policy_cmp_keys, NULL))
                        return false;
                *ret = (PolicyCond){ .group = false };
                return parse_cmp(ps, j, path, ps->errors != before, &ret->cmp);
        }
        if (!json_check_object(ps, j, path, "a nested condition", group_keys, policy_cmp_keys))
                return false;
        if (depth >= POLICY_COND_DEPTH_MAX) {
                json_error(ps, path, "flatten the condition", "conditions nest deeper than %d levels",
                           POLICY_COND_DEPTH_MAX);
                return false;
        }
        *ret = (PolicyCond){ .group = true, .has_all = !!all, .has_any = !!any };
        if (all &&
            !parse_cond_list(ps, all, json_subpath(p, path, "all"), depth + 1, &ret->all, &ret->n_all))
                ok = false;
        if (any &&
            !parse_cond_list(ps, any, json_subpath(p, path, "any"), depth + 1, &ret->any, &ret->n_any))
                ok = false;
        return ok;
}

static bool parse_cond_list(Parser *ps, const cJSON *j, const char *path, unsigned depth, PolicyCond **ret,
                            size_t *ret_n)
{
        PolicyCond *items;
        size_t n;
        bool ok = true;
        char p[PATH_LEN];

        if (!json_expect(ps, j, path, cJSON_IsArray, "write a list: [ {\"memory\": \">= 80%\"} ]",
                         "expected an array"))
                return false;
        n = (size_t)cJSON_GetArraySize(j);
        if (n == 0) {
                json_error(ps, path, "add at least one comparison or remove the key", "empty list");
                return false;
        }
        if (n > POLICY_COND_ITEMS_MAX) {
                json_error(ps, path, NULL, "more than %d entries", POLICY_COND_ITEMS_MAX);
                return false;
        }
        items = calloc(n, sizeof(PolicyCond));
        if (!items)
                return parser_oom(ps);
        *ret = items;
        *ret_n = n;
        size_t i = 0;
        for (const cJSON *c = j->child; c; c = c->next, i++)
                if (!parse_cond_node(ps, c, json_subindex(p, path, i), depth, &items[i]))
                        ok = false;
        return ok;
}

bool grammar_condition(Parser *ps, const cJSON *j, const char *path, PolicyCondition *ret)
{
        static const char *const keys[] = { "all", "any", "for", NULL };
        const cJSON *all, *any, *f;
        char p[PATH_LEN];
        bool ok = true;

        if (!json_check_object(ps, j, path, "a condition", keys, policy_cmp_keys))
                return false;
        all = json_get(j, "all");
        any = json_get(j, "any");
        f = json_get(j, "for");
        ret->root = (PolicyCond){ .group = true, .has_all = !!all, .has_any = !!any };
        if (!all && !any) {
                json_error(ps, path, "write {\"all\": [ {\"memory\": \">= 80%\"} ], \"for\": \"1s\"}",
                           "a condition needs \"all\" or \"any\"");
                return false;
        }
        if (all &&
            !parse_cond_list(ps, all, json_subpath(p, path, "all"), 1, &ret->root.all, &ret->root.n_all))
                ok = false;
        if (any &&
            !parse_cond_list(ps, any, json_subpath(p, path, "any"), 1, &ret->root.any, &ret->root.n_any))
                ok = false;
        ret->for_usec = 0;
        if (f && !json_get_sampled_duration(ps, f, json_subpath(p, path, "for"), ps->p->interval_usec, true,
                                            &ret->for_usec))
                ok = false;
        return ok;
}

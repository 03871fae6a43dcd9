/* SPDX-License-Identifier: MIT */
/*
 * JSON text -> validated Policy. Checks the bytes first (UTF-8, no NUL, bounded nesting) so that cJSON
 * only ever sees sane input, then walks the document collecting every problem it finds, each with a
 * JSON path and, where possible, a hint. Only a document without any problem becomes a Policy.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "macro.h"
#include "policy-internal.h"
#include "strv.h"

/* JSON paths and hints are bounded on purpose: a truncated path in a message beats an allocation. */
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define PATH_LEN          512
#define DURATION_MAX_USEC (168 * 3600 * USEC_PER_SEC) /* a week: anything longer is a typo */
#define JSON_INT_MAX      9007199254740992.0          /* 2^53: beyond, doubles lose integers */
#define OBJECT_KEYS_MAX   64                          /* no policy object has more legitimate keys */

typedef struct Parser {
        PolicyDiags *diags;
        Policy *p;
        int oom;
        unsigned errors;
} Parser;

static void perr(Parser *ps, const char *path, const char *hint, const char *fmt, ...) _printf_(4, 5);
static void perr(Parser *ps, const char *path, const char *hint, const char *fmt, ...)
{
        char *msg = NULL;
        va_list ap;

        ps->errors++;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0) {
                va_end(ap);
                ps->oom = -ENOMEM;
                return;
        }
        va_end(ap);
        if (policy_diags_add(ps->diags, 0, 0, path, hint, "%s", msg) < 0)
                ps->oom = -ENOMEM;
        free(msg);
}

static const char *subpath(char *buf, const char *parent, const char *key)
{
        snprintf(buf, PATH_LEN, "%s%s%s", parent, parent[0] ? "." : "", key);
        return buf;
}

static const char *subindex(char *buf, const char *parent, size_t i)
{
        snprintf(buf, PATH_LEN, "%s[%zu]", parent, i);
        return buf;
}

static const char *json_type(const cJSON *j)
{
        if (cJSON_IsString(j))
                return "a string";
        if (cJSON_IsNumber(j))
                return "a number";
        if (cJSON_IsBool(j))
                return "a boolean";
        if (cJSON_IsNull(j))
                return "null";
        if (cJSON_IsArray(j))
                return "an array";
        if (cJSON_IsObject(j))
                return "an object";
        return "an invalid value";
}

/* ---- "did you mean" ---- */

static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b), prev[65], cur[65];

        if (la > 64 || lb > 64)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t sub = prev[j - 1] +
                                     (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
                        cur[j] = MIN(MIN(prev[j] + 1, cur[j - 1] + 1), sub);
                }
                memcpy(prev, cur, sizeof(size_t) * (lb + 1));
        }
        return prev[lb];
}

static const char *suggest(const char *word, const char *const *choices)
{
        const char *best = NULL;
        size_t best_d = SIZE_MAX, len = strlen(word);

        for (const char *const *c = choices; *c; c++) {
                size_t d = edit_distance(word, *c);
                if (d < best_d) {
                        best_d = d;
                        best = *c;
                }
        }
        /* Two edits, or one for short words, catches typos without suggesting unrelated keys. */
        if (best && (best_d <= (len <= 4 ? 1u : 2u)))
                return best;
        return NULL;
}

/* A hint naming the suggestion, or listing the choices. */
static char *choices_hint(char *buf, size_t len, const char *word, const char *const *choices)
{
        const char *s = word ? suggest(word, choices) : NULL;
        size_t o;

        if (s) {
                snprintf(buf, len, "did you mean \"%s\"?", s);
                return buf;
        }
        o = (size_t)snprintf(buf, len, "expected one of:");
        for (const char *const *c = choices; *c && o < len; c++)
                o += (size_t)snprintf(buf + o, len - o, "%s \"%s\"", c == choices ? "" : ",", *c);
        return buf;
}

/* Checks that j is an object whose keys are all in allowed, without duplicates. Returns false (after
 * reporting) when j is not an object; unknown and duplicate keys are reported but not fatal. */
static bool check_object(Parser *ps, const cJSON *j, const char *path, const char *what,
                         const char *const *allowed, const char *const *elsewhere)
{
        char p[PATH_LEN], hint[512];
        size_t n = 0;

        if (!cJSON_IsObject(j)) {
                perr(ps, path, NULL, "%s must be an object, got %s", what, json_type(j));
                return false;
        }
        for (const cJSON *c = j->child; c; c = c->next) {
                bool known = false;

                if (++n > OBJECT_KEYS_MAX) {
                        perr(ps, path, NULL, "%s has more than %d keys", what, OBJECT_KEYS_MAX);
                        return true;
                }
                for (const cJSON *d = j->child; d != c; d = d->next)
                        if (streq(d->string, c->string)) {
                                perr(ps, subpath(p, path, c->string), "remove one of them",
                                     "duplicate key \"%s\"", c->string);
                                break;
                        }
                for (const char *const *a = allowed; *a; a++)
                        if (streq(*a, c->string))
                                known = true;
                if (known)
                        continue;
                if (elsewhere)
                        for (const char *const *a = elsewhere; *a; a++)
                                if (streq(*a, c->string)) {
                                        perr(ps, subpath(p, path, c->string),
                                             choices_hint(hint, sizeof(hint), NULL, allowed),
                                             "key \"%s\" does not apply to %s", c->string, what);
                                        known = true;
                                        break;
                                }
                if (!known)
                        perr(ps, subpath(p, path, c->string),
                             choices_hint(hint, sizeof(hint), c->string, allowed),
                             "unknown key \"%s\" in %s", c->string, what);
        }
        return true;
}

static const cJSON *get(const cJSON *obj, const char *key)
{
        return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* ---- scalar values ---- */

static bool get_string(Parser *ps, const cJSON *j, const char *path, const char **ret)
{
        if (!cJSON_IsString(j) || !j->valuestring) {
                perr(ps, path, NULL, "expected a string, got %s", json_type(j));
                return false;
        }
        if (strlen(j->valuestring) > POLICY_STRING_MAX) {
                perr(ps, path, NULL, "string longer than %d bytes", POLICY_STRING_MAX);
                return false;
        }
        *ret = j->valuestring;
        return true;
}

static bool dup_string(Parser *ps, const char *s, char **ret)
{
        char *d = strdup(s);
        if (!d) {
                ps->oom = -ENOMEM;
                return false;
        }
        free(*ret);
        *ret = d;
        return true;
}

static bool get_uint(Parser *ps, const cJSON *j, const char *path, uint64_t min, uint64_t max, uint64_t *ret)
{
        double v;

        if (!cJSON_IsNumber(j)) {
                perr(ps, path, NULL, "expected an integer, got %s", json_type(j));
                return false;
        }
        v = j->valuedouble;
        if (!isfinite(v) || fabs(v) >= JSON_INT_MAX) {
                perr(ps, path, NULL, "number out of range, allowed %" PRIu64 "..%" PRIu64, min, max);
                return false;
        }
        if (v != floor(v)) {
                perr(ps, path, NULL, "expected an integer, got %g", v);
                return false;
        }
        if (v < (double)min || v > (double)max) {
                perr(ps, path, NULL, "%.0f is out of range, allowed %" PRIu64 "..%" PRIu64, v, min, max);
                return false;
        }
        *ret = (uint64_t)v;
        return true;
}

static bool get_bool(Parser *ps, const cJSON *j, const char *path, bool *ret)
{
        if (!cJSON_IsBool(j)) {
                perr(ps, path, "write true or false without quotes", "expected a boolean, got %s",
                     json_type(j));
                return false;
        }
        *ret = cJSON_IsTrue(j);
        return true;
}

static bool parse_duration_text(Parser *ps, const char *s, const char *path, uint64_t *ret)
{
        char b[32];
        int r;

        r = units_parse_duration(s, ret);
        if (r == -ERANGE || (r >= 0 && *ret > DURATION_MAX_USEC)) {
                perr(ps, path, NULL, "duration \"%s\" is above the limit of %s", s,
                     policy_format_duration(b, sizeof(b), DURATION_MAX_USEC));
                return false;
        }
        if (r < 0) {
                perr(ps, path, "use a number with a unit: us, ms, s, m, h (e.g. \"250ms\", \"30s\")",
                     "invalid duration \"%s\"", s);
                return false;
        }
        return true;
}

static bool get_duration(Parser *ps, const cJSON *j, const char *path, uint64_t min, uint64_t *ret)
{
        const char *s;
        char b1[32];
        uint64_t v;

        if (cJSON_IsNumber(j)) {
                perr(ps, path, "write the unit, e.g. \"5s\" or \"250ms\"",
                     "expected a duration string, got a number");
                return false;
        }
        if (!get_string(ps, j, path, &s))
                return false;
        if (!parse_duration_text(ps, s, path, &v))
                return false;
        if (v < min) {
                perr(ps, path, NULL, "duration %s is below the minimum of %s", s,
                     policy_format_duration(b1, sizeof(b1), min));
                return false;
        }
        *ret = v;
        return true;
}

/* A duration measured in samples: 0 means "one sample", anything else must cover a sampling
 * interval, or the hold would silently be one sample anyway. */
static bool get_sampled_duration_full(Parser *ps, const cJSON *j, const char *path, bool allow_zero,
                                      uint64_t *ret)
{
        char b[32], hint[96];
        uint64_t v;

        if (!get_duration(ps, j, path, 0, &v))
                return false;
        if (v == 0 && !allow_zero) {
                perr(ps, path, "give a duration such as \"30s\"", "duration must be above 0");
                return false;
        }
        if (v != 0 && v < ps->p->interval_usec) {
                policy_format_duration(b, sizeof(b), ps->p->interval_usec);
                if (allow_zero)
                        snprintf(hint, sizeof(hint), "use 0s (a single sample) or at least %s", b);
                else
                        snprintf(hint, sizeof(hint), "use at least %s", b);
                perr(ps, path, hint, "duration %s is shorter than the sampling interval %s", j->valuestring,
                     b);
                return false;
        }
        *ret = v;
        return true;
}

static bool get_sampled_duration(Parser *ps, const cJSON *j, const char *path, uint64_t *ret)
{
        return get_sampled_duration_full(ps, j, path, true, ret);
}

/* Parses "70%", "12.5%", "256M", "1000"; percent only when allow_percent. what names the thing for
 * messages ("memory 120% is above 100%"). */
static bool parse_size_text(Parser *ps, const char *s, const char *path, const char *what,
                            bool allow_percent, bool allow_max, SizeSpec *ret)
{
        size_t n = strlen(s);
        int r;

        if (n > 0 && s[n - 1] == '%') {
                char *end;
                double v;

                if (!allow_percent) {
                        perr(ps, path, "give an absolute size such as \"64M\"", "%s cannot be a percentage",
                             what);
                        return false;
                }
                v = strtod(s, &end);
                if (end != s + n - 1 || !isdigit((unsigned char)s[0])) {
                        perr(ps, path, "write a percentage like \"80%\" or \"12.5%\"",
                             "invalid percentage \"%s\"", s);
                        return false;
                }
                if (v > 100.0) {
                        perr(ps, path, "a percentage of the limit can be at most 100%",
                             "%s %s is above 100%%", what, s);
                        return false;
                }
        }
        if (!allow_max && (streq(s, "max") || streq(s, "infinity"))) {
                perr(ps, path, NULL, "%s cannot be \"%s\"", what, s);
                return false;
        }
        r = units_parse_size_spec(s, ret);
        if (r == -ERANGE) {
                if (s[n - 1] == '%')
                        perr(ps, path, "use a percentage above 0%", "%s %s is out of range", what, s);
                else
                        perr(ps, path, NULL, "%s %s is out of range", what, s);
                return false;
        }
        if (r < 0) {
                if (s[0] == '-')
                        perr(ps, path, "sizes cannot be negative", "invalid size \"%s\" for %s", s, what);
                else
                        perr(ps, path,
                             allow_percent ? "use bytes with an optional K, M, G, T suffix (\"512M\") or a "
                                             "percentage (\"80%\")"
                                           : "use bytes with an optional K, M, G, T suffix (\"512M\")",
                             "invalid size \"%s\" for %s", s, what);
                return false;
        }
        return true;
}

static bool get_size(Parser *ps, const cJSON *j, const char *path, const char *what, bool allow_percent,
                     SizeSpec *ret)
{
        const char *s;

        if (cJSON_IsNumber(j)) {
                double v = j->valuedouble;
                if (!isfinite(v) || v >= JSON_INT_MAX) {
                        perr(ps, path, "write large sizes as strings with a suffix, e.g. \"64G\"",
                             "%s is out of range", what);
                        return false;
                }
                if (v < 0) {
                        perr(ps, path, "sizes cannot be negative", "%s is negative (%g)", what, v);
                        return false;
                }
                if (v != floor(v)) {
                        perr(ps, path, "give whole bytes or a string like \"1.5M\"",
                             "%s %g is not a whole number of bytes", what, v);
                        return false;
                }
                *ret = (SizeSpec){ .set = true, .bytes = (uint64_t)v };
                return true;
        }
        if (!get_string(ps, j, path, &s))
                return false;
        return parse_size_text(ps, s, path, what, allow_percent, false, ret);
}

static bool get_signal(Parser *ps, const cJSON *j, const char *path, int *ret)
{
        const char *s;
        int sig;

        if (!get_string(ps, j, path, &s))
                return false;
        sig = units_parse_signal(s);
        if (sig < 0) {
                perr(ps, path, "use a name such as \"TERM\", \"SIGUSR1\" or a number 1..64",
                     "unknown signal \"%s\"", s);
                return false;
        }
        *ret = sig;
        return true;
}

static bool get_enum(Parser *ps, const cJSON *j, const char *path, const char *what,
                     const char *const *names, int *ret)
{
        const char *s;
        char hint[256];

        if (!get_string(ps, j, path, &s))
                return false;
        for (int i = 0; names[i]; i++)
                if (streq(names[i], s)) {
                        *ret = i;
                        return true;
                }
        perr(ps, path, choices_hint(hint, sizeof(hint), s, names), "unknown %s \"%s\"", what, s);
        return false;
}

static bool valid_name(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        for (const char *c = s; *c; c++)
                if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
                        return false;
        return true;
}

static bool get_name(Parser *ps, const cJSON *j, const char *path, char **ret)
{
        const char *s;

        if (!get_string(ps, j, path, &s))
                return false;
        if (!valid_name(s)) {
                perr(ps, path, "use 1..64 letters, digits, '.', '_' or '-'", "invalid name \"%s\"", s);
                return false;
        }
        return dup_string(ps, s, ret);
}

/* ---- conditions ---- */

static const char *const cmp_keys[] = {
        "memory",
        "headroom",
        "heap",
        "psi.some.avg10",
        "psi.some.avg60",
        "psi.full.avg10",
        "psi.full.avg60",
        "events.high",
        "events.max",
        "events.oom",
        "events.oom_kill",
        "psi_trigger",
        "stage_time",
        "within",
        "all",
        "any",
        NULL,
};

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
                perr(ps, path, hint, "invalid PSI trigger \"%.40s...\"", s);
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
                perr(ps, path, hint, "invalid PSI trigger \"%s\"", s);
                return false;
        }
        t.full = streq(kind, "full");
        if (units_parse_duration(stall, &t.stall_usec) < 0 ||
            units_parse_duration(window, &t.window_usec) < 0) {
                perr(ps, path, hint, "invalid duration in PSI trigger \"%s\"", s);
                return false;
        }
        if (t.window_usec < 500 * USEC_PER_MSEC || t.window_usec > 10 * USEC_PER_SEC) {
                perr(ps, path, "the kernel accepts windows from 500ms to 10s",
                     "PSI trigger window %s is out of range", window);
                return false;
        }
        if (t.stall_usec == 0 || t.stall_usec > t.window_usec) {
                perr(ps, path, "the stall must be above 0 and at most the window",
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

static bool parse_cmp(Parser *ps, const cJSON *j, const char *path, bool reported, PolicyCmp *ret)
{
        static const char *const op_hint = "write \"OP VALUE\" with OP one of >=, >, <=, <, e.g. \">= 80%\"";
        const cJSON *sig_item = NULL, *within = NULL;
        char p[PATH_LEN];
        PolicyCmp c = { .signal = _POLICY_SIGNAL_INVALID };
        const char *s, *v;
        bool ok = true;

        for (const cJSON *k = j->child; k; k = k->next) {
                if (streq(k->string, "within")) {
                        within = k;
                        continue;
                }
                for (int i = 0; i < _POLICY_SIGNAL_MAX; i++)
                        if (streq(k->string, policy_signal_to_string(i))) {
                                if (sig_item) {
                                        perr(ps, path,
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
                        perr(ps, path, "name a signal, e.g. {\"memory\": \">= 80%\"}",
                             "comparison without a signal");
                return false;
        }

        /* Value errors name the comparison, e.g. stages[1].enter.all[0]: memory 120% is above 100%. */
        snprintf(p, sizeof(p), "%s", path);
        if (!get_string(ps, sig_item, p, &s))
                return false;
        v = s;
        if (c.signal == POLICY_SIGNAL_PSI_TRIGGER) {
                PolicyPsiTrigger t;
                int idx;

                if (!parse_trigger(ps, s, p, &t))
                        return false;
                idx = add_trigger(ps, &t);
                if (idx < 0) {
                        perr(ps, p, "reuse the same trigger strings across stages",
                             "more than %d distinct PSI triggers", OOMLESS_PSI_TRIGGERS_MAX);
                        return false;
                }
                c.trigger = (unsigned)idx;
                c.op = POLICY_OP_GE;
                c.within_usec = t.window_usec;
        } else {
                if (!parse_op(&v, &c.op)) {
                        perr(ps, p, op_hint, "expected a comparison, got \"%s\"", s);
                        return false;
                }
                switch (c.signal) {
                case POLICY_SIGNAL_MEMORY:
                case POLICY_SIGNAL_HEADROOM:
                case POLICY_SIGNAL_HEAP:
                        if (!*v) {
                                perr(ps, p, op_hint, "missing value after the operator in \"%s\"", s);
                                return false;
                        }
                        if (!parse_size_text(ps, v, p, sig_item->string, true, false, &c.size))
                                return false;
                        break;
                case POLICY_SIGNAL_SOME10:
                case POLICY_SIGNAL_SOME60:
                case POLICY_SIGNAL_FULL10:
                case POLICY_SIGNAL_FULL60:
                        if (isdigit((unsigned char)*v) && strtod(v, NULL) > 100.0) {
                                perr(ps, p, "PSI averages are percentages 0..100", "%s %s is above 100%%",
                                     sig_item->string, v);
                                return false;
                        }
                        if (!parse_centi(v, &c.centi)) {
                                perr(ps, p, "PSI averages are percentages 0..100 with at most two decimals",
                                     "invalid %s value \"%s\"", sig_item->string, v);
                                return false;
                        }
                        break;
                case POLICY_SIGNAL_EV_HIGH:
                case POLICY_SIGNAL_EV_MAX:
                case POLICY_SIGNAL_EV_OOM:
                case POLICY_SIGNAL_EV_OOMKILL: {
                        char *end;
                        unsigned long long n;

                        errno = 0;
                        n = isdigit((unsigned char)*v) ? strtoull(v, &end, 10) : 0;
                        if (!isdigit((unsigned char)*v) || *end || errno || n > 1000000000ULL) {
                                perr(ps, p, "give a count 0..1000000000, e.g. \">= 1\"",
                                     "invalid event count \"%s\"", v);
                                return false;
                        }
                        c.count = n;
                        c.within_usec = 60 * USEC_PER_SEC;
                        break;
                }
                case POLICY_SIGNAL_STAGE_TIME:
                        if (!parse_duration_text(ps, v, p, &c.usec))
                                return false;
                        break;
                default:
                        return false;
                }
        }

        if (within) {
                subpath(p, path, "within");
                if (c.signal != POLICY_SIGNAL_PSI_TRIGGER &&
                    !(c.signal >= POLICY_SIGNAL_EV_HIGH && c.signal <= POLICY_SIGNAL_EV_OOMKILL)) {
                        perr(ps, p, "remove it; only events.* and psi_trigger count within a window",
                             "\"within\" does not apply to %s", sig_item->string);
                        ok = false;
                } else if (!get_sampled_duration_full(ps, within, p, false, &c.within_usec))
                        ok = false;
                else if (c.within_usec > 3600 * USEC_PER_SEC) {
                        perr(ps, p, "use at most 1h", "\"within\" window is too long");
                        ok = false;
                }
        } else if (c.within_usec && c.within_usec < ps->p->interval_usec) {
                char b[32];
                perr(ps, path, "add a \"within\" at least as long as the sampling interval",
                     "the default window %s is shorter than the sampling interval",
                     policy_format_duration(b, sizeof(b), c.within_usec));
                ok = false;
        }
        if (!ok)
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

        if (!cJSON_IsObject(j)) {
                perr(ps, path, "write e.g. {\"memory\": \">= 80%\"}",
                     "a condition must be an object, got %s", json_type(j));
                return false;
        }
        all = get(j, "all");
        any = get(j, "any");
        if (!all && !any) {
                unsigned before = ps->errors;
                if (!check_object(ps, j, path, "a comparison", cmp_keys, NULL))
                        return false;
                *ret = (PolicyCond){ .group = false };
                return parse_cmp(ps, j, path, ps->errors != before, &ret->cmp);
        }
        if (!check_object(ps, j, path, "a nested condition", group_keys, cmp_keys))
                return false;
        if (depth >= POLICY_COND_DEPTH_MAX) {
                perr(ps, path, "flatten the condition", "conditions nest deeper than %d levels",
                     POLICY_COND_DEPTH_MAX);
                return false;
        }
        *ret = (PolicyCond){ .group = true, .has_all = !!all, .has_any = !!any };
        if (all && !parse_cond_list(ps, all, subpath(p, path, "all"), depth + 1, &ret->all, &ret->n_all))
                ok = false;
        if (any && !parse_cond_list(ps, any, subpath(p, path, "any"), depth + 1, &ret->any, &ret->n_any))
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

        if (!cJSON_IsArray(j)) {
                perr(ps, path, "write a list: [ {\"memory\": \">= 80%\"} ]", "expected an array, got %s",
                     json_type(j));
                return false;
        }
        n = (size_t)cJSON_GetArraySize(j);
        if (n == 0) {
                perr(ps, path, "add at least one comparison or remove the key", "empty list");
                return false;
        }
        if (n > POLICY_COND_ITEMS_MAX) {
                perr(ps, path, NULL, "more than %d entries", POLICY_COND_ITEMS_MAX);
                return false;
        }
        items = calloc(n, sizeof(PolicyCond));
        if (!items) {
                ps->oom = -ENOMEM;
                return false;
        }
        *ret = items;
        *ret_n = n;
        size_t i = 0;
        for (const cJSON *c = j->child; c; c = c->next, i++)
                if (!parse_cond_node(ps, c, subindex(p, path, i), depth, &items[i]))
                        ok = false;
        return ok;
}

static bool parse_condition(Parser *ps, const cJSON *j, const char *path, PolicyCondition *ret)
{
        static const char *const keys[] = { "all", "any", "for", NULL };
        const cJSON *all, *any, *f;
        char p[PATH_LEN];
        bool ok = true;

        if (!check_object(ps, j, path, "a condition", keys, cmp_keys))
                return false;
        all = get(j, "all");
        any = get(j, "any");
        f = get(j, "for");
        ret->root = (PolicyCond){ .group = true, .has_all = !!all, .has_any = !!any };
        if (!all && !any) {
                perr(ps, path, "write {\"all\": [ {\"memory\": \">= 80%\"} ], \"for\": \"1s\"}",
                     "a condition needs \"all\" or \"any\"");
                return false;
        }
        if (all && !parse_cond_list(ps, all, subpath(p, path, "all"), 1, &ret->root.all, &ret->root.n_all))
                ok = false;
        if (any && !parse_cond_list(ps, any, subpath(p, path, "any"), 1, &ret->root.any, &ret->root.n_any))
                ok = false;
        ret->for_usec = 0;
        if (f && !get_sampled_duration(ps, f, subpath(p, path, "for"), &ret->for_usec))
                ok = false;
        return ok;
}

/* ---- actions ---- */

static const char *const action_kinds[] = { "notify",   "signal",  "exec", "webhook", "scavenge", "reclaim",
                                            "throttle", "restart", "kill", "dump",    NULL };

static const char *const *action_keys(PolicyActionKind k)
{
        static const char *const notify[] = { "action", "timeout", NULL };
        static const char *const sig[] = { "action", "timeout", "signal", "target", NULL };
        static const char *const exec[] = { "action", "timeout", "argv", NULL };
        static const char *const webhook[] = { "action",  "timeout",    "url", "retries",
                                               "backoff", "tls_verify", NULL };
        static const char *const reclaim[] = { "action", "timeout", "amount", NULL };
        static const char *const throttle[] = { "action", "timeout", "memory_high", NULL };
        static const char *const restart[] = { "action", "timeout", "stop_signal", "grace", NULL };
        static const char *const kill[] = { "action", "timeout", "scope", "signal", NULL };
        static const char *const dump[] = { "action", "timeout", "argv", "headroom", NULL };

        switch (k) {
        case POLICY_ACTION_SIGNAL:
                return sig;
        case POLICY_ACTION_EXEC:
                return exec;
        case POLICY_ACTION_WEBHOOK:
                return webhook;
        case POLICY_ACTION_RECLAIM:
                return reclaim;
        case POLICY_ACTION_THROTTLE:
                return throttle;
        case POLICY_ACTION_RESTART:
                return restart;
        case POLICY_ACTION_KILL:
                return kill;
        case POLICY_ACTION_DUMP:
                return dump;
        default:
                return notify;
        }
}

static const char *const all_action_keys[] = { "action",     "timeout", "signal",      "target",
                                               "argv",       "url",     "retries",     "backoff",
                                               "tls_verify", "amount",  "memory_high", "stop_signal",
                                               "grace",      "scope",   "headroom",    NULL };

static bool parse_argv(Parser *ps, const cJSON *j, const char *path, char ***ret)
{
        char p[PATH_LEN];
        size_t n, i = 0;
        char **v;

        if (!cJSON_IsArray(j)) {
                perr(ps, path,
                     "write an argv array, e.g. [\"/usr/bin/logger\", \"memory high\"]; no shell is used",
                     "expected an array of strings, got %s", json_type(j));
                return false;
        }
        n = (size_t)cJSON_GetArraySize(j);
        if (n == 0 || n > POLICY_ARGV_MAX) {
                perr(ps, path, NULL, "argv needs 1..%d entries, got %zu", POLICY_ARGV_MAX, n);
                return false;
        }
        v = calloc(n + 1, sizeof(char *));
        if (!v) {
                ps->oom = -ENOMEM;
                return false;
        }
        for (const cJSON *c = j->child; c; c = c->next, i++) {
                const char *s;
                if (!get_string(ps, c, subindex(p, path, i), &s)) {
                        strv_free(v);
                        return false;
                }
                if (i == 0 && !*s) {
                        perr(ps, p, "name the program to run", "argv[0] is empty");
                        strv_free(v);
                        return false;
                }
                v[i] = strdup(s);
                if (!v[i]) {
                        ps->oom = -ENOMEM;
                        strv_free(v);
                        return false;
                }
        }
        *ret = v;
        return true;
}

static bool parse_action(Parser *ps, const cJSON *j, const char *path, PolicyWhen when, PolicyAction *a)
{
        char p[PATH_LEN], hint[256];
        const cJSON *kind_item, *x;
        const char *kind_s;
        bool ok = true;
        int kind = -1;
        uint64_t u;

        if (!cJSON_IsObject(j)) {
                perr(ps, path, "write e.g. {\"action\": \"notify\"}", "an action must be an object, got %s",
                     json_type(j));
                return false;
        }
        kind_item = get(j, "action");
        if (!kind_item) {
                perr(ps, path, choices_hint(hint, sizeof(hint), NULL, action_kinds), "missing \"action\"");
                return false;
        }
        if (!get_string(ps, kind_item, subpath(p, path, "action"), &kind_s))
                return false;
        for (int i = 0; action_kinds[i]; i++)
                if (streq(action_kinds[i], kind_s))
                        kind = i;
        if (kind < 0) {
                perr(ps, p, choices_hint(hint, sizeof(hint), kind_s, action_kinds), "unknown action \"%s\"",
                     kind_s);
                return false;
        }
        a->kind = kind;
        if (!check_object(ps, j, path, kind_s, action_keys(kind), all_action_keys))
                ok = false;

        /* Defaults first, so the printer always has something to print. */
        switch (a->kind) {
        case POLICY_ACTION_EXEC:
                a->timeout_usec = 10 * USEC_PER_SEC;
                break;
        case POLICY_ACTION_WEBHOOK:
                a->timeout_usec = 5 * USEC_PER_SEC;
                a->retries = 3;
                a->backoff_usec = USEC_PER_SEC;
                a->tls_verify = true;
                break;
        case POLICY_ACTION_RECLAIM:
        case POLICY_ACTION_KILL:
                a->timeout_usec = 5 * USEC_PER_SEC;
                a->kill_scope = POLICY_KILL_LEAF;
                a->kill_signal = 9;
                break;
        case POLICY_ACTION_RESTART:
                a->stop_signal = 15;
                a->grace_usec = 10 * USEC_PER_SEC;
                a->timeout_usec = 0; /* grace + 5s, below */
                break;
        case POLICY_ACTION_DUMP:
                a->timeout_usec = 30 * USEC_PER_SEC;
                a->headroom = 64 << 20;
                break;
        default:
                a->timeout_usec = USEC_PER_SEC;
                break;
        }
        if (a->kind != POLICY_ACTION_KILL) {
                a->kill_scope = 0;
                a->kill_signal = 0;
        }

        switch (a->kind) {
        case POLICY_ACTION_SIGNAL:
                x = get(j, "signal");
                if (!x) {
                        perr(ps, path, "add e.g. \"signal\": \"USR1\"", "signal action needs \"signal\"");
                        ok = false;
                } else if (!get_signal(ps, x, subpath(p, path, "signal"), &a->signal))
                        ok = false;
                if ((x = get(j, "target"))) {
                        static const char *const t[] = { "main", "group", "leaf", NULL };
                        int v;
                        if (get_enum(ps, x, subpath(p, path, "target"), "target", t, &v))
                                a->target = v;
                        else
                                ok = false;
                }
                break;
        case POLICY_ACTION_EXEC:
        case POLICY_ACTION_DUMP:
                x = get(j, "argv");
                if (!x) {
                        perr(ps, path, "add e.g. \"argv\": [\"/usr/local/bin/hook\", \"arg\"]",
                             "%s action needs \"argv\"", kind_s);
                        ok = false;
                } else if (!parse_argv(ps, x, subpath(p, path, "argv"), &a->argv))
                        ok = false;
                if (a->kind == POLICY_ACTION_DUMP && (x = get(j, "headroom"))) {
                        SizeSpec s;
                        if (!get_size(ps, x, subpath(p, path, "headroom"), "headroom", false, &s))
                                ok = false;
                        else if (s.bytes > (UINT64_C(1) << 40)) {
                                perr(ps, p, NULL, "headroom above 1T");
                                ok = false;
                        } else
                                a->headroom = s.bytes;
                }
                break;
        case POLICY_ACTION_WEBHOOK: {
                const char *url;
                x = get(j, "url");
                if (!x) {
                        perr(ps, path, "add e.g. \"url\": \"https://alerts.example/hook\"",
                             "webhook action needs \"url\"");
                        ok = false;
                } else if (get_string(ps, x, subpath(p, path, "url"), &url)) {
                        bool bad = strlen(url) > 2048;
                        for (const char *c = url; *c && !bad; c++)
                                bad = (unsigned char)*c <= ' ' || *c == 0x7f;
                        if (bad || (!strneq(url, "http://", 7) && !strneq(url, "https://", 8)) ||
                            strlen(url) <= 8) {
                                perr(ps, p, "use an http:// or https:// URL without spaces",
                                     "invalid URL \"%.100s\"", url);
                                ok = false;
                        } else if (!dup_string(ps, url, &a->url))
                                ok = false;
                } else
                        ok = false;
                if ((x = get(j, "retries"))) {
                        if (get_uint(ps, x, subpath(p, path, "retries"), 0, 10, &u))
                                a->retries = (unsigned)u;
                        else
                                ok = false;
                }
                if ((x = get(j, "backoff")) &&
                    !get_duration(ps, x, subpath(p, path, "backoff"), USEC_PER_MSEC, &a->backoff_usec))
                        ok = false;
                if (a->backoff_usec > 600 * USEC_PER_SEC) {
                        perr(ps, p, "use at most 10m", "backoff too long");
                        ok = false;
                }
                if ((x = get(j, "tls_verify")) &&
                    !get_bool(ps, x, subpath(p, path, "tls_verify"), &a->tls_verify))
                        ok = false;
                break;
        }
        case POLICY_ACTION_RECLAIM:
                x = get(j, "amount");
                if (!x) {
                        perr(ps, path, "add e.g. \"amount\": \"10%\" or \"64M\"",
                             "reclaim action needs \"amount\"");
                        ok = false;
                } else if (!get_size(ps, x, subpath(p, path, "amount"), "amount", true, &a->amount))
                        ok = false;
                else if (!a->amount.percent && a->amount.bytes == 0) {
                        perr(ps, p, NULL, "amount must be above 0");
                        ok = false;
                }
                break;
        case POLICY_ACTION_THROTTLE:
                x = get(j, "memory_high");
                if (!x) {
                        perr(ps, path, "add e.g. \"memory_high\": \"90%\"",
                             "throttle action needs \"memory_high\"");
                        ok = false;
                } else if (!get_size(ps, x, subpath(p, path, "memory_high"), "memory_high", true,
                                     &a->memory_high))
                        ok = false;
                else if (!a->memory_high.percent && a->memory_high.bytes < (1 << 20)) {
                        perr(ps, p, "memory.high below 1M would stall the workload",
                             "memory_high too small");
                        ok = false;
                }
                break;
        case POLICY_ACTION_RESTART:
                if ((x = get(j, "stop_signal")) &&
                    !get_signal(ps, x, subpath(p, path, "stop_signal"), &a->stop_signal))
                        ok = false;
                if ((x = get(j, "grace")) &&
                    !get_duration(ps, x, subpath(p, path, "grace"), 0, &a->grace_usec))
                        ok = false;
                break;
        case POLICY_ACTION_KILL:
                if ((x = get(j, "scope"))) {
                        static const char *const sc[] = { "process", "group", "leaf", NULL };
                        int v;
                        if (get_enum(ps, x, subpath(p, path, "scope"), "scope", sc, &v))
                                a->kill_scope = v;
                        else
                                ok = false;
                }
                if ((x = get(j, "signal")) &&
                    !get_signal(ps, x, subpath(p, path, "signal"), &a->kill_signal))
                        ok = false;
                break;
        default:
                break;
        }

        if ((x = get(j, "timeout"))) {
                if (!get_duration(ps, x, subpath(p, path, "timeout"), USEC_PER_MSEC, &a->timeout_usec))
                        ok = false;
                else if (a->timeout_usec > 3600 * USEC_PER_SEC) {
                        perr(ps, p, "use at most 1h", "timeout too long");
                        ok = false;
                }
        }
        if (a->kind == POLICY_ACTION_RESTART) {
                if (a->timeout_usec == 0)
                        a->timeout_usec = a->grace_usec + 5 * USEC_PER_SEC;
                else if (a->grace_usec >= a->timeout_usec) {
                        char b1[32], b2[32];
                        perr(ps, subpath(p, path, "grace"), "raise \"timeout\" or shorten \"grace\"",
                             "grace %s is not below timeout %s",
                             policy_format_duration(b1, sizeof(b1), a->grace_usec),
                             policy_format_duration(b2, sizeof(b2), a->timeout_usec));
                        ok = false;
                }
        }

        if (when == POLICY_WHEN_WHILE &&
            IN_SET(a->kind, POLICY_ACTION_RESTART, POLICY_ACTION_KILL, POLICY_ACTION_THROTTLE)) {
                perr(ps, path, "put it in \"on_enter\" or \"on_max_dwell\"",
                     "action \"%s\" is not repeatable", kind_s);
                ok = false;
        }
        if (a->kind == POLICY_ACTION_THROTTLE && when != POLICY_WHEN_ENTER) {
                perr(ps, path, "put it in \"on_enter\"; it is undone when the stage is left",
                     "action \"throttle\" belongs in on_enter");
                ok = false;
        }
        return ok;
}

static bool parse_action_list(Parser *ps, const cJSON *j, const char *path, PolicyWhen when,
                              PolicyActionList *l)
{
        char p[PATH_LEN];
        size_t n, i = 0;
        bool ok = true;

        if (!cJSON_IsArray(j)) {
                perr(ps, path, "write a list: [ {\"action\": \"notify\"} ]",
                     "expected an array of actions, got %s", json_type(j));
                return false;
        }
        n = (size_t)cJSON_GetArraySize(j);
        if (n > POLICY_ACTIONS_MAX) {
                perr(ps, path, NULL, "more than %d actions", POLICY_ACTIONS_MAX);
                return false;
        }
        if (n == 0)
                return true;
        l->items = calloc(n, sizeof(PolicyAction));
        if (!l->items) {
                ps->oom = -ENOMEM;
                return false;
        }
        l->n = n;
        for (const cJSON *c = j->child; c; c = c->next, i++)
                if (!parse_action(ps, c, subindex(p, path, i), when, &l->items[i]))
                        ok = false;
        return ok;
}

/* ---- stages ---- */

static bool parse_stage(Parser *ps, const cJSON *j, const char *path, unsigned level, bool last,
                        PolicyStage *st)
{
        static const char *const keys[] = { "name",      "description",  "enter",    "exit",
                                            "max_dwell", "on_max_dwell", "cooldown", "repeat",
                                            "on_enter",  "while",        "on_exit",  NULL };
        char p[PATH_LEN];
        const cJSON *x;
        const char *s;
        bool ok = true;

        if (!check_object(ps, j, path, "a stage", keys, NULL))
                return false;

        if ((x = get(j, "name"))) {
                if (!get_name(ps, x, subpath(p, path, "name"), &st->name))
                        ok = false;
                else if (streq(st->name, "normal")) {
                        perr(ps, p, "level 0 is called \"normal\"; pick another name",
                             "stage name \"normal\" is reserved");
                        ok = false;
                }
        }
        if (!st->name && asprintf(&st->name, "stage%u", level) < 0) {
                st->name = NULL;
                ps->oom = -ENOMEM;
                return false;
        }
        if ((x = get(j, "description")) && (!get_string(ps, x, subpath(p, path, "description"), &s) ||
                                            !dup_string(ps, s, &st->description)))
                ok = false;

        if (!(x = get(j, "enter"))) {
                perr(ps, path, "add \"enter\": {\"all\": [ {\"memory\": \">= 80%\"} ]}",
                     "stage needs \"enter\"");
                ok = false;
        } else if (!parse_condition(ps, x, subpath(p, path, "enter"), &st->enter))
                ok = false;
        if (!(x = get(j, "exit"))) {
                perr(ps, path,
                     "add \"exit\" with lower thresholds, e.g. {\"all\": [ {\"memory\": \"< 70%\"} ], "
                     "\"for\": \"5s\"}",
                     "stage needs \"exit\"");
                ok = false;
        } else if (!parse_condition(ps, x, subpath(p, path, "exit"), &st->exit))
                ok = false;

        if ((x = get(j, "cooldown")) &&
            !get_sampled_duration(ps, x, subpath(p, path, "cooldown"), &st->cooldown_usec))
                ok = false;
        if ((x = get(j, "repeat")) &&
            !get_sampled_duration(ps, x, subpath(p, path, "repeat"), &st->repeat_usec))
                ok = false;
        if ((x = get(j, "on_enter")) &&
            !parse_action_list(ps, x, subpath(p, path, "on_enter"), POLICY_WHEN_ENTER, &st->on_enter))
                ok = false;
        if ((x = get(j, "while")) &&
            !parse_action_list(ps, x, subpath(p, path, "while"), POLICY_WHEN_WHILE, &st->while_))
                ok = false;
        if ((x = get(j, "on_exit")) &&
            !parse_action_list(ps, x, subpath(p, path, "on_exit"), POLICY_WHEN_EXIT, &st->on_exit))
                ok = false;
        if (st->while_.n > 0 && st->repeat_usec == 0) {
                perr(ps, path, "add e.g. \"repeat\": \"5s\"",
                     "\"while\" actions need a \"repeat\" interval");
                ok = false;
        }

        if ((x = get(j, "max_dwell"))) {
                if (!get_sampled_duration_full(ps, x, subpath(p, path, "max_dwell"), false,
                                               &st->max_dwell_usec))
                        ok = false;
        }
        x = get(j, "on_max_dwell");
        if (x && !get(j, "max_dwell")) {
                perr(ps, subpath(p, path, "on_max_dwell"), "add \"max_dwell\": \"5m\"",
                     "on_max_dwell without max_dwell");
                ok = false;
        } else if (x && cJSON_IsString(x)) {
                if (!streq(x->valuestring, "next")) {
                        perr(ps, subpath(p, path, "on_max_dwell"), "use \"next\" or a list of actions",
                             "invalid on_max_dwell \"%s\"", x->valuestring);
                        ok = false;
                } else if (last) {
                        perr(ps, subpath(p, path, "on_max_dwell"),
                             "give a list of actions, e.g. [ {\"action\": \"restart\"} ]",
                             "the last stage has no next stage to escalate to");
                        ok = false;
                } else
                        st->dwell_next = true;
        } else if (x) {
                if (!parse_action_list(ps, x, subpath(p, path, "on_max_dwell"), POLICY_WHEN_DWELL,
                                       &st->on_max_dwell))
                        ok = false;
                else if (st->on_max_dwell.n == 0) {
                        perr(ps, p, "use \"next\" or name at least one action", "empty on_max_dwell");
                        ok = false;
                }
        } else if (st->max_dwell_usec > 0) {
                if (last) {
                        perr(ps, subpath(p, path, "max_dwell"),
                             "add \"on_max_dwell\": [ {\"action\": \"restart\"} ] or similar",
                             "max_dwell on the last stage needs on_max_dwell actions");
                        ok = false;
                } else
                        st->dwell_next = true;
        }
        return ok;
}

/* ---- cross-checks ---- */

/* Returns a comparable magnitude and unit class of a threshold, or false if the comparison has no
 * ordered threshold. Percent and bytes are different classes and are never compared. */
static bool cmp_key(const PolicyCmp *c, int *ret_class, uint64_t *ret_value)
{
        switch (c->signal) {
        case POLICY_SIGNAL_MEMORY:
        case POLICY_SIGNAL_HEADROOM:
        case POLICY_SIGNAL_HEAP:
                *ret_class = c->size.percent;
                *ret_value = c->size.percent ? c->size.permyriad : c->size.bytes;
                return true;
        case POLICY_SIGNAL_SOME10:
        case POLICY_SIGNAL_SOME60:
        case POLICY_SIGNAL_FULL10:
        case POLICY_SIGNAL_FULL60:
                *ret_class = 2;
                *ret_value = c->centi;
                return true;
        default:
                return false;
        }
}

static void fmt_cmp(char *buf, size_t len, const PolicyCmp *c)
{
        char v[48];
        if (c->signal == POLICY_SIGNAL_SOME10 || c->signal == POLICY_SIGNAL_SOME60 ||
            c->signal == POLICY_SIGNAL_FULL10 || c->signal == POLICY_SIGNAL_FULL60)
                policy_format_centi(v, sizeof(v), c->centi);
        else
                policy_format_size_spec(v, sizeof(v), &c->size);
        snprintf(buf, len, "%s %s %s", policy_signal_to_string(c->signal), policy_op_to_string(c->op), v);
}

/* The direct comparisons of a condition (the top-level all/any lists), with their paths. */
typedef struct TopCmp {
        const PolicyCmp *cmp;
        char path[PATH_LEN];
} TopCmp;

static size_t top_cmps(const PolicyCondition *c, const char *path, TopCmp *out, size_t max)
{
        size_t n = 0;
        for (size_t i = 0; i < c->root.n_all && n < max; i++)
                if (!c->root.all[i].group) {
                        out[n].cmp = &c->root.all[i].cmp;
                        snprintf(out[n].path, PATH_LEN, "%s.all[%zu]", path, i);
                        n++;
                }
        for (size_t i = 0; i < c->root.n_any && n < max; i++)
                if (!c->root.any[i].group) {
                        out[n].cmp = &c->root.any[i].cmp;
                        snprintf(out[n].path, PATH_LEN, "%s.any[%zu]", path, i);
                        n++;
                }
        return n;
}

/* Only stages that parsed completely take part, so that every problem is reported in one run without
 * comparing half-built conditions. */
static void cross_check(Parser *ps, const bool *stage_ok)
{
        Policy *p = ps->p;
        TopCmp prev[2 * POLICY_COND_ITEMS_MAX];
        size_t n_prev = 0;

        for (unsigned i = 0; i < p->n_stages; i++) {
                TopCmp en[2 * POLICY_COND_ITEMS_MAX], ex[2 * POLICY_COND_ITEMS_MAX];
                char path[64], ep[80], xp[80], b1[96], b2[96];
                size_t n_en, n_ex;

                snprintf(path, sizeof(path), "stages[%u]", i);
                for (unsigned k = 0; k < i; k++)
                        if (p->stages[k].name && p->stages[i].name &&
                            streq(p->stages[k].name, p->stages[i].name)) {
                                perr(ps, path, "give every stage its own name",
                                     "duplicate stage name \"%s\"", p->stages[i].name);
                                break;
                        }

                if (!stage_ok[i]) {
                        n_prev = 0;
                        continue;
                }
                snprintf(ep, sizeof(ep), "%s.enter", path);
                snprintf(xp, sizeof(xp), "%s.exit", path);
                n_en = top_cmps(&p->stages[i].enter, ep, en, ELEMENTSOF(en));
                n_ex = top_cmps(&p->stages[i].exit, xp, ex, ELEMENTSOF(ex));

                /* Hysteresis: an exit threshold must lie strictly on the far side of the enter threshold. */
                for (size_t a = 0; a < n_en; a++)
                        for (size_t b = 0; b < n_ex; b++) {
                                int ca, cb;
                                uint64_t va, vb;
                                const PolicyCmp *e = en[a].cmp, *x = ex[b].cmp;

                                if (e->signal != x->signal ||
                                    policy_op_above(e->op) == policy_op_above(x->op) ||
                                    !cmp_key(e, &ca, &va) || !cmp_key(x, &cb, &vb) || ca != cb)
                                        continue;
                                if (policy_op_above(e->op) ? vb >= va : vb <= va) {
                                        fmt_cmp(b1, sizeof(b1), x);
                                        fmt_cmp(b2, sizeof(b2), e);
                                        perr(ps, ex[b].path,
                                             policy_op_above(e->op)
                                                 ? "make the exit threshold lower than the enter threshold, "
                                                   "leaving room for hysteresis"
                                                 : "make the exit threshold higher than the enter "
                                                   "threshold, leaving room for hysteresis",
                                             "exit threshold \"%s\" is at or %s the enter threshold \"%s\" "
                                             "(%s)",
                                             b1, policy_op_above(e->op) ? "above" : "below", b2, en[a].path);
                                }
                        }

                /* Ordering: a later stage's threshold on the same signal must be more severe. */
                for (size_t a = 0; a < n_en; a++)
                        for (size_t b = 0; b < n_prev; b++) {
                                int ca, cb;
                                uint64_t va, vb;
                                const PolicyCmp *e = en[a].cmp, *q = prev[b].cmp;

                                if (e->signal != q->signal ||
                                    policy_op_above(e->op) != policy_op_above(q->op) ||
                                    !cmp_key(e, &ca, &va) || !cmp_key(q, &cb, &vb) || ca != cb)
                                        continue;
                                if (policy_op_above(e->op) ? va <= vb : va >= vb) {
                                        fmt_cmp(b1, sizeof(b1), e);
                                        fmt_cmp(b2, sizeof(b2), q);
                                        perr(ps, en[a].path, "order stages from mildest to most severe",
                                             "stages out of order: \"%s\" is not more severe than \"%s\" "
                                             "(%s)",
                                             b1, b2, prev[b].path);
                                }
                        }
                memcpy(prev, en, sizeof(TopCmp) * n_en);
                n_prev = n_en;
        }
}

/* ---- top level ---- */

static void parse_restart(Parser *ps, const cJSON *j, const char *path)
{
        static const char *const keys[] = { "mode",         "initial_delay", "max_delay", "reset_after",
                                            "max_restarts", "window",        NULL };
        static const char *const modes[] = { "never", "on-failure", "always", NULL };
        PolicyRestart *r = &ps->p->restart;
        char p[PATH_LEN];
        const cJSON *x;
        uint64_t u;
        int v;

        if (!check_object(ps, j, path, "restart", keys, NULL))
                return;
        if ((x = get(j, "mode")) && get_enum(ps, x, subpath(p, path, "mode"), "restart mode", modes, &v))
                r->mode = v;
        if ((x = get(j, "initial_delay")))
                (void)get_duration(ps, x, subpath(p, path, "initial_delay"), 0, &r->initial_delay_usec);
        if ((x = get(j, "max_delay")))
                (void)get_duration(ps, x, subpath(p, path, "max_delay"), 0, &r->max_delay_usec);
        if ((x = get(j, "reset_after")))
                (void)get_duration(ps, x, subpath(p, path, "reset_after"), USEC_PER_SEC,
                                   &r->reset_after_usec);
        if ((x = get(j, "window")))
                (void)get_duration(ps, x, subpath(p, path, "window"), USEC_PER_SEC, &r->window_usec);
        if ((x = get(j, "max_restarts")) &&
            get_uint(ps, x, subpath(p, path, "max_restarts"), 0, POLICY_RESTART_HISTORY, &u))
                r->max_restarts = (unsigned)u;
        if (r->initial_delay_usec > r->max_delay_usec)
                perr(ps, subpath(p, path, "initial_delay"), "raise max_delay or lower initial_delay",
                     "initial_delay is above max_delay");
}

static void parse_document(Parser *ps, const cJSON *root)
{
        static const char *const keys[] = { "version",           "name",    "description",
                                            "sampling_interval", "dry_run", "recovery",
                                            "restart",           "stages",  NULL };
        static const char *const recoveries[] = { "stepwise", "direct", NULL };
        Policy *p = ps->p;
        const cJSON *x;
        const char *s;
        char path[PATH_LEN];
        uint64_t u;

        if (!cJSON_IsObject(root)) {
                perr(ps, "", "a policy is a JSON object: {\"version\": 1, \"stages\": [ ... ]}",
                     "the policy must be a JSON object, got %s", json_type(root));
                return;
        }
        check_object(ps, root, "", "the policy", keys, NULL);

        if (!(x = get(root, "version")))
                perr(ps, "", "add \"version\": 1", "missing \"version\"");
        else if (!cJSON_IsNumber(x))
                perr(ps, "version", "write \"version\": 1 (a number)", "expected a number, got %s",
                     json_type(x));
        else if (x->valuedouble != 1.0)
                perr(ps, "version", "this oomless understands \"version\": 1", "unsupported version %g",
                     x->valuedouble);
        if ((x = get(root, "name")))
                (void)get_name(ps, x, "name", &p->name);
        if ((x = get(root, "description")) && get_string(ps, x, "description", &s))
                (void)dup_string(ps, s, &p->description);
        if ((x = get(root, "sampling_interval")) &&
            get_duration(ps, x, "sampling_interval", 10 * USEC_PER_MSEC, &u)) {
                if (u > 10 * USEC_PER_SEC)
                        perr(ps, "sampling_interval", "sample at least every 10s",
                             "sampling_interval too long");
                else
                        p->interval_usec = u;
        }
        if ((x = get(root, "dry_run")))
                (void)get_bool(ps, x, "dry_run", &p->dry_run);
        if ((x = get(root, "recovery"))) {
                int v;
                if (get_enum(ps, x, "recovery", "recovery", recoveries, &v))
                        p->recovery_direct = v == 1;
        }
        /* restart before stages: restart actions are checked against the mode. */
        if ((x = get(root, "restart")))
                parse_restart(ps, x, "restart");

        x = get(root, "stages");
        if (!x) {
                perr(ps, "", "add \"stages\": [ {\"name\": \"pressure\", \"enter\": ..., \"exit\": ...} ]",
                     "missing \"stages\"");
                return;
        }
        if (!cJSON_IsArray(x)) {
                perr(ps, "stages", NULL, "expected an array of stages, got %s", json_type(x));
                return;
        }
        int n = cJSON_GetArraySize(x);
        if (n == 0 || n > POLICY_STAGES_MAX) {
                perr(ps, "stages", NULL, "a policy needs 1..%d stages, got %d", POLICY_STAGES_MAX, n);
                return;
        }
        p->n_stages = (unsigned)n;
        unsigned i = 0;
        bool stage_ok[POLICY_STAGES_MAX];
        for (const cJSON *c = x->child; c; c = c->next, i++)
                stage_ok[i] = parse_stage(ps, c, subindex(path, "stages", i), i + 1, i + 1 == (unsigned)n,
                                          &p->stages[i]);
        cross_check(ps, stage_ok);
}

/* ---- byte-level checks ---- */

static void offset_to_linecol(const char *buf, size_t off, unsigned *line, unsigned *col)
{
        unsigned l = 1, c = 1;
        for (size_t i = 0; i < off; i++) {
                if (buf[i] == '\n') {
                        l++;
                        c = 1;
                } else if (((unsigned char)buf[i] & 0xC0) != 0x80)
                        c++; /* count characters, not continuation bytes */
        }
        *line = l;
        *col = c;
}

/* Returns the offset of the first invalid UTF-8 sequence or control character, or len if all is well. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
        size_t i = 0;
        while (i < len) {
                unsigned char c = s[i];
                uint32_t cp;
                size_t n;

                if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                        return i; /* JSON allows no raw control characters, cJSON would skip them */
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xC2 && c <= 0xDF)
                        n = 1, cp = c & 0x1F;
                else if (c >= 0xE0 && c <= 0xEF)
                        n = 2, cp = c & 0x0F;
                else if (c >= 0xF0 && c <= 0xF4)
                        n = 3, cp = c & 0x07;
                else
                        return i;
                if (i + n >= len)
                        return i;
                for (size_t k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xC0) != 0x80)
                                return i;
                        cp = (cp << 6) | (s[i + k] & 0x3F);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
                    (cp >= 0xD800 && cp <= 0xDFFF))
                        return i;
                i += n + 1;
        }
        return len;
}

/* Returns the offset where nesting exceeds the limit, or len. Strings are skipped. */
/* Also stops at "\u0000" inside a string, which cJSON would silently cut the string at; *ret_nul
 * tells which of the two it found. */
static size_t depth_exceeded_at(const char *s, size_t len, bool *ret_nul)
{
        unsigned depth = 0;
        bool in_str = false;

        *ret_nul = false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (in_str) {
                        if (c == '\\' && len - i >= 6 && strneq(s + i, "\\u0000", 6)) {
                                *ret_nul = true;
                                return i;
                        }
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = false;
                } else if (c == '"')
                        in_str = true;
                else if (c == '[' || c == '{') {
                        if (++depth > POLICY_JSON_DEPTH_MAX)
                                return i;
                } else if ((c == ']' || c == '}') && depth > 0)
                        depth--;
        }
        return len;
}

static int syntax_error(PolicyDiags *diags, const char *buf, size_t off, const char *hint, const char *msg)
{
        unsigned line, col;
        offset_to_linecol(buf, off, &line, &col);
        return policy_diags_add(diags, line, col, NULL, hint, "%s", msg);
}

int policy_parse(const char *buf, size_t len, const char *filename, Policy **ret_policy, PolicyDiags *diags)
{
        _cleanup_free_ char *copy = NULL;
        const char *end = NULL;
        bool nul;
        cJSON *root;
        Policy *p;
        size_t off;
        int r;

        if (len > POLICY_FILE_SIZE_MAX) {
                r = policy_diags_add(diags, 0, 0, "", "keep policies below 1 MiB",
                                     "the policy is %zu bytes, above the limit of %d", len,
                                     POLICY_FILE_SIZE_MAX);
                return r < 0 ? r : -EINVAL;
        }
        off = 0;
        while (off < len && strchr(" \t\r\n", buf[off]))
                off++;
        if (off == len) {
                r = policy_diags_add(diags, 0, 0, "",
                                     "a policy is a JSON object: {\"version\": 1, \"stages\": [ ... ]}",
                                     "the policy is empty");
                return r < 0 ? r : -EINVAL;
        }
        off = utf8_invalid_at((const unsigned char *)buf, len);
        if (off < len) {
                char m[80];
                unsigned char c = (unsigned char)buf[off];
                if (c == 0)
                        snprintf(m, sizeof(m), "NUL byte in the policy");
                else if (c < 0x20)
                        snprintf(m, sizeof(m), "control character 0x%02x outside the allowed whitespace", c);
                else
                        snprintf(m, sizeof(m), "invalid UTF-8");
                r = syntax_error(diags, buf, off,
                                 c != 0 && c < 0x20 ? "remove it; inside strings write it as \\u00XX"
                                                    : "save the file as UTF-8 text",
                                 m);
                return r < 0 ? r : -EINVAL;
        }
        off = depth_exceeded_at(buf, len, &nul);
        if (off < len) {
                char m[64];
                snprintf(m, sizeof(m), "nesting deeper than %d levels", POLICY_JSON_DEPTH_MAX);
                r = syntax_error(diags, buf, off,
                                 nul ? "remove it; policy strings cannot contain NUL" : NULL,
                                 nul ? "\\u0000 in a string" : m);
                return r < 0 ? r : -EINVAL;
        }

        copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, buf, len);
        copy[len] = '\0';
        root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, true);
        if (!root) {
                /* cJSON reports where it stopped; say what is there. */
                size_t at = end && end >= copy && end <= copy + len ? (size_t)(end - copy) : len;
                char m[128];
                while (at < len && strchr(" \t\r\n", copy[at]))
                        at++;
                if (at >= len)
                        snprintf(m, sizeof(m), "unexpected end of input");
                else if (isprint((unsigned char)copy[at]))
                        snprintf(m, sizeof(m), "syntax error at '%c'", copy[at]);
                else
                        snprintf(m, sizeof(m), "syntax error at byte 0x%02x", (unsigned char)copy[at]);
                r = syntax_error(diags, copy, MIN(at, len), "check for missing commas, quotes or brackets",
                                 m);
                return r < 0 ? r : -EINVAL;
        }

        p = calloc(1, sizeof(Policy));
        if (!p) {
                cJSON_Delete(root);
                return -ENOMEM;
        }
        p->interval_usec = POLICY_DEFAULT_INTERVAL_USEC;
        p->restart = (PolicyRestart){
                .mode = POLICY_RESTART_ON_FAILURE,
                .initial_delay_usec = USEC_PER_SEC,
                .max_delay_usec = 60 * USEC_PER_SEC,
                .reset_after_usec = 300 * USEC_PER_SEC,
                .max_restarts = 5,
                .window_usec = 600 * USEC_PER_SEC,
        };
        Parser ps = { .diags = diags, .p = p };
        parse_document(&ps, root);
        cJSON_Delete(root);

        if (!ps.oom && !p->name)
                ps.oom = (p->name = strdup("policy")) ? 0 : -ENOMEM;
        if (!ps.oom && !(p->source = strdup(filename ?: "(built-in)")))
                ps.oom = -ENOMEM;
        if (ps.oom) {
                policy_free(p);
                return ps.oom;
        }
        if (ps.errors > 0) {
                policy_free(p);
                return -EINVAL;
        }
        *ret_policy = p;
        return 0;
}

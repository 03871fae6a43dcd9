/* SPDX-License-Identifier: MIT */
/*
 * The JSON layer of the policy parser: checks the bytes before cJSON sees them (UTF-8, no NUL, bounded
 * nesting; syntax errors located by line:column), and reads typed values out of the tree. Every getter
 * reports what is wrong through the Parser, with the JSON path and a hint, and returns false; it knows
 * JSON and units, not what a stage or an action is.
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

#include "macro.h"
#include "policy-json.h"

/* JSON paths and hints are bounded on purpose: a truncated path in a message beats an allocation. */
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define DURATION_MAX_USEC (168 * 3600 * USEC_PER_SEC) /* a week: anything longer is a typo */
#define OBJECT_KEYS_MAX   64                          /* no policy object has more legitimate keys */

void json_error(Parser *ps, const char *path, const char *hint, const char *fmt, ...)
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

const char *json_subpath(char *buf, const char *parent, const char *key)
{
        snprintf(buf, PATH_LEN, "%s%s%s", parent, parent[0] ? "." : "", key);
        return buf;
}

const char *json_subindex(char *buf, const char *parent, size_t i)
{
        snprintf(buf, PATH_LEN, "%s[%zu]", parent, i);
        return buf;
}

const char *json_type(const cJSON *j)
{
        static const struct {
                cJSON_bool (*is)(const cJSON *const item);
                const char *name;
        } types[] = {
                { cJSON_IsString, "a string" }, { cJSON_IsNumber, "a number" },
                { cJSON_IsBool, "a boolean" },  { cJSON_IsNull, "null" },
                { cJSON_IsArray, "an array" },  { cJSON_IsObject, "an object" },
        };

        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (types[i].is(j))
                        return types[i].name;
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
char *json_choices_hint(char *buf, size_t len, const char *word, const char *const *choices)
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
bool json_check_object(Parser *ps, const cJSON *j, const char *path, const char *what,
                       const char *const *allowed, const char *const *elsewhere)
{
        char p[PATH_LEN], hint[512];
        size_t n = 0;

        if (!cJSON_IsObject(j)) {
                json_error(ps, path, NULL, "%s must be an object, got %s", what, json_type(j));
                return false;
        }
        for (const cJSON *c = j->child; c; c = c->next) {
                bool known = false;

                if (++n > OBJECT_KEYS_MAX) {
                        json_error(ps, path, NULL, "%s has more than %d keys", what, OBJECT_KEYS_MAX);
                        return true;
                }
                for (const cJSON *d = j->child; d != c; d = d->next)
                        if (streq(d->string, c->string)) {
                                json_error(ps, json_subpath(p, path, c->string), "remove one of them",
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
                                        json_error(ps, json_subpath(p, path, c->string),
                                                   json_choices_hint(hint, sizeof(hint), NULL, allowed),
                                                   "key \"%s\" does not apply to %s", c->string, what);
                                        known = true;
                                        break;
                                }
                if (!known)
                        json_error(ps, json_subpath(p, path, c->string),
                                   json_choices_hint(hint, sizeof(hint), c->string, allowed),
                                   "unknown key \"%s\" in %s", c->string, what);
        }
        return true;
}

const cJSON *json_get(const cJSON *obj, const char *key)
{
        return cJSON_GetObjectItemCaseSensitive(obj, key);
}

bool json_expect(Parser *ps, const cJSON *j, const char *path, cJSON_bool (*is)(const cJSON *const item),
                 const char *hint, const char *expected)
{
        if (is(j))
                return true;
        json_error(ps, path, hint, "%s, got %s", expected, json_type(j));
        return false;
}

/* ---- scalar values ---- */

bool json_get_string(Parser *ps, const cJSON *j, const char *path, const char **ret)
{
        if (!cJSON_IsString(j) || !j->valuestring) {
                json_error(ps, path, NULL, "expected a string, got %s", json_type(j));
                return false;
        }
        if (strlen(j->valuestring) > POLICY_STRING_MAX) {
                json_error(ps, path, NULL, "string longer than %d bytes", POLICY_STRING_MAX);
                return false;
        }
        *ret = j->valuestring;
        return true;
}

bool json_dup_string(Parser *ps, const char *s, char **ret)
{
        char *d = strdup(s);
        if (!d)
                return parser_oom(ps);
        free(*ret);
        *ret = d;
        return true;
}

bool json_get_uint(Parser *ps, const cJSON *j, const char *path, uint64_t min, uint64_t max, uint64_t *ret)
{
        double v;

        if (!cJSON_IsNumber(j)) {
                json_error(ps, path, NULL, "expected an integer, got %s", json_type(j));
                return false;
        }
        v = j->valuedouble;
        if (!isfinite(v) || fabs(v) >= JSON_INT_MAX) {
                json_error(ps, path, NULL, "number out of range, allowed %" PRIu64 "..%" PRIu64, min, max);
                return false;
        }
        if (v != floor(v)) {
                json_error(ps, path, NULL, "expected an integer, got %g", v);
                return false;
        }
        if (v < (double)min || v > (double)max) {
                json_error(ps, path, NULL, "%.0f is out of range, allowed %" PRIu64 "..%" PRIu64, v, min,
                           max);
                return false;
        }
        *ret = (uint64_t)v;
        return true;
}

bool json_get_bool(Parser *ps, const cJSON *j, const char *path, bool *ret)
{
        if (!cJSON_IsBool(j)) {
                json_error(ps, path, "write true or false without quotes", "expected a boolean, got %s",
                           json_type(j));
                return false;
        }
        *ret = cJSON_IsTrue(j);
        return true;
}

bool json_parse_duration(Parser *ps, const char *s, const char *path, uint64_t *ret)
{
        char b[32];
        int r;

        r = units_parse_duration(s, ret);
        if (r == -ERANGE || (r >= 0 && *ret > DURATION_MAX_USEC)) {
                json_error(ps, path, NULL, "duration \"%s\" is above the limit of %s", s,
                           policy_format_duration(b, sizeof(b), DURATION_MAX_USEC));
                return false;
        }
        if (r < 0) {
                json_error(ps, path, "use a number with a unit: us, ms, s, m, h (e.g. \"250ms\", \"30s\")",
                           "invalid duration \"%s\"", s);
                return false;
        }
        return true;
}

bool json_get_duration(Parser *ps, const cJSON *j, const char *path, uint64_t min, uint64_t *ret)
{
        const char *s;
        char b1[32];
        uint64_t v;

        if (cJSON_IsNumber(j)) {
                json_error(ps, path, "write the unit, e.g. \"5s\" or \"250ms\"",
                           "expected a duration string, got a number");
                return false;
        }
        if (!json_get_string(ps, j, path, &s))
                return false;
        if (!json_parse_duration(ps, s, path, &v))
                return false;
        if (v < min) {
                json_error(ps, path, NULL, "duration %s is below the minimum of %s", s,
                           policy_format_duration(b1, sizeof(b1), min));
                return false;
        }
        *ret = v;
        return true;
}

bool json_check_duration_max(Parser *ps, const char *path, uint64_t v, uint64_t max_usec, const char *msg)
{
        char b[32], hint[48];

        if (v <= max_usec)
                return true;
        snprintf(hint, sizeof(hint), "use at most %s", policy_format_duration(b, sizeof(b), max_usec));
        json_error(ps, path, hint, "%s", msg);
        return false;
}

/* A duration measured in samples: 0 means "one sample", anything else must cover a sampling
 * interval, or the hold would silently be one sample anyway. */
bool json_get_sampled_duration(Parser *ps, const cJSON *j, const char *path, uint64_t interval_usec,
                               bool allow_zero, uint64_t *ret)
{
        char b[32], hint[96];
        uint64_t v;

        if (!json_get_duration(ps, j, path, 0, &v))
                return false;
        if (v == 0 && !allow_zero) {
                json_error(ps, path, "give a duration such as \"30s\"", "duration must be above 0");
                return false;
        }
        if (v != 0 && v < interval_usec) {
                policy_format_duration(b, sizeof(b), interval_usec);
                if (allow_zero)
                        snprintf(hint, sizeof(hint), "use 0s (a single sample) or at least %s", b);
                else
                        snprintf(hint, sizeof(hint), "use at least %s", b);
                json_error(ps, path, hint, "duration %s is shorter than the sampling interval %s",
                           j->valuestring, b);
                return false;
        }
        *ret = v;
        return true;
}

/* Parses "70%", "12.5%", "256M", "1000"; percent only when allow_percent. what names the thing for
 * messages ("memory 120% is above 100%"). */
bool json_parse_size(Parser *ps, const char *s, const char *path, const char *what, bool allow_percent,
                     bool allow_max, SizeSpec *ret)
{
        size_t n = strlen(s);
        int r;

        if (n > 0 && s[n - 1] == '%') {
                char *end;
                double v;

                if (!allow_percent) {
                        json_error(ps, path, "give an absolute size such as \"64M\"",
                                   "%s cannot be a percentage", what);
                        return false;
                }
                v = strtod(s, &end);
                if (end != s + n - 1 || !isdigit((unsigned char)s[0])) {
                        json_error(ps, path, "write a percentage like \"80%\" or \"12.5%\"",
                                   "invalid percentage \"%s\"", s);
                        return false;
                }
                if (v > 100.0) {
                        json_error(ps, path, "a percentage of the limit can be at most 100%",
                                   "%s %s is above 100%%", what, s);
                        return false;
                }
        }
        if (!allow_max && (streq(s, "max") || streq(s, "infinity"))) {
                json_error(ps, path, NULL, "%s cannot be \"%s\"", what, s);
                return false;
        }
        r = units_parse_size_spec(s, ret);
        if (r == -ERANGE) {
                if (s[n - 1] == '%')
                        json_error(ps, path, "use a percentage above 0%", "%s %s is out of range", what, s);
                else
                        json_error(ps, path, NULL, "%s %s is out of range", what, s);
                return false;
        }
        if (r < 0) {
                if (s[0] == '-')
                        json_error(ps, path, "sizes cannot be negative", "invalid size \"%s\" for %s", s,
                                   what);
                else
                        json_error(ps, path,
                                   allow_percent
                                       ? "use bytes with an optional K, M, G, T suffix (\"512M\") or a "
                                         "percentage (\"80%\")"
                                       : "use bytes with an optional K, M, G, T suffix (\"512M\")",
                                   "invalid size \"%s\" for %s", s, what);
                return false;
        }
        return true;
}

bool json_get_size(Parser *ps, const cJSON *j, const char *path, const char *what, bool allow_percent,
                   SizeSpec *ret)
{
        const char *s;

        if (cJSON_IsNumber(j)) {
                double v = j->valuedouble;
                if (!isfinite(v) || v >= JSON_INT_MAX) {
                        json_error(ps, path, "write large sizes as strings with a suffix, e.g. \"64G\"",
                                   "%s is out of range", what);
                        return false;
                }
                if (v < 0) {
                        json_error(ps, path, "sizes cannot be negative", "%s is negative (%g)", what, v);
                        return false;
                }
                if (v != floor(v)) {
                        json_error(ps, path, "give whole bytes or a string like \"1.5M\"",
                                   "%s %g is not a whole number of bytes", what, v);
                        return false;
                }
                *ret = (SizeSpec){ .set = true, .bytes = (uint64_t)v };
                return true;
        }
        if (!json_get_string(ps, j, path, &s))
                return false;
        return json_parse_size(ps, s, path, what, allow_percent, false, ret);
}

bool json_get_signal(Parser *ps, const cJSON *j, const char *path, int *ret)
{
        const char *s;
        int sig;

        if (!json_get_string(ps, j, path, &s))
                return false;
        sig = units_parse_signal(s);
        if (sig < 0) {
                json_error(ps, path, "use a name such as \"TERM\", \"SIGUSR1\" or a number 1..64",
                           "unknown signal \"%s\"", s);
                return false;
        }
        *ret = sig;
        return true;
}

bool json_get_enum(Parser *ps, const cJSON *j, const char *path, const char *what, const char *const *names,
                   int *ret)
{
        const char *s;
        char hint[256];

        if (!json_get_string(ps, j, path, &s))
                return false;
        for (int i = 0; names[i]; i++)
                if (streq(names[i], s)) {
                        *ret = i;
                        return true;
                }
        json_error(ps, path, json_choices_hint(hint, sizeof(hint), s, names), "unknown %s \"%s\"", what, s);
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

bool json_get_name(Parser *ps, const cJSON *j, const char *path, char **ret)
{
        const char *s;

        if (!json_get_string(ps, j, path, &s))
                return false;
        if (!valid_name(s)) {
                json_error(ps, path, "use 1..64 letters, digits, '.', '_' or '-'", "invalid name \"%s\"", s);
                return false;
        }
        return json_dup_string(ps, s, ret);
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

/* The value of the escape "\uXXXX" at s[i], or -1 if s[i] does not start a complete one. */
static int u_escape_at(const char *s, size_t len, size_t i)
{
        int v = 0;

        if (i > len || len - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
                return -1;
        for (size_t k = i + 2; k < i + 6; k++) {
                if (!isxdigit((unsigned char)s[k]))
                        return -1;
                v = v * 16 +
                    (isdigit((unsigned char)s[k]) ? s[k] - '0' : tolower((unsigned char)s[k]) - 'a' + 10);
        }
        return v;
}

typedef enum SurrogateProblem {
        SURROGATE_LONE_HIGH,       /* a high one not followed by any escape: end of string or of input */
        SURROGATE_HIGH_THEN_OTHER, /* a high one followed by an escape that is not a low one */
        SURROGATE_LONE_LOW,
} SurrogateProblem;

/* Returns the offset of the first lone UTF-16 surrogate escape inside a string, or len. cJSON rejects
 * them and tells no more than where it stopped. A high surrogate cut off by the end of the input in
 * the middle of what may be its low half is left to the "unexpected end" message. */
static size_t lone_surrogate_at(const char *s, size_t len, SurrogateProblem *ret_problem, size_t *ret_string)
{
        bool in_str = false;

        for (size_t i = 0; i < len; i++) {
                size_t after;
                int v, low;

                if (!in_str) {
                        in_str = s[i] == '"';
                        *ret_string = i;
                        continue;
                }
                if (s[i] == '"') {
                        in_str = false;
                        continue;
                }
                if (s[i] != '\\')
                        continue;
                v = u_escape_at(s, len, i);
                if (v < 0) {
                        i++; /* a one-character escape, or a broken one cJSON will report */
                        continue;
                }
                if (v >= 0xDC00 && v <= 0xDFFF) {
                        *ret_problem = SURROGATE_LONE_LOW;
                        return i;
                }
                if (v < 0xD800 || v > 0xDBFF) {
                        i += 5;
                        continue;
                }
                after = i + 6;
                low = u_escape_at(s, len, after);
                if (low >= 0xDC00 && low <= 0xDFFF) {
                        i += 11;
                        continue;
                }
                if (after < len && s[after] == '\\') {
                        if (after + 1 >= len || (s[after + 1] == 'u' && low < 0))
                                return len; /* cut off, or a broken \u escape: cJSON's message says so */
                        *ret_problem = SURROGATE_HIGH_THEN_OTHER;
                        return i;
                }
                *ret_problem = SURROGATE_LONE_HIGH;
                return i;
        }
        return len;
}

static int syntax_error(PolicyDiags *diags, const char *buf, size_t off, const char *hint, const char *msg)
{
        unsigned line, col;
        offset_to_linecol(buf, off, &line, &col);
        return policy_diags_add(diags, line, col, NULL, hint, "%s", msg);
}

static int lone_surrogate_error(PolicyDiags *diags, const char *buf, size_t off, SurrogateProblem problem)
{
        static const char write_it[] = "; write the character itself or a valid pair";
        const char *after = buf + off + 6;
        char m[128], hint[160];

        if (problem == SURROGATE_HIGH_THEN_OTHER)
                snprintf(m, sizeof(m),
                         "invalid JSON string: \"%.6s\" is a lone UTF-16 surrogate, followed by \"%.*s\" "
                         "instead of a low one",
                         buf + off, after[1] == 'u' ? 6 : 2, after);
        else
                snprintf(m, sizeof(m), "invalid JSON string: \"%.6s\" is a lone UTF-16 surrogate",
                         buf + off);
        if (problem == SURROGATE_LONE_LOW)
                snprintf(hint, sizeof(hint),
                         "a low surrogate, \\udc00-\\udfff, must follow a high one, \\ud800-\\udbff%s",
                         write_it);
        else
                snprintf(hint, sizeof(hint),
                         "a high surrogate must be followed by a low one, \\udc00-\\udfff%s", write_it);
        return syntax_error(diags, buf, off, hint, m);
}

int json_parse_document(const char *buf, size_t len, PolicyDiags *diags, cJSON **ret_root)
{
        _cleanup_free_ char *copy = NULL;
        const char *end = NULL;
        bool nul;
        cJSON *root;
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
                SurrogateProblem sp;
                size_t su, str = 0;

                /* cJSON stops at the escape, or at the string's start when the input ends inside it. */
                su = lone_surrogate_at(copy, len, &sp, &str);
                if (su < len && str <= at) {
                        r = lone_surrogate_error(diags, copy, su, sp);
                        return r < 0 ? r : -EINVAL;
                }
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
        *ret_root = root;
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The JSON layer of the policy parser (policy-json.c), the bottom of json <- validate <- grammar <- parse.
 * Getters return false after reporting the problem through the Parser; callers go on, so that one run
 * reports every problem. Paths are bounded (PATH_LEN): a truncated path beats an allocation.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "macro.h"
#include "policy-internal.h"

#define PATH_LEN     512
#define JSON_INT_MAX 9007199254740992.0 /* 2^53: beyond, doubles lose integers */

/* The state of one policy_parse() run. The JSON layer only reports through it; the grammar also fills
 * .p and reads the sampling interval from it. */
typedef struct Parser {
        PolicyDiags *diags;
        Policy *p;
        int oom; /* -ENOMEM once an allocation failed: the walk goes on, the result is dropped */
        unsigned errors;
} Parser;

/* Out of memory while parsing: the whole parse fails with -ENOMEM. For "return parser_oom(ps);". */
static inline bool parser_oom(Parser *ps)
{
        ps->oom = -ENOMEM;
        return false;
}

/* Checks the bytes (size, UTF-8, control characters, nesting, "\u0000") and parses them. Problems are
 * added to diags with line:column and give -EINVAL; -ENOMEM on allocation failure. */
int json_parse_document(const char *buf, size_t len, PolicyDiags *diags, cJSON **ret_root);

void json_error(Parser *ps, const char *path, const char *hint, const char *fmt, ...) _printf_(4, 5);

/* "parent.key" and "parent[i]" into buf (PATH_LEN bytes); return buf. */
const char *json_subpath(char *buf, const char *parent, const char *key);
const char *json_subindex(char *buf, const char *parent, size_t i);
/* "a string", "an array", ...: for "expected X, got Y" messages. */
const char *json_type(const cJSON *j);
/* "did you mean \"x\"?" when word (may be NULL) is a near miss of a choice, else the list of choices. */
char *json_choices_hint(char *buf, size_t len, const char *word, const char *const *choices);

/* Checks that j is an object whose keys are all in allowed, without duplicates. Keys listed in
 * elsewhere are reported as not applying to what, rather than as unknown. Returns false (after
 * reporting) when j is not an object; unknown and duplicate keys are reported but not fatal. */
bool json_check_object(Parser *ps, const cJSON *j, const char *path, const char *what,
                       const char *const *allowed, const char *const *elsewhere);
const cJSON *json_get(const cJSON *obj, const char *key);
/* Checks j's type with is(); otherwise reports "<expected>, got <j's type>" and returns false. */
bool json_expect(Parser *ps, const cJSON *j, const char *path, cJSON_bool (*is)(const cJSON *const item),
                 const char *hint, const char *expected);

bool json_get_string(Parser *ps, const cJSON *j, const char *path, const char **ret);
/* Replaces *ret with a copy of s. */
bool json_dup_string(Parser *ps, const char *s, char **ret);
bool json_get_uint(Parser *ps, const cJSON *j, const char *path, uint64_t min, uint64_t max, uint64_t *ret);
bool json_get_bool(Parser *ps, const cJSON *j, const char *path, bool *ret);
/* 1..64 letters, digits, '.', '_' or '-', copied into *ret. */
bool json_get_name(Parser *ps, const cJSON *j, const char *path, char **ret);
/* One of names (NULL-terminated); *ret is its index. what names the thing for messages. */
bool json_get_enum(Parser *ps, const cJSON *j, const char *path, const char *what, const char *const *names,
                   int *ret);
bool json_get_signal(Parser *ps, const cJSON *j, const char *path, int *ret);

/* Durations are strings with a unit ("250ms"), at most a week. */
bool json_parse_duration(Parser *ps, const char *s, const char *path, uint64_t *ret);
bool json_get_duration(Parser *ps, const cJSON *j, const char *path, uint64_t min, uint64_t *ret);
/* Reports v above max_usec as msg, with a hint naming the limit ("use at most 1h"). */
bool json_check_duration_max(Parser *ps, const char *path, uint64_t v, uint64_t max_usec, const char *msg);
/* A duration counted in samples of interval_usec: 0 (if allow_zero) or at least one interval. */
bool json_get_sampled_duration(Parser *ps, const cJSON *j, const char *path, uint64_t interval_usec,
                               bool allow_zero, uint64_t *ret);

/* Sizes: "70%" (if allow_percent), "12.5%", "256M", "1000"; get_size also takes a number of bytes.
 * what names the thing for messages ("memory 120% is above 100%"). */
bool json_parse_size(Parser *ps, const char *s, const char *path, const char *what, bool allow_percent,
                     bool allow_max, SizeSpec *ret);
bool json_get_size(Parser *ps, const cJSON *j, const char *path, const char *what, bool allow_percent,
                   SizeSpec *ret);

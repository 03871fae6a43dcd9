/* SPDX-License-Identifier: MIT */
/* NULL-terminated string vectors (argv, envp), owned: every element and the array are malloc'd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

size_t strv_length(char *const *l);
/* Appends s, taking ownership of it even on failure (so `strv_push(&l, strdup(x))` needs no
 * temporary). A NULL s is -ENOMEM: the allocation that produced it failed. */
int strv_push(char ***l, char *s);
/* Appends a formatted string. */
int strv_pushf(char ***l, const char *fmt, ...) _printf_(2, 3);
/* A copy of l (an empty vector for NULL); NULL on OOM. */
char **strv_copy(char *const *l);
/* The elements joined by sep, each quoted in 'single quotes' when quote is set and it holds a space,
 * a quote or nothing; NULL on OOM. For messages, not for a shell. */
char *strv_join(char *const *l, const char *sep, bool quote);
/* Frees every element and the array; NULL-safe, returns NULL. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

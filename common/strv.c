/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* vasprintf */
#include "strv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t strv_length(char *const *l)
{
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

int strv_push(char ***l, char *s)
{
        size_t n = strv_length(*l);
        char **nl;

        if (!s)
                return -ENOMEM;
        nl = realloc(*l, (n + 2) * sizeof(char *));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[n] = s;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_pushf(char ***l, const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return strv_push(l, s);
}

char **strv_free(char **l)
{
        for (size_t i = 0; l && l[i]; i++)
                free(l[i]);
        free(l);
        return NULL;
}

char **strv_copy(char *const *l)
{
        size_t n = strv_length(l);
        char **c = calloc(n + 1, sizeof(char *));

        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(l[i])))
                        return strv_free(c);
        return c;
}

char *strv_join(char *const *l, const char *sep, bool quote)
{
        size_t len = 1, n = strv_length(l);
        char *s, *p;

        for (size_t i = 0; i < n; i++)
                len += strlen(l[i]) + strlen(sep) + 2;
        p = s = malloc(len);
        if (!s)
                return NULL;
        *p = 0;
        for (size_t i = 0; i < n; i++) {
                bool q = quote && (!*l[i] || strpbrk(l[i], " \t\n'\""));
                p = stpcpy(p, i > 0 ? sep : "");
                p = stpcpy(p, q ? "'" : "");
                p = stpcpy(p, l[i]);
                p = stpcpy(p, q ? "'" : "");
        }
        return s;
}

/* SPDX-License-Identifier: MIT */
/* A growing, always NUL-terminated string buffer. An allocation failure does not lose what was
 * written: the buffer stops growing and remembers it (oom), so a log line or a printout is cut,
 * never dropped, and the caller decides what a cut means. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct StrBuf {
        char *s; /* malloc'd; NULL until the first append */
        size_t len, cap;
        bool oom; /* an append did not fit: s holds what came before it */
} StrBuf;

void strbuf_put(StrBuf *b, const char *p, size_t n);

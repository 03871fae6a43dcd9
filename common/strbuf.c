/* SPDX-License-Identifier: MIT */
#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

#include "macro.h"

void strbuf_put(StrBuf *b, const char *p, size_t n)
{
        if (b->oom)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = MAX(b->cap * 2, b->len + n + 256);
                char *ns = realloc(b->s, cap);
                if (!ns) {
                        b->oom = true;
                        return;
                }
                b->s = ns;
                b->cap = cap;
        }
        memcpy(b->s + b->len, p, n);
        b->len += n;
        b->s[b->len] = '\0';
}

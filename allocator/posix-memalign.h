/* SPDX-License-Identifier: MIT */
/* posix_memalign(3) over an aligned allocation function: shared by the allocator's override and the
 * benchmark's glibc shim, so that both check alignments alike. Header only, no dependencies. */
#pragma once

#include <errno.h>
#include <stddef.h>

/* EINVAL for an alignment that is not a power of two multiple of sizeof(void *); ENOMEM, with errno as
 * it was (POSIX: the error is the return value), where memalign_fn fails. */
static inline int posix_memalign_via(void *(*memalign_fn)(size_t align, size_t n), void **memptr,
                                     size_t align, size_t n)
{
        if (align < sizeof(void *) || (align & (align - 1)))
                return EINVAL;
        int saved = errno;
        void *p = memalign_fn(align, n);
        if (!p) {
                errno = saved;
                return ENOMEM;
        }
        *memptr = p;
        return 0;
}

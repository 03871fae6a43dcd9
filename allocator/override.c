/* SPDX-License-Identifier: MIT */
/*
 * The exported malloc family: the standard names, their glibc-internal __libc_* aliases, and safe
 * versions of glibc's malloc introspection calls, so nothing the program, libc or libstdc++ reaches
 * lands in glibc's own heap. Argument checks live here; the work is in alloc.c.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-fast.h"
#include "posix-memalign.h"

void cfree(void *p);

#define MA_ALIAS(name) __attribute__((alias(#name), visibility("default")))

MA_API void *malloc(size_t n)
{
        return ma_malloc_fast(n);
}

MA_API void free(void *p)
{
        ma_free_fast(p);
}

MA_API void *calloc(size_t n, size_t size)
{
        return ma_calloc(n, size);
}

MA_API void *realloc(void *p, size_t n)
{
        return ma_realloc(p, n);
}

MA_API void *reallocarray(void *p, size_t n, size_t size)
{
        size_t total;
        if (__builtin_mul_overflow(n, size, &total)) {
                errno = ENOMEM;
                return NULL;
        }
        return ma_realloc(p, total);
}

static inline bool ma_pow2(size_t a)
{
        return a && !(a & (a - 1));
}

MA_API int posix_memalign(void **memptr, size_t align, size_t n)
{
        return posix_memalign_via(ma_memalign, memptr, align, n);
}

MA_API void *aligned_alloc(size_t align, size_t n)
{
        /* glibc accepts any power of two (C17 dropped the size-multiple rule). */
        if (!ma_pow2(align)) {
                errno = EINVAL;
                return NULL;
        }
        return ma_memalign(align, n);
}

MA_API void *memalign(size_t align, size_t n)
{
        /* glibc rounds a non-power-of-two alignment up. */
        if (!ma_pow2(align)) {
                if (align > ((size_t)1 << (sizeof(size_t) * 8 - 2))) {
                        errno = EINVAL;
                        return NULL;
                }
                size_t a = 1;
                while (a < align)
                        a <<= 1;
                align = a;
        }
        return ma_memalign(align, n);
}

MA_API void *valloc(size_t n)
{
        return ma_memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

MA_API void *pvalloc(size_t n)
{
        size_t ps = (size_t)sysconf(_SC_PAGESIZE);
        if (n > SIZE_MAX - ps) {
                errno = ENOMEM;
                return NULL;
        }
        n = n ? (n + ps - 1) & ~(ps - 1) : ps;
        return ma_memalign(ps, n);
}

MA_API size_t malloc_usable_size(void *p)
{
        return ma_usable_size(p);
}

MA_API void cfree(void *p)
{
        ma_free_fast(p);
}

MA_API int malloc_trim(size_t pad)
{
        extern size_t oomless_scavenge(void);
        (void)pad;
        return oomless_scavenge() > 0;
}

MA_API int mallopt(int param, int value)
{
        (void)param;
        (void)value;
        return 1; /* accepted and ignored: glibc's tunables do not apply to this heap */
}

static struct mallinfo2 ma_mallinfo2(void)
{
        struct mallinfo2 mi;
        memset(&mi, 0, sizeof(mi));
        uint64_t held = atomic_load(&ma_held);
        uint64_t in_use = ma_heap_in_use();
        mi.arena = held;
        mi.uordblks = in_use;
        mi.fordblks = held > in_use ? held - in_use : 0;
        mi.keepcost = 0;
        return mi;
}

MA_API struct mallinfo2 mallinfo2(void)
{
        return ma_mallinfo2();
}

MA_API struct mallinfo mallinfo(void)
{
        struct mallinfo2 m2 = ma_mallinfo2();
        struct mallinfo mi;
        memset(&mi, 0, sizeof(mi));
        mi.arena = (int)(m2.arena > INT32_MAX ? INT32_MAX : m2.arena);
        mi.uordblks = (int)(m2.uordblks > INT32_MAX ? INT32_MAX : m2.uordblks);
        mi.fordblks = (int)(m2.fordblks > INT32_MAX ? INT32_MAX : m2.fordblks);
        return mi;
}

MA_API void malloc_stats(void)
{
        struct mallinfo2 m = ma_mallinfo2();
        MaBuf b = { .n = 0 };
        mb_str(&b, "liboomless: held bytes     = ");
        mb_u64(&b, m.arena);
        mb_flush(&b);
        mb_str(&b, "liboomless: in use bytes   = ");
        mb_u64(&b, m.uordblks);
        mb_flush(&b);
        mb_str(&b, "liboomless: returned bytes = ");
        mb_u64(&b, atomic_load(&ma_returned));
        mb_flush(&b);
}

MA_API int malloc_info(int options, FILE *fp)
{
        if (options != 0 || !fp) {
                errno = EINVAL;
                return -1;
        }
        struct mallinfo2 m = ma_mallinfo2();
        fprintf(
            fp,
            "<malloc version=\"oomless-1\">\n<total type=\"held\" size=\"%zu\"/>\n"
            "<total type=\"in_use\" size=\"%zu\"/>\n<total type=\"returned\" size=\"%llu\"/>\n</malloc>\n",
            m.arena, m.uordblks, (unsigned long long)atomic_load(&ma_returned));
        return 0;
}

/* glibc-internal names that some programs and libraries call directly. */
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
void *__libc_malloc(size_t n) MA_ALIAS(malloc);
void __libc_free(void *p) MA_ALIAS(free);
void *__libc_calloc(size_t n, size_t size) MA_ALIAS(calloc);
void *__libc_realloc(void *p, size_t n) MA_ALIAS(realloc);
void *__libc_memalign(size_t align, size_t n) MA_ALIAS(memalign);
void *__libc_valloc(size_t n) MA_ALIAS(valloc);
void *__libc_pvalloc(size_t n) MA_ALIAS(pvalloc);
int __posix_memalign(void **memptr, size_t align, size_t n) MA_ALIAS(posix_memalign);

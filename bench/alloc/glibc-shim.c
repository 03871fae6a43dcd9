/* SPDX-License-Identifier: MIT */
/* Preload shim that routes the malloc family to glibc's own allocator. It exists for programs linked
 * against another allocator (Debian's redis-server links libjemalloc), so that the "glibc" column of the
 * benchmark really measures glibc malloc for them too. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "posix-memalign.h"

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

typedef size_t (*usable_fn)(void *);
static usable_fn libc_usable;

void *malloc(size_t size)
{
        return __libc_malloc(size);
}

void free(void *ptr)
{
        __libc_free(ptr);
}

void *calloc(size_t n, size_t size)
{
        return __libc_calloc(n, size);
}

void *realloc(void *ptr, size_t size)
{
        return __libc_realloc(ptr, size);
}

void *reallocarray(void *ptr, size_t n, size_t size)
{
        size_t total;
        if (__builtin_mul_overflow(n, size, &total)) {
                errno = ENOMEM;
                return NULL;
        }
        return __libc_realloc(ptr, total);
}

void *memalign(size_t align, size_t size)
{
        return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
        return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
        return posix_memalign_via(__libc_memalign, out, align, size);
}

void *valloc(size_t size)
{
        return __libc_valloc(size);
}

void *pvalloc(size_t size)
{
        return __libc_pvalloc(size);
}

size_t malloc_usable_size(void *ptr)
{
        /* The executable's own allocator also defines this name; ask libc's definition directly. */
        if (!libc_usable) {
                void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
                libc_usable = libc ? (usable_fn)dlsym(libc, "malloc_usable_size") : NULL;
                if (!libc_usable)
                        abort();
        }
        return libc_usable(ptr);
}

/* SPDX-License-Identifier: MIT */
/* Cleanup attributes, ownership hand-off and small helpers shared by the supervisor and the policy
 * library. Not used by the allocator, which must not depend on anything. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>
#include <dirent.h>

#define _cleanup_(f)    __attribute__((cleanup(f)))
#define _unused_        __attribute__((unused))
#define _likely_(x)     (__builtin_expect(!!(x), 1))
#define _unlikely_(x)   (__builtin_expect(!!(x), 0))
#define _printf_(a, b)  __attribute__((format(printf, a, b)))
#define _noreturn_      __attribute__((noreturn))
#define _warn_unused_   __attribute__((warn_unused_result))
#define ELEMENTSOF(x)   (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b)       ((a) < (b) ? (a) : (b))
#define MAX(a, b)       ((a) > (b) ? (a) : (b))
#define STRLEN(s)       (sizeof(s) - 1)
#define streq(a, b)     (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
#define IN_SET(x, ...)                                                                                      \
        oomless_in_set_int((int)(x), (int[]){ __VA_ARGS__ }, sizeof((int[]){ __VA_ARGS__ }) / sizeof(int))

#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

static inline int oomless_in_set_int(int x, const int *set, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (set[i] == x)
                        return 1;
        return 0;
}

/* Move ownership out of a variable that has a cleanup attribute. */
#define TAKE_GENERIC(var, type, nullvalue)                                                                  \
        ({                                                                                                  \
                type *_pvar_ = &(var);                                                                      \
                type _var_ = *_pvar_;                                                                       \
                type _nullvalue_ = nullvalue;                                                               \
                *_pvar_ = _nullvalue_;                                                                      \
                _var_;                                                                                      \
        })
#define TAKE_PTR(ptr) TAKE_GENERIC(ptr, typeof(ptr), NULL)
#define TAKE_FD(fd)   TAKE_GENERIC(fd, int, -EBADF)

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Close preserving errno, ignoring EBADF; returns -EBADF so "fd = safe_close(fd)" resets it. */
static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                (void)close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd)
{
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Declares name##p() calling func(*p) when *p is non-NULL, for use with _cleanup_(). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                             \
        static inline void func##p(type *p)                                                                 \
        {                                                                                                   \
                if (*p)                                                                                     \
                        func(*p);                                                                           \
        }

/* Defines the table prefix##_table of the names of an enum (its entries: the arguments after max,
 * designated) and const char *prefix##_to_string(type), NULL for a value out of range or without a
 * name. */
#define DEFINE_STRING_TABLE_TO_STRING(prefix, type, max, ...)                                               \
        static const char *const prefix##_table[max] = { __VA_ARGS__ };                                     \
        const char *prefix##_to_string(type v)                                                              \
        {                                                                                                   \
                return (size_t)v < ELEMENTSOF(prefix##_table) ? prefix##_table[v] : NULL;                   \
        }

/* Negative errno from a libc call that sets errno; never returns 0 for a failure. */
static inline int negative_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}

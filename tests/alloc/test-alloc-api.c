/* SPDX-License-Identifier: MIT */
/* malloc-family semantics of liboomless: zero sizes, huge sizes, alignment (up to 2 MiB), calloc
 * overflow, realloc to 0, posix_memalign errors, errno preservation, usable sizes. Runs linked
 * against the static library and, as a plain program, under LD_PRELOAD. */
#include <malloc.h>
#include <stdint.h>
#include <unistd.h>

#include "oomless/oomless.h"
#include "test.h"

void cfree(void *p) __attribute__((weak)); /* a compat symbol glibc does not link against */
extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);

static void *volatile sink;

TEST(loaded)
{
        /* Without this, a broken preload would silently test glibc instead. */
        ASSERT_TRUE(oomless_available());
        struct oomless_stats st = { .size = sizeof(st) };
        ASSERT_OK(oomless_try_stats(&st));
        ASSERT_EQ(st.version, OOMLESS_STATS_VERSION);
        ASSERT_TRUE(st.held > 0);
}

TEST(zero_sizes)
{
        void *a = malloc(0), *b = malloc(0);
        ASSERT_TRUE(a && b && a != b);
        ASSERT_TRUE(malloc_usable_size(a) >= 1);
        free(a);
        free(b);
        a = calloc(0, 16);
        ASSERT_TRUE(a != NULL);
        free(a);
        a = calloc(16, 0);
        ASSERT_TRUE(a != NULL);
        free(a);
        free(NULL);
        ASSERT_EQ(malloc_usable_size(NULL), 0);
}

TEST(huge_sizes)
{
        size_t sizes[] = { SIZE_MAX, SIZE_MAX - 4096, SIZE_MAX / 2, (size_t)1 << 62, PTRDIFF_MAX };
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                errno = 0;
                sink = malloc(sizes[i]);
                ASSERT_TRUE(sink == NULL);
                ASSERT_EQ(errno, ENOMEM);
                errno = 0;
                ASSERT_TRUE(realloc(NULL, sizes[i]) == NULL);
                ASSERT_EQ(errno, ENOMEM);
                void *p = malloc(10);
                errno = 0;
                ASSERT_TRUE(realloc(p, sizes[i]) == NULL);
                ASSERT_EQ(errno, ENOMEM);
                free(p); /* realloc failure leaves the block alone */
                errno = 0;
                ASSERT_TRUE(aligned_alloc(64, sizes[i]) == NULL);
                ASSERT_EQ(errno, ENOMEM);
        }
}

TEST(calloc_overflow_and_zero)
{
        errno = 0;
        ASSERT_TRUE(calloc(SIZE_MAX / 2, 3) == NULL);
        ASSERT_EQ(errno, ENOMEM);
        errno = 0;
        ASSERT_TRUE(calloc((size_t)1 << 33, (size_t)1 << 33) == NULL);
        ASSERT_EQ(errno, ENOMEM);
        errno = 0;
        ASSERT_TRUE(reallocarray(NULL, SIZE_MAX / 2, 3) == NULL);
        ASSERT_EQ(errno, ENOMEM);
        /* Reused memory must still come back zeroed, small and large. */
        size_t sizes[] = { 24, 1000, 32768, 40000, 1 << 20, 5 << 20 };
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                for (int round = 0; round < 3; round++) {
                        unsigned char *p = malloc(sizes[i]);
                        ASSERT_TRUE(p != NULL);
                        memset(p, 0xa5, sizes[i]);
                        free(p);
                        p = calloc(1, sizes[i]);
                        ASSERT_TRUE(p != NULL);
                        for (size_t k = 0; k < sizes[i]; k++)
                                if (p[k])
                                        TEST_FAIL("calloc(%zu) byte %zu is %d", sizes[i], k, p[k]);
                        free(p);
                }
        }
}

TEST(realloc_semantics)
{
        char *p = realloc(NULL, 100);
        ASSERT_TRUE(p != NULL);
        memset(p, 7, 100);
        errno = 0;
        ASSERT_TRUE(realloc(p, 0) == NULL); /* glibc: frees, returns NULL */
        p = malloc(10);
        for (size_t n = 10; n < (64u << 20); n = n * 3 / 2 + 1) {
                p[0] = 'x';
                p[n - 1] = 'y';
                char *q = realloc(p, n * 3 / 2 + 1);
                ASSERT_TRUE(q != NULL);
                ASSERT_EQ(q[0], 'x');
                ASSERT_EQ(q[n - 1], 'y');
                ASSERT_TRUE(malloc_usable_size(q) >= n * 3 / 2 + 1);
                p = q;
        }
        /* shrink keeps the prefix */
        for (size_t n = 64u << 20; n > 1; n /= 3) {
                char *q = realloc(p, n);
                ASSERT_TRUE(q != NULL);
                ASSERT_EQ(q[0], 'x');
                p = q;
        }
        free(p);
}

static void check_align(size_t align, size_t n, void *p)
{
        if (!p)
                TEST_FAIL("align %zu size %zu: NULL", align, n);
        if ((uintptr_t)p % align)
                TEST_FAIL("align %zu size %zu: %p misaligned", align, n, p);
        if (malloc_usable_size(p) < n)
                TEST_FAIL("align %zu size %zu: usable %zu", align, n, malloc_usable_size(p));
        memset(p, 0x5a, n);
}

TEST(alignment)
{
        size_t sizes[] = { 0, 1, 8, 15, 16, 17, 100, 4095, 4096, 4097, 8192, 30000, 32768, 40000, 1 << 20 };
        for (size_t a = sizeof(void *); a <= (4u << 20); a *= 2)
                for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                        size_t n = sizes[i];
                        void *p = NULL;
                        ASSERT_EQ(posix_memalign(&p, a, n), 0);
                        check_align(a, n, p);
                        void *q = aligned_alloc(a, n);
                        check_align(a, n, q);
                        void *r = memalign(a, n);
                        check_align(a, n, r);
                        free(p);
                        free(q);
                        free(r);
                }
        for (size_t n = 1; n < 200000; n = n * 5 + 3) {
                void *p = malloc(n);
                check_align(n >= 16 ? 16 : 8, n, p);
                free(p);
        }
        long ps = sysconf(_SC_PAGESIZE);
        void *v = valloc(100);
        check_align((size_t)ps, 100, v);
        void *pv = pvalloc(100);
        check_align((size_t)ps, (size_t)ps, pv);
        free(v);
        free(pv);
}

TEST(posix_memalign_errors)
{
        void *p = (void *)0x1234;
        errno = 1234;
        ASSERT_EQ(posix_memalign(&p, 3, 10), EINVAL);
        ASSERT_EQ(posix_memalign(&p, 4, 10), EINVAL); /* not a multiple of sizeof(void *) */
        ASSERT_EQ(posix_memalign(&p, 0, 10), EINVAL);
        ASSERT_EQ(posix_memalign(&p, 64, SIZE_MAX - 10), ENOMEM);
        ASSERT_TRUE(p == (void *)0x1234); /* untouched on failure */
        ASSERT_EQ(errno, 1234);           /* and errno not set */
        errno = 0;
        ASSERT_TRUE(aligned_alloc(3, 10) == NULL);
        ASSERT_EQ(errno, EINVAL);
}

TEST(errno_preserved)
{
        void *ps[1000];
        for (int i = 0; i < 1000; i++)
                ps[i] = malloc((size_t)(i % 50) * 1000 + 1);
        void *big = malloc(64u << 20);
        errno = 4242;
        for (int i = 0; i < 1000; i++)
                free(ps[i]);
        free(big);
        ASSERT_EQ(errno, 4242);
        ASSERT_TRUE(malloc_trim(0) >= 0);
        errno = 4243;
        free(malloc(1));
        free(NULL);
        ASSERT_EQ(errno, 4243);
}

TEST(aliases_and_stubs)
{
        void *p = __libc_malloc(100);
        ASSERT_TRUE(p != NULL);
        ASSERT_TRUE(malloc_usable_size(p) >= 100);
        __libc_free(p);
        ASSERT_TRUE(cfree != NULL);
        cfree(malloc(10));
        ASSERT_EQ(mallopt(M_TRIM_THRESHOLD, 1 << 20), 1);
        void *keep = malloc(1 << 20);
        struct mallinfo2 mi = mallinfo2();
        ASSERT_TRUE(mi.arena >= mi.uordblks);
        ASSERT_TRUE(mi.uordblks >= (1 << 20));
        free(keep);
        FILE *f = fopen("/dev/null", "w");
        ASSERT_TRUE(f != NULL);
        ASSERT_EQ(malloc_info(0, f), 0);
        fclose(f);
}

TEST(usable_size_writable)
{
        for (size_t n = 1; n < 100000; n += 97) {
                unsigned char *p = malloc(n);
                size_t u = malloc_usable_size(p);
                ASSERT_TRUE(u >= n);
                memset(p, 0xee, u); /* redis-style: the whole usable size is ours */
                free(p);
        }
}

TEST_MAIN()

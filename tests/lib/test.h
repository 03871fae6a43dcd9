/* SPDX-License-Identifier: MIT */
/* A minimal test harness: TEST(name) functions run in order by test_main(); ASSERT_* print both values
 * and the location, then exit 1. A test that finds its environment lacking calls test_skip(), which
 * exits 77 (ctest's SKIP_RETURN_CODE). */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
struct test_entry {
        const char *name;
        test_fn fn;
};

#define TEST(n)                                                                                             \
        static void test_##n(void);                                                                         \
        static const struct test_entry test_entry_##n                                                       \
            __attribute__((used, section("oomless_tests"), aligned(sizeof(void *)))) = { #n, test_##n };    \
        static void test_##n(void)

extern const struct test_entry __start_oomless_tests[] __attribute__((weak));
extern const struct test_entry __stop_oomless_tests[] __attribute__((weak));

static inline __attribute__((noreturn, format(printf, 1, 2))) void test_skip(const char *fmt, ...)
{
        __builtin_va_list ap;
        __builtin_va_start(ap, fmt);
        fputs("SKIP: ", stdout);
        vprintf(fmt, ap);
        fputs("\n", stdout);
        __builtin_va_end(ap);
        fflush(stdout);
        exit(77);
}

#define TEST_FAIL(...)                                                                                      \
        do {                                                                                                \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                             \
                fprintf(stderr, __VA_ARGS__);                                                               \
                fputc('\n', stderr);                                                                        \
                exit(1);                                                                                    \
        } while (0)

#define ASSERT_TRUE(e)                                                                                      \
        do {                                                                                                \
                if (!(e))                                                                                   \
                        TEST_FAIL("assertion failed: %s", #e);                                              \
        } while (0)
#define ASSERT_EQ(a, b)                                                                                     \
        do {                                                                                                \
                intmax_t _a = (intmax_t)(a), _b = (intmax_t)(b);                                            \
                if (_a != _b)                                                                               \
                        TEST_FAIL("%s == %s: %jd != %jd", #a, #b, _a, _b);                                  \
        } while (0)
#define ASSERT_U64_EQ(a, b)                                                                                 \
        do {                                                                                                \
                uint64_t _a = (uint64_t)(a), _b = (uint64_t)(b);                                            \
                if (_a != _b)                                                                               \
                        TEST_FAIL("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, _a, _b);                     \
        } while (0)
#define ASSERT_OK(r)                                                                                        \
        do {                                                                                                \
                intmax_t _r = (intmax_t)(r);                                                                \
                if (_r < 0)                                                                                 \
                        TEST_FAIL("%s failed: %jd (%s)", #r, _r, strerror((int)-_r));                       \
        } while (0)
#define ASSERT_ERROR(r, err)                                                                                \
        do {                                                                                                \
                intmax_t _r = (intmax_t)(r);                                                                \
                if (_r != -(intmax_t)(err))                                                                 \
                        TEST_FAIL("%s: expected -%s, got %jd", #r, #err, _r);                               \
        } while (0)
#define ASSERT_STREQ(a, b)                                                                                  \
        do {                                                                                                \
                const char *_a = (a), *_b = (b);                                                            \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                                      \
                        TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)",                 \
                                  _b ? _b : "(null)");                                                      \
        } while (0)

/* Runs every TEST() in the binary, or only those named on the command line. */
static inline int test_main(int argc, char **argv)
{
        int ran = 0;
        for (const struct test_entry *t = __start_oomless_tests; t && t < __stop_oomless_tests; t++) {
                bool want = argc <= 1;
                for (int i = 1; i < argc; i++)
                        if (strcmp(argv[i], t->name) == 0)
                                want = true;
                if (!want)
                        continue;
                printf("=== %s\n", t->name);
                fflush(stdout);
                t->fn();
                ran++;
        }
        printf("%d tests ok\n", ran);
        return ran > 0 ? 0 : 1;
}

#define TEST_MAIN()                                                                                         \
        int main(int argc, char **argv)                                                                     \
        {                                                                                                   \
                return test_main(argc, argv);                                                               \
        }

/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <signal.h>

#include "macro.h"
#include "test.h"
#include "units.h"

/* One text and what parsing it gives: the value, or the error (a positive errno). */
typedef struct UnitCase {
        const char *text;
        int error;
        uint64_t want;
} UnitCase;

static void check_cases(int (*parse)(const char *, uint64_t *), const UnitCase *cases, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                uint64_t v = 0;
                int r = parse(cases[i].text, &v);
                printf("'%s' -> %d, %" PRIu64 "\n", cases[i].text, r, v);
                if (cases[i].error)
                        ASSERT_ERROR(r, cases[i].error);
                else {
                        ASSERT_OK(r);
                        ASSERT_U64_EQ(v, cases[i].want);
                }
        }
}

TEST(sizes)
{
        static const UnitCase cases[] = {
                { "512M", 0, 512ull << 20 },
                { "1.5G", 0, 3ull << 29 },
                { "4096", 0, 4096 },
                { "64KiB", 0, 65536 },
                { "2kib", 0, 2048 },
                { "3T", 0, 3ull << 40 },
                { "7b", 0, 7 },
                { "", EINVAL },
                { "-1M", EINVAL },
                { "12Q", EINVAL },
                { "1iB", EINVAL },
                { "1Mx", EINVAL },
                { "1.5", EINVAL },
                { "1.5B", EINVAL },
                { "99999999999999999999", ERANGE },
                { "99999999999T", ERANGE },
        };
        check_cases(units_parse_size, cases, ELEMENTSOF(cases));
        ASSERT_ERROR(units_parse_size(NULL, &(uint64_t){ 0 }), EINVAL);
}

TEST(size_specs)
{
        SizeSpec s;
        ASSERT_OK(units_parse_size_spec("80%", &s));
        ASSERT_TRUE(s.percent);
        ASSERT_EQ(s.permyriad, 8000);
        ASSERT_U64_EQ(units_size_spec_resolve(&s, 1000), 800);
        ASSERT_OK(units_parse_size_spec("12.5%", &s));
        ASSERT_EQ(s.permyriad, 1250);
        ASSERT_OK(units_parse_size_spec("max", &s));
        ASSERT_U64_EQ(units_size_spec_resolve(&s, 1000), UINT64_MAX);
        ASSERT_ERROR(units_parse_size_spec("120%", &s), ERANGE);
        ASSERT_ERROR(units_parse_size_spec("0%", &s), ERANGE);
        ASSERT_ERROR(units_parse_size_spec("%", &s), EINVAL);
}

TEST(durations)
{
        static const UnitCase cases[] = {
                { "250ms", 0, 250000 }, { "1.5s", 0, 1500000 }, { "10", 0, 10000000 },
                { "2m", 0, 120000000 }, { "10 s", EINVAL },     { "s", EINVAL },
        };
        check_cases(units_parse_duration, cases, ELEMENTSOF(cases));
}

TEST(signals)
{
        ASSERT_EQ(units_parse_signal("TERM"), SIGTERM);
        ASSERT_EQ(units_parse_signal("SIGKILL"), SIGKILL);
        ASSERT_EQ(units_parse_signal("usr1"), SIGUSR1);
        ASSERT_EQ(units_parse_signal("15"), 15);
        ASSERT_ERROR(units_parse_signal("SIGFOO"), EINVAL);
        ASSERT_ERROR(units_parse_signal("0"), EINVAL);
        ASSERT_ERROR(units_parse_signal("999"), EINVAL);
        ASSERT_STREQ(units_signal_to_string(SIGTERM), "SIGTERM");
}

TEST_MAIN()

/* SPDX-License-Identifier: MIT */
#include <signal.h>

#include "test.h"
#include "units.h"

TEST(sizes)
{
        uint64_t v;
        ASSERT_OK(units_parse_size("512M", &v));
        ASSERT_U64_EQ(v, 512ull << 20);
        ASSERT_OK(units_parse_size("1.5G", &v));
        ASSERT_U64_EQ(v, 3ull << 29);
        ASSERT_OK(units_parse_size("4096", &v));
        ASSERT_U64_EQ(v, 4096);
        ASSERT_OK(units_parse_size("64KiB", &v));
        ASSERT_U64_EQ(v, 65536);
        ASSERT_ERROR(units_parse_size("", &v), EINVAL);
        ASSERT_ERROR(units_parse_size("-1M", &v), EINVAL);
        ASSERT_ERROR(units_parse_size("12Q", &v), EINVAL);
        ASSERT_ERROR(units_parse_size("1.5", &v), EINVAL);
        ASSERT_ERROR(units_parse_size("99999999999999999999", &v), ERANGE);
        ASSERT_ERROR(units_parse_size("99999999999T", &v), ERANGE);
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
        uint64_t v;
        ASSERT_OK(units_parse_duration("250ms", &v));
        ASSERT_U64_EQ(v, 250000);
        ASSERT_OK(units_parse_duration("1.5s", &v));
        ASSERT_U64_EQ(v, 1500000);
        ASSERT_OK(units_parse_duration("10", &v));
        ASSERT_U64_EQ(v, 10000000);
        ASSERT_OK(units_parse_duration("2m", &v));
        ASSERT_U64_EQ(v, 120000000);
        ASSERT_ERROR(units_parse_duration("10 s", &v), EINVAL);
        ASSERT_ERROR(units_parse_duration("s", &v), EINVAL);
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

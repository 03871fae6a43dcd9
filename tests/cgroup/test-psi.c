/* SPDX-License-Identifier: MIT */
/* The PSI parser on literal kernel text (cgroup memory.pressure, /proc/pressure/cpu of old kernels)
 * and on malformed text, and trigger-string validation. */
#include <locale.h>

#include "psi.h"
#include "test.h"

static bool near(double a, double b)
{
        return a - b < 1e-9 && b - a < 1e-9;
}

TEST(kernel_text)
{
        const char *t = "some avg10=1.53 avg60=0.27 avg300=0.06 total=7268120\n"
                        "full avg10=0.98 avg60=0.15 avg300=0.03 total=5013349\n";
        OomlessPsi s, f;
        bool has_full;
        ASSERT_OK(psi_parse(t, strlen(t), &s, &f, &has_full));
        ASSERT_TRUE(has_full);
        ASSERT_TRUE(near(s.avg10, 1.53) && near(s.avg60, 0.27) && near(s.avg300, 0.06));
        ASSERT_U64_EQ(s.total_usec, 7268120);
        ASSERT_TRUE(near(f.avg10, 0.98) && near(f.avg300, 0.03));
        ASSERT_U64_EQ(f.total_usec, 5013349);
}

TEST(idle_and_full_saturation)
{
        const char *t = "some avg10=100.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n"
                        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        OomlessPsi s, f;
        ASSERT_OK(psi_parse(t, strlen(t), &s, &f, NULL));
        ASSERT_TRUE(near(s.avg10, 100.0));
        ASSERT_U64_EQ(s.total_usec, UINT64_MAX);
}

TEST(some_only_old_cpu_file)
{
        const char *t = "some avg10=0.10 avg60=0.20 avg300=0.30 total=42\n";
        OomlessPsi s, f = { .avg10 = 9 };
        bool has_full = true;
        ASSERT_OK(psi_parse(t, strlen(t), &s, &f, &has_full));
        ASSERT_TRUE(!has_full);
        ASSERT_TRUE(near(f.avg10, 0));
        ASSERT_U64_EQ(s.total_usec, 42);
}

TEST(no_trailing_newline_and_nul)
{
        const char t[] = "some avg10=0.00 avg60=0.00 avg300=0.00 total=5";
        ASSERT_OK(psi_parse(t, sizeof(t), NULL, NULL, NULL)); /* includes the NUL */
}

TEST(locale_does_not_matter)
{
        /* A locale with a decimal comma must not change "1.50"; ignore if not installed. */
        (void)setlocale(LC_NUMERIC, "de_DE.UTF-8");
        const char *t = "some avg10=1.50 avg60=0.00 avg300=0.00 total=1\n";
        OomlessPsi s;
        ASSERT_OK(psi_parse(t, strlen(t), &s, NULL, NULL));
        ASSERT_TRUE(near(s.avg10, 1.5));
        (void)setlocale(LC_NUMERIC, "C");
}

TEST(malformed)
{
        const char *bad[] = {
                "",
                "\n",
                "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", /* full without some */
                "some avg10=0.00 avg60=0.00 total=0\n",             /* missing avg300 */
                "some avg10=0.00 avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=abc avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=0. avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=99999999999999999999\n",
                "some avg10=101.00 avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=0 extra=1\n",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nsome avg10=0.00 avg60=0.00 avg300=0.00 "
                "total=0\n",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nbogus\n",
                "somex avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
                "some\tavg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r = psi_parse(bad[i], strlen(bad[i]), NULL, NULL, NULL);
                if (r != -EINVAL && r != -ERANGE)
                        TEST_FAIL("case %zu \"%s\" parsed (r=%d)", i, bad[i], r);
        }
        ASSERT_ERROR(psi_parse(NULL, 0, NULL, NULL, NULL), EINVAL);
}

TEST(triggers)
{
        PsiTrigger t;
        ASSERT_OK(psi_trigger_parse("some 150000 1000000", &t));
        ASSERT_TRUE(!t.full);
        ASSERT_U64_EQ(t.stall_usec, 150000);
        ASSERT_U64_EQ(t.window_usec, 1000000);
        ASSERT_OK(psi_trigger_parse("full 500000 10000000\n", &t));
        ASSERT_TRUE(t.full);
        ASSERT_ERROR(psi_trigger_parse("some 150000 400000", &t), ERANGE);   /* window < 500 ms */
        ASSERT_ERROR(psi_trigger_parse("some 150000 10000001", &t), ERANGE); /* window > 10 s */
        ASSERT_ERROR(psi_trigger_parse("some 0 1000000", &t), ERANGE);
        ASSERT_ERROR(psi_trigger_parse("some 2000000 1000000", &t), ERANGE);
        ASSERT_ERROR(psi_trigger_parse("both 1 1000000", &t), EINVAL);
        ASSERT_ERROR(psi_trigger_parse("some 1", &t), EINVAL);
        ASSERT_ERROR(psi_trigger_parse("some 1 1000000 x", &t), EINVAL);
        ASSERT_ERROR(psi_trigger_parse("some -1 1000000", &t), EINVAL);
}

TEST_MAIN()

/* SPDX-License-Identifier: MIT */
/* The /metrics renderer over hand-made figures (no loop, no socket): one HELP and TYPE per family,
 * label values escaped, units in the names, counters with _total, the families that depend on a valid
 * sample left out without one, OpenMetrics naming and its # EOF; and the HOST:PORT parser --listen and
 * the policy share. */
#define _GNU_SOURCE 1
#include <stdlib.h>
#include <string.h>

#include "listen-addr.h"
#include "metrics.h"
#include "test.h"

#define MIB (1024ULL * 1024ULL)

static MetricsFigures figures(void)
{
        MetricsFigures f = {
                .version = "1.2.3",
                .policy_name = "web \"prod\"\\eu\nwest", /* every character that needs escaping */
                .ready = true,
                .workload_running = true,
                .samples = 42,
                .sample_valid = true,
                .stage = 1,
                .n_stages = 2,
                .stage_names = { "normal", "degrade", "shed" },
                .stage_usec = { 1500000, 2000001, 0 },
                .transitions = 3,
                .restarts = 1,
                .oom_kills = 2,
                .self_rss_bytes = 4 * MIB,
                .self_cpu_usec = 1250000,
        };
        f.sample = (OomlessSample){
                .current = 100 * MIB,
                .inactive_file = 30 * MIB,
                .anon = 60 * MIB,
                .file = 40 * MIB,
                .shmem = 1 * MIB,
                .limit = 256 * MIB,
                .high = OOMLESS_NO_LIMIT,
                .psi_valid = true,
                .psi_some = { .total_usec = 3500000 },
                .psi_full = { .total_usec = 7 },
                .events_valid = true,
                .ev_high = 5,
                .ev_oom_kill = 2,
                .heap_valid = true,
                .heap_held = 50 * MIB,
                .heap_in_use = 40 * MIB,
                .heap_cap = 243 * MIB,
        };
        f.actions[POLICY_ACTION_THROTTLE][ACTION_OUTCOME_OK] = 2;
        f.actions[POLICY_ACTION_WEBHOOK][ACTION_OUTCOME_FAILED] = 1;
        return f;
}

static bool has_line(const char *text, const char *line)
{
        size_t n = strlen(line);
        for (const char *p = text; (p = strstr(p, line)); p++)
                if ((p == text || p[-1] == '\n') && p[n] == '\n')
                        return true;
        return false;
}

static unsigned count(const char *text, const char *needle)
{
        unsigned n = 0;
        for (const char *p = text; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

#define ASSERT_LINE(text, line)                                                                             \
        do {                                                                                                \
                if (!has_line(text, line))                                                                  \
                        TEST_FAIL("missing line: %s\n--- document ---\n%s", line, text);                    \
        } while (0)

TEST(text_format)
{
        MetricsFigures f = figures();
        size_t len = 0;
        char *t = metrics_render(&f, METRICS_TEXT, &len);

        ASSERT_TRUE(t);
        ASSERT_EQ(strlen(t), len);
        ASSERT_LINE(t, "# TYPE oomless_build_info gauge");
        ASSERT_LINE(t, "oomless_build_info{version=\"1.2.3\"} 1");
        /* label values escape backslash, double quote and newline */
        ASSERT_LINE(t, "oomless_policy_info{policy=\"web \\\"prod\\\"\\\\eu\\nwest\",dry_run=\"false\"} 1");
        ASSERT_LINE(t, "# TYPE oomless_samples_total counter");
        ASSERT_LINE(t, "oomless_samples_total 42");
        ASSERT_LINE(t, "oomless_memory_current_bytes 104857600");
        ASSERT_LINE(t, "oomless_memory_working_set_bytes 73400320"); /* current - inactive_file */
        ASSERT_LINE(t, "oomless_memory_limit_bytes 268435456");
        ASSERT_TRUE(!strstr(t, "oomless_memory_high_bytes")); /* no memory.high in force */
        ASSERT_TRUE(!strstr(t, "oomless_memory_peak_bytes")); /* peak unknown */
        /* PSI totals in seconds, exactly */
        ASSERT_LINE(t, "oomless_pressure_memory_waiting_seconds_total 3.500000");
        ASSERT_LINE(t, "oomless_pressure_memory_stalled_seconds_total 0.000007");
        ASSERT_LINE(t, "oomless_memory_events_total{event=\"high\"} 5");
        ASSERT_LINE(t, "oomless_memory_events_total{event=\"oom_kill\"} 2");
        ASSERT_LINE(t, "oomless_heap_cap_bytes 254803968");
        ASSERT_LINE(t, "oomless_stage_level 1");
        ASSERT_LINE(t, "oomless_stage_info{stage=\"degrade\",level=\"1\"} 1");
        ASSERT_LINE(t, "oomless_stage_seconds_total{stage=\"normal\"} 1.500000");
        ASSERT_LINE(t, "oomless_stage_seconds_total{stage=\"degrade\"} 2.000001");
        ASSERT_LINE(t, "oomless_stage_seconds_total{stage=\"shed\"} 0.000000");
        ASSERT_LINE(t, "oomless_actions_total{action=\"throttle\",outcome=\"ok\"} 2");
        ASSERT_LINE(t, "oomless_actions_total{action=\"webhook\",outcome=\"failed\"} 1");
        ASSERT_LINE(t,
                    "oomless_actions_total{action=\"restart\",outcome=\"would\"} 0"); /* zeros are there */
        ASSERT_EQ(count(t, "oomless_actions_total{"), _POLICY_ACTION_KIND_MAX * _ACTION_OUTCOME_MAX);
        ASSERT_LINE(t, "oomless_restarts_total 1");
        ASSERT_LINE(t, "oomless_oom_kills_total 2");
        ASSERT_LINE(t, "oomless_supervisor_resident_memory_bytes 4194304");
        ASSERT_LINE(t, "oomless_supervisor_cpu_seconds_total 1.250000");
        /* one HELP and one TYPE per family; every counter ends in _total; no OpenMetrics lines */
        ASSERT_EQ(count(t, "# TYPE oomless_actions_total "), 1);
        ASSERT_EQ(count(t, "# HELP "), count(t, "# TYPE "));
        for (const char *p = t; (p = strstr(p, "# TYPE ")); p++) {
                const char *sp = strchr(p + 7, ' ');
                if (strncmp(sp, " counter", 8) == 0 && strncmp(sp - 6, "_total", 6) != 0)
                        TEST_FAIL("counter without _total: %.*s", (int)(sp - p), p);
        }
        ASSERT_TRUE(!strstr(t, "# UNIT") && !strstr(t, "# EOF"));
        free(t);
}

TEST(openmetrics)
{
        MetricsFigures f = figures();
        size_t len = 0;
        char *t = metrics_render(&f, METRICS_OPENMETRICS, &len);

        ASSERT_TRUE(t);
        ASSERT_TRUE(len > 6 && streq(t + len - 6, "# EOF\n"));
        /* families by their base name; samples keep _total and _info */
        ASSERT_LINE(t, "# TYPE oomless_samples counter");
        ASSERT_LINE(t, "oomless_samples_total 42");
        ASSERT_LINE(t, "# TYPE oomless_build info");
        ASSERT_LINE(t, "oomless_build_info{version=\"1.2.3\"} 1");
        ASSERT_LINE(t, "# UNIT oomless_memory_current_bytes bytes");
        ASSERT_LINE(t, "# UNIT oomless_stage_seconds seconds");
        ASSERT_LINE(t, "# TYPE oomless_stage_level gauge");
        free(t);
}

TEST(no_sample)
{
        MetricsFigures f = figures();
        size_t len;
        char *t;

        f.sample_valid = false;
        f.self_rss_bytes = 0;
        t = metrics_render(&f, METRICS_TEXT, &len);
        ASSERT_TRUE(t);
        /* nothing read from the cgroup is written, rather than zeros that look like data */
        ASSERT_TRUE(!strstr(t, "oomless_memory_") && !strstr(t, "oomless_pressure_") &&
                    !strstr(t, "oomless_heap_"));
        ASSERT_TRUE(!strstr(t, "oomless_supervisor_resident_memory_bytes"));
        ASSERT_LINE(t, "oomless_stage_level 1");
        free(t);
}

TEST(accept_negotiation)
{
        ASSERT_EQ(metrics_format_for_accept(NULL), METRICS_TEXT);
        ASSERT_EQ(metrics_format_for_accept("*/*"), METRICS_TEXT);
        ASSERT_EQ(metrics_format_for_accept("text/plain;version=0.0.4"), METRICS_TEXT);
        /* what Prometheus 2.x sends */
        ASSERT_EQ(metrics_format_for_accept("application/openmetrics-text;version=1.0.0,application/"
                                            "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
                                            "q=0.5,*/*;q=0.1"),
                  METRICS_OPENMETRICS);
        ASSERT_STREQ(metrics_content_type(METRICS_TEXT), "text/plain; version=0.0.4; charset=utf-8");
}

TEST(listen_addr)
{
        ListenAddr a;

        ASSERT_OK(listen_addr_parse("127.0.0.1:9464", &a));
        ASSERT_TRUE(a.loopback);
        ASSERT_EQ(a.port, 9464);
        ASSERT_STREQ(a.text, "127.0.0.1:9464");
        ASSERT_OK(listen_addr_parse("localhost:80", &a));
        ASSERT_TRUE(a.loopback);
        ASSERT_STREQ(a.text, "127.0.0.1:80");
        ASSERT_OK(listen_addr_parse("127.3.4.5:1", &a));
        ASSERT_TRUE(a.loopback);
        ASSERT_OK(listen_addr_parse("[::1]:9464", &a));
        ASSERT_TRUE(a.loopback);
        ASSERT_STREQ(a.text, "[::1]:9464");
        ASSERT_OK(listen_addr_parse("[::ffff:127.0.0.1]:9464", &a));
        ASSERT_TRUE(a.loopback);
        ASSERT_OK(listen_addr_parse("0.0.0.0:9464", &a));
        ASSERT_TRUE(!a.loopback);
        ASSERT_OK(listen_addr_parse("[::]:9464", &a));
        ASSERT_TRUE(!a.loopback);
        ASSERT_OK(listen_addr_parse("10.1.2.3:65535", &a));
        ASSERT_TRUE(!a.loopback);

        const char *bad[] = { "",
                              "9464",
                              ":9464",
                              "127.0.0.1",
                              "127.0.0.1:",
                              "127.0.0.1:0",
                              "127.0.0.1:65536",
                              "127.0.0.1:9x",
                              "::1:9464",
                              "[::1]9464",
                              "[::1]:",
                              "example.com:80",
                              "[127.0.0.1]:80",
                              "127.0.0.1:+80",
                              "127.0.0.1: 80" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (listen_addr_parse(bad[i], &a) != -EINVAL)
                        TEST_FAIL("accepted \"%s\"", bad[i]);
}

TEST_MAIN()

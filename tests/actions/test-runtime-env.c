/* SPDX-License-Identifier: MIT */
/* runtime_env_apply(): the runtime heap caps added to a child's environment, and never over a value
 * the user set. */
#include "macro.h"
#include "runtime-env.h"
#include "test.h"
#include "strv.h"

static const char *get(char **env, const char *name)
{
        size_t len = strlen(name);
        for (; env && *env; env++)
                if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
                        return *env + len + 1;
        return NULL;
}

static size_t count(char **env)
{
        size_t n = 0;
        while (env && env[n])
                n++;
        return n;
}

static const RuntimeEnvOptions all = { .go = true, .java = true, .node = true };

TEST(adds_all_three_from_limit)
{
        char *in[] = { "PATH=/usr/bin", "HOME=/root", NULL };
        _cleanup_strv_free_ char **out = NULL;
        unsigned added = 0;

        ASSERT_OK(runtime_env_apply(in, UINT64_C(1) << 30, &all, &out, &added)); /* 1 GiB */
        ASSERT_EQ(added, 3);
        ASSERT_EQ(count(out), 5);
        ASSERT_STREQ(get(out, "PATH"), "/usr/bin");
        ASSERT_STREQ(get(out, "GOMEMLIMIT"), "858993459"); /* 80% of 1 GiB */
        ASSERT_STREQ(get(out, "JAVA_TOOL_OPTIONS"), "-XX:MaxRAM=1073741824 -XX:MaxRAMPercentage=75.00");
        ASSERT_STREQ(get(out, "NODE_OPTIONS"), "--max-old-space-size=768");
        /* the input is untouched */
        ASSERT_STREQ(in[0], "PATH=/usr/bin");
}

TEST(never_overrides_user_values)
{
        char *in[] = { "GOMEMLIMIT=5GiB", "JAVA_TOOL_OPTIONS=-Xmx2g -Dfoo=bar",
                       "NODE_OPTIONS=--max_old_space_size=100 --trace-gc", NULL };
        _cleanup_strv_free_ char **out = NULL;
        unsigned added = 9;

        ASSERT_OK(runtime_env_apply(in, UINT64_C(1) << 30, &all, &out, &added));
        ASSERT_EQ(added, 0);
        ASSERT_EQ(count(out), 3);
        ASSERT_STREQ(get(out, "GOMEMLIMIT"), "5GiB");
        ASSERT_STREQ(get(out, "JAVA_TOOL_OPTIONS"), "-Xmx2g -Dfoo=bar");
        ASSERT_STREQ(get(out, "NODE_OPTIONS"), "--max_old_space_size=100 --trace-gc");
}

TEST(empty_gomemlimit_counts_as_set)
{
        char *in[] = { "GOMEMLIMIT=", NULL };
        _cleanup_strv_free_ char **out = NULL;

        ASSERT_OK(runtime_env_apply(in, UINT64_C(1) << 30, &(RuntimeEnvOptions){ .go = true }, &out, NULL));
        ASSERT_STREQ(get(out, "GOMEMLIMIT"), "");
}

TEST(appends_to_existing_options)
{
        char *in[] = { "JAVA_TOOL_OPTIONS=-Dfile.encoding=UTF-8", "NODE_OPTIONS=--trace-warnings", NULL };
        _cleanup_strv_free_ char **out = NULL;
        RuntimeEnvOptions o = { .java = true, .node = true, .java_permyriad = 5000, .node_permyriad = 5000 };

        ASSERT_OK(runtime_env_apply(in, UINT64_C(512) << 20, &o, &out, NULL));
        ASSERT_EQ(count(out), 2);
        ASSERT_STREQ(get(out, "JAVA_TOOL_OPTIONS"),
                     "-Dfile.encoding=UTF-8 -XX:MaxRAM=536870912 -XX:MaxRAMPercentage=50.00");
        ASSERT_STREQ(get(out, "NODE_OPTIONS"), "--trace-warnings --max-old-space-size=256");
}

TEST(java_flag_variants_count_as_set)
{
        const char *variants[] = { "-XX:MaxRAMPercentage=60", "-XX:MaxHeapSize=1g", "-XX:MaxRAM=2g",
                                   "-XX:MaxRAMFraction=2" };
        for (size_t i = 0; i < ELEMENTSOF(variants); i++) {
                char var[128];
                snprintf(var, sizeof(var), "JAVA_TOOL_OPTIONS=%s", variants[i]);
                char *in[] = { var, NULL };
                _cleanup_strv_free_ char **out = NULL;
                ASSERT_OK(runtime_env_apply(in, UINT64_C(1) << 30, &(RuntimeEnvOptions){ .java = true },
                                            &out, NULL));
                ASSERT_STREQ(get(out, "JAVA_TOOL_OPTIONS"), variants[i]);
        }
}

TEST(unknown_limit_adds_nothing)
{
        char *in[] = { "A=1", NULL };
        _cleanup_strv_free_ char **out1 = NULL, **out2 = NULL, **out3 = NULL;
        unsigned added = 9;

        ASSERT_OK(runtime_env_apply(in, UINT64_MAX, &all, &out1, &added));
        ASSERT_EQ(added, 0);
        ASSERT_EQ(count(out1), 1);
        ASSERT_OK(runtime_env_apply(in, 0, &all, &out2, NULL));
        ASSERT_EQ(count(out2), 1);
        /* NULL envp is an empty environment; only the enabled runtimes are touched */
        ASSERT_OK(
            runtime_env_apply(NULL, UINT64_C(64) << 20, &(RuntimeEnvOptions){ .node = true }, &out3, NULL));
        ASSERT_EQ(count(out3), 1);
        ASSERT_STREQ(get(out3, "NODE_OPTIONS"), "--max-old-space-size=48");
}

TEST(huge_limit_does_not_overflow)
{
        _cleanup_strv_free_ char **out = NULL;

        ASSERT_OK(runtime_env_apply(NULL, UINT64_MAX - 1, &(RuntimeEnvOptions){ .go = true }, &out, NULL));
        ASSERT_STREQ(get(out, "GOMEMLIMIT"), "14757395258967641291"); /* 80% of 2^64-2, no wrap-around */
}

TEST_MAIN()

/* SPDX-License-Identifier: MIT */
/* `oomless status` prints what a status socket sent, and anything may answer there (issue 14,
 * finding 8): hostile documents (huge, negative, fractional and overflowing numbers, wrong types,
 * missing objects, terminal escapes) must print "-" where a value is nonsense, never a converted
 * garbage integer like -2147483648. Built with -fsanitize=undefined,float-cast-overflow and
 * -fno-sanitize-recover: a float-to-integer conversion out of range aborts the test. */
#define _GNU_SOURCE 1
#include <stdlib.h>
#include <string.h>

#include "status-client.h"
#include "test.h"

/* The human form of doc, malloc'd. */
static char *render(const char *doc)
{
        cJSON *root = cJSON_Parse(doc);
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        ASSERT_TRUE(f);
        status_print_human(f, root);
        fclose(f);
        cJSON_Delete(root);
        return out;
}

TEST(valid_document)
{
        char *out = render(
            "{\"version\":1,\"mode\":\"run\",\"supervisor_pid\":42,\"uptime_sec\":12.5,"
            "\"command\":[\"sleep\",\"1000\"],\"tier\":\"v2\",\"leaf\":\"/sys/fs/cgroup/x\","
            "\"memory\":{\"current\":41943040,\"peak\":52428800,\"limit\":268435456,\"max\":268435456,"
            "\"high\":null,\"working_set\":40894464,\"nonfile\":37748736,\"shmem\":1048576,\"kernel\":"
            "2097152},"
            "\"psi\":{\"some\":{\"avg10\":1.5,\"avg60\":0.25},\"full\":{\"avg10\":0,\"avg60\":0}},"
            "\"events\":{\"high\":0,\"max\":3,\"oom\":1,\"oom_kill\":1},"
            "\"child\":{\"pid\":43,\"started_sec_ago\":12.0,\"restarts\":2},"
            "\"policy\":{\"name\":\"p\",\"dry_run\":false,\"stage\":1,\"stage_name\":\"warn\","
            "\"stage_since_sec\":3.25,\"cause\":\"anon\"},\"heap\":null}");

        ASSERT_STREQ(out, "oomless 42 (run), up 12.5s\n"
                          "  command: sleep 1000\n"
                          "  tier:    v2\n"
                          "  leaf:    /sys/fs/cgroup/x\n"
                          "  memory:  current 40.0M, peak 50.0M, limit 256.0M (leaf max 256.0M, high -), "
                          "working set 39.0M, non-file 36.0M, shmem 1.0M, kernel 2.0M\n"
                          "  psi:     some 1.50%/0.25%, full 0.00%/0.00% (avg10/avg60)\n"
                          "  events:  high 0, max 3, oom 1, oom_kill 1\n"
                          "  child:   pid 43, up 12.0s, restarts 2\n"
                          "  policy:  p, stage 1 (warn) for 3.2s, cause anon\n");
        free(out);
}

TEST(hostile_numbers)
{
        char *out =
            render("{\"mode\":\"run\",\"supervisor_pid\":1e300,\"uptime_sec\":-5,"
                   "\"command\":[\"a\",7],\"tier\":3,\"leaf\":{},"
                   "\"memory\":{\"current\":-1,\"peak\":1e999,\"limit\":18446744073709551616,\"max\":0.5,"
                   "\"high\":\"1G\",\"working_set\":-1e999},"
                   "\"psi\":{\"some\":{\"avg10\":101,\"avg60\":-0.1},\"full\":[]},"
                   "\"events\":{\"high\":1e20,\"max\":-3,\"oom\":2.5,\"oom_kill\":true},"
                   "\"child\":{\"pid\":-2147483649,\"started_sec_ago\":1e308,\"restarts\":1e300},"
                   "\"policy\":{\"name\":null,\"dry_run\":1,\"stage\":4294967296.5,\"stage_name\":[],"
                   "\"stage_since_sec\":1e99},\"heap\":{\"held\":1e19,\"in_use\":-0,\"cap\":\"x\","
                   "\"cap_hits\":9007199254740993,\"scavenges\":null}}");

        ASSERT_TRUE(!strstr(out, "2147483648"));
        ASSERT_STREQ(out, "oomless - (run), up -s\n"
                          "  command: -\n"
                          "  tier:    -\n"
                          "  leaf:    -\n"
                          "  memory:  current -, peak -, limit - (leaf max -, high -), working set -, "
                          "non-file -, shmem -, "
                          "kernel -\n"
                          "  psi:     some -/-, full -/- (avg10/avg60)\n"
                          "  events:  high -, max -, oom -, oom_kill -\n"
                          "  child:   pid -, up -s, restarts -\n"
                          "  policy:  -, stage - (-) for -s\n"
                          "  heap:    held -, in use 0B, cap -, cap hits 9007199254740992, scavenges -\n");
        free(out);
}

/* Strings reach a terminal: escape sequences in them (C0 ESC/BEL, C1 CSI as UTF-8) are masked. */
TEST(terminal_escapes)
{
        char *out = render("{\"mode\":\"\\u001b[2Jrun\",\"leaf\":\"\\u001b]0;pwned\\u0007/x\","
                           "\"command\":[\"sh\",\"\\u009b31m\\u00e9t\\u00e9\"]}");

        ASSERT_TRUE(!strchr(out, 0x1b) && !strchr(out, 0x07));
        ASSERT_TRUE(strstr(out, "oomless - (?[2Jrun), up -s\n"));
        ASSERT_TRUE(strstr(out, "  leaf:    ?]0;pwned?/x\n"));
        ASSERT_TRUE(strstr(out, "  command: sh ?31m\u00e9t\u00e9\n"));
        free(out);
}

/* Not an object at all, or nothing: every line still prints, all "-". */
TEST(not_an_object)
{
        const char *docs[] = { "[1,2,3]", "null", "\"status\"", "1e999", "{\"memory\":[],\"policy\":7}" };

        for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
                char *out = render(docs[i]);
                ASSERT_TRUE(strstr(out, "oomless - (-), up -s\n"));
                ASSERT_TRUE(strstr(out, "  memory:  current -, peak -, limit - (leaf max -, high -), "
                                        "working set -, non-file -, shmem -, kernel -\n"));
                ASSERT_TRUE(strstr(out, "  policy:  -, stage - (-) for -s\n"));
                free(out);
        }
        /* Truncated JSON does not parse: the client reports it; rendering NULL is still safe. */
        char *out = render("{\"mode\":\"run\",\"memory\":{\"current\":12");
        ASSERT_TRUE(strstr(out, "oomless - (-), up -s\n"));
        free(out);
}

TEST_MAIN()

/* SPDX-License-Identifier: MIT */
/* policy_load_file(): the file-level checks (missing, directory, FIFO, device, size bound, UTF-8) give
 * one diagnostic each instead of hanging or crashing, and a good file loads with its path recorded. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy-file.h"
#include "test.h"

static char dir[] = "/tmp/oomless-policy-file-XXXXXX";

static char *path_of(const char *name);

/* Runs at exit, also after a failed assertion, so no test directory is left behind. */
static void cleanup(void)
{
        const char *names[] = { "good.json", "fifo", "big.json", "latin1.json", "empty.json" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                unlink(path_of(names[i]));
        rmdir(dir);
}

static char *path_of(const char *name)
{
        static char buf[256];
        static bool made;

        /* Tests may run in any order or alone; whichever comes first makes the directory. */
        if (!made) {
                ASSERT_TRUE(mkdtemp(dir));
                atexit(cleanup);
                made = true;
        }
        snprintf(buf, sizeof(buf), "%s/%s", dir, name);
        return buf;
}

static void write_file(const char *name, const char *data, size_t len)
{
        int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, data, len), (ssize_t)len);
        close(fd);
}

/* Loads path and returns its single diagnostic formatted as `oomless check` prints it. */
static char *load_error(const char *path)
{
        PolicyDiags d = { 0 };
        Policy *p = NULL;
        char *s;

        ASSERT_ERROR(policy_load_file(path, &p, &d), EINVAL);
        ASSERT_TRUE(p == NULL);
        ASSERT_EQ(d.n, 1);
        s = policy_diag_format(&d.items[0], "F");
        policy_diags_done(&d);
        return s;
}

static const char good[] =
    "{ \"version\": 1, \"stages\": [ { \"enter\": { \"all\": [ { \"memory\": \">= 80%\" } ] },"
    " \"exit\": { \"all\": [ { \"memory\": \"< 70%\" } ] } } ] }";

TEST(file_level_errors)
{
        char *e;

        e = load_error(path_of("missing.json"));
        ASSERT_STREQ(e, "F: No such file or directory (hint: check the path)");
        free(e);

        e = load_error(path_of("."));
        ASSERT_STREQ(e, "F: is a directory (hint: give the policy file, not a directory)");
        free(e);

        ASSERT_OK(mkfifo(path_of("fifo"), 0600) < 0 ? -errno : 0);
        e = load_error(path_of("fifo")); /* must not block waiting for a writer */
        ASSERT_STREQ(e, "F: not a regular file (hint: give a regular file)");
        free(e);

        e = load_error("/dev/null");
        ASSERT_STREQ(e, "F: not a regular file (hint: give a regular file)");
        free(e);

        {
                int fd = open(path_of("big.json"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                ASSERT_TRUE(fd >= 0);
                ASSERT_OK(ftruncate(fd, POLICY_FILE_SIZE_MAX + 1));
                close(fd);
        }
        e = load_error(path_of("big.json"));
        ASSERT_STREQ(
            e, "F: file is 1048577 bytes, above the limit of 1048576 (hint: keep policies below 1 MiB)");
        free(e);

        write_file("latin1.json", "{ \"name\": \"caf\xe9\" }", 18);
        e = load_error(path_of("latin1.json"));
        ASSERT_STREQ(e, "F:1:15: invalid UTF-8 (hint: save the file as UTF-8 text)");
        free(e);

        write_file("empty.json", "", 0);
        e = load_error(path_of("empty.json"));
        ASSERT_STREQ(e, "F: the policy is empty (hint: a policy is a JSON object: {\"version\": 1, "
                        "\"stages\": [ ... ]})");
        free(e);
}

TEST(good_file_and_size_boundary)
{
        PolicyDiags d = { 0 };
        Policy *p = NULL;
        char *buf = malloc(POLICY_FILE_SIZE_MAX);

        /* Exactly at the limit is fine: the policy padded with spaces to 1 MiB. */
        ASSERT_TRUE(buf);
        memset(buf, ' ', POLICY_FILE_SIZE_MAX);
        memcpy(buf, good, strlen(good));
        write_file("good.json", buf, POLICY_FILE_SIZE_MAX);
        ASSERT_OK(policy_load_file(path_of("good.json"), &p, &d));
        ASSERT_EQ(d.n, 0);
        ASSERT_STREQ(policy_source(p), path_of("good.json"));
        ASSERT_EQ(policy_stage_count(p), 1);
        policy_free(p);
        free(buf);
}

TEST_MAIN()

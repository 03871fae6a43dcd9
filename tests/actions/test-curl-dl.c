/* SPDX-License-Identifier: MIT */
/*
 * libcurl is loaded on first use (supervisor/act/curl-dl.h): not mapped in this process until the
 * first webhook_new(), mapped after it; and when it cannot be loaded, webhook_new() fails with one
 * error line naming the library and the package, however many webhooks try. The loader's state is
 * per process, so each case runs in a child of its own: with OOMLESS_TEST_LIBCURL naming a library
 * that does not exist, or one that is not libcurl, or unset for the real one.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/wait.h>

#include "curl-dl.h"
#include "helpers.h"
#include "webhook.h"

T_DEFINE_DONE(WebhookResult)

static bool libcurl_mapped(void)
{
        FILE *f = fopen("/proc/self/maps", "re");
        char line[4096];
        bool found = false;

        ASSERT_TRUE(f);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, "/libcurl"))
                        found = true;
        fclose(f);
        return found;
}

/* Runs fn in a child with OOMLESS_TEST_LIBCURL=lib (unset when NULL) and its stderr in a file; returns
 * what it logged. */
static char *run_child(const char *lib, void (*fn)(void))
{
        char path[] = "/tmp/oomless-curl-dl-XXXXXX";
        static char out[8192];
        int fd = mkostemp(path, O_CLOEXEC), st;
        pid_t pid;
        ssize_t n;

        ASSERT_TRUE(fd >= 0);
        unlink(path);
        fflush(NULL);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                dup2(fd, STDERR_FILENO);
                if (lib)
                        setenv(CURL_DL_TEST_ENV, lib, 1);
                else
                        unsetenv(CURL_DL_TEST_ENV);
                fn();
                fflush(NULL);
                _exit(0);
        }
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st));
        if (WEXITSTATUS(st) != 0) {
                n = pread(fd, out, sizeof(out) - 1, 0);
                out[n > 0 ? n : 0] = 0;
                TEST_FAIL("the child failed (exit %d), its stderr:\n%s", WEXITSTATUS(st), out);
        }
        n = pread(fd, out, sizeof(out) - 1, 0);
        ASSERT_TRUE(n >= 0);
        out[n] = 0;
        close(fd);
        return out;
}

static unsigned count_lines(const char *s)
{
        unsigned n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static void three_webhooks_fail(int expected_errno)
{
        sd_event *e = NULL;
        Webhook *w = NULL;

        ASSERT_OK(sd_event_new(&e));
        for (int i = 0; i < 3; i++) {
                ASSERT_ERROR(webhook_new(e, 0, &w), expected_errno);
                ASSERT_TRUE(w == NULL);
        }
        ASSERT_TRUE(!libcurl_mapped());
        sd_event_unref(e);
}

static void missing_library_child(void)
{
        three_webhooks_fail(ELIBACC);
}

static void missing_symbol_child(void)
{
        three_webhooks_fail(ELIBBAD);
}

TEST(missing_library_is_one_error_line)
{
        const char *lib = "libcurl-oomless-test-missing.so.4";
        char *out = run_child(lib, missing_library_child);

        printf("logged: %s", out);
        ASSERT_EQ(count_lines(out), 1);
        ASSERT_TRUE(strstr(out, "error: Webhooks are unavailable: cannot load "
                                "libcurl-oomless-test-missing.so.4") != NULL);
        ASSERT_TRUE(strstr(out, "Install the libcurl4 package.") != NULL);
}

/* libm is no libcurl: it loads, but the first function of the table is not there. */
TEST(library_without_curl_functions_is_one_error_line)
{
        char *out = run_child("libm.so.6", missing_symbol_child);

        printf("logged: %s", out);
        ASSERT_EQ(count_lines(out), 1);
        ASSERT_TRUE(strstr(out, "error: Webhooks are unavailable: libm.so.6 has no function "
                                "curl_global_init") != NULL);
        ASSERT_TRUE(strstr(out, "undefined symbol: curl_global_init). ") != NULL); /* dlerror()'s text */
        ASSERT_TRUE(strstr(out, "libcurl4 package") != NULL);
}

/* The real library: mapped by the first webhook_new() and not before, and it works. */
static void real_library_child(void)
{
        sd_event *e = NULL;
        Webhook *w = NULL, *w2 = NULL;
        HttpServer s;
        Done d = {};
        char url[64];

        ASSERT_OK(sd_event_new(&e));
        ASSERT_TRUE(!libcurl_mapped());
        ASSERT_OK(webhook_new(e, 0, &w));
        ASSERT_TRUE(libcurl_mapped());
        ASSERT_OK(webhook_new(e, 0, &w2)); /* a second one reuses the loaded library */

        hs_start(&s, HS_RESPOND, 204);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", s.port);
        ASSERT_OK(webhook_post(w2, &(WebhookRequest){ .url = url, .body = "{}", .timeout_usec = 2000000 },
                               on_done, &d));
        ASSERT_TRUE(t_run_until(e, &d.done, 5000000));
        ASSERT_EQ(d.res.error_class, WEBHOOK_OK);
        ASSERT_EQ(d.res.http_status, 204);
        webhook_free(w);
        webhook_free(w2);
        hs_stop(&s);
        sd_event_unref(e);
}

TEST(loaded_on_first_webhook)
{
        char *out = run_child(NULL, real_library_child);

        ASSERT_STREQ(out, "");
}

TEST_MAIN()

/* SPDX-License-Identifier: MIT */
/*
 * Webhooks against real sockets on 127.0.0.1: a C HTTP server thread in this process (the loop
 * under test runs on the main thread, the server on its own), a dead port, and `openssl s_server`
 * with a self-signed certificate for TLS verification.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "helpers.h"
#include "webhook.h"

T_DEFINE_DONE(WebhookResult)

static void assert_all_cloexec(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        unsigned n = 0;

        ASSERT_TRUE(d);
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name);
                if (de->d_name[0] == '.' || fd < 3 || fd == dirfd(d))
                        continue;
                char link[256] = "", path[64];
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                (void)!readlink(path, link, sizeof(link) - 1);
                /* only sockets: other fds may be inherited from whoever started the test */
                if (strncmp(link, "socket:", 7) != 0)
                        continue;
                int fl = fcntl(fd, F_GETFD);
                if (fl >= 0 && !(fl & FD_CLOEXEC))
                        TEST_FAIL("fd %d (%s) is not close-on-exec", fd, link);
                n++;
        }
        closedir(d);
        ASSERT_TRUE(n > 0);
}

static Webhook *new_webhook(sd_event *e, size_t max_queue)
{
        Webhook *w = NULL;
        ASSERT_OK(webhook_new(e, max_queue, &w));
        return w;
}

/* Runs argv with stdin, stdout and stderr on /dev/null; returns its pid. */
static pid_t spawn_quiet(char *const argv[])
{
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR);
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                execvp(argv[0], argv);
                _exit(127);
        }
        return pid;
}

TEST(json_body_arrives)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Webhook *w = NULL;
        HttpServer s;
        Done d = {};
        char url[64];
        const char *body = "{\"stage\":2,\"action\":\"webhook\",\"memory\":{\"current\":123}}";

        hs_start_url(&s, HS_RESPOND, 200, "/hook", url);
        w = new_webhook(e, 0);
        ASSERT_OK(webhook_post(w, &(WebhookRequest){ .url = url, .body = body, .timeout_usec = 2000000 },
                               on_done, &d));
        ASSERT_TRUE(t_run_until(e, &d.done, 5000000));
        ASSERT_EQ(d.res.error_class, WEBHOOK_OK);
        ASSERT_EQ(d.res.http_status, 200);
        ASSERT_EQ(d.res.attempts, 1);
        ASSERT_EQ(hs_count(&s), 1);
        ASSERT_STREQ(s.req[0].body, body);
        ASSERT_TRUE(strncmp(s.req[0].head, "POST /hook HTTP/1.1\r\n", 21) == 0);
        ASSERT_TRUE(strcasestr(s.req[0].head, "\r\nContent-Type: application/json\r\n") != NULL);
        ASSERT_EQ(webhook_pending(w), 0);
        webhook_free(w);
        hs_stop(&s);
}

/* The Kubernetes API's needs: another method, another content type, and the answer's body, kept up
 * to answer_max bytes and valid during the callback. */
typedef struct AnswerDone {
        bool done;
        WebhookResult res;
        char answer[16];
} AnswerDone;

static void on_answer(const WebhookResult *r, void *userdata)
{
        AnswerDone *d = userdata;
        d->res = *r;
        d->res.answer = NULL;
        snprintf(d->answer, sizeof(d->answer), "%s", r->answer ?: "(null)");
        d->done = true;
}

TEST(patch_with_content_type_keeps_answer)
{
        sd_event *e = t_event_new();
        Webhook *w = NULL;
        HttpServer s;
        AnswerDone d = {}, d1 = {}, d0 = {};
        char url[64];

        hs_start(&s, HS_RESPOND, 200);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/status", s.port);
        ASSERT_OK(webhook_new(e, 0, &w));
        ASSERT_OK(webhook_post(w,
                               &(WebhookRequest){ .url = url,
                                                  .body = "{\"a\":1}",
                                                  .method = "PATCH",
                                                  .content_type = "application/strategic-merge-patch+json",
                                                  .answer_max = 64 },
                               on_answer, &d));
        ASSERT_TRUE(t_run_until(e, &d.done, 5000000));
        ASSERT_EQ(d.res.error_class, WEBHOOK_OK);
        ASSERT_STREQ(d.answer, "ok");
        ASSERT_EQ(d.res.answer_size, 2);
        ASSERT_TRUE(strncmp(s.req[0].head, "PATCH /status HTTP/1.1\r\n", 24) == 0);
        ASSERT_TRUE(
            strcasestr(s.req[0].head, "\r\nContent-Type: application/strategic-merge-patch+json\r\n"));
        ASSERT_TRUE(!strcasestr(s.req[0].head, "application/json"));
        ASSERT_STREQ(s.req[0].body, "{\"a\":1}");

        /* Cut at answer_max; none without it. */
        ASSERT_OK(
            webhook_post(w, &(WebhookRequest){ .url = url, .body = "{}", .answer_max = 1 }, on_answer, &d1));
        ASSERT_TRUE(t_run_until(e, &d1.done, 5000000));
        ASSERT_STREQ(d1.answer, "o");
        ASSERT_OK(webhook_post(w, &(WebhookRequest){ .url = url, .body = "{}" }, on_answer, &d0));
        ASSERT_TRUE(t_run_until(e, &d0.done, 5000000));
        ASSERT_STREQ(d0.answer, "(null)");
        ASSERT_TRUE(strncmp(s.req[2].head, "POST ", 5) == 0);

        /* A content type that would end the header line is refused. */
        ASSERT_ERROR(webhook_post(w,
                                  &(WebhookRequest){ .url = url, .body = "{}", .content_type = "a\r\nX: y" },
                                  on_answer, &d0),
                     EINVAL);
        webhook_free(w);
        hs_stop(&s);
        sd_event_unref(e);
}

/* A server that takes the request and never answers: each attempt times out after 300 ms, the two
 * retries wait 100 ms then 200 ms, and a 20 ms loop timer keeps firing on time throughout. */
TEST(slow_server_times_out_with_backoff_without_blocking_loop)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Webhook *w = NULL;
        HttpServer s;
        Done d = {};
        TickProbe probe;
        char url[64];
        uint64_t t0;

        hs_start_url(&s, HS_NO_ANSWER, 0, "/", url);
        w = new_webhook(e, 0);
        t_tick_start(e, &probe, 20000);
        t0 = t_now_usec();
        ASSERT_OK(webhook_post(
            w,
            &(WebhookRequest){
                .url = url, .body = "{}", .timeout_usec = 300000, .retries = 2, .backoff_usec = 100000 },
            on_done, &d));
        /* while the first attempt is in flight, every fd we hold (curl's socket included) is
         * close-on-exec, so nothing leaks into a workload or hook started meanwhile */
        while (hs_count(&s) < 1)
                ASSERT_OK(sd_event_run(e, 10000));
        assert_all_cloexec();
        ASSERT_TRUE(t_run_until(e, &d.done, 10000000));
        t_tick_stop(&probe);

        printf(
            "attempts=%u class=%s duration=%llums max tick lateness=%llums (%llums not waiting for a CPU) "
            "ticks=%u\n",
            d.res.attempts, webhook_error_class_to_string(d.res.error_class),
            (unsigned long long)(d.res.duration_usec / 1000),
            (unsigned long long)(probe.max_late_usec / 1000),
            (unsigned long long)(probe.max_blocked_usec / 1000), probe.ticks);
        ASSERT_EQ(d.res.error_class, WEBHOOK_ERR_TIMEOUT);
        ASSERT_EQ(d.res.attempts, 3);
        ASSERT_EQ(hs_count(&s), 3);
        /* attempt k+1 starts after attempt k timed out (300 ms) plus 100 ms * 2^(k-1) */
        uint64_t g1 = s.req[1].at_usec - s.req[0].at_usec, g2 = s.req[2].at_usec - s.req[1].at_usec;
        printf("gaps %llu ms, %llu ms\n", (unsigned long long)g1 / 1000, (unsigned long long)g2 / 1000);
        /* client side, timers are never early: three 300 ms timeouts plus 100 + 200 ms of backoff */
        ASSERT_TRUE(d.res.duration_usec >= 1200000 - 20000);
        /* (a constant 100 ms backoff would total 1100 ms.) The gaps seen by the server thread are only
         * printed: when the machine is loaded its clock reads late and makes them unreliable. */
        ASSERT_TRUE(g1 < 5000000 && g2 < 5000000);
        ASSERT_TRUE(t_now_usec() - t0 >= 3 * 300000 + 300000);
        ASSERT_TRUE(probe.ticks >= 10);
        ASSERT_TRUE(probe.max_blocked_usec < t_lateness_budget_usec());
        webhook_free(w);
        hs_stop(&s);
}

TEST(dead_port_fails_with_retries)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Webhook *w = NULL;
        Done d = {};
        char url[64];

        snprintf(url, sizeof(url), "http://127.0.0.1:%d/", t_dead_port());
        w = new_webhook(e, 0);
        ASSERT_OK(webhook_post(
            w,
            &(WebhookRequest){
                .url = url, .body = "{}", .timeout_usec = 1000000, .retries = 2, .backoff_usec = 50000 },
            on_done, &d));
        ASSERT_TRUE(t_run_until(e, &d.done, 10000000));
        printf("class=%s attempts=%u message=%s duration=%llums\n",
               webhook_error_class_to_string(d.res.error_class), d.res.attempts, d.res.message,
               (unsigned long long)d.res.duration_usec / 1000);
        ASSERT_EQ(d.res.error_class, WEBHOOK_ERR_CONNECT);
        ASSERT_EQ(d.res.attempts, 3);
        ASSERT_TRUE(d.res.duration_usec >= 150000); /* 50 ms + 100 ms of backoff */
        webhook_free(w);
}

TEST(server_errors_retry_client_errors_do_not)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Webhook *w = NULL;
        HttpServer s5, s4;
        Done d5 = {}, d4 = {};
        char u5[64], u4[64];

        hs_start_url(&s5, HS_RESPOND, 503, "/", u5);
        hs_start_url(&s4, HS_RESPOND, 404, "/", u4);
        w = new_webhook(e, 0);
        ASSERT_OK(webhook_post(
            w, &(WebhookRequest){ .url = u5, .body = "{}", .retries = 2, .backoff_usec = 20000 }, on_done,
            &d5));
        ASSERT_OK(webhook_post(
            w, &(WebhookRequest){ .url = u4, .body = "{}", .retries = 2, .backoff_usec = 20000 }, on_done,
            &d4));
        ASSERT_EQ(webhook_pending(w), 2);
        ASSERT_TRUE(t_run_until(e, &d5.done, 5000000));
        ASSERT_TRUE(t_run_until(e, &d4.done, 5000000));
        ASSERT_EQ(d5.res.error_class, WEBHOOK_ERR_HTTP);
        ASSERT_EQ(d5.res.http_status, 503);
        ASSERT_EQ(d5.res.attempts, 3);
        ASSERT_EQ(hs_count(&s5), 3);
        ASSERT_EQ(d4.res.error_class, WEBHOOK_ERR_HTTP);
        ASSERT_EQ(d4.res.http_status, 404);
        ASSERT_EQ(d4.res.attempts, 1);
        ASSERT_EQ(hs_count(&s4), 1);
        webhook_free(w);
        hs_stop(&s5);
        hs_stop(&s4);
}

TEST(queue_is_bounded)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Webhook *w = NULL;
        HttpServer s;
        Done d[3] = {};
        char url[64];

        hs_start_url(&s, HS_NO_ANSWER, 0, "/", url);
        w = new_webhook(e, 2);
        WebhookRequest req = { .url = url, .body = "{}", .timeout_usec = 200000 };
        ASSERT_OK(webhook_post(w, &req, on_done, &d[0]));
        ASSERT_OK(webhook_post(w, &req, on_done, &d[1]));
        ASSERT_ERROR(webhook_post(w, &req, on_done, &d[2]), EBUSY);
        ASSERT_ERROR(
            webhook_post(w, &(WebhookRequest){ .url = "file:///etc/passwd", .body = "{}" }, on_done, &d[2]),
            EINVAL);
        ASSERT_TRUE(t_run_until(e, &d[1].done, 5000000));
        ASSERT_TRUE(t_run_until(e, &d[0].done, 5000000));
        ASSERT_EQ(webhook_pending(w), 0);
        /* freeing with requests in flight drops them without calling back */
        ASSERT_OK(webhook_post(w, &req, on_done, &d[2]));
        webhook_free(w);
        ASSERT_TRUE(!d[2].done);
        hs_stop(&s);
}

static pid_t start_tls_server(const char *dir, int port)
{
        char cert[512], key[512], accept_arg[32];
        pid_t pid;

        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);
        pid =
            spawn_quiet((char *[]){ "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                                    "/CN=oomless-test", "-days", "1", "-keyout", key, "-out", cert, NULL });
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) == 127)
                test_skip("openssl is not installed");
        ASSERT_EQ(WEXITSTATUS(st), 0);

        snprintf(accept_arg, sizeof(accept_arg), "%d", port);
        pid = spawn_quiet((char *[]){ "openssl", "s_server", "-accept", accept_arg, "-cert", cert, "-key",
                                      key, "-www", NULL });
        /* wait until it listens (slow to start under the TCG VM) */
        for (uint64_t end = t_now_usec() + t_slow(5000000); t_now_usec() < end;) {
                struct sockaddr_in a = { .sin_family = AF_INET,
                                         .sin_port = htons((uint16_t)port),
                                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
                close(fd);
                if (r == 0)
                        return pid;
                usleep(50000);
        }
        kill(pid, SIGKILL);
        TEST_FAIL("openssl s_server did not start listening on %d", port);
}

TEST(tls_verification_on_by_default)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Webhook *w = NULL;
        Done d = {}, d2 = {};
        char dir[] = "/tmp/oomless-tls-XXXXXX", url[64];
        int port = t_dead_port();
        pid_t srv;

        ASSERT_TRUE(mkdtemp(dir) != NULL);
        srv = start_tls_server(dir, port);
        snprintf(url, sizeof(url), "https://127.0.0.1:%d/", port);
        w = new_webhook(e, 0);
        ASSERT_OK(webhook_post(
            w, &(WebhookRequest){ .url = url, .body = "{}", .retries = 3, .timeout_usec = 20000000 },
            on_done, &d));
        ASSERT_TRUE(t_run_until(e, &d.done, 10000000));
        printf("verify on: class=%s curl=%d attempts=%u: %s\n",
               webhook_error_class_to_string(d.res.error_class), d.res.curl_code, d.res.attempts,
               d.res.message);
        ASSERT_EQ(d.res.error_class, WEBHOOK_ERR_TLS);
        /* a certificate that fails verification is not retried: the retries left are not used (an
         * attempt before it may time out on a slow machine, e.g. the TCG VM, while s_server starts) */
        ASSERT_TRUE(d.res.attempts < 4);

        /* With verification off the handshake passes; whatever s_server answers, it is not TLS. */
        ASSERT_OK(webhook_post(
            w, &(WebhookRequest){ .url = url, .body = "{}", .tls_insecure = true, .timeout_usec = 3000000 },
            on_done, &d2));
        ASSERT_TRUE(t_run_until(e, &d2.done, 10000000));
        printf("verify off: class=%s curl=%d status=%ld: %s\n",
               webhook_error_class_to_string(d2.res.error_class), d2.res.curl_code, d2.res.http_status,
               d2.res.message);
        ASSERT_TRUE(d2.res.error_class != WEBHOOK_ERR_TLS);

        webhook_free(w);
        kill(srv, SIGKILL);
        waitpid(srv, NULL, 0);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void)!system(cmd);
}

TEST_MAIN()

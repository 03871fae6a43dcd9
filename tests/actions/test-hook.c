/* SPDX-License-Identifier: MIT */
/* Hooks as real child processes: the environment they see, the SIGTERM -> SIGKILL timeout, a missing
 * program, and the manager's reaper taking the status first. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"
#include "hook.h"

T_DEFINE_DONE(HookResult)

/* A hook of argv alone (no timeout, no output) on e, reporting to d. */
static int run_plain(sd_event *e, char **argv, Done *d, Hook **ret)
{
        return hook_run(e, &(HookSpec){ .argv = argv, .stdout_fd = -1, .stderr_fd = -1 }, on_done, d, ret);
}

static char *slurp(const char *path)
{
        FILE *f = fopen(path, "re");
        char *buf = calloc(1, 65536);
        ASSERT_TRUE(f && buf);
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

TEST(env_reaches_the_hook)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        char path[] = "/tmp/oomless-hook-env-XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);
        Done d = {};
        char *argv[] = { "env", NULL };
        char *extra[] = { "OOMLESS_STAGE=2", "OOMLESS_STAGE_NAME=degrade", "OOMLESS_EVENT=enter",
                          "HOME=/nonexistent", NULL };
        TickProbe probe;

        ASSERT_TRUE(fd >= 0);
        setenv("OOMLESS_TEST_INHERITED", "yes", 1);
        t_tick_start(e, &probe, 20000);
        ASSERT_OK(hook_run(e,
                           &(HookSpec){ .argv = argv,
                                        .env_extra = extra,
                                        .timeout_usec = 5000000,
                                        .stdout_fd = fd,
                                        .stderr_fd = -1 },
                           on_done, &d, NULL));
        ASSERT_EQ(hook_running_count(), 1);
        ASSERT_TRUE(t_run_until(e, &d.done, 5000000));
        t_tick_stop(&probe);
        ASSERT_EQ(hook_running_count(), 0);
        ASSERT_TRUE(d.res.status_known);
        ASSERT_EQ(d.res.code, CLD_EXITED);
        ASSERT_EQ(d.res.status, 0);
        ASSERT_TRUE(!d.res.timed_out);

        char *out = slurp(path);
        ASSERT_TRUE(strstr(out, "\nOOMLESS_STAGE=2\n") || strncmp(out, "OOMLESS_STAGE=2\n", 16) == 0);
        ASSERT_TRUE(strstr(out, "OOMLESS_STAGE_NAME=degrade\n"));
        ASSERT_TRUE(strstr(out, "OOMLESS_EVENT=enter\n"));
        ASSERT_TRUE(strstr(out, "OOMLESS_TEST_INHERITED=yes\n"));
        /* an extra variable replaces the inherited one instead of appearing twice */
        unsigned homes = 0;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
                if (strncmp(line, "HOME=", 5) == 0) {
                        ASSERT_STREQ(line, "HOME=/nonexistent");
                        homes++;
                }
        ASSERT_EQ(homes, 1);
        free(out);
        unlink(path);
        close(fd);
}

TEST(timeout_terms_a_sleeping_hook)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Done d = {};
        char *argv[] = { "sleep", "30", NULL };
        uint64_t t0 = t_now_usec();

        ASSERT_OK(hook_run(
            e, &(HookSpec){ .argv = argv, .timeout_usec = 200000, .stdout_fd = -1, .stderr_fd = -1 },
            on_done, &d, NULL));
        ASSERT_TRUE(t_run_until(e, &d.done, 10000000));
        ASSERT_TRUE(d.res.timed_out);
        ASSERT_TRUE(d.res.status_known);
        ASSERT_EQ(d.res.code, CLD_KILLED);
        ASSERT_EQ(d.res.status, SIGTERM);
        ASSERT_TRUE(t_now_usec() - t0 >= 200000 && t_now_usec() - t0 < 3000000);
        char buf[128];
        printf("%s\n", hook_result_describe(&d.res, buf, sizeof(buf)));
}

TEST(timeout_kills_a_hook_that_ignores_sigterm_and_its_children)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Done d = {};
        char pidfile[] = "/tmp/oomless-hook-pid-XXXXXX";
        int fd = mkostemp(pidfile, O_CLOEXEC);
        char script[256];
        snprintf(script, sizeof(script), "trap '' TERM; sleep 30 & echo $! > %s; wait; sleep 30", pidfile);
        char *argv[] = { "sh", "-c", script, NULL };

        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(hook_run(e,
                           &(HookSpec){ .argv = argv,
                                        .timeout_usec = t_slow(1000000), /* time for sh to set its trap */
                                        .kill_grace_usec = 300000,
                                        .stdout_fd = -1,
                                        .stderr_fd = -1 },
                           on_done, &d, NULL));
        ASSERT_TRUE(t_run_until(e, &d.done, t_slow(10000000)));
        ASSERT_TRUE(d.res.timed_out);
        ASSERT_EQ(d.res.code, CLD_KILLED);
        ASSERT_EQ(d.res.status, SIGKILL);
        char *s = slurp(pidfile);
        pid_t grandchild = atoi(s);
        free(s);
        ASSERT_TRUE(grandchild > 0);
        /* the background sleep in the hook's process group is gone too (it may linger as a zombie of
         * whoever reaps orphans here, but it no longer runs) */
        for (int i = 0; i < 100; i++) {
                char path[64], st[512] = "";
                snprintf(path, sizeof(path), "/proc/%d/stat", (int)grandchild);
                FILE *f = fopen(path, "re");
                if (!f)
                        break;
                (void)!fgets(st, sizeof(st), f);
                fclose(f);
                char *p = strrchr(st, ')');
                if (p && p[2] == 'Z')
                        break;
                ASSERT_TRUE(i < 99);
                usleep(20000);
        }
        unlink(pidfile);
        close(fd);
}

TEST(missing_program_fails_at_once)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Done d = {};
        char *argv[] = { "/nonexistent/oomless-hook", NULL };
        char *argv2[] = { "oomless-no-such-program-in-path", NULL };

        ASSERT_ERROR(run_plain(e, argv, &d, NULL), ENOENT);
        ASSERT_ERROR(run_plain(e, argv2, &d, NULL), ENOENT);
        ASSERT_EQ(hook_running_count(), 0);
        ASSERT_TRUE(!d.done);
}

TEST(status_reaped_by_the_manager_is_handed_over)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Done d = {};
        char *argv[] = { "sh", "-c", "exit 7", NULL };
        siginfo_t si = {};

        ASSERT_OK(run_plain(e, argv, &d, NULL));
        /* what the manager's reaper does on SIGCHLD */
        ASSERT_OK(waitid(P_ALL, 0, &si, WEXITED));
        ASSERT_TRUE(hook_child_reaped(si.si_pid, si.si_code, si.si_status));
        ASSERT_TRUE(d.done);
        ASSERT_TRUE(d.res.status_known);
        ASSERT_EQ(d.res.code, CLD_EXITED);
        ASSERT_EQ(d.res.status, 7);
        ASSERT_TRUE(!hook_child_reaped(si.si_pid, si.si_code, si.si_status));
        ASSERT_EQ(hook_running_count(), 0);
}

TEST(status_reaped_elsewhere_without_telling)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Done d = {};
        char *argv[] = { "true", NULL };

        ASSERT_OK(run_plain(e, argv, &d, NULL));
        ASSERT_TRUE(waitpid(-1, NULL, 0) > 0);
        ASSERT_TRUE(t_run_until(e, &d.done, 5000000));
        ASSERT_TRUE(!d.res.status_known);
}

TEST(cancel)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Done d = {};
        char *argv[] = { "sleep", "30", NULL };
        Hook *h = NULL;

        ASSERT_OK(run_plain(e, argv, &d, &h));
        hook_cancel(h);
        ASSERT_EQ(hook_running_count(), 0);
        ASSERT_TRUE(!d.done);
        ASSERT_TRUE(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

TEST_MAIN()

/* SPDX-License-Identifier: MIT */
/* attach's --wait SPEC forms and the lines naming the actions a mode cannot carry out, plus one look
 * for a real process of our own by comm, cmdline and pidfile (target_find never matches us, our
 * ancestors or our children, so the process is started by a grandchild). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "instance.h"
#include "mode-caps.h"
#include "strv.h"
#include "target.h"
#include "test.h"

TEST(spec_forms)
{
        static const char *const bad[] = {
                "comm:", "comm:a-name-of-16-chars", "pidfile:relative.pid", "control:", "name:app", "app",
        };
        TargetSpec s;

        ASSERT_OK(target_spec_parse("comm:app", &s));
        ASSERT_EQ(s.kind, TARGET_COMM);
        ASSERT_STREQ(s.arg, "app");
        ASSERT_OK(target_spec_parse("cmdline:java -jar app.jar", &s));
        ASSERT_EQ(s.kind, TARGET_CMDLINE);
        ASSERT_OK(target_spec_parse("pidfile:/run/app.pid", &s));
        ASSERT_EQ(s.kind, TARGET_PIDFILE);
        ASSERT_OK(target_spec_parse("control:/shared/control", &s));
        ASSERT_EQ(s.kind, TARGET_CONTROL);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = target_spec_parse(bad[i], &s);

                if (r != -EINVAL)
                        TEST_FAIL("target_spec_parse(\"%s\"): expected -EINVAL, got %d", bad[i], r);
        }
}

static const char restart_policy[] =
    "{\"version\": 1, \"name\": \"t\", \"stages\": [{\"name\": \"hot\", \"enter\": {\"all\": [{\"memory\": "
    "\">= 90%\"}]}, \"exit\": {\"all\": [{\"memory\": \"< 50%\"}]}, \"on_enter\": [{\"action\": "
    "\"throttle\", \"memory_high\": \"80%\"}, {\"action\": \"restart\"}, {\"action\": \"scavenge\"}]}]}";

TEST(mode_lines)
{
        _cleanup_strv_free_ char **l = NULL;
        Policy *p = NULL;
        PolicyDiags d = { 0 };

        ASSERT_OK(policy_parse(restart_policy, strlen(restart_policy), "t.json", &p, &d));
        /* Everything possible: no line. */
        ASSERT_EQ(mode_caps_unsupported(p, &(ModeCaps){ 0 }, &l), 0);
        ASSERT_TRUE(l && !l[0]);
        l = strv_free(l);
        ASSERT_EQ(mode_caps_unsupported(p,
                                        &(ModeCaps){ .attach = true,
                                                     .no_high = "memory.high is read-only",
                                                     .no_restart = "no --follow",
                                                     .no_reclaim = "x" /* not used: no line */ },
                                        &l),
                  2);
        ASSERT_STREQ(l[0], "throttle (stage \"hot\"): skipped: memory.high is read-only");
        ASSERT_STREQ(l[1], "restart (stage \"hot\"): skipped: no --follow");
        policy_free(p);
        policy_diags_done(&d);
}

/* A process of a grandchild's (not our child: those never match), named by comm and cmdline. */
TEST(find_real_process)
{
        char dir[] = "/tmp/test-target.XXXXXX", app[256], pidfile[256], spec[300], name[16];
        TargetSpec s;
        pid_t found = 0, pid;
        int st;

        ASSERT_TRUE(mkdtemp(dir));
        /* Unique per run: a second run of this test (another build tree) must not match. */
        snprintf(name, sizeof(name), "tgt%d", (int)getpid());
        snprintf(app, sizeof(app), "%s/%s", dir, name);
        snprintf(pidfile, sizeof(pidfile), "%s/app.pid", dir);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "cp \"$(command -v sleep)\" %s && (%s 30 >/dev/null 2>&1 & echo $! > %s)",
                 app, app, pidfile);
        ASSERT_EQ(system(cmd), 0);
        FILE *f = fopen(pidfile, "re");
        ASSERT_TRUE(f && fscanf(f, "%d", &pid) == 1);
        fclose(f);
        /* The shell forks before it execs the copy: wait until the pid carries its name. */
        for (int i = 0; i < 500; i++) {
                char comm[32];

                if (instance_read_proc_file(pid, "comm", comm, sizeof(comm)) > 0 &&
                    strncmp(comm, name, strlen(name)) == 0 && comm[strlen(name)] == '\n')
                        break;
                usleep(10000);
        }

        snprintf(spec, sizeof(spec), "comm:%s", name);
        ASSERT_OK(target_spec_parse(spec, &s));
        ASSERT_EQ(target_find(&s, NULL, 0, &found), 1);
        ASSERT_EQ(found, pid);
        ASSERT_EQ(target_find(&s, NULL, pid, &found), 0); /* the pid that just exited never matches */
        snprintf(spec, sizeof(spec), "cmdline:%s 30", name);
        ASSERT_OK(target_spec_parse(spec, &s));
        ASSERT_EQ(target_find(&s, NULL, 0, &found), 1);
        ASSERT_EQ(found, pid);
        snprintf(spec, sizeof(spec), "pidfile:%s", pidfile);
        ASSERT_OK(target_spec_parse(spec, &s));
        ASSERT_EQ(target_find(&s, NULL, 0, &found), 1);
        ASSERT_EQ(found, pid);

        kill(pid, SIGKILL);
        for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
                usleep(10000);
        ASSERT_EQ(target_find(&s, NULL, 0, &found), 0);
        snprintf(spec, sizeof(spec), "comm:%s", name);
        ASSERT_OK(target_spec_parse(spec, &s));
        ASSERT_EQ(target_find(&s, NULL, 0, &found), 0);
        (void)waitpid(-1, &st, WNOHANG);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
}

TEST_MAIN()

/* SPDX-License-Identifier: MIT */
/*
 * The action runner against real processes in a real cgroup v1 leaf, a real HTTP server, hooks and
 * the control page. Exits 77 where there is no cgroup v1 memory controller (the v2 VM).
 *
 *   <own v1 memory cgroup>/
 *     oomless-<pid>/          the leaf cg_setup_run() creates; memory.limit_in_bytes = 256M
 *       sleepers, a 64 MiB hog, process groups started here and moved in with cg_attach_pid()
 *   removed by cg_free() at the end of each test
 *
 * Expected: signals and kills reach exactly the scope asked for (the hog for scope "process"); a
 * dump raises limit_in_bytes by its headroom (to 320M) while its hook runs, restores 256M, and only
 * then lets the queued restart run; throttle and reclaim are skipped on v1 with the reason; dry-run
 * changes nothing and records "would".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "actions.h"
#include "cgroup.h"
#include "control.h"
#include "helpers.h"
#include "log.h"
#include "oomless/control.h"

#define MIB (UINT64_C(1) << 20)

static sd_event *e;
static Cg *cg;
static Actuator *act;
static pid_t main_pid_value;
static unsigned restarts;
static bool restart_saw_dump_file;
static uint64_t restart_saw_max;
static char dump_out[64];
static unsigned notified_stage = 999, notified_prev = 999;

static pid_t cb_main_pid(void *userdata)
{
        return main_pid_value;
}

static int cb_restart(void *userdata, int sig, uint64_t grace, const char *reason)
{
        struct stat st;
        restarts++;
        restart_saw_dump_file = stat(dump_out, &st) == 0 && st.st_size > 0;
        if (cg)
                (void)cg_get_memory_max(cg, &restart_saw_max);
        return 0;
}

static void cb_notified(void *userdata, unsigned stage, unsigned prev)
{
        notified_stage = stage;
        notified_prev = prev;
}

static void setup_cg(void)
{
        CgOptions opts = {
                .requested = CG_TIER_AUTO,
                .memory_max = { .set = true, .bytes = 256 * MIB },
                .oom_group = -1,
        };
        char *msg = NULL;
        int r;

        ASSERT_OK(sd_event_new(&e));
        r = cg_setup_run(&opts, &cg, &msg);
        if (r < 0)
                TEST_FAIL("cg_setup_run: %s (%d)", msg ? msg : "", r);
        free(msg);
        if (!IN_SET(cg_tier(cg), CG_TIER_V1, CG_TIER_V2))
                test_skip("no writable memory cgroup here (tier %s)", cg_tier_to_string(cg_tier(cg)));
        /* this host has v1 memory: the tier must be v1 (the v2 VM gets v2) */
        if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0)
                ASSERT_EQ(cg_tier(cg), CG_TIER_V1);
        printf("tier %s, leaf %s\n", cg_tier_to_string(cg_tier(cg)), cg_leaf_path(cg));
        ASSERT_OK(actuator_cg_new(cg, &act));
        main_pid_value = 0;
        restarts = 0;
}

static void teardown_cg(void)
{
        /* anything still in the leaf is ours: kill and reap before removing it */
        (void)cg_kill_all(cg, SIGKILL);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        act = actuator_free(act);
        cg = cg_free(cg);
        e = sd_event_unref(e);
}

static ActionRunner *runner(bool dry_run, Control *ctl)
{
        ActionRunner *r = NULL;
        ASSERT_OK(actions_new(&(ActionRunnerConfig){ .event = e,
                                                     .actuator = act,
                                                     .control = ctl,
                                                     .dry_run = dry_run,
                                                     .callbacks = { .get_main_pid = cb_main_pid,
                                                                    .request_restart = cb_restart,
                                                                    .stage_notified = cb_notified } },
                              &r));
        return r;
}

/* The leaf, the loop and a runner on them: every test's start. */
static ActionRunner *setup(bool dry_run, Control *ctl)
{
        setup_cg();
        return runner(dry_run, ctl);
}

static void teardown(ActionRunner *r)
{
        actions_free(r);
        teardown_cg();
}

static void kill_and_reap(pid_t pid)
{
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* A process sleeping until killed; own_pgrp puts it (and a child of its own, returned in
 * *ret_child) into a new process group. In the leaf unless outside. */
static pid_t sleeper(bool in_leaf, bool own_pgrp, pid_t *ret_child)
{
        int p[2];
        ASSERT_OK(pipe2(p, O_CLOEXEC));
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                pid_t c = 0;
                if (own_pgrp) {
                        setpgid(0, 0);
                        c = fork();
                        if (c == 0) {
                                for (;;)
                                        pause();
                        }
                }
                (void)!write(p[1], &c, sizeof(c));
                for (;;)
                        pause();
        }
        close(p[1]);
        pid_t c = 0;
        ASSERT_EQ(read(p[0], &c, sizeof(c)), sizeof(c));
        close(p[0]);
        if (in_leaf) {
                ASSERT_OK(cg_attach_pid(cg, pid));
                if (c > 0)
                        ASSERT_OK(cg_attach_pid(cg, c));
        }
        if (ret_child)
                *ret_child = c;
        return pid;
}

static pid_t hog(size_t mib)
{
        int p[2];
        ASSERT_OK(pipe2(p, O_CLOEXEC));
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                char *m = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m == MAP_FAILED)
                        _exit(1);
                memset(m, 1, mib * MIB);
                (void)!write(p[1], "x", 1);
                for (;;)
                        pause();
        }
        close(p[1]);
        ASSERT_OK(cg_attach_pid(cg, pid));
        char x;
        ASSERT_EQ(read(p[0], &x, 1), 1);
        close(p[0]);
        return pid;
}

/* Waits up to 5 s for pid (our child) to die; returns the signal that killed it, or -1. */
static int death_signal(pid_t pid)
{
        for (int i = 0; i < 500; i++) {
                int st;
                pid_t r = waitpid(pid, &st, WNOHANG | __WALL);
                if (r == pid)
                        return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
                ASSERT_TRUE(r == 0);
                usleep(10000);
        }
        return -1;
}

static bool alive(pid_t pid)
{
        return waitpid(pid, NULL, WNOHANG | __WALL) == 0;
}

static const ActionRecord *last(ActionRunner *r)
{
        const ActionRecord *rec = NULL;
        ASSERT_EQ(actions_records(r, &rec, 1), 1);
        return rec;
}

/* The sample every decision here is resolved against and executed with. */
static const OomlessSample sample = {
        .current = 100 * MIB, .limit = 256 * MIB, .high = OOMLESS_NO_LIMIT, .peak = 120 * MIB
};

/* A decision as policy_evaluate() hands it over: resolved against the sample. */
static PolicyDecision decide(const PolicyAction *a, unsigned stage, PolicyWhen when)
{
        PolicyDecision d = { .stage = stage, .when = when, .action = a };
        policy_decision_resolve(&d, &sample);
        return d;
}

static void run_for(uint64_t usec)
{
        uint64_t end = t_now_usec() + usec;
        while (t_now_usec() < end)
                ASSERT_OK(sd_event_run(e, 10000));
}

/* Runs the loop for up to 5 s while r has actions running. */
static void settle(ActionRunner *r)
{
        for (int i = 0; i < 500 && actions_busy(r); i++)
                ASSERT_OK(sd_event_run(e, 10000));
}

static void expect(ActionRunner *r, ActionOutcome o, const char *detail_part)
{
        const ActionRecord *rec = last(r);
        if (rec->outcome != o || (detail_part && !strstr(rec->detail, detail_part)))
                TEST_FAIL("expected %s \"...%s...\", got %s \"%s\"", action_outcome_to_string(o),
                          detail_part ? detail_part : "", action_outcome_to_string(rec->outcome),
                          rec->detail);
}

/* Runs decision d and checks its outcome, as expect() does. */
static void execute_expect(ActionRunner *r, const PolicyDecision *d, ActionOutcome o,
                           const char *detail_part)
{
        ASSERT_OK(actions_execute(r, d, &sample));
        expect(r, o, detail_part);
}

static PolicyAction signal_action(int sig, PolicySignalTarget target)
{
        return (PolicyAction){ .kind = POLICY_ACTION_SIGNAL, .signal = sig, .target = target };
}

/* a decided at stage 1 on enter and executed, with its outcome checked; the decision, to run again. */
static PolicyDecision execute_on_enter(ActionRunner *r, const PolicyAction *a, ActionOutcome o,
                                       const char *part)
{
        PolicyDecision d = decide(a, 1, POLICY_WHEN_ENTER);
        execute_expect(r, &d, o, part);
        return d;
}

TEST(signal_scopes)
{
        ActionRunner *r = setup(false, NULL);

        /* leaf: every process in the leaf, nobody outside */
        pid_t a = sleeper(true, false, NULL), b = sleeper(true, false, NULL), c = sleeper(true, false, NULL);
        pid_t outside = sleeper(false, false, NULL);
        PolicyAction sig_leaf = signal_action(SIGTERM, POLICY_TARGET_LEAF);
        PolicyDecision d = execute_on_enter(r, &sig_leaf, ACTION_OUTCOME_OK, "3 process(es)");
        ASSERT_EQ(death_signal(a), SIGTERM);
        ASSERT_EQ(death_signal(b), SIGTERM);
        ASSERT_EQ(death_signal(c), SIGTERM);
        ASSERT_TRUE(alive(outside));

        /* main: only the main process */
        a = sleeper(true, false, NULL);
        b = sleeper(true, false, NULL);
        main_pid_value = a;
        PolicyAction sig_main = signal_action(SIGUSR1, POLICY_TARGET_MAIN);
        d = execute_on_enter(r, &sig_main, ACTION_OUTCOME_OK, "SIGUSR1");
        ASSERT_EQ(death_signal(a), SIGUSR1);
        ASSERT_TRUE(alive(b));

        /* group: the main process's group (it and its child), not the others */
        pid_t gchild = 0;
        a = sleeper(true, true, &gchild);
        main_pid_value = a;
        PolicyAction sig_group = signal_action(SIGTERM, POLICY_TARGET_GROUP);
        d = execute_on_enter(r, &sig_group, ACTION_OUTCOME_OK, "process group");
        ASSERT_EQ(death_signal(a), SIGTERM);
        /* the grandchild was reparented to us (subreaper) and dies too */
        ASSERT_EQ(death_signal(gchild), SIGTERM);
        ASSERT_TRUE(alive(b));
        ASSERT_TRUE(alive(outside));

        /* a main process in our own process group: refused, nobody signalled */
        main_pid_value = b;
        execute_expect(r, &d, ACTION_OUTCOME_FAILED, "shares oomless's process group");
        ASSERT_TRUE(alive(b));

        /* no main process */
        main_pid_value = 0;
        d = execute_on_enter(r, &sig_main, ACTION_OUTCOME_SKIPPED, "no main process");

        kill_and_reap(outside);
        teardown(r);
}

TEST(kill_scopes)
{
        ActionRunner *r = setup(false, NULL);
        char pidstr[32];

        /* process: the largest RSS in the leaf */
        pid_t a = sleeper(true, false, NULL), b = sleeper(true, false, NULL);
        pid_t big = hog(64);
        pid_t list[] = { a, big, b }, found = 0;
        uint64_t rss = 0;
        ASSERT_OK(actuator_largest_rss(list, 3, &found, &rss));
        ASSERT_EQ(found, big);
        ASSERT_TRUE(rss >= 60 * MIB);

        PolicyAction k = { .kind = POLICY_ACTION_KILL,
                           .kill_scope = POLICY_KILL_PROCESS,
                           .kill_signal = SIGKILL };
        PolicyDecision d = decide(&k, 3, POLICY_WHEN_ENTER);
        ASSERT_OK(actions_execute(r, &d, &sample));
        snprintf(pidstr, sizeof(pidstr), "pid %d", (int)big);
        expect(r, ACTION_OUTCOME_OK, pidstr);
        ASSERT_EQ(death_signal(big), SIGKILL);
        ASSERT_TRUE(alive(a));
        ASSERT_TRUE(alive(b));

        /* group */
        pid_t gchild = 0, g = sleeper(true, true, &gchild);
        main_pid_value = g;
        k.kill_scope = POLICY_KILL_GROUP;
        execute_expect(r, &d, ACTION_OUTCOME_OK, "process group");
        ASSERT_EQ(death_signal(g), SIGKILL);
        ASSERT_EQ(death_signal(gchild), SIGKILL);
        ASSERT_TRUE(alive(a));

        /* leaf: everyone in it, not the process outside */
        pid_t outside = sleeper(false, false, NULL);
        k.kill_scope = POLICY_KILL_LEAF;
        execute_expect(r, &d, ACTION_OUTCOME_OK, "every process");
        ASSERT_EQ(death_signal(a), SIGKILL);
        ASSERT_EQ(death_signal(b), SIGKILL);
        ASSERT_TRUE(alive(outside));
        ASSERT_EQ(cg_is_populated(cg), 0);

        /* process scope in an empty leaf */
        k.kill_scope = POLICY_KILL_PROCESS;
        execute_expect(r, &d, ACTION_OUTCOME_SKIPPED, "no process");

        kill_and_reap(outside);
        teardown(r);
}

static uint64_t read_file_u64(const char *path)
{
        FILE *f = fopen(path, "re");
        unsigned long long v = 0;
        ASSERT_TRUE(f);
        ASSERT_EQ(fscanf(f, "%llu", &v), 1);
        fclose(f);
        return v;
}

TEST(dump_raises_and_restores_limit_then_continues)
{
        ActionRunner *r = setup(false, NULL);
        uint64_t max = 0;

        snprintf(dump_out, sizeof(dump_out), "/tmp/oomless-dump-%d", (int)getpid());
        unlink(dump_out);
        ASSERT_OK(cg_get_memory_max(cg, &max));
        ASSERT_U64_EQ(max, 256 * MIB);

        char *argv[] = { "sh",
                         "-c",
                         "sleep 0.3; cat \"$OOMLESS_LEAF/$1\" > \"$0\"",
                         dump_out,
                         cg_tier(cg) == CG_TIER_V1 ? "memory.limit_in_bytes" : "memory.max",
                         NULL };
        PolicyAction dump = { .kind = POLICY_ACTION_DUMP,
                              .argv = argv,
                              .headroom = 64 * MIB,
                              .timeout_usec = 10 * USEC_PER_SEC };
        PolicyAction restart = { .kind = POLICY_ACTION_RESTART,
                                 .stop_signal = SIGTERM,
                                 .grace_usec = USEC_PER_SEC };
        PolicyDecisions ds = { .n = 2 };
        ds.items[0] = decide(&dump, 3, POLICY_WHEN_ENTER);
        ds.items[1] = decide(&restart, 3, POLICY_WHEN_ENTER);
        ASSERT_OK(actions_execute_all(r, &ds, &sample));
        /* the restart waits behind the dump */
        ASSERT_EQ(restarts, 0);
        ASSERT_TRUE(actions_busy(r));
        ASSERT_OK(cg_get_memory_max(cg, &max));
        ASSERT_U64_EQ(max, 320 * MIB);

        for (int i = 0; i < 500 && restarts == 0; i++)
                ASSERT_OK(sd_event_run(e, 10000));
        ASSERT_EQ(restarts, 1);
        ASSERT_TRUE(restart_saw_dump_file);
        ASSERT_U64_EQ(restart_saw_max, 256 * MIB);
        ASSERT_U64_EQ(read_file_u64(dump_out), 320 * MIB);
        ASSERT_OK(cg_get_memory_max(cg, &max));
        ASSERT_U64_EQ(max, 256 * MIB);
        ASSERT_TRUE(!actions_busy(r));

        const ActionRecord *recs[2];
        ASSERT_EQ(actions_records(r, recs, 2), 2);
        ASSERT_EQ(recs[0]->kind, POLICY_ACTION_RESTART);
        ASSERT_EQ(recs[0]->outcome, ACTION_OUTCOME_OK);
        ASSERT_EQ(recs[1]->kind, POLICY_ACTION_DUMP);
        ASSERT_EQ(recs[1]->outcome, ACTION_OUTCOME_OK);
        ASSERT_TRUE(strstr(recs[1]->detail, "restored"));
        unlink(dump_out);

        /* a dump hook that cannot start still restores and lets the queue go on */
        char *bad[] = { "/nonexistent/dump-hook", NULL };
        dump.argv = bad;
        ASSERT_OK(actions_execute_all(r, &ds, &sample));
        ASSERT_EQ(restarts, 2);
        ASSERT_OK(cg_get_memory_max(cg, &max));
        ASSERT_U64_EQ(max, 256 * MIB);
        ASSERT_EQ(actions_records(r, recs, 2), 2);
        ASSERT_EQ(recs[1]->outcome, ACTION_OUTCOME_FAILED);

        teardown(r);
}

TEST(throttle_and_reclaim)
{
        ActionRunner *r = setup(false, NULL);
        bool v2 = cg_tier(cg) == CG_TIER_V2;
        uint64_t high = 0;

        PolicyAction thr = { .kind = POLICY_ACTION_THROTTLE,
                             .memory_high = { .set = true, .percent = true, .permyriad = 8000 } };
        PolicyDecision d = decide(&thr, 1, POLICY_WHEN_ENTER);
        ASSERT_OK(actions_execute(r, &d, &sample));
        if (v2) {
                /* 80% of the 256M limit, as the kernel rounds it to pages; restored on exit */
                expect(r, ACTION_OUTCOME_OK, "memory.high set to");
                ASSERT_OK(cg_get_memory_high(cg, &high));
                ASSERT_TRUE(high <= 256 * MIB * 8 / 10 && high > 256 * MIB * 8 / 10 - 4096);
                ASSERT_OK(
                    actions_execute(r, &d, &sample)); /* a repeat keeps the value from before the stage */
                d.undo = true;
                execute_expect(r, &d, ACTION_OUTCOME_OK, "restored to max");
                ASSERT_OK(cg_get_memory_high(cg, &high));
                ASSERT_U64_EQ(high, UINT64_MAX);
        } else
                expect(r, ACTION_OUTCOME_SKIPPED, "memory.high needs cgroup v2");
        d.undo = true;
        execute_expect(r, &d, ACTION_OUTCOME_SKIPPED, "did not change memory.high");

        PolicyAction rec = { .kind = POLICY_ACTION_RECLAIM,
                             .amount = { .set = true, .bytes = 16 * MIB },
                             .timeout_usec = 10 * USEC_PER_SEC };
        d = decide(&rec, 1, POLICY_WHEN_WHILE);
        ASSERT_OK(actions_execute(r, &d, &sample));
        if (v2) {
                /* an almost empty leaf: the kernel may find little to reclaim, a partial result */
                for (int i = 0; i < 1000 && actions_busy(r); i++)
                        ASSERT_OK(sd_event_run(e, 10000));
                expect(r, ACTION_OUTCOME_OK, NULL);
        } else
                expect(r, ACTION_OUTCOME_SKIPPED, "memory.reclaim needs cgroup v2");
        teardown(r);
}

TEST(dry_run_changes_nothing)
{
        ActionRunner *r = setup(true, NULL);
        HttpServer srv;
        char url[64], out[64];
        hs_start_url(&srv, HS_RESPOND, 200, "/", url);
        snprintf(out, sizeof(out), "/tmp/oomless-dry-%d", (int)getpid());
        unlink(out);

        pid_t a = sleeper(true, false, NULL);
        main_pid_value = a;
        char *argv[] = { "sh", "-c", "echo ran > \"$0\"", out, NULL };
        PolicyAction acts[] = {
                { .kind = POLICY_ACTION_SIGNAL, .signal = SIGTERM, .target = POLICY_TARGET_LEAF },
                { .kind = POLICY_ACTION_KILL, .kill_scope = POLICY_KILL_LEAF, .kill_signal = SIGKILL },
                { .kind = POLICY_ACTION_KILL, .kill_scope = POLICY_KILL_PROCESS, .kill_signal = SIGKILL },
                { .kind = POLICY_ACTION_EXEC, .argv = argv, .timeout_usec = USEC_PER_SEC },
                { .kind = POLICY_ACTION_DUMP,
                  .argv = argv,
                  .headroom = 64 * MIB,
                  .timeout_usec = USEC_PER_SEC },
                { .kind = POLICY_ACTION_WEBHOOK,
                  .url = url,
                  .timeout_usec = USEC_PER_SEC,
                  .tls_verify = true },
                { .kind = POLICY_ACTION_RESTART, .stop_signal = SIGTERM, .grace_usec = USEC_PER_SEC },
                { .kind = POLICY_ACTION_SIGNAL, .signal = SIGTERM, .target = POLICY_TARGET_MAIN },
        };
        for (size_t i = 0; i < ELEMENTSOF(acts); i++) {
                PolicyDecision d = decide(&acts[i], 2, POLICY_WHEN_ENTER);
                execute_expect(r, &d, ACTION_OUTCOME_WOULD, "would ");
        }
        run_for(300000);
        uint64_t max = 0;
        ASSERT_OK(cg_get_memory_max(cg, &max));
        ASSERT_U64_EQ(max, 256 * MIB);
        ASSERT_TRUE(alive(a));
        ASSERT_EQ(restarts, 0);
        ASSERT_EQ(hs_count(&srv), 0);
        ASSERT_TRUE(access(out, F_OK) < 0);
        ASSERT_TRUE(!actions_busy(r));
        teardown(r);
        hs_stop(&srv);
}

TEST(exec_hook_sees_stage_and_numbers)
{
        ActionRunner *r = setup(false, NULL);
        char out[64], line[256], expect_line[600];
        snprintf(out, sizeof(out), "/tmp/oomless-exec-%d", (int)getpid());
        unlink(out);

        main_pid_value = 4242;
        actions_note_transition(r, &(PolicyTransition){ .changed = true, .from = 0, .to = 2 });
        char *argv[] = { "sh", "-c", "env > \"$0\"", out, NULL };
        PolicyAction ex = { .kind = POLICY_ACTION_EXEC, .argv = argv, .timeout_usec = 5 * USEC_PER_SEC };
        PolicyDecision d = decide(&ex, 2, POLICY_WHEN_ENTER);
        ASSERT_OK(actions_execute(r, &d, &sample));
        ASSERT_TRUE(actions_busy(r));
        settle(r);
        expect(r, ACTION_OUTCOME_OK, "exited 0");

        unsigned found = 0;
        const char *want[] = { "OOMLESS_STAGE=2",
                               "OOMLESS_PREV_STAGE=0",
                               "OOMLESS_EVENT=enter",
                               "OOMLESS_ACTION=exec",
                               "OOMLESS_MEMORY_CURRENT=104857600",
                               "OOMLESS_MEMORY_LIMIT=268435456",
                               "OOMLESS_MEMORY_HIGH=max",
                               "OOMLESS_PID=4242",
                               NULL };
        snprintf(expect_line, sizeof(expect_line), "OOMLESS_LEAF=%s", cg_leaf_path(cg));
        FILE *f = fopen(out, "re");
        ASSERT_TRUE(f);
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                for (size_t i = 0; want[i]; i++)
                        found += streq(line, want[i]);
                found += streq(line, expect_line);
        }
        fclose(f);
        ASSERT_EQ(found, 9);
        unlink(out);

        /* a missing program is a failed outcome, at once */
        char *bad[] = { "oomless-no-such-hook", NULL };
        ex.argv = bad;
        execute_expect(r, &d, ACTION_OUTCOME_FAILED, "No such file");

        /* a hook running into its timeout is failed */
        char *slow[] = { "sleep", "10", NULL };
        ex.argv = slow;
        ex.timeout_usec = 100000;
        ASSERT_OK(actions_execute(r, &d, &sample));
        settle(r);
        expect(r, ACTION_OUTCOME_FAILED, "timeout");
        teardown(r);
}

TEST(webhook_event_json)
{
        ActionRunner *r = setup(false, NULL);
        HttpServer srv;
        char url[64];
        hs_start_url(&srv, HS_RESPOND, 200, "/events", url);

        main_pid_value = 777;
        actions_note_transition(r, &(PolicyTransition){ .changed = true, .from = 1, .to = 2 });
        PolicyAction wh = { .kind = POLICY_ACTION_WEBHOOK,
                            .url = url,
                            .timeout_usec = 2 * USEC_PER_SEC,
                            .tls_verify = true };
        PolicyDecision d = decide(&wh, 2, POLICY_WHEN_ENTER);
        ASSERT_OK(actions_execute(r, &d, &sample));
        settle(r);
        expect(r, ACTION_OUTCOME_OK, "HTTP 200");
        ASSERT_EQ(hs_count(&srv), 1);

        cJSON *j = cJSON_Parse(srv.req[0].body);
        ASSERT_TRUE(j);
        ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(j, "action")), "webhook");
        ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(j, "when")), "enter");
        ASSERT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "stage")), 2);
        ASSERT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "previous_stage")), 1);
        ASSERT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "pid")), 777);
        ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(j, "leaf")), cg_leaf_path(cg));
        cJSON *mem = cJSON_GetObjectItem(j, "memory");
        ASSERT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(mem, "current")), 100 * MIB);
        ASSERT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(mem, "limit")), 256 * MIB);
        ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(mem, "high")));
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(j, "time"));
        ASSERT_TRUE(t && strlen(t) == 20 && t[4] == '-' && t[10] == 'T' && t[19] == 'Z');
        ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(j, "heap")));
        cJSON_Delete(j);

        /* a dead endpoint: failed with the reason, after the retries */
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/", t_dead_port());
        wh.retries = 1;
        wh.backoff_usec = 20000;
        ASSERT_OK(actions_execute(r, &d, &sample));
        settle(r);
        expect(r, ACTION_OUTCOME_FAILED, "connect after 2 attempt(s)");
        teardown(r);
        hs_stop(&srv);
}

/* A control page in a fresh directory, mapped as the allocator maps it. */
typedef struct Page {
        char dir[64];
        Control *ctl;
        struct oomless_control *m;
} Page;

/* setup() with a control page, on which the runner has published a heap cap of 200 MiB (wake at
 * 150 MiB). */
static ActionRunner *setup_page(Page *pg, const char *dir_template, bool dry_run)
{
        setup_cg();
        snprintf(pg->dir, sizeof(pg->dir), "%s", dir_template);
        ASSERT_TRUE(mkdtemp(pg->dir));
        ASSERT_OK(control_create(pg->dir, &pg->ctl));
        int fd = open(control_path(pg->ctl), O_RDWR | O_CLOEXEC);
        pg->m = mmap(NULL, OOMLESS_CONTROL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ASSERT_TRUE(pg->m != MAP_FAILED);
        close(fd);
        ActionRunner *r = runner(dry_run, pg->ctl);
        ASSERT_OK(actions_set_heap_cap(r, 200 * MIB, 150 * MIB));
        return r;
}

/* teardown() and the page's end. */
static void teardown_page(ActionRunner *r, Page *pg)
{
        teardown(r);
        munmap(pg->m, OOMLESS_CONTROL_SIZE);
        control_free(pg->ctl);
        ASSERT_OK(rmdir(pg->dir));
}

/* The page's wake watermark is the lower of the heap cap's and the policy level's: a level of 0 (the
 * policy's next level lies below current, held there by cache) does not take away the cap's. */
TEST(wake_watermark_is_the_lower_of_cap_and_level)
{
        Page pg;
        ActionRunner *r = setup_page(&pg, "/tmp/oomless-actions-wake-XXXXXX", false);

        ASSERT_U64_EQ(pg.m->sup.wake_watermark, 150 * MIB);
        ASSERT_OK(actions_set_wake(r, 180 * MIB, 0));
        ASSERT_U64_EQ(pg.m->sup.wake_watermark, 150 * MIB);
        ASSERT_OK(actions_set_wake(r, 90 * MIB, 0));
        ASSERT_U64_EQ(pg.m->sup.wake_watermark, 90 * MIB);
        ASSERT_OK(actions_set_wake(r, 0, 0));
        ASSERT_U64_EQ(pg.m->sup.wake_watermark, 150 * MIB);
        ASSERT_OK(actions_set_heap_cap(r, 200 * MIB, 0)); /* a cap without a watermark (fixed cap) */
        ASSERT_U64_EQ(pg.m->sup.wake_watermark, 0);
        ASSERT_OK(actions_set_wake(r, 120 * MIB, 0));
        ASSERT_U64_EQ(pg.m->sup.wake_watermark, 120 * MIB);
        teardown_page(r, &pg);
}

TEST(notify_and_scavenge_through_the_control_page)
{
        Page pg;
        ActionRunner *r = setup_page(&pg, "/tmp/oomless-actions-ctl-XXXXXX", false);

        ASSERT_U64_EQ(pg.m->sup.heap_cap, 200 * MIB);

        actions_note_transition(r, &(PolicyTransition){ .changed = true, .from = 0, .to = 2 });
        PolicyAction n = { .kind = POLICY_ACTION_NOTIFY };
        PolicyDecision d = decide(&n, 2, POLICY_WHEN_ENTER);
        execute_expect(r, &d, ACTION_OUTCOME_OK, "published to the control page");
        ASSERT_EQ(pg.m->sup.stage, 2);
        ASSERT_TRUE(!(pg.m->sup.seq & 1));
        ASSERT_U64_EQ(pg.m->sup.heap_cap, 200 * MIB);
        ASSERT_EQ(notified_stage, 2);
        ASSERT_EQ(notified_prev, 0);

        /* no allocator has published: skipped, said once in the log */
        PolicyAction sc = { .kind = POLICY_ACTION_SCAVENGE };
        d = decide(&sc, 2, POLICY_WHEN_ENTER);
        execute_expect(r, &d, ACTION_OUTCOME_SKIPPED, "no allocator");
        uint64_t seq_before = pg.m->sup.scavenge_seq;

        /* an allocator publishes: the request goes through */
        pg.m->alloc.pid = (uint32_t)getpid();
        pg.m->alloc.heap_held = 10 * MIB;
        pg.m->alloc.heap_in_use = 5 * MIB;
        __atomic_store_n(&pg.m->alloc.seq, 2, __ATOMIC_RELEASE);
        ASSERT_OK(control_read_alloc(pg.ctl, NULL));
        execute_expect(r, &d, ACTION_OUTCOME_OK, "scavenge request");
        ASSERT_U64_EQ(pg.m->sup.scavenge_seq, seq_before + 1);

        /* no control page at all */
        ActionRunner *r2 = runner(false, NULL);
        execute_expect(r2, &d, ACTION_OUTCOME_SKIPPED, "no allocator");
        actions_free(r2);

        teardown_page(r, &pg);
}

/* Dry-run changes nothing for the workload: the page keeps stage 0 with the dry-run flag, the
 * watchers hear nothing, no scavenge request is published; the outcomes say "would". A reload into
 * dry-run takes a published stage back to 0. */
TEST(dry_run_publishes_no_stage)
{
        Page pg;
        ActionRunner *r = setup_page(&pg, "/tmp/oomless-actions-dry-XXXXXX", true);

        ASSERT_TRUE(pg.m->sup.flags & OOMLESS_SUP_F_DRY_RUN);

        notified_stage = notified_prev = 999;
        actions_note_transition(r, &(PolicyTransition){ .changed = true, .from = 0, .to = 2 });
        PolicyAction n = { .kind = POLICY_ACTION_NOTIFY };
        PolicyDecision d = decide(&n, 2, POLICY_WHEN_ENTER);
        execute_expect(r, &d, ACTION_OUTCOME_WOULD, "would notify");
        ASSERT_EQ(pg.m->sup.stage, 0);
        ASSERT_EQ(notified_stage, 999);

        pg.m->alloc.pid = (uint32_t)getpid();
        pg.m->alloc.heap_held = 10 * MIB;
        __atomic_store_n(&pg.m->alloc.seq, 2, __ATOMIC_RELEASE);
        ASSERT_OK(control_read_alloc(pg.ctl, NULL));
        uint64_t seq_before = pg.m->sup.scavenge_seq;
        PolicyAction sc = { .kind = POLICY_ACTION_SCAVENGE };
        d = decide(&sc, 2, POLICY_WHEN_ENTER);
        execute_expect(r, &d, ACTION_OUTCOME_WOULD, "would ask the allocator to scavenge");
        ASSERT_U64_EQ(pg.m->sup.scavenge_seq, seq_before);

        /* a live policy published stage 2, then a reload turned dry-run on */
        actions_set_dry_run(r, false);
        d = decide(&n, 2, POLICY_WHEN_ENTER);
        ASSERT_OK(actions_execute(r, &d, &sample));
        ASSERT_EQ(pg.m->sup.stage, 2);
        actions_set_dry_run(r, true);
        ASSERT_EQ(pg.m->sup.stage, 0);
        ASSERT_TRUE(pg.m->sup.flags & OOMLESS_SUP_F_DRY_RUN);

        teardown_page(r, &pg);
}

TEST(status_json_ring)
{
        ActionRunner *r = setup(false, NULL);
        PolicyAction sig = { .kind = POLICY_ACTION_SIGNAL, .signal = SIGTERM, .target = POLICY_TARGET_MAIN };

        for (unsigned i = 0; i < ACTIONS_RING_SIZE + 8; i++) {
                PolicyDecision d = decide(&sig, 1 + i % 3, i % 2 ? POLICY_WHEN_WHILE : POLICY_WHEN_ENTER);
                ASSERT_OK(actions_execute(r, &d, &sample));
        }
        cJSON *a = actions_status_json(r);
        ASSERT_TRUE(cJSON_IsArray(a));
        ASSERT_EQ(cJSON_GetArraySize(a), ACTIONS_RING_SIZE);
        cJSON *first = cJSON_GetArrayItem(a, 0);
        unsigned i = ACTIONS_RING_SIZE + 7; /* newest first */
        ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(first, "action")), "signal");
        ASSERT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(first, "stage")), 1 + i % 3);
        ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(first, "when")), "while");
        ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(first, "outcome")), "skipped");
        ASSERT_TRUE(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(first, "detail")), "no main process"));
        ASSERT_EQ(cJSON_GetArraySize(first), 5);
        cJSON_Delete(a);
        teardown(r);
}

int main(int argc, char **argv)
{
        /* grandchildren of process-group tests are reparented to us, so we can reap them */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        return test_main(argc, argv);
}

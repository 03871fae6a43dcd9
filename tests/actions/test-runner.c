/* SPDX-License-Identifier: MIT */
/*
 * The action runner against a fake Actuator: no root, no cgroup. The fake records every call and
 * returns scripted results, so this covers the runner's own logic: the outcome (ok, failed, skipped,
 * would in dry-run) of each kind, capabilities an actuator lacks, the dump barrier holding later
 * decisions (and a kill's victim resolved when it runs, not when decided), queue overflow, a reload
 * dropping queued decisions, and the exit drain's deadline and cancel. Hooks are real children
 * (sh, sleep) and webhooks go to a real server on 127.0.0.1, as in production.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "actions.h"
#include "actuator.h"
#include "control.h"
#include "helpers.h"
#include "oomless/control.h"
#include "stop.h"

#define MIB (UINT64_C(1) << 20)

/* ---- the fake actuator ---- */

typedef struct Fake {
        Actuator base;
        unsigned caps;
        uint64_t high, max;
        int get_high_r, set_high_r, set_max_r, kill_all_r, list_r, signal_r, victim_r;
        pid_t victim;
        int populated; /* is_populated's answer until kill_all empties the "leaf" */
        atomic_int reclaim_r;
        atomic_uint reclaim_calls;
        unsigned reclaim_sleep_ms;
        char calls[4096]; /* "set_max 335544320\n..." (event-loop thread only) */
} Fake;

static void fake_log(Fake *f, const char *fmt, ...)
{
        size_t n = strlen(f->calls);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->calls + n, sizeof(f->calls) - n, fmt, ap);
        va_end(ap);
}

static unsigned fake_caps(Actuator *a)
{
        return ((Fake *)a)->caps;
}

static const char *fake_tier_name(Actuator *a)
{
        return "fake";
}

static const char *fake_leaf_path(Actuator *a)
{
        return "/fake/leaf";
}

static int fake_get_memory_high(Actuator *a, uint64_t *ret)
{
        Fake *f = (Fake *)a;
        *ret = f->high;
        return f->get_high_r;
}

/* Logs the write, and takes it unless the case makes it fail with r. */
static int fake_set(Fake *f, const char *what, uint64_t *value, int r, uint64_t bytes)
{
        fake_log(f, "%s %llu\n", what, (unsigned long long)bytes);
        if (r == 0)
                *value = bytes;
        return r;
}

static int fake_set_memory_high(Actuator *a, uint64_t bytes)
{
        Fake *f = (Fake *)a;
        return fake_set(f, "set_high", &f->high, f->set_high_r, bytes);
}

static int fake_get_memory_max(Actuator *a, uint64_t *ret)
{
        *ret = ((Fake *)a)->max;
        return 0;
}

static int fake_set_memory_max(Actuator *a, uint64_t bytes)
{
        Fake *f = (Fake *)a;
        return fake_set(f, "set_max", &f->max, f->set_max_r, bytes);
}

static int fake_kill_all(Actuator *a, int sig)
{
        Fake *f = (Fake *)a;
        fake_log(f, "kill_all %d\n", sig);
        if (f->kill_all_r >= 0)
                f->populated = 0;
        return f->kill_all_r;
}

static int fake_list_pids(Actuator *a, pid_t **ret, size_t *ret_n)
{
        Fake *f = (Fake *)a;
        if (f->list_r < 0)
                return f->list_r;
        *ret = calloc(3, sizeof(pid_t));
        ASSERT_TRUE(*ret);
        (*ret)[0] = 1001;
        (*ret)[1] = getpid(); /* the supervisor is never signalled */
        (*ret)[2] = 1002;
        *ret_n = 3;
        return 0;
}

static int fake_reclaim(Actuator *a, uint64_t bytes)
{
        Fake *f = (Fake *)a;
        atomic_fetch_add(&f->reclaim_calls, 1);
        if (f->reclaim_sleep_ms)
                usleep(f->reclaim_sleep_ms * 1000);
        return atomic_load(&f->reclaim_r);
}

static int fake_signal_pid(Actuator *a, pid_t pid, int sig)
{
        Fake *f = (Fake *)a;
        fake_log(f, "signal %d %d\n", (int)pid, sig);
        return f->signal_r;
}

static int fake_resolve_victim(Actuator *a, PolicyVictim v, pid_t *ret_pid, uint64_t *ret_rss)
{
        Fake *f = (Fake *)a;
        fake_log(f, "victim %d\n", (int)v);
        if (f->victim_r < 0)
                return f->victim_r;
        *ret_pid = f->victim_r > 0 ? 0 : f->victim; /* victim_r > 0: nobody to pick */
        if (ret_rss)
                *ret_rss = 64 * MIB;
        return 0;
}

static int fake_is_populated(Actuator *a)
{
        Fake *f = (Fake *)a;
        fake_log(f, "populated\n");
        return f->populated;
}

static const ActuatorOps fake_ops = {
        .caps = fake_caps,
        .tier_name = fake_tier_name,
        .leaf_path = fake_leaf_path,
        .get_memory_high = fake_get_memory_high,
        .set_memory_high = fake_set_memory_high,
        .get_memory_max = fake_get_memory_max,
        .set_memory_max = fake_set_memory_max,
        .kill_all = fake_kill_all,
        .list_pids = fake_list_pids,
        .reclaim = fake_reclaim,
        .signal_pid = fake_signal_pid,
        .resolve_victim = fake_resolve_victim,
        .is_populated = fake_is_populated,
};

#define ALL_CAPS                                                                                            \
        (ACTUATOR_CAP_LIST_PIDS | ACTUATOR_CAP_KILL_ALL | ACTUATOR_CAP_MEMORY_MAX |                         \
         ACTUATOR_CAP_MEMORY_HIGH | ACTUATOR_CAP_RECLAIM)

static Fake fake_new(void)
{
        return (Fake){
                .base.ops = &fake_ops, .caps = ALL_CAPS, .high = UINT64_MAX, .max = 256 * MIB, .victim = 4242
        };
}

/* ---- the runner under test ---- */

static sd_event *e;
static unsigned restarts, idles;
static int restart_r;
static uint64_t restart_saw_max;
static Fake *restart_fake;

static int cb_restart(void *userdata, int sig, uint64_t grace, const char *reason)
{
        restarts++;
        if (restart_fake)
                restart_saw_max = restart_fake->max;
        return restart_r;
}

static void cb_idle(void *userdata)
{
        idles++;
}

static unsigned notifies;

static void cb_notified(void *userdata, unsigned stage, unsigned prev_stage)
{
        notifies++;
}

static ActionRunner *runner(Fake *f, bool dry_run, bool restart_cb)
{
        ActionRunner *r = NULL;

        if (!e)
                ASSERT_OK(sd_event_new(&e));
        restarts = idles = notifies = 0;
        restart_r = 0;
        restart_fake = f;
        ASSERT_OK(actions_new(
            &(ActionRunnerConfig){ .event = e,
                                   .actuator = f ? &f->base : NULL,
                                   .dry_run = dry_run,
                                   .callbacks = { .request_restart = restart_cb ? cb_restart : NULL,
                                                  .idle = cb_idle,
                                                  .stage_notified = cb_notified } },
            &r));
        return r;
}

/* Frees r and the loop. */
static void finish(ActionRunner *r)
{
        actions_free(r);
        e = sd_event_unref(e);
}

static OomlessSample sample(void)
{
        return (OomlessSample){
                .current = 100 * MIB, .limit = 256 * MIB, .high = OOMLESS_NO_LIMIT, .peak = 120 * MIB
        };
}

static PolicyDecision decide(const PolicyAction *a, unsigned stage)
{
        PolicyDecision d = { .stage = stage, .when = POLICY_WHEN_ENTER, .action = a };
        OomlessSample s = sample();
        policy_decision_resolve(&d, &s);
        return d;
}

static void settle(ActionRunner *r)
{
        uint64_t end = t_now_usec() + t_slow(10000000);
        while (actions_busy(r) && t_now_usec() < end)
                ASSERT_OK(sd_event_run(e, 10000));
        ASSERT_TRUE(!actions_busy(r));
}

static void expect_rec(const ActionRecord *rec, ActionOutcome o, const char *part)
{
        if (rec->outcome != o || (part && !strstr(rec->detail, part)))
                TEST_FAIL("expected %s \"...%s...\", got %s \"%s\"", action_outcome_to_string(o),
                          part ? part : "", action_outcome_to_string(rec->outcome), rec->detail);
}

static void expect(ActionRunner *r, ActionOutcome o, const char *part)
{
        const ActionRecord *rec = NULL;
        ASSERT_EQ(actions_records(r, &rec, 1), 1);
        expect_rec(rec, o, part);
}

/* Executes a's decision on r, waits for its outcome, checks it. */
static void run_expect(ActionRunner *r, const PolicyAction *a, ActionOutcome o, const char *part)
{
        PolicyDecision d = decide(a, 1);
        OomlessSample s = sample();
        ASSERT_OK(actions_execute(r, &d, &s));
        settle(r);
        expect(r, o, part);
}

/* One scenario: an action, how the fake and the runner are set up, the outcome expected. */
typedef struct Case {
        PolicyAction a;
        bool dry_run, no_actuator, restart_cb;
        unsigned caps_off;
        int list_r, signal_r, victim_r, kill_all_r, set_high_r, reclaim_r;
        ActionOutcome o;
        const char *part;
} Case;

static void run_cases(const Case *cases, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const Case *c = &cases[i];
                Fake f = fake_new();
                f.caps &= ~c->caps_off;
                f.list_r = c->list_r;
                f.signal_r = c->signal_r;
                f.victim_r = c->victim_r;
                f.kill_all_r = c->kill_all_r;
                f.set_high_r = c->set_high_r;
                atomic_store(&f.reclaim_r, c->reclaim_r);
                ActionRunner *r = runner(c->no_actuator ? NULL : &f, c->dry_run, c->restart_cb);
                printf("case %zu: %s\n", i, policy_action_kind_to_string(c->a.kind));
                run_expect(r, &c->a, c->o, c->part);
                if (c->dry_run) { /* changes nothing: no stage reaches the watchers either */
                        ASSERT_TRUE(!strstr(f.calls, "set_") && !strstr(f.calls, "kill_all") &&
                                    !strstr(f.calls, "signal "));
                        ASSERT_EQ(notifies, 0u);
                }
                actions_free(r);
        }
}

#define SIG_LEAF                                                                                            \
        {                                                                                                   \
                .kind = POLICY_ACTION_SIGNAL, .signal = SIGTERM, .target = POLICY_TARGET_LEAF               \
        }
#define KILL_PROC                                                                                           \
        {                                                                                                   \
                .kind = POLICY_ACTION_KILL, .kill_scope = POLICY_KILL_PROCESS, .kill_signal = SIGKILL       \
        }
#define KILL_LEAF                                                                                           \
        {                                                                                                   \
                .kind = POLICY_ACTION_KILL, .kill_scope = POLICY_KILL_LEAF, .kill_signal = SIGKILL          \
        }
#define THROTTLE80                                                                                          \
        {                                                                                                   \
                .kind = POLICY_ACTION_THROTTLE, .memory_high = {                                            \
                        .set = true,                                                                        \
                        .percent = true,                                                                    \
                        .permyriad = 8000                                                                   \
                }                                                                                           \
        }
#define RECLAIM80                                                                                           \
        {                                                                                                   \
                .kind = POLICY_ACTION_RECLAIM,                                                              \
                .amount = { .set = true, .percent = true, .permyriad = 8000 },                              \
                .timeout_usec = 5 * USEC_PER_SEC                                                            \
        }
#define RESTART                                                                                             \
        {                                                                                                   \
                .kind = POLICY_ACTION_RESTART, .stop_signal = SIGTERM, .grace_usec = USEC_PER_SEC           \
        }
#define SHED(permille)                                                                                      \
        {                                                                                                   \
                .kind = POLICY_ACTION_SHED, .shed_permille = (permille)                                     \
        }
#define WEIGHT(w)                                                                                           \
        {                                                                                                   \
                .kind = POLICY_ACTION_WEIGHT, .weight = (w)                                                 \
        }

TEST(outcomes_of_the_synchronous_kinds)
{
        static const Case cases[] = {
                { .a = { .kind = POLICY_ACTION_NOTIFY },
                  .o = ACTION_OUTCOME_OK,
                  .part = "(no control page)" },
                { .a = { .kind = POLICY_ACTION_NOTIFY }, .dry_run = true, .o = ACTION_OUTCOME_WOULD },
                { .a = SIG_LEAF, .o = ACTION_OUTCOME_OK, .part = "sent SIGTERM to 2 process(es)" },
                { .a = SIG_LEAF, .list_r = -EIO, .o = ACTION_OUTCOME_FAILED, .part = "listing the leaf" },
                { .a = SIG_LEAF, .caps_off = ACTUATOR_CAP_LIST_PIDS, .o = ACTION_OUTCOME_SKIPPED },
                { .a = SIG_LEAF, .no_actuator = true, .o = ACTION_OUTCOME_SKIPPED, .part = "no cgroup" },
                { .a = SIG_LEAF, .dry_run = true, .o = ACTION_OUTCOME_WOULD, .part = "SIGTERM to leaf" },
                { .a = KILL_PROC, .o = ACTION_OUTCOME_OK, .part = "SIGKILL to pid 4242, the largest RSS" },
                { .a = KILL_PROC, .signal_r = -ESRCH, .o = ACTION_OUTCOME_FAILED, .part = "to pid 4242" },
                { .a = KILL_PROC, .victim_r = 1, .o = ACTION_OUTCOME_SKIPPED, .part = "no process" },
                { .a = KILL_PROC,
                  .victim_r = -ESRCH,
                  .o = ACTION_OUTCOME_FAILED,
                  .part = "No such process" },
                { .a = KILL_PROC, .caps_off = ACTUATOR_CAP_LIST_PIDS, .o = ACTION_OUTCOME_SKIPPED },
                { .a = KILL_PROC, .dry_run = true, .o = ACTION_OUTCOME_WOULD, .part = "pid 4242" },
                { .a = KILL_LEAF, .o = ACTION_OUTCOME_OK, .part = "every process in /fake/leaf" },
                { .a = KILL_LEAF, .kill_all_r = -EPERM, .o = ACTION_OUTCOME_FAILED, .part = "/fake/leaf" },
                { .a = KILL_LEAF, .caps_off = ACTUATOR_CAP_KILL_ALL, .o = ACTION_OUTCOME_SKIPPED },
                { .a = KILL_LEAF, .dry_run = true, .o = ACTION_OUTCOME_WOULD, .part = "/fake/leaf" },
                { .a = THROTTLE80,
                  .o = ACTION_OUTCOME_OK,
                  .part = "memory.high set to 214748364 (was max)" },
                { .a = THROTTLE80, .set_high_r = -EIO, .o = ACTION_OUTCOME_FAILED, .part = "setting" },
                { .a = THROTTLE80,
                  .caps_off = ACTUATOR_CAP_MEMORY_HIGH,
                  .o = ACTION_OUTCOME_SKIPPED,
                  .part = "memory.high needs cgroup v2 (this host runs tier fake)" },
                { .a = THROTTLE80, .no_actuator = true, .o = ACTION_OUTCOME_SKIPPED, .part = "no cgroup" },
                { .a = THROTTLE80,
                  .dry_run = true,
                  .o = ACTION_OUTCOME_WOULD,
                  .part = "214748364 (now max)" },
                { .a = RESTART, .restart_cb = true, .o = ACTION_OUTCOME_OK, .part = "restart requested" },
                { .a = RESTART, .o = ACTION_OUTCOME_SKIPPED, .part = "not possible" },
                { .a = RESTART, .dry_run = true, .o = ACTION_OUTCOME_WOULD },
                { .a = { .kind = POLICY_ACTION_SCAVENGE },
                  .o = ACTION_OUTCOME_SKIPPED,
                  .part = "no allocator" },
                { .a = SHED(425),
                  .o = ACTION_OUTCOME_OK,
                  .part = "budget 42.5% published (no control page)" },
                { .a = SHED(400),
                  .dry_run = true,
                  .o = ACTION_OUTCOME_WOULD,
                  .part = "would shed to budget 40%" },
                { .a = WEIGHT(10), .o = ACTION_OUTCOME_OK, .part = "weight 10 published" },
                { .a = WEIGHT(10),
                  .dry_run = true,
                  .o = ACTION_OUTCOME_WOULD,
                  .part = "would publish weight 10" },
        };
        ASSERT_OK(sd_event_new(&e));
        run_cases(cases, ELEMENTSOF(cases));

        /* the budget and the weight stay normal in dry-run; the climb publishes only for real */
        Fake fb = fake_new();
        ActionRunner *rb = runner(&fb, true, true);
        run_expect(rb, &(PolicyAction){ .kind = POLICY_ACTION_SHED, .shed_permille = 400 },
                   ACTION_OUTCOME_WOULD, "would");
        ASSERT_OK(actions_set_budget(rb, 550));
        ASSERT_EQ(actions_budget(rb), OOMLESS_BUDGET_NORMAL);
        ASSERT_EQ(actions_weight(rb), OOMLESS_WEIGHT_NORMAL);
        finish(rb);
        fb = fake_new();
        rb = runner(&fb, false, true);
        run_expect(rb, &(PolicyAction){ .kind = POLICY_ACTION_SHED, .shed_permille = 400 },
                   ACTION_OUTCOME_OK, "budget 40%");
        ASSERT_EQ(actions_budget(rb), 400);
        ASSERT_OK(actions_set_budget(rb, 550));
        ASSERT_EQ(actions_budget(rb), 550);
        finish(rb);

        /* a refused restart is failed */
        Fake f = fake_new();
        ActionRunner *r = runner(&f, false, true);
        restart_r = -EBUSY;
        run_expect(r, &(PolicyAction)RESTART, ACTION_OUTCOME_FAILED, "refused");
        finish(r);
}

TEST(outcomes_of_the_asynchronous_kinds)
{
        char *true_argv[] = { "true", NULL }, *bad_argv[] = { "/nonexistent/oomless-hook", NULL };
        HttpServer srv;
        char url[64], dead[64];

        ASSERT_OK(sd_event_new(&e));
        hs_start(&srv, HS_RESPOND, 200);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
        snprintf(dead, sizeof(dead), "http://127.0.0.1:%d/", t_dead_port());
        const Case cases[] = {
                { .a = { .kind = POLICY_ACTION_EXEC, .argv = true_argv, .timeout_usec = USEC_PER_SEC },
                  .o = ACTION_OUTCOME_OK,
                  .part = "exited 0" },
                { .a = { .kind = POLICY_ACTION_EXEC, .argv = bad_argv },
                  .o = ACTION_OUTCOME_FAILED,
                  .part = "cannot run" },
                { .a = { .kind = POLICY_ACTION_EXEC, .argv = true_argv },
                  .dry_run = true,
                  .o = ACTION_OUTCOME_WOULD },
                { .a = { .kind = POLICY_ACTION_DUMP, .argv = true_argv, .headroom = 64 * MIB },
                  .o = ACTION_OUTCOME_OK,
                  .part = "memory.max restored to 268435456" },
                { .a = { .kind = POLICY_ACTION_DUMP }, .o = ACTION_OUTCOME_FAILED, .part = "no argv" },
                { .a = { .kind = POLICY_ACTION_DUMP, .argv = true_argv, .headroom = 64 * MIB },
                  .dry_run = true,
                  .o = ACTION_OUTCOME_WOULD,
                  .part = "raise memory.max from 268435456 by 67108864" },
                { .a = { .kind = POLICY_ACTION_WEBHOOK, .url = url, .timeout_usec = USEC_PER_SEC },
                  .o = ACTION_OUTCOME_OK,
                  .part = "HTTP 200" },
                { .a = { .kind = POLICY_ACTION_WEBHOOK, .url = dead, .timeout_usec = USEC_PER_SEC },
                  .o = ACTION_OUTCOME_FAILED,
                  .part = "connect" },
                { .a = { .kind = POLICY_ACTION_WEBHOOK, .url = url },
                  .dry_run = true,
                  .o = ACTION_OUTCOME_WOULD },
                { .a = RECLAIM80, .o = ACTION_OUTCOME_OK, .part = "reclaimed 214748364 bytes" },
                { .a = RECLAIM80, .reclaim_r = -EAGAIN, .o = ACTION_OUTCOME_OK, .part = "partial" },
                { .a = RECLAIM80, .reclaim_r = -EIO, .o = ACTION_OUTCOME_FAILED, .part = "memory.reclaim" },
                { .a = RECLAIM80,
                  .caps_off = ACTUATOR_CAP_RECLAIM,
                  .o = ACTION_OUTCOME_SKIPPED,
                  .part = "memory.reclaim needs cgroup v2 (this host runs tier fake)" },
                { .a = RECLAIM80,
                  .dry_run = true,
                  .o = ACTION_OUTCOME_WOULD,
                  .part = "214748364 bytes from /fake/leaf" },
        };
        run_cases(cases, ELEMENTSOF(cases));
        ASSERT_EQ(hs_count(&srv), 1);
        hs_stop(&srv);
        e = sd_event_unref(e);
}

TEST(resolved_amounts_reach_the_actuator)
{
        Fake f = fake_new();
        OomlessSample s = sample();

        ActionRunner *r = runner(&f, false, false);
        PolicyAction thr = THROTTLE80;
        PolicyDecision d = decide(&thr, 2);
        ASSERT_TRUE(d.resolved && !d.bytes_unknown);
        ASSERT_U64_EQ(d.bytes, 214748364);
        ASSERT_OK(actions_execute(r, &d, &s));
        ASSERT_U64_EQ(f.high, 214748364);
        d.undo = true;
        ASSERT_OK(actions_execute(r, &d, &s));
        expect(r, ACTION_OUTCOME_OK, "restored to max");
        ASSERT_U64_EQ(f.high, UINT64_MAX);

        /* a percentage of an unknown limit resolves to nothing: skipped, the actuator untouched */
        s.limit = OOMLESS_NO_LIMIT;
        d = (PolicyDecision){ .stage = 2, .when = POLICY_WHEN_ENTER, .action = &thr };
        policy_decision_resolve(&d, &s);
        ASSERT_TRUE(d.bytes_unknown);
        ASSERT_OK(actions_execute(r, &d, &s));
        expect(r, ACTION_OUTCOME_SKIPPED, "effective limit is unknown");
        PolicyAction rec = RECLAIM80;
        d = (PolicyDecision){ .stage = 2, .when = POLICY_WHEN_ENTER, .action = &rec };
        policy_decision_resolve(&d, &s);
        /* without a limit, a reclaim percentage is of memory.current */
        ASSERT_U64_EQ(d.bytes, 80 * MIB);
        ASSERT_TRUE(!d.bytes_unknown);
        finish(r);
}

TEST(dump_barrier_holds_later_decisions)
{
        Fake f = fake_new();
        OomlessSample s = sample();
        char *argv[] = { "sleep", "0.3", NULL };
        PolicyAction dump = { .kind = POLICY_ACTION_DUMP, .argv = argv, .headroom = 64 * MIB };
        PolicyAction restart = RESTART, kill = KILL_PROC;
        PolicyDecisions ds = { .n = 3 };
        const ActionRecord *recs[3];

        ActionRunner *r = runner(&f, false, true);
        ds.items[0] = decide(&dump, 3);
        ds.items[1] = decide(&kill, 3);
        ds.items[2] = decide(&restart, 3);
        ASSERT_OK(actions_execute_all(r, &ds, &s));
        ASSERT_TRUE(actions_busy(r));
        ASSERT_U64_EQ(f.max, 320 * MIB);
        ASSERT_STREQ(f.calls, "set_max 335544320\n");
        ASSERT_EQ(actions_records(r, recs, 3), 0);
        /* the processes change while the kill waits: it picks its victim when it runs */
        f.victim = 5151;
        settle(r);
        ASSERT_EQ(restarts, 1);
        ASSERT_U64_EQ(restart_saw_max, 256 * MIB);
        ASSERT_STREQ(f.calls, "set_max 335544320\nset_max 268435456\nvictim 1\nsignal 5151 9\n");
        ASSERT_EQ(actions_records(r, recs, 3), 3);
        expect_rec(recs[2], ACTION_OUTCOME_OK, "memory.max restored to 268435456");
        expect_rec(recs[1], ACTION_OUTCOME_OK, "pid 5151");
        expect_rec(recs[0], ACTION_OUTCOME_OK, "restart requested");
        /* the counters behind the metrics: one each, by kind and outcome */
        ASSERT_U64_EQ(actions_count(r, POLICY_ACTION_DUMP, ACTION_OUTCOME_OK), 1);
        ASSERT_U64_EQ(actions_count(r, POLICY_ACTION_KILL, ACTION_OUTCOME_OK), 1);
        ASSERT_U64_EQ(actions_count(r, POLICY_ACTION_RESTART, ACTION_OUTCOME_OK), 1);
        ASSERT_U64_EQ(actions_count(r, POLICY_ACTION_RESTART, ACTION_OUTCOME_FAILED), 0);
        ASSERT_TRUE(idles >= 1);
        finish(r);
}

TEST(queue_overflow_and_reload)
{
        Fake f = fake_new();
        OomlessSample s = sample();
        char *argv[] = { "sleep", "0.3", NULL };
        PolicyAction dump = { .kind = POLICY_ACTION_DUMP, .argv = argv }, sig = SIG_LEAF;
        PolicyDecision dd = decide(&dump, 1), ds = decide(&sig, 1);
        const ActionRecord *recs[ACTIONS_RING_SIZE];

        ActionRunner *r = runner(&f, false, false);
        ASSERT_OK(actions_execute(r, &dd, &s));
        for (unsigned i = 0; i < ACTIONS_QUEUE_MAX; i++)
                ASSERT_OK(actions_execute(r, &ds, &s));
        ASSERT_EQ(actions_records(r, recs, ACTIONS_RING_SIZE), 0);
        ASSERT_OK(actions_execute(r, &ds, &s));
        expect(r, ACTION_OUTCOME_SKIPPED, "64 decisions already wait behind a running dump");

        /* a reload drops what waits; the dump itself runs on */
        actions_set_policy(r, NULL);
        ASSERT_EQ(actions_records(r, recs, ACTIONS_RING_SIZE), ACTIONS_RING_SIZE);
        for (size_t i = 0; i < ACTIONS_RING_SIZE; i++)
                expect_rec(recs[i], ACTION_OUTCOME_SKIPPED, "the policy was reloaded first");
        ASSERT_TRUE(actions_busy(r));
        settle(r);
        expect(r, ACTION_OUTCOME_OK, "exited 0");
        ASSERT_TRUE(!strstr(f.calls, "signal"));
        finish(r);
}

TEST(exit_drain_deadline_and_cancel)
{
        Fake f = fake_new();
        OomlessSample s = sample();
        HttpServer srv;
        char url[64], list[256];
        char *sleep_argv[] = { "sleep", "30", NULL };
        PolicyAction exec = { .kind = POLICY_ACTION_EXEC,
                              .argv = sleep_argv,
                              .timeout_usec = 10 * USEC_PER_SEC };
        PolicyAction hook_forever = { .kind = POLICY_ACTION_DUMP, .argv = sleep_argv };
        PolicyAction wh = { .kind = POLICY_ACTION_WEBHOOK, .timeout_usec = 5 * USEC_PER_SEC };
        PolicyAction rec = RECLAIM80, restart = RESTART;
        const ActionRecord *recs[6];

        ASSERT_OK(sd_event_new(&e));
        hs_start(&srv, HS_NO_ANSWER, 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", srv.port);
        wh.url = url;
        f.reclaim_sleep_ms = 100; /* 205 MiB in 16 MiB chunks: longer than this test */
        rec.timeout_usec = 3 * USEC_PER_SEC;
        ActionRunner *r = runner(&f, false, true);
        uint64_t t0 = t_now_usec();
        PolicyDecision d = decide(&exec, 2);
        ASSERT_OK(actions_execute(r, &d, &s));
        d = decide(&wh, 2);
        ASSERT_OK(actions_execute(r, &d, &s));
        d = decide(&rec, 2);
        ASSERT_OK(actions_execute(r, &d, &s));

        /* the latest end through their own timeouts: the exec's 10 s + 2 s kill grace + 0.5 s slack */
        uint64_t dl = actions_drain_deadline(r);
        ASSERT_TRUE(dl >= t0 + 12500000 && dl <= t_now_usec() + 12500000);
        ASSERT_EQ(actions_describe_running(r, list, sizeof(list)), 3);
        ASSERT_TRUE(strstr(list, "exec sleep") && strstr(list, "webhook http://") &&
                    strstr(list, "reclaim"));

        /* a hook without a timeout has no bound */
        d = decide(&hook_forever, 2);
        ASSERT_OK(actions_execute(r, &d, &s));
        ASSERT_U64_EQ(actions_drain_deadline(r), USEC_INFINITY);
        d = decide(&restart, 2);
        ASSERT_OK(actions_execute(r, &d, &s)); /* queued behind the dump */

        actions_cancel_at_exit(r);
        ASSERT_EQ(actions_records(r, recs, 3), 3);
        expect_rec(recs[2], ACTION_OUTCOME_SKIPPED, "cancelled at exit");
        ASSERT_TRUE(actions_busy(r)); /* the hooks end through SIGTERM */
        settle(r);
        ASSERT_EQ(restarts, 0);
        ASSERT_TRUE(idles >= 1);
        ASSERT_EQ(actions_records(r, recs, 5), 5);
        unsigned hooks = 0, dropped = 0;
        for (size_t i = 0; i < 4; i++) {
                expect_rec(recs[i], ACTION_OUTCOME_FAILED, "cancelled at exit: ");
                hooks += !!strstr(recs[i]->detail, "killed by signal 15");
                dropped += !!strstr(recs[i]->detail, "still running");
        }
        ASSERT_EQ(hooks, 2);
        ASSERT_EQ(dropped, 2);
        ASSERT_TRUE(t_now_usec() - t0 < t_slow(5000000));
        actions_free(r);
        hs_stop(&srv);
        e = sd_event_unref(e);
}

TEST(largest_rss_picks_the_hog_never_the_caller)
{
        int p[2];
        ASSERT_OK(pipe2(p, O_CLOEXEC));
        pid_t hog = fork();
        ASSERT_TRUE(hog >= 0);
        if (hog == 0) {
                char *m = mmap(NULL, 32 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m == MAP_FAILED)
                        _exit(1);
                memset(m, 1, 32 * MIB);
                (void)!write(p[1], "x", 1);
                for (;;)
                        pause();
        }
        char x;
        close(p[1]);
        ASSERT_EQ(read(p[0], &x, 1), 1);
        close(p[0]);
        pid_t list[] = { getpid(), hog, 999999999 }, found = 0;
        uint64_t rss = 0;
        ASSERT_OK(actuator_largest_rss(list, 3, &found, &rss));
        ASSERT_EQ(found, hog);
        ASSERT_TRUE(rss >= 30 * MIB);
        ASSERT_ERROR(actuator_largest_rss(list, 1, &found, NULL), ESRCH);
        kill(hog, SIGKILL);
        waitpid(hog, NULL, 0);
}

/* ---- stop.c: through the same Actuator (code review, finding 3) ---- */

static unsigned stop_children_killed, stop_reaps;

static int stop_kill_children(int sig, void *userdata)
{
        stop_children_killed++;
        return 0;
}

static unsigned stop_dying_asked, stop_dying_left;

/* As many children dying as stop_dying_left says, one fewer at each look (each reap takes one). */
static int stop_dying_children(void *userdata)
{
        stop_dying_asked++;
        return stop_dying_left ? (int)stop_dying_left-- : 0;
}

static void stop_reap(void *userdata)
{
        stop_reaps++;
}

/* The leftover sweep and the stop's escalation reach the workload only through the actuator: with a
 * leaf of its own (memory.max) they kill every member there and wait until it is empty; without one
 * they fall back to the supervisor's own children. */
TEST(stop_goes_through_the_actuator)
{
        const StopOps ops = { .kill_children = stop_kill_children,
                              .dying_children = stop_dying_children,
                              .reap = stop_reap };
        Fake f = fake_new();
        Stop st;

        ASSERT_OK(sd_event_new(&e));
        f.populated = 1;
        stop_children_killed = stop_reaps = 0;
        stop_init(&st, e, &f.base, &ops);
        stop_sweep_leftovers(&st);
        ASSERT_STREQ(f.calls, "populated\nkill_all 9\npopulated\n");
        /* Once the leaf is empty, the not yet reaped are looked for among our children, never
         * killed: a child that is not dying (a hook's orphan) is not the workload's. */
        ASSERT_EQ(stop_children_killed, 0);
        ASSERT_EQ(stop_dying_asked, 1);
        ASSERT_EQ(stop_reaps, 1);

        /* An empty leaf with two children still dying (CI: a grandchild left a zombie after an empty
         * leaf): nothing to kill, and the sweep reaps until none is left. */
        f.calls[0] = 0;
        stop_dying_left = 2;
        stop_sweep_leftovers(&st);
        ASSERT_STREQ(f.calls, "populated\npopulated\npopulated\npopulated\n");
        ASSERT_EQ(stop_reaps, 4);
        ASSERT_EQ(stop_children_killed, 0);

        /* The grace ends: SIGKILL to the leaf through the actuator. */
        f.calls[0] = 0;
        f.populated = 1;
        ASSERT_OK(stop_begin(&st, -EBADF, SIGTERM, 1000));
        for (int i = 0; i < 100 && !strstr(f.calls, "kill_all"); i++)
                ASSERT_OK(sd_event_run(e, 10000));
        ASSERT_STREQ(f.calls, "kill_all 9\n");
        stop_done(&st);

        /* No leaf of our own (no memory.max): our children, never the actuator's kill. */
        f = fake_new();
        f.caps = ACTUATOR_CAP_LIST_PIDS | ACTUATOR_CAP_KILL_ALL;
        stop_init(&st, e, &f.base, &ops);
        stop_children_killed = 0;
        stop_dying_asked = 0;
        stop_sweep_leftovers(&st);
        ASSERT_EQ(f.calls[0], 0);
        ASSERT_EQ(stop_children_killed, 2);
        ASSERT_EQ(stop_dying_asked, 0);
        stop_done(&st);
        e = sd_event_unref(e);
}

TEST_MAIN()

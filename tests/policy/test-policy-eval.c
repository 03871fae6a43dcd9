/* SPDX-License-Identifier: MIT */
/* Trace tests for the stage machine and the restart policy: synthetic sample traces with a fake clock,
 * asserting every transition and every decision with its exact time. Limits are 1000 bytes so that
 * "memory = 700" reads as 70%. */
#define _GNU_SOURCE
#include "policy-test.h"

static Policy *load(const char *json_sq)
{
        return policy_test_load(json_sq, "trace");
}

typedef struct Run {
        Policy *p;
        PolicyState *s;
        char *log;
        size_t len;
        FILE *f;
} Run;

static void run_init(Run *r, Policy *p)
{
        *r = (Run){ .p = p, .s = policy_state_new(p, 0) };
        r->f = open_memstream(&r->log, &r->len);
        ASSERT_TRUE(r->s && r->f);
}

static void log_outcome(Run *r, uint64_t t_ms, const PolicyDecisions *d, const PolicyTransition *t)
{
        if (t->changed)
                fprintf(r->f, "%llu: %u->%u %s\n", (unsigned long long)t_ms, t->from, t->to,
                        policy_reason_to_string(t->reason));
        for (size_t i = 0; i < d->n; i++)
                fprintf(r->f, "%llu: %s[%u] %s%s\n", (unsigned long long)t_ms,
                        policy_when_to_string(d->items[i].when), d->items[i].stage,
                        policy_action_kind_to_string(d->items[i].action->kind),
                        d->items[i].undo ? " undo" : "");
}

static void step(Run *r, uint64_t t_ms, const OomlessSample *x)
{
        PolicyDecisions d;
        PolicyTransition t;

        policy_evaluate(r->p, r->s, x, t_ms * MS, &d, &t);
        ASSERT_EQ(t.from, t.changed ? t.from : policy_state_stage(r->s));
        ASSERT_EQ(t.to, policy_state_stage(r->s));
        log_outcome(r, t_ms, &d, &t);
}

static void expect_log(Run *r, const char *expected)
{
        fflush(r->f);
        if (strcmp(r->log, expected) != 0)
                TEST_FAIL("trace differs\n--- expected ---\n%s--- got ---\n%s", expected, r->log);
}

static void run_done(Run *r)
{
        fclose(r->f);
        free(r->log);
        policy_state_free(r->s);
        policy_free(r->p);
}

static OomlessSample mem(uint64_t current)
{
        return (OomlessSample){ .current = current, .limit = 1000, .high = OOMLESS_NO_LIMIT };
}

/* One sample at t_ms of memory.current = current, against a limit of 1000. */
static void step_mem(Run *r, uint64_t t_ms, uint64_t current)
{
        OomlessSample x = mem(current);
        step(r, t_ms, &x);
}

/* A policy sampled every 100 ms with these stages (JSON with ' for ", see load()). */
#define STAGES(...) "{'version':1,'sampling_interval':'100ms','stages':[" __VA_ARGS__ "]}"

#define THREE_STAGES                                                                                        \
        STAGES("{'name':'warn','enter':{'all':[{'memory':'>= 70%'}],'for':'200ms'},"                        \
               " 'exit':{'all':[{'memory':'< 60%'}],'for':'1s'},"                                           \
               " 'on_enter':[{'action':'notify'}],'on_exit':[{'action':'notify'}]},"                        \
               "{'name':'degrade','enter':{'all':[{'memory':'>= 85%'}]},'exit':{'all':[{'memory':'< "       \
               "75%'}],'for':'1s'},"                                                                        \
               " 'on_enter':[{'action':'scavenge'},{'action':'throttle','memory_high':'95%'}]},"            \
               "{'name':'restart','enter':{'all':[{'memory':'>= 90%'}]},'exit':{'all':[{'memory':'< "       \
               "50%'}],'for':'500ms'},"                                                                     \
               " 'on_enter':[{'action':'restart','grace':'1s'}]}")

/* A steady ramp of 10 bytes (1%) per 100ms sample climbs through the stages in order at the exact
 * thresholds; after the restart memory drops and recovery steps down one level per exit hold. */
TEST(ramp_then_recovery)
{
        Run r;
        run_init(&r, load(THREE_STAGES));
        for (uint64_t t = 0; t <= 9000; t += 100)
                step_mem(&r, t, t / 10);
        for (uint64_t t = 9100; t <= 13000; t += 100)
                step_mem(&r, t, 100);
        expect_log(&r, "7200: 0->1 enter\n"
                       "7200: enter[1] notify\n"
                       "8500: 1->2 enter\n"
                       "8500: enter[2] scavenge\n"
                       "8500: enter[2] throttle\n"
                       "9000: 2->3 enter\n"
                       "9000: enter[3] restart\n"
                       "9600: 3->2 exit\n"
                       "10600: 2->1 exit\n"
                       "10600: exit[2] throttle undo\n"
                       "11600: 1->0 exit\n"
                       "11600: exit[1] notify\n");
        ASSERT_EQ(policy_state_stage(r.s), 0);
        ASSERT_U64_EQ(policy_state_stage_since_usec(r.s), 11600 * MS);
        run_done(&r);
}

/* A 300ms spike stays below every 500ms hold; a sustained rise past two thresholds at once goes straight
 * to the higher stage, running only that stage's on_enter. */
TEST(spike_ignored_sustained_rise_skips_levels)
{
        Run r;
        run_init(
            &r,
            load(STAGES(
                "{'enter':{'all':[{'memory':'>= 70%'}],'for':'500ms'},'exit':{'all':[{'memory':'< 60%'}]},"
                " 'on_enter':[{'action':'notify'}]},"
                "{'enter':{'all':[{'memory':'>= 85%'}],'for':'500ms'},'exit':{'all':[{'memory':'< 75%'}]},"
                " 'on_enter':[{'action':'scavenge'}]}")));
        for (uint64_t t = 0; t <= 7000; t += 100) {
                bool spike = t >= 2000 && t < 2300, high = t >= 5000;
                step_mem(&r, t, spike || high ? 880 : 300);
        }
        expect_log(&r, "5500: 0->2 enter\n"
                       "5500: enter[2] scavenge\n");
        run_done(&r);
}

/* A plateau in stage 1: while actions every repeat interval, then max_dwell escalates to stage 2, whose
 * own max_dwell runs its on_max_dwell actions every max_dwell. */
TEST(plateau_repeat_and_max_dwell)
{
        Run r;
        run_init(
            &r,
            load(STAGES(
                "{'enter':{'all':[{'memory':'>= 70%'}]},'exit':{'all':[{'memory':'< 60%'}],'for':'1s'},"
                " 'repeat':'2s','while':[{'action':'scavenge'}],'max_dwell':'5s'},"
                "{'enter':{'all':[{'memory':'>= 95%'}]},'exit':{'all':[{'memory':'< 80%'}]},"
                " 'on_enter':[{'action':'notify'}],'max_dwell':'3s','on_max_dwell':[{'action':'kill'}]}")));
        for (uint64_t t = 0; t <= 12500; t += 100)
                step_mem(&r, t, t < 1000 ? 500 : 800);
        expect_log(&r, "1000: 0->1 enter\n"
                       "3000: while[1] scavenge\n"
                       "5000: while[1] scavenge\n"
                       "6000: 1->2 max_dwell\n"
                       "6000: enter[2] notify\n"
                       "9000: max_dwell[2] kill\n"
                       "12000: max_dwell[2] kill\n");
        run_done(&r);
}

/* Cooldown holds back both the exit and the while actions after an action ran; repeat is then
 * effectively max(repeat, cooldown). */
TEST(cooldown)
{
        Run r;
        run_init(&r,
                 load(STAGES("{'enter':{'all':[{'memory':'>= 70%'}]},'exit':{'all':[{'memory':'< 60%'}]},"
                             " 'cooldown':'2s','repeat':'500ms','on_enter':[{'action':'notify'}],"
                             " 'while':[{'action':'scavenge'}]}")));
        for (uint64_t t = 0; t <= 8400; t += 100) {
                bool high = (t >= 1000 && t < 1500) || t >= 4000;
                step_mem(&r, t, high ? 800 : 100);
        }
        expect_log(&r, "1000: 0->1 enter\n"
                       "1000: enter[1] notify\n"
                       "3000: 1->0 exit\n"
                       "4000: 0->1 enter\n"
                       "4000: enter[1] notify\n"
                       "6000: while[1] scavenge\n"
                       "8000: while[1] scavenge\n");
        run_done(&r);
}

/* The repeat interval alone, without cooldown: while actions every 700ms from entry. */
TEST(repeat_interval)
{
        Run r;
        run_init(
            &r,
            load(STAGES(
                "{'enter':{'all':[{'memory':'>= 70%'}]},'exit':{'all':[{'memory':'< 60%'}]},"
                " 'repeat':'700ms','while':[{'action':'signal','signal':'USR1'},{'action':'scavenge'}]}")));
        for (uint64_t t = 0; t <= 3000; t += 100)
                step_mem(&r, t, t >= 500 && t < 2700 ? 750 : 100);
        expect_log(&r, "500: 0->1 enter\n"
                       "1200: while[1] signal\n"
                       "1200: while[1] scavenge\n"
                       "1900: while[1] signal\n"
                       "1900: while[1] scavenge\n"
                       "2600: while[1] signal\n"
                       "2600: while[1] scavenge\n"
                       "2700: 1->0 exit\n");
        run_done(&r);
}

/* PSI flapping between 0 and 95% on its own must not trigger a stage that also needs memory; missing
 * PSI data never counts as pressure. */
TEST(noisy_single_signal_does_not_trigger)
{
        Run r;
        run_init(
            &r,
            load(STAGES(
                "{'enter':{'all':[{'psi.full.avg10':'>= 20%'},{'memory':'>= 60%'}]},"
                " 'exit':{'any':[{'memory':'< 50%'}],'for':'300ms'},'on_enter':[{'action':'notify'}]}")));
        for (uint64_t t = 0; t <= 10000; t += 100) {
                OomlessSample x = mem(t < 6000 ? 300 : 700);
                x.psi_valid = t < 8000;
                x.psi_full.avg10 = (t / 100) % 2 ? 95.0 : 0.0;
                step(&r, t, &x);
        }
        /* Memory is high from 6000; PSI is high on odd samples (6100) and absent from 8000. */
        expect_log(&r, "6100: 0->1 enter\n"
                       "6100: enter[1] notify\n");
        run_done(&r);
}

/* Runs policy (JSON with single quotes) over a quiet workload sampled every 100ms from 0 to end_ms, its
 * memory.events counters set by events(), and checks the log. */
static void check_events(const char *policy, uint64_t end_ms,
                         void (*events)(OomlessSample *x, uint64_t t_ms), const char *expected)
{
        Run r;

        run_init(&r, load(policy));
        for (uint64_t t = 0; t <= end_ms; t += 100) {
                OomlessSample x = mem(100);
                x.events_valid = true;
                events(&x, t);
                step(&r, t, &x);
        }
        expect_log(&r, expected);
        run_done(&r);
}

static void max_at_1000_1500_2000(OomlessSample *x, uint64_t t)
{
        x->ev_max = (t >= 1000) + (t >= 1500) + (t >= 2000);
}

static void oom_kill_spread_out(OomlessSample *x, uint64_t t)
{
        x->ev_oom_kill = (t >= 1000) + (t >= 2500) + (t >= 4000) + 2 * (t >= 5500);
}

/* memory.events increments are counted within a sliding window from the recorded history. */
TEST(events_within_window)
{
        /* Three increments by 2000; the last one leaves the 2s window at 4000. */
        check_events(STAGES("{'enter':{'all':[{'events.max':'>= 3','within':'2s'}]},"
                            " 'exit':{'all':[{'events.max':'< 1','within':'2s'}]}}"),
                     5000, max_at_1000_1500_2000,
                     "2000: 0->1 enter\n"
                     "4000: 1->0 exit\n");
}

TEST(events_spread_out_do_not_add_up)
{
        check_events(STAGES("{'enter':{'all':[{'events.oom_kill':'>= 2','within':'1s'}]},"
                            " 'exit':{'all':[{'events.oom_kill':'< 1','within':'1s'}]}}"),
                     6000, oom_kill_spread_out, "5500: 0->1 enter\n");
}

/* A kernel PSI trigger counts as true for "within" after it fired, together with memory. */
TEST(psi_trigger_fired_within)
{
        Run r;
        run_init(
            &r,
            load(STAGES(
                "{'enter':{'all':[{'psi_trigger':'full 100ms per 1s','within':'1s'},{'memory':'>= 50%'}]},"
                " 'exit':{'all':[{'memory':'< 40%'}]}}")));
        for (uint64_t t = 0; t <= 5000; t += 100) {
                OomlessSample x = mem(t >= 2500 && t < 3100 ? 300 : 600);
                x.psi_trigger_count = 1;
                x.psi_trigger_fired[0] = (t >= 2000) + (t >= 4000);
                step(&r, t, &x);
        }
        /* back above 50% at 3100, but the trigger fired 1.1s ago: no re-entry until it fires again */
        expect_log(&r, "2000: 0->1 enter\n"
                       "2500: 1->0 exit\n"
                       "4000: 0->1 enter\n");
        run_done(&r);
}

TEST(direct_recovery_runs_all_exits)
{
        Run r;
        run_init(
            &r,
            load("{'version':1,'sampling_interval':'100ms','recovery':'direct','stages':["
                 "{'enter':{'all':[{'memory':'>= 70%'}]},'exit':{'all':[{'memory':'< 60%'}]},"
                 " 'on_enter':[{'action':'throttle','memory_high':'90%'}],'on_exit':[{'action':'notify'}]},"
                 "{'enter':{'all':[{'memory':'>= 80%'}]},'exit':{'all':[{'memory':'< 30%'}],'for':'300ms'},"
                 " 'on_exit':[{'action':'scavenge'}]}]}"));
        for (uint64_t t = 0; t <= 2000; t += 100)
                step_mem(&r, t, t < 500 ? 0 : t < 600 ? 750 : t < 1000 ? 850 : 100);
        expect_log(&r, "500: 0->1 enter\n"
                       "500: enter[1] throttle\n"
                       "600: 1->2 enter\n"
                       "1300: 2->0 exit\n"
                       "1300: exit[2] scavenge\n"
                       "1300: exit[1] notify\n"
                       "1300: exit[1] throttle undo\n");
        run_done(&r);
}

/* Without a known limit, percentages are unknown and never true; absolute thresholds still work. */
TEST(unknown_limit)
{
        Run r;
        run_init(&r,
                 load(STAGES("{'enter':{'any':[{'memory':'>= 70%'},{'headroom':'<= "
                             "10%'}]},'exit':{'all':[{'memory':'< 60%'}]}},"
                             "{'enter':{'all':[{'memory':'>= 2K'}]},'exit':{'all':[{'memory':'< 1K'}]}}")));
        for (uint64_t t = 0; t <= 1000; t += 100) {
                OomlessSample x = { .current = t < 500 ? 1500 : 4096, .limit = OOMLESS_NO_LIMIT };
                step(&r, t, &x);
        }
        expect_log(&r, "500: 0->2 enter\n");
        run_done(&r);
}

/* The page-cache job: memory.current sits at the limit, but nearly all of it is inactive file cache,
 * so working_set stays low and no stage is entered; when anon grows instead, working_set (in percent)
 * and anon (in bytes) enter; shmem in bytes enters its own stage; working_set never goes below 0 when
 * inactive_file is reported above current (the two files are read at different instants). */
TEST(working_set_anon_file_shmem)
{
        Run r;
        run_init(&r,
                 load(STAGES("{'name':'ws','enter':{'all':[{'working_set':'>= 80%'},{'file':'< 50%'}]},"
                             " 'exit':{'all':[{'working_set':'< 70%'}]},'on_enter':[{'action':'notify'}]},"
                             "{'name':'anon','enter':{'all':[{'anon':'>= 850B'}]},"
                             " 'exit':{'all':[{'anon':'< 800B'}]}},"
                             "{'name':'shmem','enter':{'all':[{'shmem':'>= 900B'}]},"
                             " 'exit':{'all':[{'shmem':'< 100B'}]}}")));
        for (uint64_t t = 0; t <= 500; t += 100) { /* cache at the limit: nothing */
                OomlessSample x = mem(990);
                x.file = 950, x.inactive_file = 900, x.anon = 40;
                step(&r, t, &x);
        }
        for (uint64_t t = 600; t <= 900; t += 100) { /* inactive_file above current: working set 0 */
                OomlessSample x = mem(500);
                x.file = 600, x.inactive_file = 600;
                step(&r, t, &x);
        }
        for (uint64_t t = 1000; t <= 1500; t += 100) { /* anon grows, cache shrinks */
                OomlessSample x = mem(990);
                x.anon = 700 + (t - 1000) / 2, x.file = 290, x.inactive_file = 190;
                step(&r, t, &x);
        }
        for (uint64_t t = 1600; t <= 1800; t += 100) { /* tmpfs fills */
                OomlessSample x = mem(995);
                x.anon = 90, x.file = 905, x.shmem = 900, x.inactive_file = 5;
                step(&r, t, &x);
        }
        expect_log(&r, "1000: 0->1 enter\n"
                       "1000: enter[1] notify\n"
                       "1300: 1->2 enter\n"
                       "1600: 2->3 enter\n");
        run_done(&r);
}

TEST(reset_and_carry_over)
{
        Policy *p = load(THREE_STAGES), *small;
        PolicyState *s = policy_state_new(p, 0), *s2;
        PolicyDecisions d;
        PolicyTransition t;
        OomlessSample x = mem(900);

        policy_evaluate(p, s, &x, 1000 * MS, &d, &t);
        ASSERT_EQ(policy_state_stage(s), 3);
        ASSERT_EQ(t.reason, POLICY_REASON_ENTER);

        /* Reload with a two-stage policy: the level clamps, the entry time stays. */
        small = load(STAGES(
            "{'enter':{'all':[{'memory':'>= 70%'}]},'exit':{'all':[{'memory':'< 60%'}]}},"
            "{'enter':{'all':[{'memory':'>= 95%'}]},'exit':{'all':[{'memory':'< 80%'}],'for':'1s'}}"));
        s2 = policy_state_carry_over(small, s);
        ASSERT_TRUE(s2);
        ASSERT_EQ(policy_state_stage(s2), 2);
        ASSERT_U64_EQ(policy_state_stage_since_usec(s2), 1000 * MS);
        /* Hold timers start over: 1s of "< 80%" from 1100 is needed in the new policy. */
        x = mem(700);
        policy_evaluate(small, s2, &x, 1100 * MS, &d, &t);
        ASSERT_EQ(t.changed, false);
        policy_evaluate(small, s2, &x, 2000 * MS, &d, &t);
        ASSERT_EQ(t.changed, false);
        policy_evaluate(small, s2, &x, 2100 * MS, &d, &t);
        ASSERT_TRUE(t.changed && t.from == 2 && t.to == 1 && t.reason == POLICY_REASON_EXIT);
        policy_state_free(s2);
        policy_free(small);

        /* Reset after a restart: exits of the entered stage only (3), no throttle since 2 never ran. */
        policy_state_reset(p, s, 1500 * MS, &d, &t);
        ASSERT_TRUE(t.changed && t.from == 3 && t.to == 0 && t.reason == POLICY_REASON_RESET);
        ASSERT_EQ(d.n, 0);
        ASSERT_EQ(policy_state_stage(s), 0);

        /* Climb through 1 and 2, then reset: stage 2's throttle is undone, stage 1's on_exit runs. */
        x = mem(750);
        policy_evaluate(p, s, &x, 2000 * MS, &d, &t);
        policy_evaluate(p, s, &x, 2200 * MS, &d, &t);
        ASSERT_EQ(policy_state_stage(s), 1);
        x = mem(860);
        policy_evaluate(p, s, &x, 2300 * MS, &d, &t);
        ASSERT_EQ(policy_state_stage(s), 2);
        policy_state_reset(p, s, 2400 * MS, &d, &t);
        ASSERT_EQ(d.n, 2);
        ASSERT_TRUE(d.items[0].stage == 2 && d.items[0].undo &&
                    d.items[0].action->kind == POLICY_ACTION_THROTTLE);
        ASSERT_TRUE(d.items[1].stage == 1 && d.items[1].when == POLICY_WHEN_EXIT &&
                    d.items[1].action->kind == POLICY_ACTION_NOTIFY);
        policy_state_free(s);
        policy_free(p);
}

/* The largest burst the limits allow: 16 stages, each entered in turn with 16 throttles, left at once
 * with 16 on_exit actions each. Every decision fits; none is dropped. */
TEST(largest_burst_fits)
{
        char *json = malloc(200000), *o = json;
        PolicyDecisions *d = malloc(sizeof(PolicyDecisions));
        PolicyTransition t;
        Policy *p;
        PolicyState *s;

        ASSERT_TRUE(json && d);
        o += sprintf(o, "{'version':1,'recovery':'direct','stages':[");
        for (int i = 1; i <= POLICY_STAGES_MAX; i++) {
                o += sprintf(o,
                             "%s{'enter':{'all':[{'memory':'>= %d%%'}]},'exit':{'all':[{'memory':'< 1%%'}]},"
                             "'on_enter':[",
                             i > 1 ? "," : "", i * 5);
                for (int k = 0; k < POLICY_ACTIONS_MAX; k++)
                        o += sprintf(o, "%s{'action':'throttle','memory_high':'%d%%'}", k ? "," : "",
                                     90 + k % 10);
                o += sprintf(o, "],'on_exit':[");
                for (int k = 0; k < POLICY_ACTIONS_MAX; k++)
                        o += sprintf(o, "%s{'action':'notify'}", k ? "," : "");
                o += sprintf(o, "]}");
        }
        sprintf(o, "]}");
        p = load(json);
        s = policy_state_new(p, 0);
        for (int i = 1; i <= POLICY_STAGES_MAX; i++) {
                OomlessSample x = mem((uint64_t)i * 50);
                policy_evaluate(p, s, &x, (uint64_t)i * 1000 * MS, d, &t);
                ASSERT_EQ(policy_state_stage(s), i);
                ASSERT_EQ(d->n, POLICY_ACTIONS_MAX);
        }
        OomlessSample x = mem(0);
        policy_evaluate(p, s, &x, 100000 * MS, d, &t);
        ASSERT_TRUE(t.changed && t.from == POLICY_STAGES_MAX && t.to == 0);
        ASSERT_EQ(d->n, POLICY_STAGES_MAX * 2 * POLICY_ACTIONS_MAX);
        ASSERT_TRUE(d->n <= POLICY_DECISIONS_MAX);
        ASSERT_EQ(d->items[0].stage, POLICY_STAGES_MAX);
        ASSERT_EQ(d->items[d->n - 1].stage, 1);
        ASSERT_TRUE(d->items[d->n - 1].undo);
        policy_state_free(s);
        policy_free(p);
        free(d);
        free(json);
}

/* ---- restart policy ---- */

#define RESTART_POLICY(mode, max)                                                                           \
        "{'version':1,'restart':{'mode':'" mode                                                             \
        "','initial_delay':'1s','max_delay':'8s','reset_after':'1m',"                                       \
        "'max_restarts':" #max ",'window':'100s'},'stages':["                                               \
        "{'enter':{'all':[{'memory':'>= 70%'}]},'exit':{'all':[{'memory':'< 60%'}]}}]}"

static PolicyRestartVerdict fail_at(const Policy *p, PolicyRestartState *st, uint64_t now_s, uint64_t ran_s,
                                    uint64_t *delay)
{
        PolicyExit e = { .code = 1, .started_usec = (now_s - ran_s) * 1000 * MS };
        *delay = 0;
        return policy_restart_decide(p, st, &e, now_s * 1000 * MS, delay);
}

TEST(restart_backoff_and_give_up)
{
        Policy *p = load(RESTART_POLICY("on-failure", 4));
        PolicyRestartState st = { 0 };
        uint64_t d;

        ASSERT_EQ(fail_at(p, &st, 10, 2, &d), POLICY_RESTART_VERDICT_RESTART);
        ASSERT_U64_EQ(d, 1000 * MS);
        ASSERT_EQ(fail_at(p, &st, 13, 2, &d), POLICY_RESTART_VERDICT_RESTART);
        ASSERT_U64_EQ(d, 2000 * MS);
        ASSERT_EQ(fail_at(p, &st, 18, 2, &d), POLICY_RESTART_VERDICT_RESTART);
        ASSERT_U64_EQ(d, 4000 * MS);
        ASSERT_EQ(fail_at(p, &st, 25, 2, &d), POLICY_RESTART_VERDICT_RESTART);
        ASSERT_U64_EQ(d, 8000 * MS);
        /* four restarts within 100s: give up */
        ASSERT_EQ(fail_at(p, &st, 36, 2, &d), POLICY_RESTART_VERDICT_GIVE_UP);
        ASSERT_EQ(st.total_restarts, 4);
        /* once the first restarts leave the window, restarting is allowed again, still backed off */
        ASSERT_EQ(fail_at(p, &st, 111, 2, &d), POLICY_RESTART_VERDICT_RESTART);
        ASSERT_U64_EQ(d, 8000 * MS);
        /* a run longer than reset_after resets the backoff */
        ASSERT_EQ(fail_at(p, &st, 200, 61, &d), POLICY_RESTART_VERDICT_RESTART);
        ASSERT_U64_EQ(d, 1000 * MS);
        ASSERT_EQ(POLICY_EXIT_GAVE_UP, 124);
        policy_free(p);
}

TEST(restart_modes)
{
        Policy *onf = load(RESTART_POLICY("on-failure", 4)), *always = load(RESTART_POLICY("always", 0)),
               *never =
                   load("{'version':1,'restart':{'mode':'never'},'stages':["
                        "{'enter':{'all':[{'memory':'>= 70%'}]},'exit':{'all':[{'memory':'< 60%'}]}}]}");
        PolicyRestartState st = { 0 };
        PolicyExit ok = { .code = 0 }, sig = { .signaled = true, .signal = 9 },
                   req = { .code = 0, .requested = true },
                   oom = { .signaled = true, .signal = 9, .oom_killed = true };
        uint64_t d;

        ASSERT_EQ(policy_restart_decide(onf, &st, &ok, 5 * 1000 * MS, &d), POLICY_RESTART_VERDICT_STOP);
        ASSERT_EQ(policy_restart_decide(onf, &st, &req, 5 * 1000 * MS, &d), POLICY_RESTART_VERDICT_RESTART);
        ASSERT_EQ(policy_restart_decide(onf, &st, &sig, 6 * 1000 * MS, &d), POLICY_RESTART_VERDICT_RESTART);
        ASSERT_EQ(policy_restart_decide(never, &st, &sig, 7 * 1000 * MS, &d), POLICY_RESTART_VERDICT_STOP);
        st = (PolicyRestartState){ 0 };
        for (int i = 0; i < 100; i++) {
                PolicyExit quick = { .code = 0, .started_usec = (uint64_t)i * 1000 * MS };
                ASSERT_EQ(policy_restart_decide(always, &st, &quick, (uint64_t)(i + 1) * 1000 * MS, &d),
                          POLICY_RESTART_VERDICT_RESTART);
        }
        ASSERT_U64_EQ(d, 8000 * MS); /* capped at max_delay */

        /* Kernel OOM kills that did not end the main process count toward the limit. */
        st = (PolicyRestartState){ 0 };
        for (int i = 0; i < 3; i++)
                policy_restart_note_oom_kill(onf, &st, (uint64_t)(10 + i) * 1000 * MS);
        ASSERT_EQ(policy_restart_decide(onf, &st, &oom, 20 * 1000 * MS, &d), POLICY_RESTART_VERDICT_RESTART);
        ASSERT_EQ(policy_restart_decide(onf, &st, &oom, 21 * 1000 * MS, &d), POLICY_RESTART_VERDICT_GIVE_UP);
        policy_free(onf);
        policy_free(always);
        policy_free(never);
}

/* Runs the built-in policy over a trace of working sets (bytes at time t, ms), sampled every 100ms under
 * a 256M limit with no PSI stall and no events, until end_ms. Returns the time of the first restart
 * decision (0 if none) and the highest level reached. */
typedef uint64_t (*WsTrace)(uint64_t t_ms);
/* The memory.stat figures at t (ms) on top of current; NULL: anon only. */
typedef void (*StatTrace)(uint64_t t_ms, OomlessSample *x);

static uint64_t run_default_stat(WsTrace f, StatTrace st, uint64_t end_ms, unsigned *ret_max_level,
                                 uint64_t *ret_grace_ms)
{
        Policy *p = policy_default();
        PolicyState *s = policy_state_new(p, 0);
        uint64_t t_restart = 0;
        unsigned max_level = 0;

        ASSERT_TRUE(p && s);
        for (uint64_t t = 0; t <= end_ms; t += 100) {
                OomlessSample x = { .current = f(t),
                                    .limit = 256ULL << 20,
                                    .high = OOMLESS_NO_LIMIT,
                                    .events_valid = true,
                                    .psi_valid = true };
                PolicyDecisions d;

                if (st)
                        st(t, &x);
                PolicyTransition tr;

                policy_evaluate(p, s, &x, t * MS, &d, &tr);
                for (size_t i = 0; i < d.n; i++)
                        if (d.items[i].action->kind == POLICY_ACTION_RESTART && !t_restart) {
                                t_restart = t;
                                if (ret_grace_ms)
                                        *ret_grace_ms = d.items[i].action->grace_usec / MS;
                        }
                max_level = MAX(max_level, policy_state_stage(s));
        }
        policy_state_free(s);
        policy_free(p);
        *ret_max_level = max_level;
        return t_restart;
}

static uint64_t run_default(WsTrace f, uint64_t end_ms, unsigned *ret_max_level, uint64_t *ret_grace_ms)
{
        return run_default_stat(f, NULL, end_ms, ret_max_level, ret_grace_ms);
}

#define MIB (1ULL << 20)

static uint64_t leak_20(uint64_t t)
{
        return 3 * MIB + t * 20 * MIB / 1000;
}

static uint64_t leak_100(uint64_t t)
{
        return 3 * MIB + t * 100 * MIB / 1000;
}

/* 235 MiB (92% of 256M) in one block at t=1s, held. */
static uint64_t steady_block(uint64_t t)
{
        return t < 1000 ? 3 * MIB : 238 * MIB;
}

/* 1 MiB steps at memory speed (~1 GB/s): the ramp spans a few samples. */
static uint64_t steady_steps(uint64_t t)
{
        return t < 1000 ? 3 * MIB : MIN(238 * MIB, 3 * MIB + (t - 1000) * 1024 * MIB / 1000);
}

/* 1 MiB steps on a slow machine (50 MiB/s, as under emulation): a long ramp, still to 92%. */
static uint64_t steady_slow_steps(uint64_t t)
{
        return t < 1000 ? 3 * MIB : MIN(238 * MIB, 3 * MIB + (t - 1000) * 50 * MIB / 1000);
}

/* A service that grows by 3 MiB every 2 s at 92%: allocations come and go, no trend. */
static uint64_t steady_jitter(uint64_t t)
{
        return 235 * MIB + (t / 2000 % 2) * 3 * MIB;
}

/* A leak of mib_per_s under the built-in policy is restarted, and margin_ms after that sample it is still
 * below the live cap (256M minus the non-heap part and the reserve). */
static void expect_leak_restart(WsTrace leak, unsigned mib_per_s, uint64_t end_ms, uint64_t margin_ms,
                                uint64_t *ret_grace_ms)
{
        const uint64_t cap = 250 * MIB;
        unsigned lvl;
        uint64_t t = run_default(leak, end_ms, &lvl, ret_grace_ms);

        printf("%u MiB/s: restart at %llums (working set %llu MiB), cap reached at %llums\n", mib_per_s,
               (unsigned long long)t, (unsigned long long)(leak(t) / MIB),
               (unsigned long long)((cap - 3 * MIB) * 1000 / (mib_per_s * MIB)));
        ASSERT_TRUE(t > 0);
        ASSERT_TRUE(leak(t + margin_ms) < cap);
}

/* The built-in policy decides on evidence: a steady working set at 92% (reached at once, in steps, or
 * with jitter) and no stall gets warn at most; leaks at 20 and 100 MB/s get their restart on the
 * sample that sees them past 94% and growing, below the heap cap (the limit minus a few MiB); at
 * 20 MB/s that leaves >= 300ms. The grace is 10s. */
TEST(default_policy_steady_is_warned_leaks_restarted)
{
        unsigned lvl;
        uint64_t grace = 0;

        ASSERT_EQ(run_default(steady_block, 31000, &lvl, NULL), 0u);
        ASSERT_EQ(lvl, 1u);
        ASSERT_EQ(run_default(steady_steps, 31000, &lvl, NULL), 0u);
        ASSERT_EQ(lvl, 1u);
        ASSERT_EQ(run_default(steady_slow_steps, 31000, &lvl, NULL), 0u);
        ASSERT_EQ(lvl, 1u);
        ASSERT_EQ(run_default(steady_jitter, 31000, &lvl, NULL), 0u);
        ASSERT_EQ(lvl, 1u);

        expect_leak_restart(leak_20, 20, 15000, 300, &grace);
        ASSERT_EQ(grace, 10000u);
        expect_leak_restart(leak_100, 100, 3000, 0, NULL);
}

/* The build scenario as v1 reported it in CI: 64M of anon, files written and read back twice, so most
 * of the cache is active and the working set climbs to the limit (254M of 256M) while memory.failcnt
 * counts every reclaim at the limit. The kernel would never kill it, and the built-in policy gives it
 * warn at most. */
static uint64_t at_limit(uint64_t t)
{
        return t < 500 ? 64 * MIB + t * 300 * MIB / 1000 : 256 * MIB - MIB / 2;
}

static void build_cache(uint64_t t, OomlessSample *x)
{
        x->anon = 64 * MIB;
        x->file = x->current - x->anon;
        /* the second read-back moves the cache to the active list: inactive shrinks to 2M */
        uint64_t moved = t < 1000 ? 0 : (t - 1000) * 200 * MIB / 1000;

        x->inactive_file = x->file / 2 > moved + 2 * MIB ? x->file / 2 - moved : 2 * MIB;
        x->active_file = x->file - x->inactive_file;
        x->ev_max = t / 100; /* failcnt: one hit per sample */
}

/* An anon leak of 20 MB/s in a cgroup full of active cache: reclaim drops the cache as fast as the
 * heap grows, so the working set stays flat at the limit; nonfile is what grows. */
static void leak_under_cache(uint64_t t, OomlessSample *x)
{
        x->anon = MIN(x->current, 100 * MIB + t * 20 * MIB / 1000);
        x->file = x->current - x->anon;
        x->inactive_file = x->file / 8;
        x->active_file = x->file - x->inactive_file;
}

TEST(default_policy_file_cache_is_not_growth)
{
        unsigned lvl;
        uint64_t t;

        ASSERT_EQ(run_default_stat(at_limit, build_cache, 31000, &lvl, NULL), 0u);
        ASSERT_EQ(lvl, 1u);
        t = run_default_stat(at_limit, leak_under_cache, 15000, &lvl, NULL);
        printf("leak under a full cache: restart at %llums (anon %llu MiB)\n", (unsigned long long)t,
               (unsigned long long)((100 * MIB + t * 20 * MIB / 1000) / MIB));
        ASSERT_TRUE(t > 0);
        /* 94% of 256M is 240.6M of anon: at 20 MB/s from 100M that is ~7s; a sample or two later */
        ASSERT_TRUE(t >= 7000 && t <= 7400);
}

/* nonfile is current less the file lists (active and inactive; shmem is on neither); nonfile_rate is
 * its growth, independent of the working set's. */
TEST(nonfile_and_rate)
{
        Run r;

        run_init(&r, load("{'version':1,'sampling_interval':'100ms','stages':["
                          "{'name':'nf','enter':{'all':[{'nonfile':'>= 50%'}]},"
                          " 'exit':{'all':[{'nonfile':'< 40%'}]}},"
                          "{'name':'grow','enter':{'all':[{'nonfile_rate':'>= 150B/s','within':'1s'}]},"
                          " 'exit':{'all':[{'nonfile_rate':'< 10B/s','within':'1s'}]}}]}"));
        /* 900 of 1000 charged, 500 of it on the file lists (300 more is tmpfs): nonfile 400 */
        for (uint64_t ms = 0; ms <= 400; ms += 100)
                step(&r, ms,
                     &(OomlessSample){
                         .current = 900, .active_file = 400, .inactive_file = 100, .limit = 1000 });
        /* tmpfs grows by 200 B/s while the active cache shrinks as fast: current and the working set
         * are flat */
        for (uint64_t ms = 500; ms <= 2000; ms += 100) {
                uint64_t g = (ms - 400) / 5;
                step(&r, ms,
                     &(OomlessSample){
                         .current = 900, .active_file = 400 - g, .inactive_file = 100, .limit = 1000 });
        }
        /* nonfile reaches 500 at 900; over 1s the rate passes 150 B/s at 1200 (160 B/s from 200) */
        expect_log(&r, "900: 0->1 enter\n"
                       "1200: 1->2 enter\n");
        run_done(&r);
}

/* working_set_rate: bytes per second over "within"; unknown until half the window is covered; a
 * shrinking working set is below every ">=" threshold; the history starts over on a reset. */
TEST(working_set_rate)
{
        Run r;
        PolicyDecisions d;
        PolicyTransition t;

        run_init(&r, load("{'version':1,'sampling_interval':'100ms','stages':["
                          "{'name':'grow','enter':{'all':[{'working_set_rate':'>= 100B/s','within':'1s'}]},"
                          " 'exit':{'all':[{'working_set_rate':'< 10B/s','within':'1s'}]}}]}"));
        for (uint64_t ms = 0; ms <= 1500; ms += 100) /* 20 bytes per 100ms = 200 B/s from 0.5s on */
                step(&r, ms, &(OomlessSample){ .current = 100 + ms / 5, .limit = 1000 });
        for (uint64_t ms = 1600; ms <= 3000; ms += 100) /* shrinking */
                step(&r, ms, &(OomlessSample){ .current = 400 - (ms - 1500) / 10, .limit = 1000 });
        expect_log(&r, "500: 0->1 enter\n"
                       "2200: 1->0 exit\n");
        policy_state_reset(r.p, r.s, 3100 * MS, &d, &t);
        /* after a reset the old run's working set is no base for a rate */
        step(&r, 3100, &(OomlessSample){ .current = 900, .limit = 1000 });
        step(&r, 3200, &(OomlessSample){ .current = 900, .limit = 1000 });
        run_done(&r);
}

/* heap.cap_hits counts the allocator's refusals within a window; kernel is a size signal. */
TEST(heap_cap_hits_and_kernel)
{
        Run r;

        run_init(&r, load("{'version':1,'sampling_interval':'100ms','stages':["
                          "{'name':'kmem','enter':{'all':[{'kernel':'>= 50%'}]},"
                          " 'exit':{'all':[{'kernel':'< 40%'}]}},"
                          "{'name':'cap','enter':{'all':[{'heap.cap_hits':'>= 2','within':'1s'}]},"
                          " 'exit':{'all':[{'heap.cap_hits':'< 1','within':'1s'}]}}]}"));
        for (uint64_t ms = 0; ms <= 400; ms += 100) {
                OomlessSample x = mem(100);
                x.kernel = ms >= 300 ? 600 : 100;
                step(&r, ms, &x);
        }
        for (uint64_t ms = 500; ms <= 3000; ms += 100) {
                /* one hit per 1.2s: never 2 within 1s; then eight at once */
                OomlessSample x = mem(100);
                x.heap_valid = true;
                x.heap_cap_hits = ms < 2500 ? ms / 1200 : 10;
                x.kernel = 600;
                step(&r, ms, &x);
        }
        expect_log(&r, "300: 0->1 enter\n"
                       "2500: 1->2 enter\n");
        run_done(&r);
}

/* A throttle never sets memory.high below the working set plus a margin (1/32 of the limit, >= 4M). */
TEST(throttle_floor)
{
        Policy *p = load("{'version':1,'sampling_interval':'100ms','stages':["
                         "{'name':'t','enter':{'all':[{'memory':'>= 50%'}]},'exit':{'all':[{'memory':'< "
                         "40%'}]},"
                         " 'on_enter':[{'action':'throttle','memory_high':'60%'}]}]}");
        const uint64_t lim = 256 * MIB;
        PolicyDecision d = { .action = &(PolicyAction){ 0 } };
        OomlessSample x = { .limit = lim, .high = OOMLESS_NO_LIMIT };
        PolicyDecisions ds;
        PolicyState *s = policy_state_new(p, 0);

        /* working set 200M (78%), cache 40M: memory.high at 60% would reclaim the working set */
        x.current = 240 * MIB, x.inactive_file = 40 * MIB;
        policy_evaluate(p, s, &x, 0, &ds, NULL);
        ASSERT_EQ(ds.n, 1u);
        ASSERT_EQ(ds.items[0].bytes, 200 * MIB + lim / 32);
        /* a working set well below: the policy's own figure */
        x.current = 140 * MIB, x.inactive_file = 100 * MIB;
        policy_decision_resolve(&ds.items[0], &x);
        ASSERT_EQ(ds.items[0].bytes, lim * 60 / 100);
        (void)d;
        policy_state_free(s);
        policy_free(p);
}

TEST_MAIN()

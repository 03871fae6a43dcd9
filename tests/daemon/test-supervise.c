/* SPDX-License-Identifier: MIT */
/* supervise.c without a loop, a cgroup or root: synthetic samples and a fake clock drive stage entry
 * and exit, the restart verdicts, the OOM-kill accounting, reload and dry-run. */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "supervise.h"
#include "test.h"

#define MIB   (1024ULL * 1024ULL)
#define T0    (1000 * USEC_PER_SEC)
#define LIMIT (256 * MIB)

/* One stage at >= 32M (left below 16M) with a notify on entry, and a restart policy. */
static const char *policy_json(const char *name, const char *mode, unsigned max_restarts, bool dry_run)
{
        static char buf[2048];
        snprintf(
            buf, sizeof(buf),
            "{\"version\": 1, \"name\": \"%s\", \"sampling_interval\": \"100ms\", \"dry_run\": %s,"
            " \"stages\": [{\"name\": \"degrade\", \"enter\": {\"all\": [{\"memory\": \">= 32M\"}]},"
            " \"exit\": {\"all\": [{\"memory\": \"< 16M\"}]}, \"on_enter\": [{\"action\": \"notify\"}]}],"
            " \"restart\": {\"mode\": \"%s\", \"initial_delay\": \"1s\", \"max_delay\": \"30s\","
            " \"reset_after\": \"60s\", \"max_restarts\": %u, \"window\": \"5m\"}}",
            name, dry_run ? "true" : "false", mode, max_restarts);
        return buf;
}

static char policy_path[] = "/tmp/test-supervise-XXXXXX";

static void write_policy(const char *text)
{
        FILE *f = fopen(policy_path, "we");
        ASSERT_TRUE(f);
        ASSERT_TRUE(fputs(text, f) >= 0);
        ASSERT_EQ(fclose(f), 0);
}

static Supervise *new_supervise(const char *json, bool dry_run, bool run)
{
        Supervise *s = NULL;
        write_policy(json);
        SuperviseConfig cfg = { .policy_path = policy_path, .dry_run = dry_run, .run = run };
        ASSERT_OK(supervise_new(&cfg, T0, &s));
        return s;
}

static OomlessSample mem(uint64_t current)
{
        return (OomlessSample){ .current = current, .limit = LIMIT };
}

static OomlessSample oom_kills(uint64_t n)
{
        OomlessSample s = mem(8 * MIB);
        s.events_valid = true;
        s.ev_oom_kill = n;
        return s;
}

/* The verdict on an exit with status (no OOM kill) of a run started at started_usec. */
static SuperviseVerdict exited(Supervise *s, int status, uint64_t started_usec, uint64_t now_usec)
{
        OomlessSample last = mem(8 * MIB);
        SuperviseDecisions d;
        uint64_t delay = 0;
        return supervise_child_exited(s, status, false, started_usec, &last, now_usec, &delay, &d);
}

/* Ticks with the same sample every 100ms from *now until the stage is want; fails after limit. */
static SuperviseDecisions tick_until_stage(Supervise *s, OomlessSample sample, uint64_t *now, unsigned want)
{
        SuperviseDecisions d = { 0 };
        StatusInfo info = { 0 };
        for (uint64_t end = *now + 120 * USEC_PER_SEC; *now < end; *now += 100 * USEC_PER_MSEC) {
                ASSERT_TRUE(supervise_tick(s, &sample, true, *now, &d));
                if (d.t.changed && d.t.to == want)
                        break;
        }
        supervise_status(s, *now, &info);
        ASSERT_EQ(info.stage, want);
        return d;
}

TEST(stage_entry_and_exit)
{
        _cleanup_(supervise_freep) Supervise *s =
            new_supervise(policy_json("t", "never", 0, false), false, true);
        uint64_t now = T0;
        StatusInfo info = { 0 };

        SuperviseDecisions d = tick_until_stage(s, mem(40 * MIB), &now, 1);
        ASSERT_EQ(d.t.from, 0);
        ASSERT_EQ(d.t.reason, POLICY_REASON_ENTER);
        ASSERT_EQ(d.ds.n, 1); /* the notify on entry */
        ASSERT_EQ(d.ds.items[0].stage, 1);
        supervise_status(s, now + 2 * USEC_PER_SEC, &info);
        ASSERT_STREQ(info.policy_name, "t");
        ASSERT_STREQ(info.stage_name, "degrade");
        ASSERT_TRUE(info.stage_since_sec >= 2.0);

        d = tick_until_stage(s, mem(8 * MIB), &now, 0);
        ASSERT_EQ(d.t.from, 1);
        ASSERT_EQ(d.t.reason, POLICY_REASON_EXIT);
}

/* The metrics' view: transitions counted, the time at each level adding up to the time elapsed, the
 * current stay included; kernel OOM kills counted whether or not the workload runs; "ready". */
TEST(stats)
{
        _cleanup_(supervise_freep) Supervise *s =
            new_supervise(policy_json("t", "never", 0, false), false, false);
        uint64_t now = T0;
        SuperviseStats st;

        supervise_stats(s, now, &st);
        ASSERT_EQ(st.stage, 0);
        ASSERT_TRUE(st.ready);
        ASSERT_U64_EQ(st.transitions, 0);

        (void)tick_until_stage(s, mem(40 * MIB), &now, 1);
        uint64_t entered = now;
        supervise_stats(s, now + 3 * USEC_PER_SEC, &st);
        ASSERT_EQ(st.stage, 1);
        ASSERT_U64_EQ(st.transitions, 1);
        ASSERT_U64_EQ(st.stage_usec[0], entered - T0);
        ASSERT_U64_EQ(st.stage_usec[1], 3 * USEC_PER_SEC);

        now += 5 * USEC_PER_SEC;
        (void)tick_until_stage(s, mem(8 * MIB), &now, 0);
        supervise_stats(s, now, &st);
        ASSERT_U64_EQ(st.transitions, 2);
        ASSERT_U64_EQ(st.stage_usec[0] + st.stage_usec[1], now - T0);

        SuperviseDecisions d;
        OomlessSample k = oom_kills(2);
        (void)supervise_tick(s, &k, false, now, &d);
        k = oom_kills(5);
        (void)supervise_tick(s, &k, false, now, &d);
        supervise_stats(s, now, &st);
        ASSERT_U64_EQ(st.oom_kills, 3); /* the first sample is the baseline */
}

/* A stage that declares "ready": false makes supervision not ready while it is current. */
TEST(stats_ready)
{
        _cleanup_(supervise_freep) Supervise *s = new_supervise(
            "{\"version\": 1, \"sampling_interval\": \"100ms\", \"stages\": [{\"name\": \"drain\","
            " \"ready\": false, \"enter\": {\"all\": [{\"memory\": \">= 32M\"}]},"
            " \"exit\": {\"all\": [{\"memory\": \"< 16M\"}]}}]}",
            false, false);
        uint64_t now = T0;
        SuperviseStats st;

        (void)tick_until_stage(s, mem(40 * MIB), &now, 1);
        supervise_stats(s, now, &st);
        ASSERT_TRUE(!st.ready);
        (void)tick_until_stage(s, mem(8 * MIB), &now, 0);
        supervise_stats(s, now, &st);
        ASSERT_TRUE(st.ready);
}

TEST(nothing_decided_between_runs)
{
        _cleanup_(supervise_freep) Supervise *s =
            new_supervise(policy_json("t", "never", 0, false), false, true);
        _cleanup_(supervise_freep) Supervise *a =
            new_supervise(policy_json("t", "never", 0, false), false, false);
        OomlessSample big = mem(40 * MIB);
        SuperviseDecisions d;

        ASSERT_TRUE(!supervise_tick(s, &big, false, T0, &d));
        /* attach: no child of ours, decided all the same */
        ASSERT_TRUE(supervise_tick(a, &big, false, T0, &d));
}

TEST(restart_then_give_up)
{
        _cleanup_(supervise_freep) Supervise *s =
            new_supervise(policy_json("t", "on-failure", 2, false), false, true);
        OomlessSample last = mem(8 * MIB);
        SuperviseDecisions d;
        uint64_t now = T0, delay = 0;

        /* A run left in stage 1: the restart resets to level 0. */
        (void)tick_until_stage(s, mem(40 * MIB), &now, 1);
        ASSERT_EQ(supervise_child_exited(s, 1, false, T0, &last, now, &delay, &d), SUPERVISE_RESTART);
        ASSERT_U64_EQ(delay, 1 * USEC_PER_SEC);
        ASSERT_TRUE(d.t.changed);
        ASSERT_EQ(d.t.to, 0);
        ASSERT_EQ(d.t.reason, POLICY_REASON_RESET);

        /* A short run again: the delay doubles. */
        now += 2 * USEC_PER_SEC;
        ASSERT_EQ(supervise_child_exited(s, 137, false, now - USEC_PER_SEC, &last, now, &delay, &d),
                  SUPERVISE_RESTART);
        ASSERT_U64_EQ(delay, 2 * USEC_PER_SEC);
        ASSERT_TRUE(!d.t.changed);

        /* max_restarts 2 within the window: give up, which oomless exits as 124. */
        now += 3 * USEC_PER_SEC;
        ASSERT_EQ(supervise_child_exited(s, 1, false, now - USEC_PER_SEC, &last, now, &delay, &d),
                  SUPERVISE_GIVE_UP);
        ASSERT_EQ(POLICY_EXIT_GAVE_UP, 124);
}

TEST(restart_modes)
{
        _cleanup_(supervise_freep) Supervise *never =
            new_supervise(policy_json("t", "never", 0, false), false, true);
        _cleanup_(supervise_freep) Supervise *onf =
            new_supervise(policy_json("t", "on-failure", 5, false), false, true);

        ASSERT_EQ(exited(never, 1, T0, T0 + USEC_PER_SEC), SUPERVISE_STOP);
        ASSERT_EQ(exited(onf, 0, T0, T0 + USEC_PER_SEC), SUPERVISE_STOP);
        /* A restart action's stop restarts even a clean exit under on-failure. */
        supervise_restart_requested(onf);
        ASSERT_EQ(exited(onf, 0, T0, T0 + USEC_PER_SEC), SUPERVISE_RESTART);
        /* ... once: the next clean exit stops again. */
        ASSERT_EQ(exited(onf, 0, T0, T0 + 2 * USEC_PER_SEC), SUPERVISE_STOP);
}

TEST(oom_kills_count_toward_max_restarts)
{
        _cleanup_(supervise_freep) Supervise *s =
            new_supervise(policy_json("t", "on-failure", 2, false), false, true);
        _cleanup_(supervise_freep) Supervise *idle =
            new_supervise(policy_json("t", "on-failure", 2, false), false, true);
        OomlessSample s0 = oom_kills(5), s2 = oom_kills(7);
        SuperviseDecisions d;

        /* The first sample only sets the baseline; two kills inside the leaf while the main process
         * lives fill max_restarts. */
        (void)supervise_tick(s, &s0, true, T0, &d);
        (void)supervise_tick(s, &s2, true, T0 + USEC_PER_SEC, &d);
        ASSERT_EQ(exited(s, 1, T0, T0 + 2 * USEC_PER_SEC), SUPERVISE_GIVE_UP);

        /* Kills seen between runs (no child of ours) do not count. */
        (void)supervise_tick(idle, &s0, false, T0, &d);
        (void)supervise_tick(idle, &s2, false, T0 + USEC_PER_SEC, &d);
        ASSERT_EQ(exited(idle, 1, T0, T0 + 2 * USEC_PER_SEC), SUPERVISE_RESTART);
}

static unsigned changed_calls;
static const Policy *changed_to;

static void on_changed(const Policy *np, bool dry_run, void *userdata)
{
        (void)dry_run;
        ASSERT_TRUE(userdata == &changed_calls);
        changed_calls++;
        changed_to = np;
}

TEST(reload)
{
        _cleanup_(supervise_freep) Supervise *s = NULL;
        uint64_t now = T0;
        StatusInfo info = { 0 };
        SuperviseDecisions d;

        write_policy(policy_json("first", "never", 0, false));
        SuperviseConfig cfg = { .policy_path = policy_path,
                                .run = true,
                                .policy_changed = on_changed,
                                .userdata = &changed_calls };
        ASSERT_OK(supervise_new(&cfg, T0, &s));
        (void)tick_until_stage(s, mem(40 * MIB), &now, 1);

        /* A bad file: the policy in force stays, nobody is told of a change. */
        write_policy("{\"version\": 1, \"stages\": [");
        ASSERT_TRUE(supervise_reload(s, now, &d) < 0);
        ASSERT_EQ(changed_calls, 0);
        supervise_status(s, now, &info);
        ASSERT_STREQ(info.policy_name, "first");

        /* A good one: swapped, the runner told first, the stage carried over. */
        write_policy(policy_json("second", "never", 0, false));
        ASSERT_OK(supervise_reload(s, now, &d));
        ASSERT_TRUE(!d.budget_step);
        ASSERT_EQ(changed_calls, 1);
        ASSERT_TRUE(changed_to == supervise_policy(s));
        supervise_status(s, now, &info);
        ASSERT_STREQ(info.policy_name, "second");
        ASSERT_EQ(info.stage, 1);
}

TEST(dry_run)
{
        _cleanup_(supervise_freep) Supervise *flag =
            new_supervise(policy_json("t", "never", 0, false), true, true);
        _cleanup_(supervise_freep) Supervise *file =
            new_supervise(policy_json("t", "never", 0, true), false, true);
        _cleanup_(supervise_freep) Supervise *off =
            new_supervise(policy_json("t", "never", 0, false), false, true);
        StatusInfo info = { 0 };
        uint64_t now = T0;

        ASSERT_TRUE(supervise_dry_run(flag));
        ASSERT_TRUE(supervise_dry_run(file));
        ASSERT_TRUE(!supervise_dry_run(off));
        supervise_status(flag, T0, &info);
        ASSERT_TRUE(info.dry_run);
        /* Dry run still decides: the runner is the one that only records "would". */
        SuperviseDecisions d = tick_until_stage(flag, mem(40 * MIB), &now, 1);
        ASSERT_EQ(d.ds.n, 1);
}

static OomlessSample lim(uint64_t limit)
{
        return (OomlessSample){ .limit = limit, .high = OOMLESS_NO_LIMIT };
}

TEST(heap_cap)
{
        Supervise *s = NULL;
        uint64_t wm = 0, cap;
        OomlessSample x;

        write_policy(policy_json("t", "never", 0, false));
        SuperviseConfig cfg = { .policy_path = policy_path,
                                .heap_cap = { .set = true, .percent = true, .permyriad = 9500 } };
        ASSERT_OK(supervise_new(&cfg, T0, &s));
        x = lim(OOMLESS_NO_LIMIT);
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 0);
        x = lim(1000 * MIB);
        cap = supervise_heap_cap(s, &x, &wm);
        ASSERT_U64_EQ(cap, units_size_spec_resolve(&cfg.heap_cap, 1000 * MIB));
        ASSERT_U64_EQ(wm, 1000 * MIB / 100 * 85);
        supervise_heap_cap_published(s, cap);
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 0);
        x = lim(2000 * MIB);
        ASSERT_TRUE(supervise_heap_cap(s, &x, &wm) > cap);
        s = supervise_free(s);

        /* The user's own OOMLESS_HEAP_CAP is never published over. */
        cfg.user_heap_cap = true;
        ASSERT_OK(supervise_new(&cfg, T0, &s));
        x = lim(1000 * MIB);
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 0);
        s = supervise_free(s);
}

/* A supervisor with the live heap cap (--heap-cap=auto) and a policy that never acts. */
static Supervise *new_auto_cap(void)
{
        Supervise *s = NULL;

        write_policy(policy_json("t", "never", 0, false));
        SuperviseConfig cfg = { .policy_path = policy_path, .heap_cap_auto = true };
        ASSERT_OK(supervise_new(&cfg, T0, &s));
        return s;
}

/* --heap-cap=auto: the limit less what lies outside the heap (nonfile minus heap held) less the
 * reserve (1/64 of the limit, at least 4M); republished only when it moves by 1/256 of the limit. */
TEST(heap_cap_auto)
{
        Supervise *s = new_auto_cap();
        uint64_t wm = 0, cap;
        OomlessSample x = lim(256 * MIB);

        /* before the workload: the limit less the reserve; a malloc of 235M fits */
        cap = supervise_heap_cap(s, &x, &wm);
        ASSERT_U64_EQ(cap, 252 * MIB);
        /* the allocator wakes us where the heap puts nonfile past 94% (plus 2M untouched) */
        ASSERT_U64_EQ(wm, 256 * MIB / 10000 * SUPERVISE_WAKE_PERMYRIAD + 2 * MIB);
        supervise_heap_cap_published(s, cap);
        /* the heap grows to 235M: only the 3M outside it (binaries, stacks) come off */
        x.current = 240 * MIB, x.inactive_file = 2 * MIB, x.heap_valid = true, x.heap_held = 235 * MIB;
        cap = supervise_heap_cap(s, &x, &wm);
        ASSERT_U64_EQ(cap, 249 * MIB);
        supervise_heap_cap_published(s, cap);
        /* less than 1M of change is not worth a publish */
        x.current = 240 * MIB + 512 * 1024;
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 0);
        /* 40M of tmpfs outside the heap: the cap makes room for it */
        x.current = 280 * MIB, x.shmem = 40 * MIB, x.file = 42 * MIB;
        cap = supervise_heap_cap(s, &x, &wm);
        ASSERT_U64_EQ(cap, 256 * MIB - (280 - 2 - 235) * MIB - 4 * MIB);
        supervise_heap_cap_published(s, cap);
        /* page cache (inactive file) is not outside the heap: the kernel reclaims it first */
        x.current = 300 * MIB, x.inactive_file = 22 * MIB, x.file = 62 * MIB;
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 0);
        /* nor is active file cache (files read twice): reclaim deactivates and drops it as well */
        x.current = 400 * MIB, x.active_file = 100 * MIB, x.file = 162 * MIB;
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 0);
        /* never under the allocator's floor */
        x.current = 300 * MIB, x.inactive_file = 0, x.active_file = 0, x.file = 40 * MIB,
        x.heap_held = 1 * MIB;
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 4 * MIB);
        s = supervise_free(s);
}

/* The allocator publishes its heap every 10 ms or so: a sample during a fast burst sees the cgroup
 * ahead of the heap figure, and that gap is not memory outside the heap. The least of the last 100 ms
 * and the sample before is taken (e2e/oom: ENOMEM at 47 MiB of 64M before, with 1 MiB really
 * outside); real growth outside the heap lowers the cap once it has lasted that long. A new process
 * starts afresh. */
TEST(heap_cap_auto_stale_heap_figures)
{
        Supervise *s = new_auto_cap();
        uint64_t wm = 0, cap;
        OomlessSample x = lim(64 * MIB);

        x.timestamp_usec = T0, x.current = 40 * MIB, x.heap_valid = true, x.heap_held = 39 * MIB;
        cap = supervise_heap_cap(s, &x, &wm);
        ASSERT_U64_EQ(cap, 64 * MIB - 1 * MIB - 4 * MIB);
        supervise_heap_cap_published(s, cap);
        /* 20 ms later: 12 MiB more charged, the heap figure not yet moved */
        x.timestamp_usec = T0 + 20 * USEC_PER_MSEC, x.current = 52 * MIB;
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 0);
        /* the burst's figure comes in: 1 MiB outside, as before */
        x.timestamp_usec = T0 + 40 * USEC_PER_MSEC, x.current = 56 * MIB, x.heap_held = 55 * MIB;
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 0);
        /* 12 MiB of tmpfs that stays: a tick later the window still has the 1 MiB, two ticks later
         * the cap makes room for it */
        x.current = 68 * MIB, x.heap_held = 55 * MIB;
        x.timestamp_usec = T0 + 140 * USEC_PER_MSEC;
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 0);
        x.timestamp_usec = T0 + 240 * USEC_PER_MSEC;
        cap = supervise_heap_cap(s, &x, &wm);
        ASSERT_U64_EQ(cap, 64 * MIB - 13 * MIB - 4 * MIB);
        supervise_heap_cap_published(s, cap);
        /* a sample long after a quiet spell still has the one before it */
        x.timestamp_usec = T0 + 5 * USEC_PER_SEC, x.current = 80 * MIB, x.heap_held = 55 * MIB;
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 0);
        /* a new process: nothing of the old one's figures is kept */
        supervise_heap_cap_reset(s);
        x.timestamp_usec = T0 + 6 * USEC_PER_SEC, x.current = 10 * MIB, x.heap_held = 9 * MIB;
        ASSERT_U64_EQ(supervise_heap_cap(s, &x, &wm), 64 * MIB - 1 * MIB - 4 * MIB);
        s = supervise_free(s);
}

/* The budget controller fed by supervise_tick(): a shed decision carries the budget, the climb's steps
 * come back as budget_step once the stage is left (one per recover_every), pressure during the climb
 * sheds lower, the weight follows its action and its undo, a restart puts everything back. */
TEST(budget_shed_climb_reentry_reset)
{
        _cleanup_(supervise_freep) Supervise *s = new_supervise(
            "{\"version\": 1, \"sampling_interval\": \"100ms\", \"restart\": {\"mode\": \"always\"},"
            " \"stages\": [{\"name\": \"shed\", \"ready\": false,"
            " \"enter\": {\"all\": [{\"memory\": \">= 32M\"}]}, \"exit\": {\"all\": [{\"memory\": \"< "
            "16M\"}]},"
            " \"on_enter\": [{\"action\": \"shed\", \"to\": \"40%\", \"recover_every\": \"1s\"},"
            " {\"action\": \"weight\", \"to\": \"low\"}]}]}",
            false, true);
        OomlessSample hi = mem(40 * MIB), lo = mem(8 * MIB);
        uint64_t now = T0;
        unsigned steps = 0;
        SuperviseDecisions d;
        StatusInfo info = { 0 };

        d = tick_until_stage(s, hi, &now, 1);
        ASSERT_EQ(d.ds.n, 2);
        ASSERT_EQ(d.ds.items[0].budget_permille, 400);
        ASSERT_EQ(supervise_weight(s), POLICY_WEIGHT_LOW);
        supervise_status(s, now, &info);
        ASSERT_TRUE(!info.ready && info.budget_valid && info.budget_permille == 400);
        ASSERT_STREQ(info.budget_phase, "shed");

        d = tick_until_stage(s, lo, &now, 0);
        ASSERT_EQ(supervise_weight(s), POLICY_WEIGHT_NORMAL);
        /* 2.5s below the exit threshold: two steps (55%, 70%) */
        for (uint64_t end = now + 2500 * USEC_PER_MSEC; now < end; now += 100 * USEC_PER_MSEC) {
                ASSERT_TRUE(supervise_tick(s, &lo, true, now, &d));
                if (d.budget_step)
                        steps++;
        }
        ASSERT_EQ(steps, 2);
        ASSERT_TRUE(!d.budget_step); /* the last tick took no step */
        ASSERT_EQ(supervise_budget(s)->budget, 700);

        /* pressure again at 70%: shed lower, remember what failed */
        d = tick_until_stage(s, hi, &now, 1);
        ASSERT_EQ(d.ds.items[0].budget_permille, 300);
        ASSERT_EQ(supervise_budget(s)->failed, 700);
        ASSERT_EQ(supervise_budget(s)->ceiling, 550);

        /* a restart: full budget, published as a step */
        OomlessSample last = lo;
        uint64_t delay = 0;
        ASSERT_EQ(supervise_child_exited(s, 1, false, T0, &last, now, &delay, &d), SUPERVISE_RESTART);
        ASSERT_TRUE(d.budget_step && d.budget_permille == 1000);
        ASSERT_EQ(supervise_budget(s)->phase, POLICY_BUDGET_NORMAL);
        ASSERT_EQ(supervise_weight(s), POLICY_WEIGHT_NORMAL);
}

/* A shed policy with the shed at stage `level` (1 or 2) shedding to `to`; none when level is 0. */
static const char *shed_policy(unsigned level, const char *to)
{
        static char buf[1024];
        char shed[160] = "";

        if (level > 0)
                snprintf(shed, sizeof(shed),
                         "{\"action\": \"shed\", \"to\": \"%s\", \"recover_every\": \"2s\"}", to);
        snprintf(buf, sizeof(buf),
                 "{\"version\": 1, \"sampling_interval\": \"100ms\", \"stages\": ["
                 "{\"name\": \"a\", \"enter\": {\"all\": [{\"memory\": \">= 32M\"}]},"
                 " \"exit\": {\"all\": [{\"memory\": \"< 16M\"}]}, \"on_enter\": [%s]},"
                 "{\"name\": \"b\", \"enter\": {\"all\": [{\"memory\": \">= 200M\"}]},"
                 " \"exit\": {\"all\": [{\"memory\": \"< 100M\"}]}, \"on_enter\": [%s]}]}",
                 level == 1 ? shed : "{\"action\": \"notify\"}",
                 level == 2 ? shed : "{\"action\": \"notify\"}");
        return buf;
}

/* A reload during a shed (review finding): the episode goes on where the new policy still sheds at
 * that stage (at its pace and floor, from the budget in force), and ends, with the full budget to
 * publish, where it does not. */
TEST(reload_budget)
{
        _cleanup_(supervise_freep) Supervise *s = new_supervise(shed_policy(1, "40%"), false, true);
        OomlessSample hi = mem(40 * MIB);
        uint64_t now = T0;
        SuperviseDecisions d;

        d = tick_until_stage(s, hi, &now, 1);
        ASSERT_EQ(d.ds.items[0].budget_permille, 400);

        /* Still shedding at stage 1, now to 30% every 2s: the budget in force stays. */
        write_policy(shed_policy(1, "30%"));
        ASSERT_OK(supervise_reload(s, now, &d));
        ASSERT_TRUE(!d.budget_step);
        ASSERT_EQ(supervise_budget(s)->budget, 400);
        ASSERT_EQ(supervise_budget(s)->phase, POLICY_BUDGET_SHED);
        ASSERT_EQ(supervise_budget(s)->floor, 300);
        ASSERT_EQ(supervise_budget(s)->every_usec, 2 * USEC_PER_SEC);

        /* The shed moved to stage 2: nothing climbs back from stage 1's, the budget is full again. */
        write_policy(shed_policy(2, "40%"));
        ASSERT_OK(supervise_reload(s, now, &d));
        ASSERT_TRUE(d.budget_step && d.budget_permille == 1000);
        ASSERT_EQ(supervise_budget(s)->phase, POLICY_BUDGET_NORMAL);
        ASSERT_TRUE(supervise_tick(s, &hi, true, now += 100 * USEC_PER_MSEC, &d));
        ASSERT_TRUE(!d.budget_step && d.ds.n == 0);

        /* A policy without any shed, and a reload with nothing shed: nothing to publish. */
        write_policy(shed_policy(0, NULL));
        ASSERT_OK(supervise_reload(s, now, &d));
        ASSERT_TRUE(!d.budget_step);
        ASSERT_EQ(supervise_budget(s)->budget, 1000);
}

int main(int argc, char **argv)
{
        int fd = mkstemp(policy_path), r;
        if (fd < 0)
                TEST_FAIL("mkstemp failed");
        close(fd);
        r = test_main(argc, argv);
        unlink(policy_path);
        return r;
}

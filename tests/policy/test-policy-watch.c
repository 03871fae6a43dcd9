/* SPDX-License-Identifier: MIT */
/* The clock side of the stage machine and what the loop watches between samples: hold deadlines (a
 * "for" decided at its end whatever the sampling interval), the memory levels published as wake
 * thresholds, and the adaptive interval. Limits are 1000 bytes so that "memory = 700" reads as 70%. */
#define _GNU_SOURCE
#include "policy-test.h"

static Policy *load(const char *json_sq)
{
        return policy_test_load(json_sq, "watch");
}

static OomlessSample mem(uint64_t current)
{
        return (OomlessSample){ .current = current, .limit = 1000, .high = OOMLESS_NO_LIMIT };
}

#define HELD                                                                                                \
        "{'version':1,'sampling_interval':'100ms','stages':["                                               \
        "{'name':'warn','enter':{'all':[{'memory':'>= 50%'}],'for':'300ms'},"                               \
        " 'exit':{'all':[{'memory':'< 40%'}],'for':'1s'},'on_enter':[{'action':'notify'}]},"                \
        "{'name':'hard','enter':{'any':[{'memory':'> 80%'},{'headroom':'<= 100B'}]},"                       \
        " 'exit':{'all':[{'memory':'<= 70%'}]},'on_enter':[{'action':'notify'}]}]}"

/* The loop as manager.c runs it: evaluate at each tick and at each deadline the state names, whichever
 * comes first. Memory jumps to 60% at 1234 ms; returns when stage 1 was entered. */
static uint64_t entered_at(uint64_t interval_ms)
{
        Policy *p = load(HELD);
        PolicyState *s = policy_state_new(p, 0);
        uint64_t t = 0, next_tick = 0, entered = UINT64_MAX;

        ASSERT_TRUE(s);
        while (t <= 20000 * MS && entered == UINT64_MAX) {
                OomlessSample x = mem(t >= 1234 * MS ? 600 : 100);
                PolicyTransition tr;
                policy_evaluate(p, s, &x, t, NULL, &tr);
                if (tr.changed && tr.to == 1)
                        entered = t;
                if (t >= next_tick)
                        next_tick = t + interval_ms * MS;
                uint64_t dl = policy_state_next_deadline(p, s, t);
                /* The crossing itself arrives as an event (the allocator, a kernel threshold). */
                uint64_t ev = t < 1234 * MS ? 1234 * MS : UINT64_MAX;
                t = MIN(MIN(next_tick, dl), ev);
        }
        policy_state_free(s);
        policy_free(p);
        return entered;
}

/* "for 300ms" ends 300 ms after the crossing, whether the tick is 10 ms, 100 ms or 5 s. */
TEST(hold_decided_at_its_end_not_at_the_tick)
{
        ASSERT_U64_EQ(entered_at(10), 1534 * MS);
        ASSERT_U64_EQ(entered_at(100), 1534 * MS);
        ASSERT_U64_EQ(entered_at(5000), 1534 * MS);
}

TEST(deadlines)
{
        Policy *p = load(HELD);
        PolicyState *s = policy_state_new(p, 0);
        OomlessSample lo = mem(100), hi = mem(600);

        policy_evaluate(p, s, &lo, 0, NULL, NULL);
        ASSERT_U64_EQ(policy_state_next_deadline(p, s, 0), UINT64_MAX); /* nothing running */
        policy_evaluate(p, s, &hi, 50 * MS, NULL, NULL);
        ASSERT_U64_EQ(policy_state_next_deadline(p, s, 50 * MS), 350 * MS);
        ASSERT_U64_EQ(policy_state_next_deadline(p, s, 200 * MS), 350 * MS);
        policy_evaluate(p, s, &lo, 100 * MS, NULL, NULL); /* the condition broke: the hold is gone */
        ASSERT_U64_EQ(policy_state_next_deadline(p, s, 100 * MS), UINT64_MAX);
        policy_evaluate(p, s, &hi, 200 * MS, NULL, NULL);
        policy_evaluate(p, s, &hi, 500 * MS, NULL, NULL);
        ASSERT_EQ(policy_state_stage(s), 1);
        policy_evaluate(p, s, &lo, 600 * MS, NULL, NULL); /* exit "for 1s" runs from here */
        ASSERT_U64_EQ(policy_state_next_deadline(p, s, 600 * MS), 1600 * MS);
        policy_state_free(s);
        policy_free(p);
}

TEST(watched_levels)
{
        Policy *p = load(HELD);
        OomlessSample x = mem(100);
        PolicyWatch w;

        policy_watch(p, 0, &x, &w); /* >= 50%, > 80%, headroom <= 100 (current >= 900) */
        ASSERT_U64_EQ(w.above, 500);
        ASSERT_U64_EQ(w.below, 0);
        policy_watch(p, 1, &x, &w); /* stage 1 exits under 40%; stage 2 enters over 80% */
        ASSERT_U64_EQ(w.above, 801);
        ASSERT_U64_EQ(w.below, 400);
        policy_watch(p, 2, &x, &w); /* top stage: nothing above; exits at <= 70% */
        ASSERT_U64_EQ(w.above, UINT64_MAX);
        ASSERT_U64_EQ(w.below, 701);
        x.limit = OOMLESS_NO_LIMIT; /* percentages of an unknown limit watch nothing */
        policy_watch(p, 0, &x, &w);
        ASSERT_U64_EQ(w.above, UINT64_MAX);
        ASSERT_U64_EQ(w.guard, UINT64_MAX); /* ... and can never be true */
        policy_free(p);
}

/* The guard: the usage every enter condition above needs. */
TEST(guard)
{
        Policy *p = load(HELD);
        Policy *q = load("{'version':1,'stages':[{'name':'a','enter':{'any':[{'memory':'>= 70%'},"
                         "{'all':[{'psi.full.avg10':'>= 20%'},{'memory':'>= 50%'}]}]},"
                         "'exit':{'all':[{'memory':'< 40%'}]}},"
                         "{'name':'b','enter':{'any':[{'memory':'>= 90%'},{'psi.some.avg10':'>= 50%'}]},"
                         "'exit':{'all':[{'memory':'< 40%'}]}}]}");
        OomlessSample x = mem(100);
        PolicyWatch w;

        policy_watch(p, 0, &x, &w); /* >= 50% or > 80% or headroom <= 100B: 500 */
        ASSERT_U64_EQ(w.guard, 500);
        policy_watch(p, 1, &x, &w); /* stage 2 alone: > 80% or current >= 900 */
        ASSERT_U64_EQ(w.guard, 801);
        policy_watch(q, 1, &x, &w); /* PSI alone can enter b */
        ASSERT_U64_EQ(w.guard, 0);
        policy_watch(q, 2, &x, &w); /* nothing above */
        ASSERT_U64_EQ(w.guard, UINT64_MAX);
        policy_free(q);
        policy_free(p);
}

/* The working set is never more than current: its upward levels are watched on current (and make
 * the guard), its downward ones are not (cache may hold current above them). The built-in policy,
 * which decides on the working set only, so has a guard and lets an idle supervisor idle. */
TEST(working_set_levels)
{
        Policy *p = load("{'version':1,'stages':[{'name':'a','enter':{'all':[{'working_set':'>= 60%'}]},"
                         "'exit':{'all':[{'working_set':'< 30%'}]}}]}");
        Policy *d = policy_default();
        OomlessSample x = mem(100);
        PolicyWatch w;

        policy_watch(p, 0, &x, &w);
        ASSERT_U64_EQ(w.above, 600);
        ASSERT_U64_EQ(w.guard, 600);
        policy_watch(p, 1, &x, &w);
        ASSERT_U64_EQ(w.below, 0);
        ASSERT_TRUE(d);
        policy_watch(d, 0, &x, &w); /* warn: >= 80%, or PSI with >= 50% */
        ASSERT_U64_EQ(w.guard, 500);
        ASSERT_U64_EQ(w.above, 500);
        policy_free(d);
        policy_free(p);
}

TEST(adaptive_interval)
{
        uint64_t floor = 5 * MS, max = 1000 * MS;

        /* Far and idle: the policy's interval. */
        ASSERT_U64_EQ(policy_adaptive_interval(UINT64_C(4) << 30, 0, floor, max), max);
        /* 128 MiB at the assumed 256 MiB/s: a quarter second. */
        ASSERT_U64_EQ(policy_adaptive_interval(UINT64_C(128) << 20, 0, floor, max), 250 * MS);
        /* Growing at 1 GiB/s: assumed 4 GiB/s, 128 MiB lasts 31 ms, sampled every 15 ms. */
        ASSERT_U64_EQ(policy_adaptive_interval(UINT64_C(128) << 20, UINT64_C(1) << 30, floor, max), 15625);
        /* Faster than the worst case counts as the worst case. */
        ASSERT_U64_EQ(policy_adaptive_interval(UINT64_C(6000000000), UINT64_C(100) << 30, floor, max),
                      500 * MS);
        /* Nearly there: the floor. */
        ASSERT_U64_EQ(policy_adaptive_interval(4096, UINT64_C(1) << 30, floor, max), floor);
        ASSERT_U64_EQ(policy_adaptive_interval(0, 0, floor, max), floor);
        /* Monotonic in headroom. */
        for (uint64_t h = 1 << 20, prev = 0; h < (UINT64_C(1) << 34); h *= 2) {
                uint64_t i = policy_adaptive_interval(h, UINT64_C(200) << 20, floor, max);
                ASSERT_TRUE(i >= prev);
                prev = i;
        }
}

TEST_MAIN()

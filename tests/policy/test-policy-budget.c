/* SPDX-License-Identifier: MIT */
/* The budget controller (policy/policy-budget.c) under a fake clock: the climb back in steps, a climb
 * that waits while the exit condition does not hold, the drop on re-entry (lower floor, smaller step,
 * ceiling below the level that failed), convergence against a workload that only fits below a
 * threshold; and the shed and weight actions through the parser and the stage machine. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "test.h"

#define SEC 1000000ULL

static const PolicyAction shed40 = {
        .kind = POLICY_ACTION_SHED,
        .shed_permille = 400,
        .step_permille = 150,
        .recover_every_usec = 5 * SEC,
};

/* Ticks every second from *t to end at level with exit_holds; returns the budget steps taken. */
static unsigned run(PolicyBudget *b, uint64_t *t, uint64_t end, unsigned level, bool exit_holds)
{
        unsigned steps = 0;
        for (; *t < end; *t += SEC)
                steps += policy_budget_tick(b, level, exit_holds, *t);
        return steps;
}

/* A budget that shed40 has just shed, at time 0. */
static PolicyBudget shed_at_zero(void)
{
        PolicyBudget b;
        policy_budget_init(&b);
        ASSERT_EQ(policy_budget_shed(&b, &shed40, 1, 0), 400);
        return b;
}

TEST(climb_in_steps_to_full)
{
        PolicyBudget b;
        uint64_t t = 0;

        policy_budget_init(&b);
        ASSERT_EQ(b.budget, 1000);
        ASSERT_EQ(policy_budget_shed(&b, &shed40, 1, t), 400);
        ASSERT_EQ(b.phase, POLICY_BUDGET_SHED);
        /* still in the stage: no step however long */
        ASSERT_EQ(run(&b, &t, 30 * SEC, 1, true), 0);
        ASSERT_EQ(b.budget, 400);
        /* left after the sample at 29s: one step per 5s while the exit condition holds */
        ASSERT_EQ(run(&b, &t, 34 * SEC, 0, true), 0);
        ASSERT_EQ(b.phase, POLICY_BUDGET_CLIMB);
        ASSERT_EQ(run(&b, &t, 35 * SEC, 0, true), 1);
        ASSERT_EQ(b.budget, 550);
        ASSERT_EQ(run(&b, &t, 40 * SEC, 0, true), 1);
        ASSERT_EQ(b.budget, 700);
        ASSERT_EQ(run(&b, &t, 50 * SEC, 0, true), 2);
        ASSERT_EQ(b.budget, 1000);
        ASSERT_EQ(b.phase, POLICY_BUDGET_NORMAL);
        ASSERT_EQ(b.failed, 0);
        ASSERT_EQ(b.steps, 4);
        /* the episode is over: a new shed starts from the action's own figures */
        ASSERT_EQ(policy_budget_shed(&b, &shed40, 1, t), 400);
        ASSERT_EQ(b.step, 150);
        ASSERT_EQ(b.ceiling, 1000);
}

TEST(climb_waits_while_exit_does_not_hold)
{
        PolicyBudget b = shed_at_zero();
        uint64_t t = 0;

        ASSERT_EQ(run(&b, &t, 20 * SEC, 0, false), 0);
        ASSERT_EQ(b.budget, 400);
        /* the exit condition holds again (last false at 19s): a whole recover_every before the step */
        ASSERT_EQ(run(&b, &t, 24 * SEC, 0, true), 0);
        ASSERT_EQ(run(&b, &t, 26 * SEC, 0, true), 1);
        ASSERT_EQ(b.budget, 550);
        /* a blip of the condition restarts the wait */
        ASSERT_EQ(run(&b, &t, 29 * SEC, 0, true), 0);
        ASSERT_EQ(run(&b, &t, 30 * SEC, 0, false), 0);
        ASSERT_EQ(run(&b, &t, 34 * SEC, 0, true), 0);
        ASSERT_EQ(run(&b, &t, 35 * SEC, 0, true), 1);
        ASSERT_EQ(b.budget, 700);
}

TEST(reentry_drops_lower_climbs_slower_stops_below_failure)
{
        PolicyBudget b = shed_at_zero();
        uint64_t t = 0;

        run(&b, &t, 11 * SEC, 0, true); /* 550 at 5s, 700 at 10s */
        ASSERT_EQ(b.budget, 700);
        /* pressure is back at 70%: 55% held, 70% failed */
        ASSERT_EQ(policy_budget_shed(&b, &shed40, 1, t), 300);
        ASSERT_EQ(b.failed, 700);
        ASSERT_EQ(b.floor, 300);
        ASSERT_EQ(b.step, 75);
        ASSERT_EQ(b.ceiling, 550);
        ASSERT_EQ(b.reentries, 1);
        /* 375, 450, 525, then 550 (the ceiling) where it settles */
        ASSERT_EQ(run(&b, &t, t + 25 * SEC, 0, true), 4);
        ASSERT_EQ(b.budget, 550);
        ASSERT_EQ(b.phase, POLICY_BUDGET_SETTLED);
        ASSERT_EQ(run(&b, &t, t + 60 * SEC, 0, true), 0);
        ASSERT_EQ(b.budget, 550);
        /* failing right at the floor lowers the floor, and the ceiling with it */
        policy_budget_shed(&b, &shed40, 1, t);
        ASSERT_EQ(b.floor, 225);
        ASSERT_EQ(b.ceiling, 475);
        ASSERT_EQ(policy_budget_shed(&b, &shed40, 1, t), 168);
        ASSERT_EQ(b.ceiling, 168);
        /* nothing above the floor held: it settles there without a step */
        ASSERT_EQ(run(&b, &t, t + 10 * SEC, 0, true), 0);
        ASSERT_EQ(b.phase, POLICY_BUDGET_SETTLED);
        for (int i = 0; i < 20; i++)
                policy_budget_shed(&b, &shed40, 1, t);
        ASSERT_EQ(b.floor, POLICY_BUDGET_FLOOR_MIN);
        ASSERT_EQ(b.step, POLICY_BUDGET_STEP_MIN);
}

/* A workload that only fits below 62%: above it, pressure returns 3s later and the stage is entered
 * again; the stage is left 2s after a shed. The budget must settle below 62% after a few re-entries,
 * and stay there. */
TEST(converges_below_the_level_that_fits)
{
        PolicyBudget b = shed_at_zero();
        unsigned level = 1, sheds_late = 0;
        uint64_t over_since = 0, shed_at = 0;

        for (uint64_t t = SEC; t < 600 * SEC; t += SEC / 4) {
                if (level == 1 && t - shed_at >= 2 * SEC)
                        level = 0;
                if (b.budget > 620) {
                        if (!over_since)
                                over_since = t;
                } else
                        over_since = 0;
                if (level == 0 && over_since && t - over_since >= 3 * SEC) {
                        level = 1;
                        shed_at = t;
                        over_since = 0;
                        policy_budget_shed(&b, &shed40, 1, t);
                        sheds_late += t > 300 * SEC;
                        continue;
                }
                policy_budget_tick(&b, level, level == 0, t);
        }
        printf("settled at %u permille after %u sheds (%u re-entries), last failed %u\n", b.budget, b.sheds,
               b.reentries, b.failed);
        ASSERT_EQ(sheds_late, 0);
        ASSERT_EQ(b.phase, POLICY_BUDGET_SETTLED);
        ASSERT_TRUE(b.budget <= 620 && b.budget >= 500);
        ASSERT_TRUE(b.reentries <= 3);
}

static Policy *parse(const char *json)
{
        PolicyDiags d = { 0 };
        Policy *p = NULL;

        if (policy_parse(json, strlen(json), "budget", &p, &d) < 0) {
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "%s\n", policy_diag_format(&d.items[i], "budget"));
                TEST_FAIL("policy does not parse");
        }
        return p;
}

static bool rejects(const char *json, const char *needle)
{
        PolicyDiags d = { 0 };
        Policy *p = NULL;
        bool found = false;

        if (policy_parse(json, strlen(json), "bad", &p, &d) == 0) {
                policy_free(p);
                return false;
        }
        for (size_t i = 0; i < d.n; i++)
                found |= strstr(d.items[i].message, needle) != NULL;
        policy_diags_done(&d);
        return found;
}

#define STAGE(ACTIONS)                                                                                      \
        "{\"version\": 1, \"stages\": [{\"enter\": {\"all\": [{\"memory\": \">= 75%\"}]}, \"exit\": "       \
        "{\"all\": [{\"memory\": \"< 60%\"}]}, \"ready\": false, \"on_enter\": [" ACTIONS "]}]}"

TEST(shed_and_weight_parse_and_undo)
{
        Policy *p =
            parse(STAGE("{\"action\": \"shed\", \"to\": \"42.5%\"}, {\"action\": \"weight\", \"to\": "
                        "\"low\"}, {\"action\": \"weight\", \"to\": 55}"));
        OomlessSample x = { .limit = 1000, .current = 800 };
        PolicyDecisions ds;
        PolicyTransition tr;
        PolicyState *s = policy_state_new(p, 0);
        char *json = NULL;

        policy_evaluate(p, s, &x, 1000, &ds, &tr);
        ASSERT_EQ(ds.n, 3);
        ASSERT_EQ(ds.items[0].action->kind, POLICY_ACTION_SHED);
        ASSERT_EQ(ds.items[0].action->shed_permille, 425);
        ASSERT_EQ(ds.items[0].action->step_permille, 150);
        ASSERT_U64_EQ(ds.items[0].action->recover_every_usec, 5 * SEC);
        ASSERT_EQ(ds.items[1].action->weight, POLICY_WEIGHT_LOW);
        ASSERT_EQ(ds.items[2].action->weight, 55);
        ASSERT_TRUE(!policy_stage_ready(p, 1));
        ASSERT_TRUE(!policy_state_exit_holds(s, 1));
        /* leaving: both weights are undone (back to normal), the shed is not (the climb is) */
        x.current = 500;
        policy_evaluate(p, s, &x, 2000, &ds, &tr);
        ASSERT_TRUE(tr.changed && tr.to == 0);
        ASSERT_EQ(ds.n, 2);
        ASSERT_TRUE(ds.items[0].undo && ds.items[0].action->kind == POLICY_ACTION_WEIGHT);
        ASSERT_TRUE(policy_state_exit_holds(s, 1));
        ASSERT_OK(policy_to_json(p, &json));
        ASSERT_TRUE(strstr(json, "\"to\": \"42.5%\"") && strstr(json, "\"recover_every\": \"5s\""));
        ASSERT_TRUE(strstr(json, "\"action\": \"weight\", \"to\": 10"));
        free(json);
        policy_state_free(s);
        policy_free(p);

        ASSERT_TRUE(rejects(STAGE("{\"action\": \"shed\"}"), "needs \"to\""));
        ASSERT_TRUE(rejects(STAGE("{\"action\": \"shed\", \"to\": \"64M\"}"), "percent"));
        ASSERT_TRUE(rejects(STAGE("{\"action\": \"weight\", \"to\": 101}"), ""));
        ASSERT_TRUE(rejects(STAGE("{\"action\": \"weight\", \"to\": \"heavy\"}"), "invalid weight"));
        ASSERT_TRUE(
            rejects(STAGE("{\"action\": \"shed\", \"to\": \"40%\", \"recover_every\": \"10ms\"}"), ""));
}

TEST_MAIN()

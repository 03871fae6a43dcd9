/* SPDX-License-Identifier: MIT */
/*
 * The budget controller: what the capacity budget on the control page is, given the shed actions that
 * ran, the level, whether the shedding stage's exit condition holds, and the time. Pure: the caller
 * passes everything in (daemon/supervise.c on every tick, tests with a fake clock).
 *
 * The rule, as congestion control does it (additive increase, multiplicative decrease):
 *   - a shed sets the budget to its floor (the action's "to");
 *   - once the shedding stage was left, the budget climbs by "step" every "recover_every", each step
 *     taken only after the exit condition held for a whole "recover_every"; a climb that reaches 100%
 *     ends the episode;
 *   - when the stage is entered again during the climb, the level in force has failed: the climb's
 *     ceiling becomes the last level that held (one step below), the floor drops to 3/4 and the step
 *     halves, so the next climb starts lower, goes slower and stops below the level that failed. The
 *     budget settles at the highest level that fits.
 */
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "policy.h"

/* clang-format off */
DEFINE_STRING_TABLE_TO_STRING(policy_budget_phase, PolicyBudgetPhase, _POLICY_BUDGET_PHASE_MAX,
                              [POLICY_BUDGET_NORMAL] = "normal",
                              [POLICY_BUDGET_SHED] = "shed",
                              [POLICY_BUDGET_CLIMB] = "climb",
                              [POLICY_BUDGET_SETTLED] = "settled")
/* clang-format on */

void policy_budget_init(PolicyBudget *b)
{
        *b = (PolicyBudget){ .phase = POLICY_BUDGET_NORMAL,
                             .budget = POLICY_BUDGET_FULL,
                             .ceiling = POLICY_BUDGET_FULL };
}

uint32_t policy_budget_shed(PolicyBudget *b, const PolicyAction *a, unsigned stage, uint64_t now_usec)
{
        if (b->phase == POLICY_BUDGET_NORMAL) {
                /* A new episode starts from the action's own figures. */
                b->floor = MIN(a->shed_permille, POLICY_BUDGET_FULL);
                b->step = MAX(a->step_permille, POLICY_BUDGET_STEP_MIN);
                b->ceiling = POLICY_BUDGET_FULL;
                b->failed = 0;
        } else {
                /* Pressure came back at the level in force: it failed, the one below it held. */
                uint32_t held = b->budget > b->floor ? b->budget - MIN(b->step, b->budget - b->floor) : 0;

                b->failed = b->budget;
                b->reentries++;
                b->floor = MAX(b->floor / 4 * 3, MIN(b->floor, POLICY_BUDGET_FLOOR_MIN));
                b->step = MAX(b->step / 2, POLICY_BUDGET_STEP_MIN);
                b->ceiling = MAX(MIN(held, b->ceiling), b->floor);
        }
        b->stage = stage;
        b->every_usec = a->recover_every_usec;
        b->budget = b->floor;
        b->phase = POLICY_BUDGET_SHED;
        b->next_step_usec = now_usec + b->every_usec;
        b->sheds++;
        return b->budget;
}

bool policy_budget_tick(PolicyBudget *b, unsigned level, bool exit_holds, uint64_t now_usec)
{
        if (b->phase == POLICY_BUDGET_NORMAL || b->phase == POLICY_BUDGET_SETTLED)
                return false;
        if (level >= b->stage || !exit_holds) {
                /* Still shedding, or the exit condition does not hold: the next step needs a whole
                 * recover_every of it from now on. */
                if (level >= b->stage)
                        b->phase = POLICY_BUDGET_SHED;
                else
                        b->phase = POLICY_BUDGET_CLIMB;
                b->next_step_usec = now_usec + b->every_usec;
                return false;
        }
        b->phase = POLICY_BUDGET_CLIMB;
        if (now_usec < b->next_step_usec)
                return false;
        if (b->budget >= b->ceiling) {
                b->phase = POLICY_BUDGET_SETTLED;
                return false;
        }
        b->budget = MIN(b->budget + b->step, b->ceiling);
        b->steps++;
        b->next_step_usec = now_usec + b->every_usec;
        if (b->budget >= POLICY_BUDGET_FULL) {
                b->budget = POLICY_BUDGET_FULL;
                b->phase = POLICY_BUDGET_NORMAL;
                b->stage = 0;
        } else if (b->budget >= b->ceiling)
                b->phase = POLICY_BUDGET_SETTLED;
        return true;
}

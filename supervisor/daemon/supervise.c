/* SPDX-License-Identifier: MIT */
/* Supervision: loads the policy, evaluates it on each sample, logs stage transitions, counts kernel
 * OOM kills, decides restarts, reloads on SIGHUP and works out the heap cap to publish. Explicit
 * inputs and outputs only; the loop (manager.c) runs what is decided here. */
#define _GNU_SOURCE 1
#include "supervise.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "oomless/control.h"
#include "policy-file.h"

struct Supervise {
        SuperviseConfig cfg;
        Policy *policy;
        PolicyState *state;
        PolicyRestartState restart;
        bool dry_run;
        bool restart_requested; /* the running stop is a restart action's */
        uint64_t oom_kill_seen; /* events counter at the last tick, to count kills of non-main processes */
        bool oom_kill_seen_valid;
        uint64_t published_cap; /* last cap published, 0 = none yet */
        /* What the cgroup held outside the heap, by sample, for the live cap (outside_estimate()). */
        struct {
                uint64_t usec, bytes;
        } outside[SUPERVISE_OUTSIDE_SLOTS];
        unsigned outside_next;

        /* For the metrics: the level as last seen, since when, the time spent at each level. */
        unsigned level;
        uint64_t level_since_usec;
        uint64_t level_usec[POLICY_STAGES_MAX + 1];
        uint64_t transitions;
        uint64_t oom_kills;

        /* The budget the shed actions set and its climb back (policy-budget.c); the weight. */
        PolicyBudget budget;
        uint32_t weight;
};

/* Books the time at the old level and moves to the new one. */
static void account_level(Supervise *s, unsigned level, uint64_t now_usec)
{
        if (level == s->level)
                return;
        if (s->level <= POLICY_STAGES_MAX)
                s->level_usec[s->level] += now_usec - MIN(now_usec, s->level_since_usec);
        s->level = level;
        s->level_since_usec = now_usec;
}

static void note_transition(Supervise *s, const PolicyTransition *t, uint64_t now_usec)
{
        s->transitions++;
        account_level(s, t->to, now_usec);
}

/* Loads FILE or the built-in policy; a bad file prints every diagnostic and fails. */
static int load(const char *path, Policy **ret)
{
        PolicyDiags diags = { 0 };
        int r;

        if (!path) {
                *ret = policy_default();
                return *ret ? 0 : log_error_errno(-ENOMEM, "Out of memory");
        }
        r = policy_load_file(path, ret, &diags);
        if (r == -EINVAL) {
                policy_diags_print(stderr, path, &diags);
                fflush(stderr);
        }
        policy_diags_done(&diags);
        return r;
}

int supervise_new(const SuperviseConfig *cfg, uint64_t now_usec, Supervise **ret)
{
        _cleanup_(supervise_freep) Supervise *s = calloc(1, sizeof(*s));
        const char *path = cfg->policy_path;
        int r;

        if (!s)
                return log_error_errno(-ENOMEM, "Out of memory");
        s->cfg = *cfg;
        r = load(path, &s->policy);
        if (r == -EINVAL)
                return log_error_errno(r,
                                       "The policy %s is invalid (see above); the workload was not started. "
                                       "Fix it and check it with `oomless check %s`.",
                                       path, path);
        if (r < 0)
                return log_error_errno(r, "Cannot load the policy %s: %m", path ?: "(built-in)");
        s->dry_run = cfg->dry_run || policy_dry_run(s->policy);
        s->state = policy_state_new(s->policy, now_usec);
        if (!s->state)
                return log_error_errno(-ENOMEM, "Out of memory");
        s->level_since_usec = now_usec;
        policy_budget_init(&s->budget);
        s->weight = POLICY_WEIGHT_NORMAL;
        log_info("Policy \"%s\" from %s: %u stages, sampling every %" PRIu64 "ms%s.", policy_name(s->policy),
                 policy_source(s->policy), policy_stage_count(s->policy),
                 policy_sampling_interval_usec(s->policy) / USEC_PER_MSEC, s->dry_run ? ", dry run" : "");
        *ret = TAKE_PTR(s);
        return 0;
}

Supervise *supervise_free(Supervise *s)
{
        if (!s)
                return NULL;
        policy_state_free(s->state);
        policy_free(s->policy);
        free(s);
        return NULL;
}

const Policy *supervise_policy(const Supervise *s)
{
        return s->policy;
}

bool supervise_dry_run(const Supervise *s)
{
        return s->dry_run;
}

uint64_t supervise_interval(const Supervise *s)
{
        return policy_sampling_interval_usec(s->policy);
}

size_t supervise_psi_triggers(const Supervise *s, const char **ret, size_t max)
{
        size_t n = MIN(policy_psi_trigger_count(s->policy), max);

        for (size_t i = 0; i < n; i++)
                ret[i] = policy_psi_trigger(s->policy, i)->arm;
        return n;
}

/* The least "outside the heap" of the samples in the last SUPERVISE_OUTSIDE_WINDOW_USEC and the one
 * before this, this one included. Each sample's figure is an upper bound while the heap grows: the
 * allocator publishes its heap only every 10 ms or so, and at 1 GB/s a figure that old is 10 MB
 * short, which a single sample would take for memory outside the heap and cut the cap by (e2e/oom
 * saw ENOMEM at 47 MiB of a 64M limit, with 1 MiB outside). The window is a few publish periods, not
 * more: a figure too low (a heap that just shrank, or was mapped and not yet touched) lasts as long,
 * and so does real growth outside the heap before the cap makes room for it. Without heap figures the
 * whole of nonfile is the bound. */
static uint64_t outside_estimate(Supervise *s, const OomlessSample *x, uint64_t bytes)
{
        uint64_t now = x->timestamp_usec, best = bytes;
        unsigned prev = (s->outside_next + SUPERVISE_OUTSIDE_SLOTS - 1) % SUPERVISE_OUTSIDE_SLOTS;

        for (unsigned i = 0; i < SUPERVISE_OUTSIDE_SLOTS; i++)
                if (s->outside[i].usec && s->outside[i].usec <= now &&
                    (i == prev || now - s->outside[i].usec <= SUPERVISE_OUTSIDE_WINDOW_USEC))
                        best = MIN(best, s->outside[i].bytes);
        s->outside[s->outside_next] = (typeof(s->outside[0])){ .usec = now, .bytes = bytes };
        s->outside_next = (s->outside_next + 1) % SUPERVISE_OUTSIDE_SLOTS;
        return best;
}

void supervise_heap_cap_reset(Supervise *s)
{
        memset(s->outside, 0, sizeof(s->outside));
        s->outside_next = 0;
}

/* The published cap follows the effective limit, which a parent cgroup may change while we run. The
 * allocator is woken near the danger zone (85%) so the policy can act within a millisecond rather
 * than at the next tick. */
uint64_t supervise_heap_cap(Supervise *s, const OomlessSample *x, uint64_t *ret_watermark)
{
        uint64_t cap, limit = x->limit;

        if ((!s->cfg.heap_cap.set && !s->cfg.heap_cap_auto) || s->cfg.user_heap_cap)
                return 0;
        if (limit == 0 || limit == OOMLESS_NO_LIMIT)
                return 0;
        if (s->cfg.heap_cap_auto) {
                /* What the kernel would still give the heap: the limit less everything charged that
                 * is not the heap and that reclaim cannot drop, less a reserve for stacks, the
                 * allocator's metadata and the sampling lag. A fixed share would refuse memory the
                 * kernel would have given (a single malloc of 92% of the limit); counting active
                 * file cache would refuse it to a service that has read its files twice. */
                uint64_t nonfile = oomless_sample_nonfile(x);
                uint64_t outside =
                    outside_estimate(s, x, nonfile - (x->heap_valid ? MIN(x->heap_held, nonfile) : 0));
                uint64_t reserve = MAX(SUPERVISE_HEAP_RESERVE_MIN, limit / 64);
                uint64_t step = MAX(UINT64_C(1) << 20, limit / 256);

                cap = limit > outside + reserve ? limit - outside - reserve : 0;
                cap = MAX(cap, (uint64_t)OOMLESS_CONTROL_HEAP_CAP_MIN);
                if (s->published_cap != 0 &&
                    (cap > s->published_cap ? cap - s->published_cap : s->published_cap - cap) < step)
                        return 0;
                /* Wake us where a growing heap puts nonfile just past the built-in policy's last line
                 * (94%): sampled on the crossing, not up to a tick later, a leak of 100 MB/s
                 * is stopped several MiB below the cap. The 2M cover pages held but not touched yet. */
                uint64_t at = limit / 10000 * SUPERVISE_WAKE_PERMYRIAD + (UINT64_C(2) << 20);
                at = at > outside ? at - outside : 0;
                *ret_watermark = MIN(at, cap - cap / 64);
                return cap == s->published_cap ? 0 : cap;
        }
        cap = units_size_spec_resolve(&s->cfg.heap_cap, limit);
        if (cap == s->published_cap)
                return 0;
        *ret_watermark = limit / 100 * 85;
        return cap;
}

unsigned supervise_watch(const Supervise *s, const OomlessSample *sample, uint64_t now_usec,
                         PolicyWatch *ret, uint64_t *ret_deadline_usec)
{
        unsigned stage = policy_state_stage(s->state);

        policy_watch(s->policy, stage, sample, ret);
        *ret_deadline_usec = policy_state_next_deadline(s->policy, s->state, now_usec);
        return stage;
}

void supervise_heap_cap_published(Supervise *s, uint64_t cap)
{
        s->published_cap = cap;
}

static void log_transition(const Supervise *s, const PolicyTransition *t, const OomlessSample *sample)
{
        char cur[32], lim[32], ws[32], nf[32], shm[32];
        const char *cause = t->to > t->from ? policy_memory_cause(sample) : NULL;
        uint64_t working_set = oomless_sample_working_set(sample);
        double pct = sample->limit && sample->limit != OOMLESS_NO_LIMIT
                         ? 100.0 * (double)sample->current / (double)sample->limit
                         : 0;

        log_struct(
            LOG_LEVEL_NOTICE,
            LOG_FIELDS(LOG_STR("event", "stage"), LOG_U64("stage", t->to),
                       LOG_STR("stage_name", policy_stage_name(s->policy, t->to) ?: "?"),
                       LOG_U64("previous_stage", t->from),
                       LOG_STR("previous_stage_name", policy_stage_name(s->policy, t->from) ?: "?"),
                       LOG_STR("reason", policy_reason_to_string(t->reason)),
                       LOG_U64("memory_current", sample->current),
                       sample->limit != OOMLESS_NO_LIMIT ? LOG_U64("memory_limit", sample->limit)
                                                         : LOG_STR("memory_limit", NULL),
                       LOG_U64("working_set", working_set),
                       LOG_U64("nonfile", oomless_sample_nonfile(sample)), LOG_U64("shmem", sample->shmem),
                       LOG_STR("cause", cause),
                       sample->psi_valid ? LOG_DBL("psi_full_avg10", sample->psi_full.avg10)
                                         : LOG_STR("psi_full_avg10", NULL),
                       LOG_BOOL("dry_run", s->dry_run)),
            "stage %u -> %u (%s): %s; memory %s of %s (%.0f%%), working set %s, non-file %s, shmem %s, psi "
            "full avg10 %.2f%%%s%s%s",
            t->from, t->to, policy_stage_name(s->policy, t->to) ?: "?", policy_reason_to_string(t->reason),
            units_format_size(cur, sizeof(cur), sample->current),
            units_format_size(lim, sizeof(lim), sample->limit), pct,
            units_format_size(ws, sizeof(ws), working_set),
            units_format_size(nf, sizeof(nf), oomless_sample_nonfile(sample)),
            units_format_size(shm, sizeof(shm), sample->shmem), sample->psi_full.avg10,
            cause ? "; largest part of the working set: " : "", cause ?: "", s->dry_run ? " (dry run)" : "");
}

static void log_budget(const Supervise *s, const char *what)
{
        const PolicyBudget *b = &s->budget;
        char failed[16] = "none";

        if (b->failed)
                snprintf(failed, sizeof(failed), "%u.%u%%", b->failed / 10, b->failed % 10);

        log_struct(LOG_LEVEL_NOTICE,
                   LOG_FIELDS(LOG_STR("event", "budget"), LOG_STR("budget_event", what),
                              LOG_U64("budget_permille", b->budget),
                              LOG_STR("phase", policy_budget_phase_to_string(b->phase)),
                              LOG_U64("step_permille", b->step), LOG_U64("ceiling_permille", b->ceiling),
                              LOG_U64("failed_permille", b->failed), LOG_U64("steps", b->steps),
                              LOG_BOOL("dry_run", s->dry_run)),
                   "budget %s: %u.%u%% (%s; step %u.%u%%, ceiling %u.%u%%, last failed %s)%s", what,
                   b->budget / 10, b->budget % 10, policy_budget_phase_to_string(b->phase), b->step / 10,
                   b->step % 10, b->ceiling / 10, b->ceiling % 10, failed,
                   s->dry_run ? " (dry run: not published)" : "");
}

/* Feeds the budget controller: the shed and weight decisions of this evaluation, or else one tick of
 * the climb back. A shed decision carries the budget the controller decided; a climb step is returned
 * in ret for the runner to publish. */
static void budget_feed(Supervise *s, SuperviseDecisions *ret, uint64_t now_usec)
{
        bool shed = false;

        for (size_t i = 0; i < ret->ds.n; i++) {
                PolicyDecision *d = &ret->ds.items[i];

                if (d->action->kind == POLICY_ACTION_WEIGHT)
                        s->weight = d->undo ? POLICY_WEIGHT_NORMAL : d->action->weight;
                if (d->action->kind != POLICY_ACTION_SHED || d->when != POLICY_WHEN_ENTER)
                        continue;
                bool again = s->budget.phase != POLICY_BUDGET_NORMAL;
                d->budget_permille = policy_budget_shed(&s->budget, d->action, d->stage, now_usec);
                log_budget(s, again ? "shed again" : "shed");
                shed = true;
        }
        if (shed || s->budget.phase == POLICY_BUDGET_NORMAL)
                return;
        if (policy_budget_tick(&s->budget, policy_state_stage(s->state),
                               policy_state_exit_holds(s->state, s->budget.stage), now_usec)) {
                ret->budget_step = true;
                ret->budget_permille = s->budget.budget;
                log_budget(s, "step");
        }
}

bool supervise_tick(Supervise *s, const OomlessSample *sample, bool child_running, uint64_t now_usec,
                    SuperviseDecisions *ret)
{
        /* Kernel OOM kills inside the leaf count toward max_restarts even when the main process lives. */
        if (sample->events_valid) {
                if (s->oom_kill_seen_valid && sample->ev_oom_kill > s->oom_kill_seen)
                        s->oom_kills += sample->ev_oom_kill - s->oom_kill_seen;
                if (s->oom_kill_seen_valid && sample->ev_oom_kill > s->oom_kill_seen && child_running)
                        for (uint64_t i = s->oom_kill_seen; i < sample->ev_oom_kill; i++)
                                policy_restart_note_oom_kill(s->policy, &s->restart, now_usec);
                s->oom_kill_seen = sample->ev_oom_kill;
                s->oom_kill_seen_valid = true;
        }
        if (s->cfg.run && !child_running)
                return false; /* between runs: nothing to decide on */

        *ret = (SuperviseDecisions){ 0 };
        policy_evaluate(s->policy, s->state, sample, now_usec, &ret->ds, &ret->t);
        if (ret->t.changed) {
                log_transition(s, &ret->t, sample);
                note_transition(s, &ret->t, now_usec);
        }
        budget_feed(s, ret, now_usec);
        return true;
}

void supervise_restart_requested(Supervise *s)
{
        s->restart_requested = true;
}

SuperviseVerdict supervise_child_exited(Supervise *s, int status, bool oom_killed, uint64_t started_usec,
                                        const OomlessSample *sample, uint64_t now_usec,
                                        uint64_t *ret_delay_usec, SuperviseDecisions *ret)
{
        uint64_t delay = 0;
        PolicyExit e = {
                .signaled = status > 128,
                .code = status > 128 ? 0 : status,
                .signal = status > 128 ? status - 128 : 0,
                .oom_killed = oom_killed,
                .requested = s->restart_requested,
                .started_usec = started_usec,
        };

        s->restart_requested = false;
        switch (policy_restart_decide(s->policy, &s->restart, &e, now_usec, &delay)) {
        case POLICY_RESTART_VERDICT_RESTART:
                /* The new run starts at level 0: exit actions and throttle undos of the old stages. */
                *ret = (SuperviseDecisions){ 0 };
                policy_state_reset(s->policy, s->state, now_usec, &ret->ds, &ret->t);
                /* Reset takes no sample: its exit decisions resolve against the last one. */
                policy_decisions_resolve(&ret->ds, sample);
                if (ret->t.changed) {
                        log_transition(s, &ret->t, sample);
                        note_transition(s, &ret->t, now_usec);
                }
                /* The new run starts with its full budget and the normal weight. */
                s->weight = POLICY_WEIGHT_NORMAL;
                if (s->budget.phase != POLICY_BUDGET_NORMAL || s->budget.budget != POLICY_BUDGET_FULL) {
                        policy_budget_init(&s->budget);
                        ret->budget_step = true;
                        ret->budget_permille = s->budget.budget;
                        log_budget(s, "reset");
                }
                *ret_delay_usec = delay;
                return SUPERVISE_RESTART;
        case POLICY_RESTART_VERDICT_GIVE_UP:
                log_error(
                    "The workload ended %u times within the restart window of policy \"%s\"; giving up.",
                    s->restart.total_restarts + 1, policy_name(s->policy));
                return SUPERVISE_GIVE_UP;
        default:
                return SUPERVISE_STOP;
        }
}

int supervise_reload(Supervise *s, uint64_t now_usec, SuperviseDecisions *ret)
{
        const char *path = s->cfg.policy_path;
        Policy *np = NULL;
        PolicyState *ns;
        int r;

        if (!path) {
                log_info("SIGHUP: no --policy file, the built-in policy stays.");
                return -ENOENT;
        }
        r = load(path, &np);
        if (r < 0)
                return log_error_errno(
                    r, "Reloading %s failed (see above); the previous policy \"%s\" stays in force.", path,
                    policy_name(s->policy));
        ns = policy_state_carry_over(np, s->state);
        if (!ns) {
                policy_free(np);
                log_error("Out of memory reloading the policy; the previous one stays in force.");
                return -ENOMEM;
        }
        s->dry_run = s->cfg.dry_run || policy_dry_run(np);
        /* Whoever borrowed the old policy (the action runner drops queued decisions pointing into it)
         * moves over before it goes. */
        if (s->cfg.policy_changed)
                s->cfg.policy_changed(np, s->dry_run, s->cfg.userdata);
        policy_state_free(s->state);
        policy_free(s->policy);
        s->policy = np;
        s->state = ns;
        log_notice("Reloaded the policy \"%s\" from %s: %u stages, stage %u carried over%s.",
                   policy_name(np), path, policy_stage_count(np), policy_state_stage(ns),
                   s->dry_run ? ", dry run" : "");
        /* A shed episode goes on only where the new policy still sheds at that stage; otherwise the
         * budget is restored, through the runner like any climb step (policy_budget_revalidate()). */
        *ret = (SuperviseDecisions){ 0 };
        if (policy_budget_revalidate(&s->budget, np, now_usec)) {
                ret->budget_step = true;
                ret->budget_permille = s->budget.budget;
                log_budget(s, "reset by the reload");
        }
        return 0;
}

void supervise_stats(Supervise *s, uint64_t now_usec, SuperviseStats *ret)
{
        /* A reload may have carried the stage over to a policy with fewer stages. */
        account_level(s, policy_state_stage(s->state), now_usec);
        *ret = (SuperviseStats){
                .stage = s->level,
                .ready = policy_stage_ready(s->policy, s->level),
                .transitions = s->transitions,
                .oom_kills = s->oom_kills,
                .budget = s->budget,
                .weight = s->weight,
        };
        memcpy(ret->stage_usec, s->level_usec, sizeof(ret->stage_usec));
        if (s->level <= POLICY_STAGES_MAX)
                ret->stage_usec[s->level] += now_usec - MIN(now_usec, s->level_since_usec);
}

const PolicyBudget *supervise_budget(const Supervise *s)
{
        return &s->budget;
}

uint32_t supervise_weight(const Supervise *s)
{
        return s->weight;
}

void supervise_status(const Supervise *s, uint64_t now_usec, StatusInfo *info)
{
        uint64_t since = policy_state_stage_since_usec(s->state);

        info->policy_name = policy_name(s->policy);
        info->dry_run = s->dry_run;
        info->stage = policy_state_stage(s->state);
        info->stage_name = policy_stage_name(s->policy, info->stage);
        if (info->stage > 0 && info->sample_valid)
                info->cause = policy_memory_cause(&info->sample);
        info->stage_since_sec = (double)(now_usec - MIN(now_usec, since)) / 1e6;
        info->ready = policy_stage_ready(s->policy, info->stage);
        info->budget_valid = true;
        info->budget_permille = s->budget.budget;
        info->budget_phase = policy_budget_phase_to_string(s->budget.phase);
        info->budget_step_permille = s->budget.step;
        info->budget_ceiling_permille = s->budget.ceiling;
        info->budget_failed_permille = s->budget.failed;
        info->budget_steps = s->budget.steps;
        info->budget_sheds = s->budget.sheds;
        info->weight = s->weight;
}

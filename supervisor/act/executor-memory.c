/* SPDX-License-Identifier: MIT */
/* The executors that ask for memory back or tell the workload about pressure: notify (the stage on
 * the control page), scavenge (the allocator returns free memory), reclaim (memory.reclaim on a
 * worker thread) and throttle (memory.high, restored when the stage is left). Byte amounts come
 * resolved in the decision. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "runner-internal.h"

/* ---- notify ------------------------------------------------------------------------------------ */

void executor_notify(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        unsigned stage = r->stage, prev = r->prev_stage;
        int q;

        if (r->dry_run) {
                /* Dry-run changes nothing for the workload: the page keeps stage 0 (its flag says
                 * dry-run), the app's callbacks and the pressure watchers hear nothing. */
                RECORD(r, d, "would: would notify the workload of stage %u (%s)", stage,
                       runner_stage_name(r, stage));
                return;
        }
        r->published_stage = stage;
        q = runner_publish(r);
        if (r->cb.stage_notified)
                r->cb.stage_notified(r->cb.userdata, stage, prev);
        if (q < 0)
                RECORD(r, d, "failed: stage %u not published to the control page: %s", stage, strerror(-q));
        else
                RECORD(r, d, "ok: stage %u (%s) published%s", stage, runner_stage_name(r, stage),
                       r->control ? " to the control page" : " (no control page)");
}

/* ---- scavenge ---------------------------------------------------------------------------------- */

void executor_scavenge(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        int64_t seq;

        if (!r->control || !control_has_allocator(r->control)) {
                if (!r->said_no_allocator) {
                        log_notice(
                            "The workload runs without liboomless (no allocator publishes on the control "
                            "page), so scavenge actions have nothing to ask.");
                        r->said_no_allocator = true;
                }
                if (r->control && !r->dry_run)
                        (void)control_request_scavenge(r->control); /* in case it attaches later */
                RECORD(r, d, "skipped: no allocator in the workload");
                return;
        }
        if (r->dry_run) {
                RECORD(r, d, "would: would ask the allocator to scavenge");
                return;
        }
        seq = control_request_scavenge(r->control);
        if (seq < 0)
                RECORD(r, d, "failed: %s", strerror((int)-seq));
        else
                RECORD(r, d, "ok: scavenge request %" PRId64 " published", seq);
}

/* ---- reclaim, throttle: cgroup v2 controls ------------------------------------------------------ */

static void skip_needs_v2(ActionRunner *r, const PolicyDecision *d, const char *file)
{
        RECORD(r, d, "skipped: %s needs cgroup v2 (this host runs tier %s)", file,
               actuator_tier_name(r->act));
}

/* The checks reclaim and throttle share: an actuator that has the control (v1's soft_limit_in_bytes
 * only steers global reclaim, it would not throttle; v1 has no memory.reclaim), and a decision whose
 * amount was resolved. False when the outcome is already recorded. */
static bool memory_control_ok(ActionRunner *r, const PolicyDecision *d, ActuatorCap cap, const char *file)
{
        if (!r->act) {
                RECORD(r, d, "skipped: no cgroup");
                return false;
        }
        if (!actuator_can(r->act, cap)) {
                skip_needs_v2(r, d, file);
                return false;
        }
        if (!d->resolved) {
                RECORD(r, d, "failed: the decision was not resolved against a sample");
                return false;
        }
        return true;
}

static int reclaim_fn(void *ctx, uint64_t bytes)
{
        return actuator_reclaim(ctx, bytes);
}

static void on_reclaim_done(const ReclaimResult *res, void *userdata)
{
        Pending *p = userdata;
        uint64_t ms = res->duration_usec / USEC_PER_MSEC;

        if (res->error == 0)
                PRECORD(p, "ok: reclaimed %" PRIu64 " bytes in %" PRIu64 " ms", res->reclaimed, ms);
        else if (res->error == -EAGAIN)
                PRECORD(p, "ok: partial: the kernel reclaimed %" PRIu64 " of %" PRIu64 " bytes (EAGAIN)",
                        res->reclaimed, res->requested);
        else if (res->error == -ETIME)
                PRECORD(p,
                        "failed: timeout after %" PRIu64 " ms, %" PRIu64 " of %" PRIu64 " bytes reclaimed",
                        ms, res->reclaimed, res->requested);
        else if (res->error == -EOPNOTSUPP)
                PRECORD(p, "skipped: memory.reclaim is not available on this tier");
        else
                PRECORD(p, "failed: memory.reclaim: %s", strerror(-res->error));
        pending_done(p);
}

void executor_reclaim(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        uint64_t bytes;
        Pending *p;
        int q;

        if (!memory_control_ok(r, d, ACTUATOR_CAP_RECLAIM, "memory.reclaim"))
                return;
        if (d->bytes_unknown) {
                RECORD(r, d, "skipped: the amount resolves to nothing (limit unknown)");
                return;
        }
        bytes = MIN(d->bytes, RECLAIM_REQUEST_MAX);
        if (r->dry_run) {
                RECORD(r, d, "would: would reclaim %" PRIu64 " bytes from %s", bytes, runner_leaf(r));
                return;
        }
        if (!r->reclaimer) {
                q = reclaimer_new(r->event, reclaim_fn, r->act, &r->reclaimer);
                if (q < 0) {
                        RECORD(r, d, "failed: cannot set up the reclaim worker: %s", strerror(-q));
                        return;
                }
        }
        p = pending_start(r, d);
        if (!p)
                return;
        q = reclaimer_start(r->reclaimer, bytes, d->action->timeout_usec, on_reclaim_done, p);
        if (q < 0) {
                pending_free(p);
                if (q == -EBUSY)
                        RECORD(r, d, "skipped: a reclaim is still running");
                else
                        RECORD(r, d, "failed: cannot start the reclaim worker: %s", strerror(-q));
        }
}

/* A memory.high read or write failed: skipped where the tier has none, else failed. */
static void throttle_failed(ActionRunner *r, const PolicyDecision *d, int q, const char *verb)
{
        if (q == -EOPNOTSUPP)
                skip_needs_v2(r, d, "memory.high");
        else
                RECORD(r, d, "failed: %s memory.high: %s", verb, strerror(-q));
}

/* Leaving the stage: memory.high back to what it was before the stage's first throttle. */
static void throttle_undo(ActionRunner *r, const PolicyDecision *d, unsigned lvl)
{
        char b[32];
        int q;

        if (!r->high_saved[lvl]) {
                RECORD(r, d, "skipped: stage %u did not change memory.high", d->stage);
                return;
        }
        r->high_saved[lvl] = false;
        units_format_limit(b, sizeof(b), r->high_before[lvl]);
        if (r->dry_run) {
                RECORD(r, d, "would: would restore memory.high to %s", b);
                return;
        }
        q = actuator_set_memory_high(r->act, r->high_before[lvl]);
        if (q < 0)
                RECORD(r, d, "failed: restoring memory.high: %s", strerror(-q));
        else
                RECORD(r, d, "ok: memory.high restored to %s", b);
}

void executor_throttle(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        unsigned lvl = MIN(d->stage, (unsigned)POLICY_STAGES_MAX);
        char b[32], was[32];
        uint64_t cur;
        int q;

        if (!r->act) {
                RECORD(r, d, "skipped: no cgroup");
                return;
        }
        if (d->undo) {
                throttle_undo(r, d, lvl);
                return;
        }
        if (!memory_control_ok(r, d, ACTUATOR_CAP_MEMORY_HIGH, "memory.high"))
                return;
        if (d->bytes_unknown) {
                RECORD(r, d, "skipped: memory.high is a percentage but the effective limit is unknown");
                return;
        }
        q = actuator_get_memory_high(r->act, &cur);
        if (q < 0) {
                throttle_failed(r, d, q, "reading");
                return;
        }
        units_format_limit(b, sizeof(b), d->bytes);
        units_format_limit(was, sizeof(was), cur);
        if (r->dry_run) {
                RECORD(r, d, "would: would set memory.high to %s (now %s)", b, was);
                return;
        }
        q = actuator_set_memory_high(r->act, d->bytes);
        if (q < 0) {
                throttle_failed(r, d, q, "setting");
                return;
        }
        /* Remember only the value from before the stage's first throttle, so repeats restore it. */
        if (!r->high_saved[lvl]) {
                r->high_saved[lvl] = true;
                r->high_before[lvl] = cur;
        }
        RECORD(r, d, "ok: memory.high set to %s (was %s)", b, was);
}

/* SPDX-License-Identifier: MIT */
/*
 * Reacting between ticks. After every decision the loop asks the policy what to watch until the next
 * sample (supervise_watch()) and arms it:
 *  - the allocator's wake thresholds in the control page: the lowest enter threshold above the current
 *    stage and the current stage's exit threshold, in the allocator's own figures (held bytes: the
 *    cgroup's level minus what the cgroup holds besides the heap);
 *  - on v1, kernel thresholds on memory.usage_in_bytes at the same levels (host/cg-events.c), re-armed
 *    when they move, for growth that bypasses the allocator. The kernel checks them only every so many
 *    pages, so the upward one is armed that much early, and its event is followed by short samples
 *    until the level itself is crossed. Arming waits for RCU grace periods in the kernel, so a worker
 *    thread does it and the loop swaps the eventfd when it is done;
 *  - where no kernel threshold exists (v2), an adaptive tick: shorter as the headroom to the nearest
 *    level shrinks, scaled by the observed growth (policy_adaptive_interval());
 *  - a timer at the end of the next running hold ("for", cooldown, max_dwell, repeat), so that a hold
 *    is decided at its end, not at the next tick.
 * Every event takes a sample and runs the same decision as the tick (manager_sample_and_decide()).
 * --tick-only turns all of this off, for comparison (bench/reaction).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "cg-events.h"
#include "log.h"
#include "manager-internal.h"
#include "time-util.h"
#include "units.h"

/* Two kernel-threshold samples at least this far apart; a later event waits for the end of it. A
 * threshold fires once per crossing, so this only bounds a workload that dances on one. */
#define REACT_MIN_GAP_USEC (1 * USEC_PER_MSEC)
/* The allocator counts what it maps, the kernel what is touched: when the heap is past its wake
 * threshold but the cgroup not yet past the level, sample again this soon, at most this many times. */
#define REACT_FOLLOW_USEC (1 * USEC_PER_MSEC)
#define REACT_FOLLOW_MAX  50
/* A series of follow-up samples after the early kernel threshold starts at most this often: a steady
 * service whose churn dances across the early level must not cost 50 samples per crossing. */
#define REACT_BAND_FOLLOW_EVERY_USEC (1 * USEC_PER_SEC)
/* The adaptive tick's floor. */
#define REACT_FLOOR_USEC (5 * USEC_PER_MSEC)
/* The tick while nothing can change without an event waking us first (idle()). */
#define REACT_IDLE_USEC    (1 * USEC_PER_SEC)
#define REACT_ACCURACY_MIN (1 * USEC_PER_MSEC)
#define REACT_ACCURACY_MAX (50 * USEC_PER_MSEC)

#define KT_NONE            ((CgLevels){ .above = UINT64_MAX })

struct React {
        CgThresholds *kt; /* v1 kernel thresholds; NULL elsewhere */
        sd_event_source *kt_source;
        sd_event_source *kt_done_source; /* the arming worker has finished */
        CgLevels kt_armed;               /* the levels armed (above UINT64_MAX: none yet) */
        CgLevels kt_asked;               /* the levels last asked for (armed, or being armed) */
        bool kt_asked_valid;
        sd_event_source *soon; /* a hold's end, or an event that came too soon after a sample */
        uint64_t pending_usec; /* when that event is to be handled, 0: none */
        bool adaptive;
        uint64_t interval; /* the tick interval in force */
        uint64_t prev_current, prev_usec, last_event_usec;
        uint64_t logged_interval;  /* the adaptive interval last logged */
        uint64_t wake_above;       /* the allocator's upward threshold as published, held bytes; 0 none */
        unsigned follow;           /* follow-up samples since the heap went past wake_above */
        uint64_t kt_slack;         /* how late a v1 threshold event can be, bytes (kernel_slack()) */
        bool kt_early;             /* the early upward threshold fired: follow until the level */
        uint64_t band_follow_usec; /* when the last series of follow-ups after it started */
};

/* v1 checks its thresholds once every THRESHOLDS_EVENTS_TARGET (128) page events on each CPU, and
 * charges pages in batches of MEMCG_CHARGE_BATCH (64): an event can come this far past its level
 * (measured here: 0.9 MiB, one 10 ms step of a 100 MiB/s workload). */
static uint64_t kernel_slack(void)
{
        long page = sysconf(_SC_PAGESIZE), cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (page <= 0)
                page = 4096;
        if (cpus <= 0)
                cpus = 1;
        return (uint64_t)(128 + 64) * (uint64_t)page * (uint64_t)cpus;
}

uint64_t manager_tick_accuracy(uint64_t interval_usec)
{
        /* sd-event's default accuracy is 250 ms whatever the interval; a twentieth keeps a 100 ms tick
         * within 5 ms and lets a 5 s one coalesce with other wake-ups. */
        uint64_t a = interval_usec / 20;
        return a < REACT_ACCURACY_MIN ? REACT_ACCURACY_MIN : a > REACT_ACCURACY_MAX ? REACT_ACCURACY_MAX : a;
}

uint64_t manager_react_tick_interval(Manager *m)
{
        return m->react && m->react->interval ? m->react->interval : m->interval_usec;
}

static uint64_t loop_now(Manager *m)
{
        uint64_t now;
        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
                now = now_usec(CLOCK_MONOTONIC);
        return now;
}

static void arm_soon(Manager *m, uint64_t at)
{
        React *r = m->react;

        if (sd_event_source_set_time(r->soon, at) < 0 ||
            sd_event_source_set_enabled(r->soon, SD_EVENT_ONESHOT) < 0)
                log_debug("Cannot arm the hold timer; the next tick decides.");
}

/* An event (a kernel threshold; the allocator has its own coalescing in control.c): decide now, or at
 * the end of the gap after the last decision. */
static void react_event(Manager *m, const char *what)
{
        React *r = m->react;
        uint64_t now = loop_now(m);

        /* The workload is being stopped for good: its memory falling is no news to act on, and the
         * tick goes on as before. */
        if (m->stopping)
                return;
        if (r->last_event_usec && now < r->last_event_usec + REACT_MIN_GAP_USEC) {
                r->pending_usec = r->last_event_usec + REACT_MIN_GAP_USEC;
                arm_soon(m, r->pending_usec);
                return;
        }
        r->last_event_usec = now;
        log_debug("%s: deciding now.", what);
        manager_sample_and_decide(m);
}

static int on_threshold(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        (void)s;
        (void)fd;
        (void)revents;

        (void)cg_thresholds_consume(m->react->kt);
        if (m->react->kt_armed.early)
                m->react->kt_early = true;
        react_event(m, "A memory threshold was crossed (cgroup.event_control)");
        return 0;
}

/* what: "Cannot arm memory thresholds" and the like; the leaf follows. */
static void kernel_give_up(Manager *m, int error, const char *what)
{
        React *r = m->react;

        log_warning_errno(error, "%s of %s, adapting the tick instead: %m", what,
                          cg_leaf_path(m->cg) ?: "the cgroup");
        r->kt_source = sd_event_source_disable_unref(r->kt_source);
        r->kt_done_source = sd_event_source_disable_unref(r->kt_done_source);
        r->kt = cg_thresholds_free(r->kt);
        r->kt_armed = KT_NONE;
        r->kt_early = false;
        r->adaptive = true;
}

/* The worker armed the levels asked for: watch its eventfd from now on. */
static int on_kernel_armed(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        React *r = m->react;
        CgLevels l;
        int efd, q;
        (void)s;
        (void)fd;
        (void)revents;

        efd = cg_thresholds_collect(r->kt, &l);
        if (efd == -EAGAIN)
                return 0;
        if (efd < 0) {
                kernel_give_up(m, efd, "Cannot arm memory thresholds (cgroup.event_control)");
                return 0;
        }
        /* The request behind this one was dropped (no thread to arm it): ask again at the update. */
        if (!cg_thresholds_busy(r->kt) && r->kt_asked_valid && !cg_levels_eq(&l, &r->kt_asked))
                r->kt_asked_valid = false;
        r->kt_armed = l;
        if (r->kt_source)
                q = sd_event_source_set_io_fd(r->kt_source, efd);
        else
                q = sd_event_add_io(m->event, &r->kt_source, efd, EPOLLIN, on_threshold, m);
        if (q < 0) {
                kernel_give_up(m, q, "Cannot watch the memory thresholds");
                return 0;
        }
        log_debug("Memory thresholds armed at %" PRIu64 " (up, early at %" PRIu64 ") and %" PRIu64
                  " (down) bytes.",
                  l.above, l.early, l.below);
        /* The kernel signals crossings after the registration only: one made while the worker armed
         * (tens of ms) is found by a sample now, not at the next tick; and a crossing of the early level
         * then starts the follow-up samples (the update clears this unless the usage is in the band). */
        if (l.early)
                r->kt_early = true;
        react_event(m, "Memory thresholds armed");
        return 0;
}

/* Opens the thresholds of the current cgroup and watches their worker; false where there are none. */
static bool kernel_open(Manager *m)
{
        React *r = m->react;
        int q;

        r->kt_armed = KT_NONE;
        r->kt_asked_valid = false;
        q = cg_thresholds_new(m->cg, &r->kt);
        if (q == -EOPNOTSUPP) {
                log_debug("No kernel memory thresholds on tier %s: the tick adapts to the headroom.",
                          cg_tier_to_string(cg_tier(m->cg)));
                return false;
        }
        if (q < 0) {
                log_warning_errno(
                    q,
                    "Cannot open memory.usage_in_bytes of %s for thresholds, adapting the tick "
                    "instead: %m",
                    cg_leaf_path(m->cg) ?: "the cgroup");
                return false;
        }
        q = sd_event_add_io(m->event, &r->kt_done_source, cg_thresholds_done_fd(r->kt), EPOLLIN,
                            on_kernel_armed, m);
        if (q < 0) {
                log_warning_errno(q, "Cannot watch the threshold worker, adapting the tick instead: %m");
                r->kt = cg_thresholds_free(r->kt);
                return false;
        }
        (void)sd_event_source_set_description(r->kt_done_source, "thresholds-armed");
        return true;
}

static int on_soon(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        (void)s;
        (void)usec;

        if (m->stopping)
                return 0;
        log_debug("%s: deciding now.", m->react->pending_usec ? "A threshold event waited"
                                                              : "A hold ends or the heap is near a level");
        m->react->pending_usec = 0;
        manager_sample_and_decide(m);
        return 0;
}

int manager_react_start(Manager *m)
{
        _cleanup_free_ React *r = NULL;
        int q;

        if (m->cfg.tick_only) {
                log_info("--tick-only: deciding at the sampling tick only.");
                return 0;
        }
        r = calloc(1, sizeof(*r));
        if (!r)
                return log_error_errno(-ENOMEM, "Out of memory");
        r->kt_slack = kernel_slack();
        r->interval = m->interval_usec;
        q = sd_event_add_time(m->event, &r->soon, CLOCK_MONOTONIC, UINT64_MAX, REACT_ACCURACY_MIN, on_soon,
                              m);
        if (q < 0)
                return log_error_errno(q, "Cannot create the hold timer: %m");
        (void)sd_event_source_set_enabled(r->soon, SD_EVENT_OFF);
        m->react = TAKE_PTR(r);
        m->react->adaptive = !kernel_open(m);
        return 0;
}

/* The thresholds hold their own directory and an fd on the old cgroup's usage file: that cgroup may
 * be gone (a container restarted in a new one), its eventfd then never fires, and idle() would still
 * trust it and slow the tick to 1 s. */
void manager_react_rebind(Manager *m)
{
        React *r = m->react;

        if (!r)
                return;
        r->kt_source = sd_event_source_disable_unref(r->kt_source);
        r->kt_done_source = sd_event_source_disable_unref(r->kt_done_source);
        r->kt = cg_thresholds_free(r->kt);
        r->kt_early = false;
        r->follow = 0;
        r->adaptive = !kernel_open(m);
}

React *manager_react_free(React *r)
{
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->kt_source);
        sd_event_source_disable_unref(r->kt_done_source);
        sd_event_source_disable_unref(r->soon);
        cg_thresholds_free(r->kt);
        free(r);
        return NULL;
}

/* Asks for above and below, and early (0: none) with them, to be armed (by the worker: the loop goes
 * on meanwhile, the old levels armed). Already asked for, the early level is kept: it may just have
 * fired, and a new arming for it alone would be wasted work. */
static void arm_kernel(Manager *m, uint64_t above, uint64_t early, uint64_t below)
{
        React *r = m->react;
        CgLevels l = { .above = above, .early = early, .below = below };
        int q;

        if (!r->kt)
                return;
        if (r->kt_asked_valid && above == r->kt_asked.above && below == r->kt_asked.below &&
            (!early || r->kt_asked.early))
                return;
        q = cg_thresholds_request(r->kt, &l);
        if (q < 0) {
                /* No thread to be had now (the workload may fill pids.max): the old levels stay
                 * armed, and the next update asks again. */
                log_debug_errno(q, "Cannot start the threshold worker, asking again at the next update: %m");
                r->kt_asked_valid = false;
                return;
        }
        r->kt_asked = l;
        r->kt_asked_valid = true;
}

/* A level in the cgroup's figures, as held bytes of the heap: the rest of the charge is taken as it
 * is now. 0 (never) when the heap alone cannot reach it. */
static uint64_t to_heap(const OomlessSample *x, uint64_t level)
{
        uint64_t rest;

        if (!x->heap_valid)
                return level;
        rest = x->current > x->heap_held ? x->current - x->heap_held : 0;
        return level > rest ? level - rest : 0;
}

static void publish_alloc(Manager *m, const OomlessSample *x, const PolicyWatch *w)
{
        uint64_t above = 0, below = 0;

        if (!m->control || !m->runner)
                return;
        if (w->above != UINT64_MAX && w->above > x->current)
                above = to_heap(x, w->above);
        else if (w->above == UINT64_MAX && x->limit && x->limit != OOMLESS_NO_LIMIT)
                above = x->limit / 100 * 85; /* the policy watches no memory level: near the limit */
        if (w->below > 0 && w->below < x->current)
                below = to_heap(x, w->below);
        /* While the heap is past the threshold, keep it: a new value would re-arm it for the same crossing
         * (what the heap maps ahead of the charge moves the conversion). */
        if (x->heap_valid && m->react->wake_above && x->heap_held > m->react->wake_above && above)
                above = m->react->wake_above;
        m->react->wake_above = above;
        (void)actions_set_wake(m->runner, above, below);
}

/* The adaptive interval (v2): shorter as the headroom to the nearest watched level shrinks. */
static uint64_t adapt(Manager *m, const OomlessSample *x, const PolicyWatch *w, uint64_t now,
                      uint64_t *ret_headroom, uint64_t *ret_rate)
{
        React *r = m->react;
        uint64_t headroom = UINT64_MAX, rate = 0;

        /* A level already crossed is the hold timer's (or the next sample's) business, not the tick's. */
        if (w->above != UINT64_MAX && w->above > x->current)
                headroom = w->above - x->current;
        if (w->below > 0 && x->current > w->below)
                headroom = MIN(headroom, x->current - w->below);
        if (r->prev_usec && now > r->prev_usec && x->current > r->prev_current)
                rate = (uint64_t)((__uint128_t)(x->current - r->prev_current) * USEC_PER_SEC /
                                  (now - r->prev_usec));
        r->prev_current = x->current;
        r->prev_usec = now;
        *ret_headroom = headroom;
        *ret_rate = rate;
        return policy_adaptive_interval(headroom, rate, REACT_FLOOR_USEC, m->interval_usec);
}

/* Idle: at level 0, below the usage every stage needs to be entered, and sure to be woken when the
 * usage gets there (a kernel threshold armed at or below it), or no stage can be entered at all (a
 * percentage of an unknown limit; the limit is sampled again each idle tick). Nothing can change
 * until then, so the tick slows to REACT_IDLE_USEC. */
static bool idle(Manager *m, unsigned stage, const PolicyWatch *w)
{
        React *r = m->react;

        if (stage != 0 || w->guard == 0 || m->last.current >= w->guard)
                return false;
        /* The armed level, not the one asked for: until the worker is done, only it can wake us. */
        return w->guard == UINT64_MAX || (r->kt && r->kt_source && r->kt_armed.above <= w->guard &&
                                          m->last.current < r->kt_armed.above);
}

static void set_interval(Manager *m, uint64_t interval, uint64_t now, uint64_t headroom, uint64_t rate)
{
        React *r = m->react;
        uint64_t prev = r->logged_interval ?: m->interval_usec, tick_at;

        r->interval = interval;
        /* A line when the interval moved by half since the last one (or is back at the policy's). */
        if (interval * 3 <= prev * 2 || interval * 2 >= prev * 3 ||
            (interval == m->interval_usec && prev != interval)) {
                char h[32], g[32];
                r->logged_interval = interval;
                log_debug("Adaptive tick: every %" PRIu64 " ms (headroom %s, growth %s/s).",
                          interval / USEC_PER_MSEC,
                          headroom == UINT64_MAX ? "unbounded" : units_format_size(h, sizeof(h), headroom),
                          units_format_size(g, sizeof(g), rate));
        }
        /* Bring the tick forward when it is due later than the new interval. */
        if (m->tick && sd_event_source_get_time(m->tick, &tick_at) >= 0 && tick_at > now + interval) {
                (void)sd_event_source_set_time(m->tick, now + interval);
                (void)sd_event_source_set_time_accuracy(m->tick, manager_tick_accuracy(interval));
        }
}

void manager_react_update(Manager *m)
{
        React *r = m->react;
        PolicyWatch w;
        uint64_t deadline, now, interval, headroom = UINT64_MAX, rate = 0, early;
        unsigned stage;
        bool near, heap_near, kt_near;

        if (!r || !m->have_sample)
                return;
        now = loop_now(m);
        r->pending_usec = 0;
        stage = supervise_watch(m->supervise, &m->last, now_usec(CLOCK_MONOTONIC), &w, &deadline);
        publish_alloc(m, &m->last, &w);
        /* With a level early by the kernel's slack, while the usage is below that: its event comes
         * before the crossing, not up to a slack after it, and the follow-up samples below find the
         * crossing. */
        early = 0;
        if (w.above != UINT64_MAX && w.above > r->kt_slack && m->last.current < w.above - r->kt_slack)
                early = w.above - r->kt_slack;
        if (w.above == UINT64_MAX || m->last.current >= w.above || m->last.current + r->kt_slack < w.above)
                r->kt_early = false;
        arm_kernel(m, w.above, early, w.below);
        interval = m->interval_usec;
        if (r->adaptive)
                interval = adapt(m, &m->last, &w, now, &headroom, &rate);
        else if (w.above != UINT64_MAX)
                headroom = w.above > m->last.current ? w.above - m->last.current : 0;
        if (idle(m, stage, &w))
                interval = MAX(interval, REACT_IDLE_USEC);
        set_interval(m, interval, now, headroom, rate);
        /* Short of the cgroup's level, but past the allocator's threshold (the pages are being touched)
         * or past the early kernel threshold: follow with short samples, a bounded number of them. */
        heap_near = m->last.heap_valid && r->wake_above && m->last.heap_held >= r->wake_above;
        kt_near = r->kt_early;
        if (kt_near && !heap_near && r->follow == 0) {
                if (r->band_follow_usec && now < r->band_follow_usec + REACT_BAND_FOLLOW_EVERY_USEC)
                        kt_near = false;
                else
                        r->band_follow_usec = now;
        }
        near = heap_near || kt_near;
        if (w.above != UINT64_MAX && m->last.current < w.above && near && r->follow < REACT_FOLLOW_MAX) {
                r->follow++;
                deadline = MIN(deadline, now + REACT_FOLLOW_USEC);
        } else if (!near)
                r->follow = 0;
        if (deadline != UINT64_MAX)
                arm_soon(m, deadline);
        else
                (void)sd_event_source_set_enabled(r->soon, SD_EVENT_OFF);
}

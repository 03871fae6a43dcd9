/* SPDX-License-Identifier: MIT */
/* The exit drain: once oomless is to exit, the loop keeps going while policy actions (hooks, webhooks,
 * reclaims) still run, because their outcomes are the point of e.g. an on_exit hook; it ends when they
 * finished, at the drain's deadline (cancelling them), or on a second SIGTERM/SIGINT. */
#define _GNU_SOURCE 1
#include <inttypes.h>

#include "hook.h"
#include "log.h"
#include "manager-internal.h"
#include "units.h"

/* Cancelled hooks end within their kill grace; this only guards against one that never gets reaped. */
#define DRAIN_CANCEL_WAIT_USEC (HOOK_KILL_GRACE_DEFAULT + 1 * USEC_PER_SEC)

void manager_drain_idle(Manager *m)
{
        if (!m->draining)
                return;
        log_info("The running actions finished; oomless exits.");
        (void)sd_event_exit(m->event, m->exit_status);
}

static int on_drain_gave_up(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        (void)s;
        (void)usec;

        log_warning("Cancelled actions did not end within %" PRIu64 "s; oomless exits anyway.",
                    DRAIN_CANCEL_WAIT_USEC / USEC_PER_SEC);
        return sd_event_exit(m->event, m->exit_status);
}

static void drain_cancel(Manager *m)
{
        int r;

        m->drain_timer = sd_event_source_disable_unref(m->drain_timer);
        actions_cancel_at_exit(m->runner);
        if (!actions_busy(m->runner)) {
                (void)sd_event_exit(m->event, m->exit_status);
                return;
        }
        r = sd_event_add_time_relative(m->event, &m->drain_timer, CLOCK_MONOTONIC, DRAIN_CANCEL_WAIT_USEC, 0,
                                       on_drain_gave_up, m);
        if (r < 0) {
                log_warning_errno(r, "Cannot wait for the cancelled actions, exiting now: %m");
                (void)sd_event_exit(m->event, m->exit_status);
        }
}

static int on_drain_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        char list[256];
        unsigned n = actions_describe_running(m->runner, list, sizeof(list));
        (void)s;
        (void)usec;

        log_warning("%u action%s still running at the exit deadline, cancelling: %s.", n, n == 1 ? "" : "s",
                    list);
        drain_cancel(m);
        return 0;
}

/* True when actions still run and the loop now waits for them. */
static bool drain_begin(Manager *m)
{
        uint64_t now, deadline, wait;
        char list[256];
        unsigned n;
        int r;

        if (!m->runner || m->draining || !actions_busy(m->runner))
                return false;
        m->draining = true;
        (void)sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        deadline = MIN(now + MANAGER_DRAIN_MAX_USEC, actions_drain_deadline(m->runner));
        wait = deadline > now ? deadline - now : 0;
        n = actions_describe_running(m->runner, list, sizeof(list));
        log_notice("Waiting up to %" PRIu64 "s for %u running action%s (%s) before exiting.",
                   (wait + USEC_PER_SEC - 1) / USEC_PER_SEC, n, n == 1 ? "" : "s", n > 0 ? list : "queued");
        r = sd_event_add_time(m->event, &m->drain_timer, CLOCK_MONOTONIC, deadline, 0, on_drain_deadline, m);
        if (r < 0) {
                log_warning_errno(r, "Cannot arm the exit deadline, cancelling the running actions: %m");
                drain_cancel(m);
        }
        return true;
}

int manager_exit(Manager *m, int status)
{
        m->exit_status = status;
        if (m->draining)
                return 0; /* ends when the drain does, with this status */
        if (drain_begin(m)) {
                (void)sd_event_source_set_enabled(m->tick, SD_EVENT_OFF);
                return 0;
        }
        if (manager_k8s_flush(m))
                return 0; /* ends once the Kubernetes requests in flight are done, at most 3 s */
        return sd_event_exit(m->event, status);
}

void manager_drain_cancel(Manager *m, int sig)
{
        char list[256];

        if (!m->draining || !m->runner)
                return;
        (void)actions_describe_running(m->runner, list, sizeof(list));
        log_notice("%s: not waiting any longer, cancelling: %s.", units_signal_to_string(sig) ?: "Signal",
                   list);
        drain_cancel(m);
}

/* SPDX-License-Identifier: MIT */
/* What the manager tells Kubernetes (--k8s-events, --k8s-condition): which occurrences become Events,
 * with which reason, action, type and note, and what the pod condition says. The requests, series and
 * rate limits are act/k8s-events.c's. A bad configuration was logged there once; oomless goes on
 * without, because Kubernetes reporting never takes the workload down. */
#define _GNU_SOURCE 1
#include <inttypes.h>
#include <stdio.h>

#include "log.h"
#include "manager-internal.h"
#include "time-util.h"
#include "units.h"

/* At exit, the Events in flight (a GaveUp, the last OOM kill) get this long to arrive. */
#define K8S_FLUSH_MAX_USEC  (3 * USEC_PER_SEC)
#define K8S_FLUSH_POLL_USEC (50 * USEC_PER_MSEC)

static void memory_figures(Manager *m, char *buf, size_t size)
{
        char cur[32], lim[32];

        if (!m->have_sample) {
                snprintf(buf, size, "memory not sampled yet");
                return;
        }
        if (m->last.limit && m->last.limit != UINT64_MAX)
                snprintf(buf, size, "memory %s of %s (%.0f%%)",
                         units_format_size(cur, sizeof(cur), m->last.current),
                         units_format_size(lim, sizeof(lim), m->last.limit),
                         100.0 * (double)m->last.current / (double)m->last.limit);
        else
                snprintf(buf, size, "memory %s, no limit",
                         units_format_size(cur, sizeof(cur), m->last.current));
}

static void set_condition(Manager *m)
{
        const Policy *p = supervise_policy(m->supervise);
        SuperviseStats st;
        char msg[512], mem[128];

        supervise_stats(m->supervise, now_usec(CLOCK_MONOTONIC), &st);
        unsigned level = st.stage;
        bool ready = st.ready;

        memory_figures(m, mem, sizeof(mem));
        snprintf(msg, sizeof(msg), "stage %u (%s) of policy \"%s\"%s; %s", level,
                 policy_stage_name(p, level) ?: "?", policy_name(p),
                 ready ? "" : ", which declares \"ready\": false", mem);
        k8s_events_set_condition(m->k8s, ready,
                                 level == 0 ? "MemoryNormal"
                                 : ready    ? "MemoryStage"
                                            : "MemoryStageNotReady",
                                 msg);
}

int manager_setup_k8s(Manager *m)
{
        if (!m->cfg.k8s_events && !m->cfg.k8s_condition)
                return 0;
        /* Errors are logged by k8s_events_new(), which says what is missing and how to give it. */
        if (k8s_events_new(m->event,
                           &(K8sEventsOptions){ .events = m->cfg.k8s_events,
                                                .condition = m->cfg.k8s_condition,
                                                .instance_id = m->instance_id },
                           &m->k8s) < 0)
                return 0;
        set_condition(m);
        return 0;
}

void manager_k8s_transition(Manager *m, const PolicyTransition *t)
{
        const Policy *p = supervise_policy(m->supervise);
        char note[K8S_NOTE_MAX], mem[128];
        bool up = t->to > t->from;

        if (!m->k8s)
                return;
        memory_figures(m, mem, sizeof(mem));
        snprintf(note, sizeof(note), "%s stage %u (%s) of policy \"%s\" from stage %u (%s): %s; %s",
                 up ? "Entered" : "Back to", t->to, policy_stage_name(p, t->to) ?: "?", policy_name(p),
                 t->from, policy_stage_name(p, t->from) ?: "?", policy_reason_to_string(t->reason), mem);
        k8s_events_emit(m->k8s, &(K8sEvent){ .warning = up,
                                             .reason = up ? "MemoryStageEntered" : "MemoryStageLeft",
                                             .action = up ? "EnterStage" : "LeaveStage",
                                             .note = note });
        set_condition(m);
}

void manager_k8s_restart(Manager *m, int status, bool oom, uint64_t delay_usec)
{
        char note[K8S_NOTE_MAX], d[32];

        if (!m->k8s)
                return;
        snprintf(note, sizeof(note),
                 "Restarting the workload in %s (restart %u); the last run ended with status %d: %s.",
                 units_format_duration(d, sizeof(d), delay_usec), m->restarts + 1, status,
                 oom                        ? "the kernel OOM-killed it"
                 : m->report.exit_reason[0] ? m->report.exit_reason
                                            : "it ended");
        k8s_events_emit(
            m->k8s,
            &(K8sEvent){ .warning = true, .reason = "Restarting", .action = "Restart", .note = note });
}

static void manager_k8s_oom_kill(Manager *m)
{
        char note[K8S_NOTE_MAX], mem[128];

        if (!m->k8s)
                return;
        memory_figures(m, mem, sizeof(mem));
        snprintf(note, sizeof(note),
                 "The kernel OOM-killed a process of the workload in %s (oom_kill %" PRIu64 "); %s.",
                 cg_leaf_path(m->cg) ?: "its cgroup", m->last.ev_oom_kill, mem);
        k8s_events_emit(
            m->k8s,
            &(K8sEvent){ .warning = true, .reason = "OOMKilled", .action = "KernelOOMKill", .note = note });
}

void manager_k8s_gave_up(Manager *m)
{
        char note[K8S_NOTE_MAX];

        if (!m->k8s)
                return;
        snprintf(note, sizeof(note), "The restart policy gave up after %u restarts; oomless exits %d (%s).",
                 m->restarts, POLICY_EXIT_GAVE_UP, m->report.exit_reason);
        k8s_events_emit(
            m->k8s, &(K8sEvent){ .warning = true, .reason = "GaveUp", .action = "GiveUp", .note = note });
        k8s_events_set_condition(m->k8s, false, "GaveUp", note);
}

/* Every loop sample: a rise of the leaf's oom_kill counter is a kernel OOM kill, of the main process
 * or of any other in the leaf. */
void manager_k8s_sample(Manager *m)
{
        if (!m->k8s || !m->last.events_valid)
                return;
        if (m->k8s_oom_seen_valid && m->last.ev_oom_kill > m->k8s_oom_seen)
                manager_k8s_oom_kill(m);
        m->k8s_oom_seen = m->last.ev_oom_kill;
        m->k8s_oom_seen_valid = true;
}

static int on_flush_check(sd_event_source *src, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (k8s_events_pending(m->k8s) == 0 || now >= m->k8s_flush_deadline) {
                if (k8s_events_pending(m->k8s) > 0)
                        log_debug("Kubernetes API: %zu requests still pending at exit, dropped.",
                                  k8s_events_pending(m->k8s));
                return sd_event_exit(m->event, m->exit_status);
        }
        return sd_event_source_set_time_relative(src, K8S_FLUSH_POLL_USEC) < 0 ||
                       sd_event_source_set_enabled(src, SD_EVENT_ONESHOT) < 0
                   ? sd_event_exit(m->event, m->exit_status)
                   : 0;
}

bool manager_k8s_flush(Manager *m)
{
        if (m->k8s_flush)
                return true;
        if (k8s_events_pending(m->k8s) == 0)
                return false;
        m->k8s_flush_deadline = now_usec(CLOCK_MONOTONIC) + K8S_FLUSH_MAX_USEC;
        if (sd_event_add_time_relative(m->event, &m->k8s_flush, CLOCK_MONOTONIC, K8S_FLUSH_POLL_USEC, 0,
                                       on_flush_check, m) < 0)
                return false;
        (void)sd_event_source_set_enabled(m->tick, SD_EVENT_OFF);
        return true;
}

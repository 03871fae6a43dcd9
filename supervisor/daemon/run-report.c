/* SPDX-License-Identifier: MIT */
/* The end of a run: peaks, time per stage, kernel OOM kills and the reason, gathered as the run goes
 * and logged once at exit as the summary record. */
#define _GNU_SOURCE 1
#include "run-report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "units.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

void run_report_init(RunReport *rr, uint64_t now_usec)
{
        *rr = (RunReport){ .start_usec = now_usec, .stage_since_usec = now_usec };
}

void run_report_sample(RunReport *rr, const OomlessSample *s)
{
        uint64_t ws = oomless_sample_working_set(s);

        rr->have_sample = true;
        rr->peak_memory = MAX(rr->peak_memory, MAX(s->current, s->peak));
        rr->peak_working_set = MAX(rr->peak_working_set, ws);
        if (s->events_valid) {
                /* The first figure is the baseline (attach: kills before we came are not ours). A counter
                 * that went down belongs to a new leaf and counts from 0. */
                if (rr->oom_baseline_valid)
                        rr->oom_kills += s->ev_oom_kill >= rr->oom_kill_last
                                             ? s->ev_oom_kill - rr->oom_kill_last
                                             : s->ev_oom_kill;
                rr->oom_kill_last = s->ev_oom_kill;
                rr->oom_baseline_valid = true;
        }
}

void run_report_transition(RunReport *rr, const PolicyTransition *t, uint64_t now_usec)
{
        uint64_t at = t->at_usec ?: now_usec;

        if (!t->changed)
                return;
        if (rr->stage <= POLICY_STAGES_MAX && at > rr->stage_since_usec)
                rr->stage_usec[rr->stage] += at - rr->stage_since_usec;
        rr->stage = t->to;
        rr->stage_since_usec = MAX(at, rr->stage_since_usec);
}

void run_report_set_reason(RunReport *rr, bool force, const char *fmt, ...)
{
        va_list ap;

        if (rr->exit_reason[0] && !force)
                return;
        va_start(ap, fmt);
        vsnprintf(rr->exit_reason, sizeof(rr->exit_reason), fmt, ap);
        va_end(ap);
}

/* Appends to a fixed buffer, cutting at its end. */
_printf_(3, 4) static void append(char *buf, size_t len, const char *fmt, ...)
{
        size_t used = strlen(buf);
        va_list ap;

        if (used + 1 >= len)
                return;
        va_start(ap, fmt);
        vsnprintf(buf + used, len - used, fmt, ap);
        va_end(ap);
}

static double sec(uint64_t usec)
{
        return (double)usec / (double)USEC_PER_SEC;
}

void run_report_oom_victim(RunReport *rr, int pid, const char *comm)
{
        size_t n = strlen(rr->oom_victims);

        if (n + 1 < sizeof(rr->oom_victims))
                snprintf(rr->oom_victims + n, sizeof(rr->oom_victims) - n, "%s%s[%d]", n ? ", " : "", comm,
                         pid);
}

void run_report_log(const RunReport *rr, const RunReportExit *e, uint64_t now_usec)
{
        _cleanup_(cJSON_Deletep) cJSON *stages = cJSON_CreateObject(), *actions = cJSON_CreateObject();
        _cleanup_free_ char *stages_json = NULL, *actions_json = NULL;
        unsigned n_stages = e->policy ? policy_stage_count(e->policy) : 0;
        uint64_t total = 0;
        uint64_t oom_kills = rr->oom_kills;
        char text[1024] = "", a[32], b[32];

        /* Time per stage, the current stay included; every stage of the policy, 0 when never in it. */
        append(text, sizeof(text), "stages");
        for (unsigned i = 0; i <= MAX(n_stages, rr->stage) && i <= POLICY_STAGES_MAX; i++) {
                uint64_t t = rr->stage_usec[i];
                const char *name = e->policy ? policy_stage_name(e->policy, i) : NULL;
                char fallback[16];
                if (i == rr->stage && now_usec > rr->stage_since_usec)
                        t += now_usec - rr->stage_since_usec;
                if (!name) {
                        snprintf(fallback, sizeof(fallback), i == 0 ? "normal" : "stage%u", i);
                        name = fallback;
                }
                if (stages)
                        cJSON_AddNumberToObject(stages, name, (double)(t / USEC_PER_MSEC) / 1000.0);
                append(text, sizeof(text), "%s %s %.1fs", i == 0 ? "" : ",", name, sec(t));
        }

        /* Actions by kind and outcome, only the ones that happened. */
        append(text, sizeof(text), "; actions");
        for (PolicyActionKind k = 0; k < _POLICY_ACTION_KIND_MAX; k++) {
                cJSON *per = NULL;
                for (ActionOutcome o = 0; o < _ACTION_OUTCOME_MAX; o++) {
                        uint64_t n = actions_count(e->runner, k, o);
                        if (n == 0)
                                continue;
                        if (!per && actions)
                                per = cJSON_AddObjectToObject(actions, policy_action_kind_to_string(k));
                        if (per)
                                cJSON_AddNumberToObject(per, action_outcome_to_string(o), (double)n);
                        append(text, sizeof(text), "%s %s %s %" PRIu64, total == 0 ? "" : ",",
                               policy_action_kind_to_string(k), action_outcome_to_string(o), n);
                        total += n;
                }
        }
        if (total == 0)
                append(text, sizeof(text), " none");
        stages_json = stages ? cJSON_PrintUnformatted(stages) : NULL;
        actions_json = actions ? cJSON_PrintUnformatted(actions) : NULL;

        log_struct(
            LOG_LEVEL_NOTICE,
            LOG_FIELDS(
                LOG_STR("event", "summary"), LOG_STR("mode", e->mode),
                LOG_DBL("duration_sec", (double)((now_usec - rr->start_usec) / USEC_PER_MSEC) / 1000.0),
                rr->have_sample ? LOG_U64("peak_memory", rr->peak_memory) : LOG_STR("peak_memory", NULL),
                rr->have_sample ? LOG_U64("peak_working_set", rr->peak_working_set)
                                : LOG_STR("peak_working_set", NULL),
                LOG_JSON("stage_seconds", stages_json), LOG_JSON("actions", actions_json),
                LOG_U64("actions_total", total), LOG_U64("restarts", e->restarts),
                LOG_U64("oom_kills", oom_kills),
                LOG_STR("oom_victims", rr->oom_victims[0] ? rr->oom_victims : NULL),
                LOG_I64("exit_status", e->exit_status),
                LOG_STR("exit_reason", rr->exit_reason[0] ? rr->exit_reason : "unknown")),
            "Summary: ran %.1fs; peak memory %s, peak working set %s; %s; restarts %u; kernel OOM "
            "kills %" PRIu64 "%s%s%s; exit status %d: %s.",
            sec(now_usec - rr->start_usec),
            rr->have_sample ? units_format_size(a, sizeof(a), rr->peak_memory) : "unknown",
            rr->have_sample ? units_format_size(b, sizeof(b), rr->peak_working_set) : "unknown", text,
            e->restarts, oom_kills, rr->oom_victims[0] ? " (" : "", rr->oom_victims,
            rr->oom_victims[0] ? ")" : "", e->exit_status, rr->exit_reason[0] ? rr->exit_reason : "unknown");
}

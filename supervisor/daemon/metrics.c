/* SPDX-License-Identifier: MIT */
/* The /metrics document; see metrics.h. Names follow the Prometheus rules (an oomless_ prefix, base
 * units, _bytes, _seconds, _total on counters) and borrow cAdvisor's and node_exporter's where they
 * mean the same (working set, PSI waiting/stalled). Labels take a handful of values each: stage names
 * (at most 17), action kinds and outcomes, memory.events keys. */
#define _GNU_SOURCE 1
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

typedef struct Out {
        FILE *f;
        MetricsFormat fmt;
} Out;

typedef enum Type {
        GAUGE,
        COUNTER,
        INFO,
} Type;

MetricsFormat metrics_format_for_accept(const char *accept)
{
        return accept && strstr(accept, "application/openmetrics-text") ? METRICS_OPENMETRICS : METRICS_TEXT;
}

const char *metrics_content_type(MetricsFormat fmt)
{
        return fmt == METRICS_OPENMETRICS ? METRICS_CONTENT_TYPE_OPENMETRICS : METRICS_CONTENT_TYPE_TEXT;
}

/* HELP text and label values escape backslash and newline; label values also the double quote. */
static void put_escaped(FILE *f, const char *s, bool quote)
{
        for (; *s; s++) {
                if (*s == '\\')
                        fputs("\\\\", f);
                else if (*s == '\n')
                        fputs("\\n", f);
                else if (*s == '"' && quote)
                        fputs("\\\"", f);
                else
                        fputc(*s, f);
        }
}

/* HELP, TYPE (and UNIT in OpenMetrics) of the family whose samples are called name. OpenMetrics names
 * a counter family without _total and an info family without _info; the text format has no info
 * type, so an info is a gauge of 1 there. */
static void family(Out *o, const char *name, Type type, const char *unit, const char *help)
{
        char base[128];
        size_t n = strlen(name);

        snprintf(base, sizeof(base), "%s", name);
        if (o->fmt == METRICS_OPENMETRICS) {
                if (type == COUNTER && n > 6 && streq(name + n - 6, "_total"))
                        base[n - 6] = '\0';
                if (type == INFO && n > 5 && streq(name + n - 5, "_info"))
                        base[n - 5] = '\0';
        }
        fprintf(o->f, "# HELP %s ", base);
        put_escaped(o->f, help, false);
        fprintf(o->f, "\n# TYPE %s %s\n", base,
                type == COUNTER                                 ? "counter"
                : type == INFO && o->fmt == METRICS_OPENMETRICS ? "info"
                                                                : "gauge");
        if (unit && o->fmt == METRICS_OPENMETRICS)
                fprintf(o->f, "# UNIT %s %s\n", base, unit);
}

/* One sample: name{k1="v1",k2="v2"} value; labels are NULL-terminated key, value pairs. */
static void sample_labels(Out *o, const char *name, const char *const *labels, const char *value)
{
        fputs(name, o->f);
        if (labels && labels[0]) {
                fputc('{', o->f);
                for (size_t i = 0; labels[i]; i += 2) {
                        fprintf(o->f, "%s%s=\"", i ? "," : "", labels[i]);
                        put_escaped(o->f, labels[i + 1] ?: "", true);
                        fputc('"', o->f);
                }
                fputc('}', o->f);
        }
        fprintf(o->f, " %s\n", value);
}

static void sample_u64(Out *o, const char *name, const char *const *labels, uint64_t v)
{
        char b[32];
        snprintf(b, sizeof(b), "%" PRIu64, v);
        sample_labels(o, name, labels, b);
}

/* Microseconds as seconds, exactly (six decimals). */
static void sample_usec(Out *o, const char *name, const char *const *labels, uint64_t usec)
{
        char b[48];
        snprintf(b, sizeof(b), "%" PRIu64 ".%06" PRIu64, usec / 1000000, usec % 1000000);
        sample_labels(o, name, labels, b);
}

static void gauge_u64(Out *o, const char *name, const char *unit, const char *help, uint64_t v)
{
        family(o, name, GAUGE, unit, help);
        sample_u64(o, name, NULL, v);
}

static void counter_u64(Out *o, const char *name, const char *help, uint64_t v)
{
        family(o, name, COUNTER, NULL, help);
        sample_u64(o, name, NULL, v);
}

static void counter_usec(Out *o, const char *name, const char *help, uint64_t usec)
{
        family(o, name, COUNTER, "seconds", help);
        sample_usec(o, name, NULL, usec);
}

static void render_memory(Out *o, const MetricsFigures *f)
{
        const OomlessSample *s = &f->sample;

        gauge_u64(o, "oomless_memory_current_bytes", "bytes",
                  "Memory charged to the workload's cgroup (memory.current, v1 memory.usage_in_bytes).",
                  s->current);
        gauge_u64(o, "oomless_memory_working_set_bytes", "bytes",
                  "Memory the workload cannot easily give back: current minus inactive_file (cAdvisor's "
                  "container_memory_working_set_bytes).",
                  oomless_sample_working_set(s));
        gauge_u64(o, "oomless_memory_nonfile_bytes", "bytes",
                  "Memory no page-cache reclaim can free: current minus active and inactive file cache "
                  "(anonymous, shmem and kernel memory). The built-in policy's restart looks at this.",
                  oomless_sample_nonfile(s));
        gauge_u64(o, "oomless_memory_anon_bytes", "bytes",
                  "Anonymous memory (memory.stat anon, v1 total_rss).", s->anon);
        gauge_u64(o, "oomless_memory_file_bytes", "bytes", "Page cache (memory.stat file, v1 total_cache).",
                  s->file);
        gauge_u64(o, "oomless_memory_shmem_bytes", "bytes",
                  "Shared memory and tmpfs (memory.stat shmem, v1 total_shmem).", s->shmem);
        gauge_u64(o, "oomless_memory_kernel_bytes", "bytes",
                  "Kernel memory charged (memory.stat kernel, v1 memory.kmem.usage_in_bytes).", s->kernel);
        gauge_u64(o, "oomless_memory_swap_bytes", "bytes",
                  "Swap used by the workload (memory.swap.current).", s->swap_current);
        if (s->limit != OOMLESS_NO_LIMIT)
                gauge_u64(o, "oomless_memory_limit_bytes", "bytes",
                          "Effective memory limit: the smallest memory.max of the leaf and its ancestors, "
                          "bounded by MemTotal.",
                          s->limit);
        if (s->high != OOMLESS_NO_LIMIT)
                gauge_u64(o, "oomless_memory_high_bytes", "bytes", "memory.high in force on the leaf.",
                          s->high);
        if (s->peak > 0)
                gauge_u64(o, "oomless_memory_peak_bytes", "bytes",
                          "Peak memory of the leaf (memory.peak, v1 max_usage_in_bytes).", s->peak);

        if (s->psi_valid) {
                counter_usec(
                    o, "oomless_pressure_memory_waiting_seconds_total",
                    "Time some task of the workload stalled on memory (memory.pressure some total).",
                    s->psi_some.total_usec);
                counter_usec(
                    o, "oomless_pressure_memory_stalled_seconds_total",
                    "Time all tasks of the workload stalled on memory (memory.pressure full total).",
                    s->psi_full.total_usec);
        }
        if (s->events_valid) {
                const struct {
                        const char *name;
                        uint64_t v;
                } ev[] = {
                        { "low", s->ev_low },           { "high", s->ev_high },
                        { "max", s->ev_max },           { "oom", s->ev_oom },
                        { "oom_kill", s->ev_oom_kill }, { "oom_group_kill", s->ev_oom_group_kill },
                };
                family(o, "oomless_memory_events_total", COUNTER, NULL,
                       "memory.events counters of the leaf (v1: failcnt as max, oom_control as oom and "
                       "oom_kill).");
                for (size_t i = 0; i < ELEMENTSOF(ev); i++)
                        sample_u64(o, "oomless_memory_events_total",
                                   (const char *const[]){ "event", ev[i].name, NULL }, ev[i].v);
        }
        if (s->heap_valid) {
                gauge_u64(o, "oomless_heap_held_bytes", "bytes",
                          "Memory liboomless holds from the kernel in the workload.", s->heap_held);
                gauge_u64(o, "oomless_heap_in_use_bytes", "bytes",
                          "Memory liboomless has handed out to the workload.", s->heap_in_use);
                if (s->heap_cap > 0)
                        gauge_u64(
                            o, "oomless_heap_cap_bytes", "bytes",
                            "The heap cap liboomless enforces (allocations beyond it fail with ENOMEM).",
                            s->heap_cap);
                counter_u64(o, "oomless_heap_cap_hits_total",
                            "Allocations liboomless refused at the heap cap.", s->heap_cap_hits);
        }
}

static void render_stages(Out *o, const MetricsFigures *f)
{
        char level[16];
        const char *cur = f->stage <= f->n_stages ? f->stage_names[f->stage] : NULL;

        gauge_u64(o, "oomless_stage_level", NULL,
                  "The policy stage the workload is in: 0 is normal, 1..N the stages.", f->stage);
        family(o, "oomless_stage_info", INFO, NULL, "The name of the current policy stage.");
        snprintf(level, sizeof(level), "%u", f->stage);
        sample_labels(o, "oomless_stage_info",
                      (const char *const[]){ "stage", cur ?: "", "level", level, NULL }, "1");
        counter_u64(o, "oomless_stage_transitions_total", "Stage changes since oomless started.",
                    f->transitions);
        family(o, "oomless_stage_seconds_total", COUNTER, "seconds",
               "Time spent in each stage since oomless started.");
        for (unsigned i = 0; i <= f->n_stages && i <= POLICY_STAGES_MAX; i++)
                sample_usec(o, "oomless_stage_seconds_total",
                            (const char *const[]){ "stage", f->stage_names[i] ?: "", NULL },
                            f->stage_usec[i]);
}

/* Permille as a ratio, exactly (three decimals). */
static void gauge_permille(Out *o, const char *name, const char *help, uint32_t permille)
{
        char b[32];
        family(o, name, GAUGE, "ratio", help);
        snprintf(b, sizeof(b), "%u.%03u", permille / 1000, permille % 1000);
        sample_labels(o, name, NULL, b);
}

static void render_budget(Out *o, const MetricsFigures *f)
{
        gauge_permille(
            o, "oomless_budget_ratio",
            "The capacity budget on the control page: the share of its normal size each app cache "
            "may hold (1 = normal).",
            f->budget_permille);
        gauge_permille(o, "oomless_budget_step_ratio", "The budget's climb step in force.",
                       f->budget_step_permille);
        gauge_permille(o, "oomless_budget_last_failed_ratio",
                       "The budget at which pressure last came back during a climb; 0 when it never did.",
                       f->budget_failed_permille);
        counter_u64(o, "oomless_budget_sheds_total", "Shed actions applied to the budget.", f->budget_sheds);
        counter_u64(o, "oomless_budget_steps_total", "Steps of the budget's climb back.", f->budget_steps);
        gauge_u64(o, "oomless_weight", NULL, "The routing weight on the control page, 0..100 (100 normal).",
                  f->weight);
}

static void render_actions(Out *o, const MetricsFigures *f)
{
        family(o, "oomless_actions_total", COUNTER, NULL,
               "Policy actions by kind and outcome (ok, failed, skipped, would: dry run).");
        for (PolicyActionKind k = 0; k < _POLICY_ACTION_KIND_MAX; k++)
                for (ActionOutcome oc = 0; oc < _ACTION_OUTCOME_MAX; oc++)
                        sample_u64(o, "oomless_actions_total",
                                   (const char *const[]){ "action", policy_action_kind_to_string(k),
                                                          "outcome", action_outcome_to_string(oc), NULL },
                                   f->actions[k][oc]);
        counter_u64(o, "oomless_restarts_total",
                    "Restarts of the workload by oomless (run), or of the target by the restart action "
                    "(attach, counted when --follow finds the new process).",
                    f->restarts);
        counter_u64(o, "oomless_oom_kills_total",
                    "Kernel OOM kills seen in the workload's cgroup since oomless started.", f->oom_kills);
}

char *metrics_render(const MetricsFigures *f, MetricsFormat fmt, size_t *ret_len)
{
        char *buf = NULL;
        size_t len = 0;
        Out o = { .fmt = fmt };

        o.f = open_memstream(&buf, &len);
        if (!o.f)
                return NULL;

        family(&o, "oomless_build_info", INFO, NULL, "The oomless build serving these metrics.");
        sample_labels(&o, "oomless_build_info", (const char *const[]){ "version", f->version ?: "", NULL },
                      "1");
        family(&o, "oomless_policy_info", INFO, NULL, "The policy in force.");
        sample_labels(&o, "oomless_policy_info",
                      (const char *const[]){ "policy", f->policy_name ?: "", "dry_run",
                                             f->dry_run ? "true" : "false", NULL },
                      "1");
        gauge_u64(&o, "oomless_ready", NULL,
                  "1 unless the current stage declares \"ready\": false (/readyz).", f->ready);
        gauge_u64(&o, "oomless_workload_running", NULL, "1 while the supervised workload runs.",
                  f->workload_running);
        if (f->attach)
                gauge_u64(
                    &o, "oomless_target_up", NULL,
                    "attach: 1 while the target is found and watched, 0 while --wait or --follow looks "
                    "for it.",
                    f->target_up);
        counter_u64(&o, "oomless_samples_total", "Samples of the workload's memory taken by the loop.",
                    f->samples);
        if (f->sample_valid)
                render_memory(&o, f);
        render_stages(&o, f);
        render_budget(&o, f);
        render_actions(&o, f);
        if (f->self_rss_bytes > 0)
                gauge_u64(&o, "oomless_supervisor_resident_memory_bytes", "bytes",
                          "Resident memory of the oomless supervisor itself.", f->self_rss_bytes);
        counter_usec(&o, "oomless_supervisor_cpu_seconds_total",
                     "CPU time (user and system) of the oomless supervisor itself.", f->self_cpu_usec);
        if (fmt == METRICS_OPENMETRICS)
                fputs("# EOF\n", o.f);

        bool failed = ferror(o.f); /* a write that could not grow the buffer */
        if (fclose(o.f) != 0 || failed || !buf) {
                free(buf);
                return NULL;
        }
        *ret_len = len;
        return buf;
}

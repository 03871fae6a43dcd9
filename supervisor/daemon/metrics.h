/* SPDX-License-Identifier: MIT */
/* The /metrics document: a pure function from a struct of figures to the Prometheus text format 0.0.4
 * or OpenMetrics 1.0, so the renderer is tested without a loop or a socket. The figures are gathered by
 * manager-http.c; every family is documented in docs/metrics.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions.h"
#include "oomless/sample.h"
#include "policy.h"

#define METRICS_CONTENT_TYPE_TEXT        "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_CONTENT_TYPE_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

typedef enum MetricsFormat {
        METRICS_TEXT,        /* Prometheus text format 0.0.4 */
        METRICS_OPENMETRICS, /* OpenMetrics 1.0: info and counter families by their base name, # EOF */
} MetricsFormat;

typedef struct MetricsFigures {
        const char *version;     /* oomless's */
        const char *policy_name; /* NULL: no label value */
        bool dry_run;
        bool ready;
        bool workload_running;
        bool attach;      /* attach mode: oomless_target_up is written */
        bool target_up;   /* attach: 1 once the target is found and watched, 0 while --wait/--follow look */
        uint64_t samples; /* samples taken by the loop */

        bool sample_valid; /* the loop's last sample; without one no memory family is written */
        OomlessSample sample;

        unsigned stage, n_stages;
        const char *stage_names[POLICY_STAGES_MAX + 1]; /* level 0 ("normal") .. n_stages */
        uint64_t stage_usec[POLICY_STAGES_MAX + 1];
        uint64_t transitions;

        /* The budget controller (permille) and the weight (0..100). */
        uint32_t budget_permille, budget_step_permille, budget_failed_permille, weight;
        uint64_t budget_steps, budget_sheds;

        uint64_t actions[_POLICY_ACTION_KIND_MAX][_ACTION_OUTCOME_MAX];
        uint64_t restarts;
        uint64_t oom_kills;

        uint64_t self_rss_bytes; /* 0: unknown, not written */
        uint64_t self_cpu_usec;
} MetricsFigures;

/* OpenMetrics when the scraper's Accept header names application/openmetrics-text (Prometheus does,
 * with a q of 1), the text format otherwise (NULL included). */
MetricsFormat metrics_format_for_accept(const char *accept);
const char *metrics_content_type(MetricsFormat fmt);

/* The document, malloc'd and NUL-terminated, its length in *ret_len. NULL on OOM. */
char *metrics_render(const MetricsFigures *f, MetricsFormat fmt, size_t *ret_len);

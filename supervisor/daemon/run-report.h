/* SPDX-License-Identifier: MIT */
/* The end of a run: what the run did, gathered as it goes (peaks from every loop sample, time per
 * stage from every transition, kernel OOM kills, why it ended) and written at exit as one summary
 * record, a line in text mode and the same figures as the fields of one JSON object (see oomless(1),
 * "EXIT SUMMARY"). Plain data with explicit inputs, like supervise.c: no loop, no cgroup. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "actions.h"
#include "oomless/sample.h"
#include "policy.h"

typedef struct RunReport {
        uint64_t start_usec;       /* CLOCK_MONOTONIC */
        uint64_t peak_memory;      /* max of memory.current and memory.peak over the run */
        uint64_t peak_working_set; /* max of current - inactive_file */
        bool have_sample;
        bool oom_baseline_valid;
        uint64_t oom_kill_last; /* the leaf's oom_kill counter at the last sample */
        uint64_t oom_kills;     /* kernel OOM kills in the leaf during the run */
        unsigned stage;         /* the level now, and since when */
        uint64_t stage_since_usec;
        uint64_t stage_usec[POLICY_STAGES_MAX + 1]; /* time spent in each level before the current stay */
        char exit_reason[160];                      /* "" until something says why the run ends */
        char oom_victims[128]; /* "dd[123], sh[120]": the kernel's victims named by its log */
} RunReport;

void run_report_init(RunReport *rr, uint64_t now_usec);
/* Every loop sample. */
void run_report_sample(RunReport *rr, const OomlessSample *s);
/* Every stage change, at t->at_usec (or now_usec when that is 0). */
void run_report_transition(RunReport *rr, const PolicyTransition *t, uint64_t now_usec);
/* A kernel OOM kill's victim, for the summary. */
void run_report_oom_victim(RunReport *rr, int pid, const char *comm);
/* Why the run ends; the first reason given sticks unless force (a later, better explanation). */
void run_report_set_reason(RunReport *rr, bool force, const char *fmt, ...) _printf_(3, 4);

typedef struct RunReportExit {
        const char *mode; /* "run" | "attach" */
        int exit_status;
        unsigned restarts;
        const Policy *policy;       /* stage names; may be NULL */
        const ActionRunner *runner; /* action counts; may be NULL */
} RunReportExit;

/* Logs the summary at notice level (event "summary"). */
void run_report_log(const RunReport *rr, const RunReportExit *e, uint64_t now_usec);

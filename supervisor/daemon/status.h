/* SPDX-License-Identifier: MIT */
/* `oomless status`, the daemon's half: the supervisor's live state as JSON (its keys are documented
 * in oomless(1) under "oomless status"), served on a unix stream socket in the runtime directory
 * (connect, read to EOF). The client is cli/status-client.c. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "oomless/sample.h"

#define STATUS_SOCKET_NAME  "status.sock"
#define STATUS_JSON_VERSION 1

typedef struct StatusInfo {
        const char *mode; /* "run" | "attach" */
        pid_t supervisor_pid;
        const char *tier;
        const char *leaf;
        double uptime_sec;
        const char *instance_id;
        char *const *command; /* the workload's argv; NULL when unknown (attach --cgroup) */
        const char *waiting;  /* attach: the --wait SPEC while the target is looked for; else NULL */

        bool sample_valid;
        OomlessSample sample;
        uint64_t leaf_max, leaf_high, swap_max; /* UINT64_MAX = none, 0 = unknown (null) */
        bool leaf_max_known, leaf_high_known, swap_max_known;

        pid_t child_pid; /* 0 = none */
        double child_started_sec_ago;
        unsigned restarts;
        bool last_exit_valid;
        int last_exit_status; /* oomless-style status: code or 128+sig */
        int last_exit_signal; /* 0 when it exited */
        bool last_exit_oom_killed;
        double last_exit_sec_ago;

        const char *policy_name;
        const char *cause; /* the largest part of the working set while in a stage, or NULL */
        bool dry_run;
        unsigned stage;
        const char *stage_name;
        double stage_since_sec;
        cJSON *recent_actions; /* array, taken over by status_render_json; NULL = [] */

        /* The budget controller and the weight ("budget" object); only with budget_valid. */
        bool ready;
        bool budget_valid;
        uint32_t budget_permille, budget_step_permille, budget_ceiling_permille, budget_failed_permille;
        const char *budget_phase;
        unsigned budget_steps, budget_sheds;
        uint32_t weight;

        bool heap_valid;
        uint64_t heap_held, heap_in_use, heap_cap, heap_cap_hits, heap_scavenges;
} StatusInfo;

/* Builds the JSON document (malloc'd, unformatted). Takes ownership of info->recent_actions. */
char *status_render_json(StatusInfo *info);

typedef char *(*StatusRenderFn)(void *userdata);
typedef struct StatusServer StatusServer;

/* Listens on path (removed first if stale). Each connection gets render(userdata)'s document. The
 * socket is left at free: its directory goes as a whole (runtime-dir.h). */
int status_server_new(sd_event *e, const char *path, StatusRenderFn render, void *userdata,
                      StatusServer **ret);
/* Closes and unlinks the socket. NULL-safe. */
StatusServer *status_server_free(StatusServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(StatusServer *, status_server_free)

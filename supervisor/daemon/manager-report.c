/* SPDX-License-Identifier: MIT */
/* Who this run is and what it did: the instance id and the workload's command line (for status,
 * webhooks and hooks), the start record, and the summary at exit (run-report.h). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

#include "log.h"
#include "manager-internal.h"
#include "strv.h"
#include "time-util.h"

/* 128 random bits in hex: two runs of oomless never share one, even with the same pid (containers
 * all run as pid 1). */
static int make_instance_id(char buf[static ACTIONS_INSTANCE_ID_MAX])
{
        uint8_t raw[16];
        ssize_t n;

        do
                n = getrandom(raw, sizeof(raw), 0);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof(raw))
                return n < 0 ? negative_errno() : -EIO;
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(buf + 2 * i, 3, "%02x", raw[i]);
        return 0;
}

int manager_setup_identity(Manager *m)
{
        int r = make_instance_id(m->instance_id);

        if (r < 0)
                return log_error_errno(r, "Cannot make an instance id (getrandom): %m");
        if (m->cfg.mode == MANAGER_RUN) {
                m->command = strv_copy(m->cfg.argv);
                if (!m->command)
                        return log_error_errno(-ENOMEM, "Out of memory");
        } else if (m->cfg.attach_pid > 0) {
                r = workload_read_cmdline(m->cfg.attach_pid, &m->command);
                if (r < 0)
                        log_debug_errno(r, "Cannot read the command line of process %d, going without: %m",
                                        (int)m->cfg.attach_pid);
        }
        return 0;
}

void manager_log_start(Manager *m)
{
        _cleanup_free_ char *cmdline = m->command ? strv_join(m->command, " ", true) : NULL;
        _cleanup_free_ char *cmd_json = NULL;
        cJSON *a = m->command ? cJSON_CreateStringArray((const char *const *)m->command,
                                                        (int)strv_length(m->command))
                              : NULL;

        if (a) {
                cmd_json = cJSON_PrintUnformatted(a);
                cJSON_Delete(a);
        }
        log_struct(LOG_LEVEL_INFO,
                   LOG_FIELDS(LOG_STR("event", "start"),
                              LOG_STR("mode", m->cfg.mode == MANAGER_RUN ? "run" : "attach"),
                              LOG_STR("instance_id", m->instance_id), LOG_JSON("command", cmd_json),
                              LOG_I64("pid", m->cfg.mode == MANAGER_RUN ? m->child.pid : m->cfg.attach_pid),
                              LOG_STR("leaf", cg_leaf_path(m->cg)),
                              LOG_STR("tier", cg_tier_to_string(cg_tier(m->cg))),
                              LOG_STR("policy", policy_name(supervise_policy(m->supervise)))),
                   "Supervising %s (pid %d) in %s, instance %s.", cmdline ?: "the workload",
                   (int)(m->cfg.mode == MANAGER_RUN ? m->child.pid : m->cfg.attach_pid),
                   cg_leaf_path(m->cg) ?: "no cgroup of its own", m->instance_id);
}

void manager_log_summary(Manager *m, int exit_status)
{
        run_report_log(&m->report,
                       &(RunReportExit){ .mode = m->cfg.mode == MANAGER_RUN ? "run" : "attach",
                                         .exit_status = exit_status,
                                         .restarts = m->restarts,
                                         .policy = m->supervise ? supervise_policy(m->supervise) : NULL,
                                         .runner = m->runner },
                       now_usec(CLOCK_MONOTONIC));
}

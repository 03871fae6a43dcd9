/* SPDX-License-Identifier: MIT */
/* Manager: one supervisor instance. Owns the sd-event loop, the cgroup, the workload (run) or the
 * target (attach), the timers, the signal sources, the status socket, and the runtime directory. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "macro.h"
#include "oomless/sample.h"
#include "sample.h"
#include "status.h"
#include "workload.h"

#define MANAGER_DEFAULT_INTERVAL_USEC     (1 * USEC_PER_SEC)
#define MANAGER_DEFAULT_STOP_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define MANAGER_DEFAULT_RUNTIME_DIR       "/run/oomless"
/* Armed on the leaf's memory.pressure when no policy names triggers: 150ms of stall per 1s. */
#define MANAGER_DEFAULT_PSI_TRIGGER "some 150000 1000000"

/* The longest oomless waits, once it is to exit, for hooks and webhooks still running (oomless(1)). */
#define MANAGER_DRAIN_MAX_USEC (10 * USEC_PER_SEC)

typedef enum ManagerMode {
        MANAGER_RUN,
        MANAGER_ATTACH,
} ManagerMode;

typedef struct ManagerConfig {
        ManagerMode mode;
        char **argv;               /* run: the command */
        pid_t attach_pid;          /* attach --pid, 0 otherwise */
        const char *attach_cgroup; /* attach --cgroup, NULL otherwise */
        CgOptions cg;
        uint64_t stop_timeout_usec;
        uint64_t interval_usec; /* 0: the policy's, or MANAGER_DEFAULT_INTERVAL_USEC */
        bool forward_hup;
        const char *policy_path; /* NULL: the built-in default */
        bool dry_run;
        bool preload;
        SizeSpec heap_cap; /* published in the control page; unset: the allocator's own setting */
        const char *runtime_dir;
} ManagerConfig;

typedef struct ManagerPolicy ManagerPolicy; /* manager-policy.c */

typedef struct Manager {
        ManagerConfig cfg;
        sd_event *event;
        Cg *cg;
        uint64_t start_usec;

        char *instance_dir; /* <runtime>/<pid> */
        StatusServer *status;

        /* run: the workload */
        Workload child;
        bool child_running;
        sd_event_source *child_source; /* io on the pidfd */
        uint64_t oom_kill_baseline;
        unsigned restarts;
        bool last_exit_valid;
        int last_exit_status, last_exit_signal;
        bool last_exit_oom_killed;
        uint64_t last_exit_usec;
        sd_event_source *restart_timer;

        /* attach: the target */
        int target_pidfd;
        sd_event_source *target_source;

        bool stopping;   /* the workload is being stopped for good */
        bool restarting; /* the workload is being stopped to be started again */
        int stop_signal;
        uint64_t stop_grace_usec; /* of the stop or restart in progress */
        sd_event_source *stop_timer;
        int exit_status;
        bool draining; /* the loop is to end once the running actions finished (exit drain) */

        sd_event_source *tick;
        uint64_t interval_usec;
        sd_event_source *events_source, *populated_source;
        int psi_fds[OOMLESS_PSI_TRIGGERS_MAX];
        sd_event_source *psi_sources[OOMLESS_PSI_TRIGGERS_MAX];
        unsigned n_psi;
        Sampler *sampler; /* fills m->last; counts the PSI trigger events */

        OomlessSample last;
        bool have_sample;

        ManagerPolicy *policy;
} Manager;

/* Builds the manager: loads the policy, sets up the cgroup, the runtime directory and the status
 * socket. Errors are logged; the caller exits 125. */
int manager_new(const ManagerConfig *cfg, Manager **ret);
/* Starts the workload (run) or the watch (attach), runs the loop, and returns the exit status. */
int manager_run(Manager *m);
/* Kills leftovers, removes the leaves and the runtime directory. NULL-safe. */
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free)

/* Takes a fresh sample into m->last (PSI trigger counts and heap figures included). */
int manager_sample(Manager *m);
/* Begins a graceful stop of the workload with sig, escalating to SIGKILL of the whole leaf after
 * --stop-timeout. */
void manager_stop_workload(Manager *m, int sig);
/* Stops the workload with sig, kills the leaf after grace_usec, and lets the restart policy start it
 * again (the restart action). */
int manager_restart_workload(Manager *m, int sig, uint64_t grace_usec);
uint64_t manager_now(void);

/* manager-policy.c: the policy engine and the actions, driven by the manager. */
int manager_policy_load(Manager *m);
void manager_policy_reload(Manager *m);
/* After each sample. */
void manager_policy_tick(Manager *m);
/* The interval the policy asks for (0 = no opinion) and its PSI triggers. */
uint64_t manager_policy_interval(Manager *m);
/* Publishes --heap-cap against the last sample's limit; before a spawn so the allocator starts with it. */
void manager_policy_publish_heap_cap(Manager *m);
size_t manager_policy_psi_triggers(Manager *m, const char **ret, size_t max);
/* Extra environment for the child ("NAME=value", strv appended to *env). */
int manager_policy_child_env(Manager *m, char ***env);
int manager_policy_setup(Manager *m); /* once the loop and the cgroup exist */
/* The workload ended: returns 1 and *ret_delay_usec to restart it, 0 to stop, or a negative errno
 * to give up (exit POLICY_EXIT_GAVE_UP). */
int manager_policy_child_exited(Manager *m, int status, bool oom_killed, uint64_t *ret_delay_usec);
void manager_policy_status(Manager *m, StatusInfo *info);
/* Exit drain: true when actions still run and the loop now waits for them (m->draining), up to their
 * own timeouts capped at MANAGER_DRAIN_MAX_USEC, before it exits with m->exit_status. */
bool manager_policy_drain_begin(Manager *m);
/* A second SIGTERM/SIGINT during the drain: give up on the running actions now. */
void manager_policy_drain_cancel(Manager *m, int sig);
ManagerPolicy *manager_policy_free(ManagerPolicy *p);

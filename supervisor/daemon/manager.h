/* SPDX-License-Identifier: MIT */
/* Manager: one supervisor instance, the event loop's wiring. Owns the sd-event loop, the cgroup, the
 * workload (run) or the target (attach), the timers, the signal sources, the watched fds, the status
 * socket and the runtime directory; hands each sample to supervision (supervise.h) and its decisions
 * to the action runner (actions.h), and stops the workload through stop.h. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "actions.h"
#include "cgroup.h"
#include "control.h"
#include "http.h"
#include "k8s-events.h"
#include "kmsg.h"
#include "listen-addr.h"
#include "macro.h"
#include "oomless/sample.h"
#include "runtime-dir.h"
#include "run-report.h"
#include "sample.h"
#include "status.h"
#include "stop.h"
#include "supervise.h"
#include "target.h"
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

typedef struct React React;

typedef struct ManagerConfig {
        ManagerMode mode;
        char **argv;               /* run: the command */
        pid_t attach_pid;          /* attach --pid, 0 otherwise */
        const char *attach_cgroup; /* attach --cgroup, NULL otherwise */
        CgOptions cg;
        uint64_t stop_timeout_usec;
        uint64_t stop_delay_usec; /* --stop-delay: not ready at once, the stop signal after this */
        uint64_t interval_usec;   /* 0: the policy's, or MANAGER_DEFAULT_INTERVAL_USEC */
        bool forward_hup;
        uint64_t success_exit[4]; /* --success-exit: workload statuses (bits 1..255) oomless exits 0 for */
        const char *policy_path;  /* NULL: the built-in default */
        bool dry_run;
        bool tick_only; /* --tick-only: no threshold events, hold timers or adaptive interval */
        bool preload;
        SizeSpec heap_cap;  /* published in the control page; unset: the allocator's own setting */
        bool heap_cap_auto; /* publish the live cap instead (supervise_heap_cap()); the default */
        const char *runtime_dir;
        bool keep_on_supervisor_death; /* run: no PR_SET_PDEATHSIG on the workload */
        ListenAddr listen; /* --listen, when listen_set; else the policy's "http.listen", if any */
        bool listen_set;
        bool k8s_events, k8s_condition; /* --k8s-events, --k8s-condition (manager-k8s.c) */
        /* attach (target.h) */
        TargetSpec wait; /* --wait=SPEC, when wait_set */
        bool wait_set;
        uint64_t wait_timeout_usec; /* 0: forever */
        bool follow;
        const char *control_page; /* --control-page=PATH */
} ManagerConfig;

typedef struct Manager {
        ManagerConfig cfg;
        sd_event *event;
        Cg *cg;
        uint64_t start_usec;
        char instance_id[ACTIONS_INSTANCE_ID_MAX]; /* random, for this run of oomless (webhooks, status) */
        char **command;                            /* the workload's command line; NULL when unknown */
        RunReport report;                          /* for the summary at exit (run-report.h) */

        RuntimeDir *rundir;       /* <runtime>/<pid>: checked, locked, removed through fds */
        const char *instance_dir; /* its path, rundir->path */
        StatusServer *status;
        HttpServer *http; /* --listen: /metrics, /livez, /readyz, /status */

        Supervise *supervise;
        ActionRunner *runner;
        Actuator *actuator;           /* the runner's hands on the cgroup */
        Control *control;             /* run with the allocator: the control page */
        sd_event_source *drain_timer; /* manager-drain.c */

        /* run: the workload */
        Workload child;
        bool child_running;
        sd_event_source *child_source; /* io on the pidfd */
        uint64_t oom_kill_baseline;
        unsigned restarts;
        bool last_exit_valid;
        int last_exit_status, last_exit_signal;
        bool last_exit_oom_killed;
        pid_t last_exit_pid; /* the main process that ended last */
        uint64_t last_exit_usec;
        sd_event_source *restart_timer;
        sd_event_source *stop_delay_timer; /* --stop-delay running: oomless was told to stop */
        int stop_delay_signal;

        /* attach: the target */
        int target_pidfd;
        sd_event_source *target_source;
        Target target; /* --wait, --follow, restart (target.c) */

        bool stopping;   /* the workload is being stopped for good */
        bool restarting; /* the workload is being stopped to be started again */
        /* A restart was asked for while shmem held the working set (policy_restart_futile()): the
         * workload is stopped once instead, and oomless exits POLICY_EXIT_SHMEM. */
        bool shmem_stop;

        /* Kernel OOM kills in the leaf, each reported once with its victim (manager-decide.c). */
        int kmsg_fd; /* /dev/kmsg at its end; -errno when it cannot be read */
        KmsgMatch kmsg_match;
        bool oom_seen_valid;
        uint64_t oom_seen;          /* the leaf's oom_kill counter, reported up to here */
        uint64_t oom_pending_since; /* a rise whose victim the kernel log did not name yet; 0: none */
        Stop stop;                  /* the stop signal, its grace and the kill after it */
        int exit_status;
        bool draining; /* the loop is to end once the running actions finished (exit drain) */

        sd_event_source *tick;
        uint64_t interval_usec;
        struct React *react; /* manager-react.c: threshold events, hold timers, the adaptive tick */
        sd_event_source *events_source, *populated_source;
        int psi_fds[OOMLESS_PSI_TRIGGERS_MAX];
        sd_event_source *psi_sources[OOMLESS_PSI_TRIGGERS_MAX];
        unsigned n_psi;
        Sampler *sampler; /* fills m->last; counts the PSI trigger events */

        OomlessSample last; /* the loop's last sample, the one the policy decides on */
        bool have_sample;
        uint64_t samples; /* samples taken into last, for the metrics */

        K8sEvents *k8s; /* --k8s-events/--k8s-condition, when configured (manager-k8s.c) */
        uint64_t k8s_oom_seen;
        bool k8s_oom_seen_valid;
        sd_event_source *k8s_flush;
        uint64_t k8s_flush_deadline;
} Manager;

/* Builds the manager: loads the policy, sets up the cgroup (attach --wait: once the target appeared,
 * from the loop), the runtime directory, the status socket and the HTTP endpoint. Errors are logged;
 * the caller exits 125. */
int manager_new(const ManagerConfig *cfg, Manager **ret);
/* Starts the workload (run) or the watch (attach), runs the loop, and returns the exit status. */
int manager_run(Manager *m);
/* Kills leftovers, removes the leaves and the runtime directory. NULL-safe. */
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free)

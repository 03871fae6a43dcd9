/* SPDX-License-Identifier: MIT */
/* What the manager's files share: manager.c wires the loop, manager-decide.c samples and decides,
 * manager-workload.c runs the workload, manager-drain.c ends the loop. */
#pragma once

#include "manager.h"

/* manager-decide.c */
/* Takes the loop's sample into m->last (PSI trigger counts included). */
int manager_sample(Manager *m);
/* Evaluates m->last and runs the decisions (not while draining). */
void manager_decide(Manager *m);
void manager_sample_and_decide(Manager *m);
/* Publishes --heap-cap against m->last's limit; before a spawn so the allocator starts with it. */
void manager_publish_heap_cap(Manager *m);
void manager_run_decisions(Manager *m, const SuperviseDecisions *d);
/* Supervision with the policy loaded (errors logged). */
int manager_setup_supervise(Manager *m);
/* The control page (run) and the action runner, once the loop and the cgroup exist. */
int manager_setup_acting(Manager *m);
/* The status socket's document, from a sample of its own. */
char *manager_render_status(void *userdata);

/* manager.c: the memory events, populated and PSI trigger watches on m->cg (again after --follow). */
int manager_arm_watches(Manager *m);
/* manager.c, attach --wait: the target appeared (m->cfg.attach_pid): sets up its cgroup, the sampler
 * and the action runner, and starts supervising it (errors logged). */
int manager_target_found(Manager *m);
/* manager.c: the status document (socket and /status): manager_render_status(), or while attach
 * waits for its target one that says so. */
char *manager_status_document(void *userdata);

/* manager-http.c: the HTTP endpoint when --listen or the policy's "http" asks for one (errors
 * logged). */
int manager_setup_http(Manager *m);

/* manager-workload.c */
void manager_stop_init(Manager *m);
int manager_start_child(Manager *m);
/* A graceful stop with sig, escalating to SIGKILL of the whole leaf after --stop-timeout. */
void manager_stop_workload(Manager *m, int sig);
void manager_request_stop(Manager *m, int sig);
bool manager_stop_requested(const Manager *m);
/* Instead of a restart that would not free shmem: stop once with sig and grace_usec, exit
 * POLICY_EXIT_SHMEM. */
int manager_stop_for_shmem(Manager *m, int sig, uint64_t grace_usec);
/* The restart action: stop with sig, kill the leaf after grace_usec, let the restart policy start it
 * again. */
int manager_restart_workload(Manager *m, int sig, uint64_t grace_usec);
/* Kills and reaps what the run left behind (run mode). */
void manager_kill_leftovers(Manager *m);
int manager_on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata);

/* manager-report.c */
/* The instance id and the workload's command line, before anything else. */
int manager_setup_identity(Manager *m);
/* The start record, once the workload runs (run) or the target is watched (attach). */
void manager_log_start(Manager *m);
/* The summary record at the end of the run. */
void manager_log_summary(Manager *m, int exit_status);

/* manager-k8s.c: Kubernetes Events and the pod condition; no-ops without --k8s-events/--k8s-condition
 * or when their configuration is missing (logged once by manager_setup_k8s()). */
int manager_setup_k8s(Manager *m);
void manager_k8s_transition(Manager *m, const PolicyTransition *t);
void manager_k8s_restart(Manager *m, int status, bool oom, uint64_t delay_usec);
void manager_k8s_gave_up(Manager *m);
/* Every loop sample: a rise of the leaf's oom_kill counter becomes an OOMKilled Event. */
void manager_k8s_sample(Manager *m);
/* At exit: true when requests are in flight and the loop now ends once they are done (at most 3 s). */
bool manager_k8s_flush(Manager *m);

/* manager-drain.c: the exit drain. Ends the loop with status, unless policy actions (hooks, webhooks)
 * still run: then the loop waits for them, up to their own timeouts capped at MANAGER_DRAIN_MAX_USEC. */
int manager_exit(Manager *m, int status);
/* A second SIGTERM/SIGINT during the drain: give up on the running actions now. */
void manager_drain_cancel(Manager *m, int sig);
/* The runner's idle callback: the drain is over. */
void manager_drain_idle(Manager *m);

/* manager-react.c: deciding between ticks (threshold events, hold timers, the adaptive tick). */
/* After manager_run_loop() armed the tick; nothing with --tick-only. Errors logged. */
int manager_react_start(Manager *m);
/* After each decision: re-arms what is watched until the next one. */
void manager_react_update(Manager *m);
React *manager_react_free(React *r);
/* After attach --follow rebound m->cg: the v1 thresholds are reopened on the new cgroup. */
void manager_react_rebind(Manager *m);
/* The tick's next interval (the adaptive one on v2) and the timer accuracy that fits an interval. */
uint64_t manager_react_tick_interval(Manager *m);
uint64_t manager_tick_accuracy(uint64_t interval_usec);

/* SPDX-License-Identifier: MIT */
/* attach's target: the --wait=SPEC forms that name it (comm:, cmdline:, pidfile:, control:), the wait
 * for it to appear, --follow (finding the new process after the container runtime restarted it, with
 * the cgroup, the control page and the watches moved along while the policy state and counters stay),
 * and the restart action in attach mode (TERM, the policy's grace, KILL; the runtime starts it again). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

typedef struct Control Control;
typedef struct Manager Manager;

typedef enum TargetKind {
        TARGET_COMM,    /* /proc/PID/comm equals the text */
        TARGET_CMDLINE, /* the command line, NULs as spaces, contains the text */
        TARGET_PIDFILE, /* the pid in this file */
        TARGET_CONTROL, /* the pid the allocator publishes in the control page at this path */
        _TARGET_KIND_MAX,
} TargetKind;

typedef struct TargetSpec {
        TargetKind kind;
        const char *arg;  /* the text after the prefix (points into the option's value) */
        const char *text; /* the whole SPEC, for messages */
} TargetSpec;

#define TARGET_SPEC_FORM "comm:NAME, cmdline:TEXT, pidfile:PATH or control:PATH"
/* How often the wait and --follow look for the target. */
#define TARGET_POLL_USEC (200 * USEC_PER_MSEC)

/* -EINVAL for anything but the four forms with a non-empty argument (paths absolute). */
int target_spec_parse(const char *s, TargetSpec *ret);

/* One look for the target: 1 and *ret when found, 0 when not (yet). gone is a pid never to match (the
 * process that just exited, still a zombie maybe). own is our control page when the spec names its
 * path (read through it), else NULL. */
int target_find(const TargetSpec *spec, Control *own, pid_t gone, pid_t *ret);

/* attach's state for the target, inside the Manager. */
typedef struct Target {
        sd_event_source *wait_timer;   /* --wait: looking for the first process */
        sd_event_source *follow_timer; /* --follow: looking for the new process */
        uint64_t wait_start_usec;      /* CLOCK_MONOTONIC when the wait began, for --wait-timeout */
        bool waiting;                  /* --wait or --follow is looking for the target right now */
        sd_event_source *kill_timer;   /* restart: SIGKILL after the grace */
        pid_t gone;                    /* the pid that exited last */
        unsigned follows;              /* processes followed after the first */
        uint64_t since_usec;           /* CLOCK_MONOTONIC when the current target was taken */
        bool restarting;               /* the restart action stopped it; the runtime restarts it */
        bool restart_ok;               /* decided at start: --follow and permission to signal */
        const char *restart_skip;      /* else why restart actions are skipped */
} Target;

/* manager_new, attach: creates the --control-page; with --wait, notes that the target is still to be
 * found (t->waiting). Logged; < 0 ends oomless (125). */
int target_prepare(Manager *m);
/* manager_run, attach --wait: looks for the target every TARGET_POLL_USEC on the loop, so the status
 * socket, the HTTP endpoint and SIGTERM work while it is not there yet. Once found, fills
 * m->cfg.attach_pid and calls manager_target_found(); --wait-timeout ends oomless (125). */
int target_wait_start(Manager *m);
/* manager_run, attach: watches the target's pidfd; its exit ends oomless or, with --follow, starts
 * looking for its successor. Logs the capability line. */
int target_start(Manager *m);
/* The restart action in attach mode: stop_signal to the target, SIGKILL after grace_usec. */
int target_restart(Manager *m, int stop_signal, uint64_t grace_usec);
void target_done(Target *t);

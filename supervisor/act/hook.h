/* SPDX-License-Identifier: MIT */
/*
 * Hooks: runs an argv (no shell) as a child in its own process group, with extra environment
 * variables, a timeout that sends SIGTERM to the group and SIGKILL after a grace period, and an
 * outcome callback on the event loop.
 *
 * Threading and ownership: event-loop thread only. hook_run() forks through posix_spawn (vfork
 * semantics, no blocking), opens a pidfd and watches it with an sd-event io source; the exit status
 * is collected with waitid(P_PIDFD). The Hook frees itself after its callback returned.
 *
 * Reaping contract with the manager: a hook is our child, so a manager that drains SIGCHLD with
 * waitpid(-1)/waitid(P_ALL) can take its status first. Hook sources run at HOOK_EVENT_PRIORITY, above
 * the default, and a pidfd is readable before SIGCHLD is queued, so normally the hook reaps itself
 * first. When the manager's reaper does reap a pid anyway it must pass it to hook_child_reaped(),
 * which returns true when the pid was a hook and completes it with that status.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "macro.h"

#define HOOK_EVENT_PRIORITY     (SD_EVENT_PRIORITY_IMPORTANT - 10)
#define HOOK_KILL_GRACE_DEFAULT (2 * USEC_PER_SEC)

typedef struct HookSpec {
        char *const *argv;        /* argv[0] searched in $PATH when it has no slash */
        char *const *env_extra;   /* "NAME=value" added to (and overriding) the supervisor's environ */
        uint64_t timeout_usec;    /* 0 = no timeout */
        uint64_t kill_grace_usec; /* SIGTERM -> SIGKILL delay after the timeout; 0 = default */
        int stdout_fd;            /* -1: inherit the supervisor's stdout */
        int stderr_fd;            /* -1: inherit the supervisor's stderr */
} HookSpec;

typedef struct HookResult {
        pid_t pid;
        bool timed_out;    /* the timeout fired and the group was signalled */
        bool status_known; /* false when someone else reaped it without telling us */
        int code;          /* CLD_EXITED, CLD_KILLED, CLD_DUMPED */
        int status;        /* exit code or signal */
        uint64_t duration_usec;
} HookResult;

typedef struct Hook Hook;
typedef void (*hook_done_t)(const HookResult *result, void *userdata);

/* Starts the hook. Returns negative errno when it could not be started (-ENOENT for a missing
 * program, -EACCES, ...); the callback is then never called. Otherwise the callback runs exactly once,
 * from the event loop, unless hook_cancel() is called first. *ret (optional) is a borrowed handle
 * valid until the callback or hook_cancel(). */
int hook_run(sd_event *e, const HookSpec *spec, hook_done_t done, void *userdata, Hook **ret);

/* Kills the hook's process group with SIGKILL, reaps it, and drops it without calling back. */
void hook_cancel(Hook *h);

/* Ends the hook now the way its timeout would: SIGTERM to its process group, SIGKILL after the grace.
 * The callback still runs once it exited (with timed_out set). No-op when that is already under way. */
void hook_terminate(Hook *h);

/* For the manager's SIGCHLD reaper; see the header comment. */
bool hook_child_reaped(pid_t pid, int code, int status);

/* Number of hooks running now. */
unsigned hook_running_count(void);
/* Whether pid is a running hook's, so a sweep of oomless's children can leave it to its own timeout. */
bool hook_owns_pid(pid_t pid);

/* Formats a result as "exited 0", "killed by SIGTERM after timeout", ... */
const char *hook_result_describe(const HookResult *r, char *buf, size_t len);

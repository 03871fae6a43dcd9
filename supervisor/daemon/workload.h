/* SPDX-License-Identifier: MIT */
/* Workload: starts the supervised command directly in its cgroup leaf, holds its pidfd, and maps how
 * it ended onto the exit status oomless reports. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* Exit statuses of `oomless run` other than the child's own (see oomless(1)). */
#define WORKLOAD_EXIT_FAILURE        125 /* oomless itself failed, or a bad option / policy */
#define WORKLOAD_EXIT_NOT_EXECUTABLE 126
#define WORKLOAD_EXIT_NOT_FOUND      127

typedef struct WorkloadSpawn {
        char **argv;                  /* argv[0] is searched in $PATH when it has no slash */
        char **env_set;               /* "NAME=value" strings set in the child (strv, may be NULL) */
        const char *const *env_unset; /* names removed from the child's environment (NULL-terminated) */
        char **envp;                  /* when set: the child's whole environment (env_set/unset ignored) */
        int cgroup_dirfd;             /* O_PATH dir of the leaf for clone3(CLONE_INTO_CGROUP), or -1 */
        const int *join_fds;     /* cgroup.procs fds the child writes "0" into before exec, -1-terminated */
        const int *keep_fds;     /* our O_CLOEXEC fds the child inherits at the same number, -1-terminated */
        bool new_pgrp;           /* put the child in its own process group (and foreground it on a tty) */
        int parent_death_signal; /* sent to the child when the supervisor dies (PR_SET_PDEATHSIG), 0: none */
} WorkloadSpawn;

typedef struct Workload {
        pid_t pid;
        int pidfd;
        uint64_t started_usec; /* CLOCK_MONOTONIC */
        bool into_cgroup;      /* started with CLONE_INTO_CGROUP */
        bool took_tty;         /* we made its process group the terminal's foreground group */
        int exec_errno;        /* >0 when exec failed (the child exits 126/127) */
} Workload;

/* Starts the child and waits until it has exec'd (or failed to). A failed exec is not an error here:
 * it is reported through ->exec_errno and the child's exit status, so the caller can reap it and
 * report 126/127. Returns negative errno when no child could be started at all. */
int workload_spawn(const WorkloadSpawn *spec, Workload *ret);

/* Sends sig to the child through its pidfd (no pid-reuse race). -ESRCH when it is gone. */
int workload_signal(Workload *w, int sig);

/* Gives the terminal back to our own process group if we handed it to the child. */
void workload_release_tty(Workload *w);

/* Closes the pidfd. */
void workload_done(Workload *w);

/* Maps a waitid() result onto oomless's exit status: code, or 128+signal. */
int workload_exit_status(int code, int status);
/* 127 for "not found" errnos, 126 for the rest. */
int workload_exec_errno_to_status(int err);
/* The command line of a running process (attach --pid), from /proc/PID/cmdline. -ESRCH when it is
 * gone, -ENODATA for a kernel thread (empty cmdline). */
int workload_read_cmdline(pid_t pid, char ***ret);

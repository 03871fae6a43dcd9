/* SPDX-License-Identifier: MIT */
/* PID-1 duties in the tini manner: become the subreaper, own the signal mask, reap every zombie
 * (orphaned grandchildren included) and tell which signals are forwarded to the workload. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* Signals forwarded to the workload as they arrive (HUP only with --forward-hup). */
extern const int reaper_forwarded_signals[];
extern const size_t reaper_forwarded_signals_n;

/* Marks us the child subreaper unless we are PID 1 already, so orphans of the workload are
 * re-parented to us and reaped here instead of by the host's init. */
int reaper_become_subreaper(void);

/* Blocks every signal the supervisor takes through sd-event (the forwarded ones, HUP, CHLD) and
 * ignores SIGPIPE, SIGTTOU and SIGTTIN. The workload's spawn restores defaults. */
int reaper_block_signals(void);

/* Reaps every exited child without blocking. When main_pid is among them, *ret_main_exited is set
 * and *ret_main holds its status; every other one is passed to other() (may be NULL). Returns the
 * number of processes reaped. */
int reaper_drain(pid_t main_pid, bool *ret_main_exited, siginfo_t *ret_main,
                 void (*other)(const siginfo_t *si, void *userdata), void *userdata);

/* Sends sig to every direct child of ours (re-parented orphans included), for tiers without a leaf
 * of our own to kill, except those skip() claims (NULL: none). Returns how many were signalled. */
int reaper_kill_children(int sig, bool (*skip)(pid_t pid));
/* How many direct children of ours, except those skip() claims, are dying: zombies, or exiting
 * (PF_EXITING), which a task is before it leaves its cgroup and until it is reaped. */
int reaper_count_dying_children(bool (*skip)(pid_t pid));

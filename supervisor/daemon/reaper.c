/* SPDX-License-Identifier: MIT */
/* PID-1 duties in the tini manner: become the subreaper, own the signal mask, reap every zombie
 * (orphaned grandchildren included) and tell which signals are forwarded to the workload. */
#define _GNU_SOURCE 1
#include "reaper.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"

const int reaper_forwarded_signals[] = { SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };
const size_t reaper_forwarded_signals_n = ELEMENTSOF(reaper_forwarded_signals);

int reaper_become_subreaper(void)
{
        if (getpid() == 1)
                return 0;
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                return log_error_errno(negative_errno(), "Failed to become the child subreaper: %m");
        return 0;
}

int reaper_block_signals(void)
{
        sigset_t set;

        sigemptyset(&set);
        for (size_t i = 0; i < reaper_forwarded_signals_n; i++)
                sigaddset(&set, reaper_forwarded_signals[i]);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return log_error_errno(negative_errno(), "Failed to block signals: %m");

        /* A closed status client must not kill us, and handing the terminal to the workload's
         * process group must not stop us. */
        (void)signal(SIGPIPE, SIG_IGN);
        (void)signal(SIGTTOU, SIG_IGN);
        (void)signal(SIGTTIN, SIG_IGN);
        return 0;
}

int reaper_drain(pid_t main_pid, bool *ret_main_exited, siginfo_t *ret_main,
                 void (*other)(const siginfo_t *si, void *userdata), void *userdata)
{
        int n = 0;

        for (;;) {
                siginfo_t si = { 0 };
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0) {
                        if (errno == EINTR)
                                continue;
                        break; /* ECHILD: nothing left */
                }
                if (si.si_pid == 0)
                        break;
                n++;
                if (main_pid > 0 && si.si_pid == main_pid) {
                        if (ret_main_exited)
                                *ret_main_exited = true;
                        if (ret_main)
                                *ret_main = si;
                } else {
                        log_debug("Reaped process %d (code %d, status %d)", (int)si.si_pid, si.si_code,
                                  si.si_status);
                        if (other)
                                other(&si, userdata);
                }
        }
        return n;
}

/* PF_EXITING in /proc/PID/stat's flags (include/linux/sched.h): set from the start of exit, before
 * the task leaves its cgroup, until it is reaped. */
#define REAPER_PF_EXITING 0x00000004U

/* The parent, state and flags of a process; false when it is gone or unreadable. */
static bool proc_stat(const char *pid, pid_t *ret_ppid, char *ret_state, unsigned *ret_flags)
{
        char path[64], buf[512];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%s/stat", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return false;
        buf[n] = 0;
        /* The command name may contain spaces and parentheses: the fields resume after the last ')'. */
        char *p = strrchr(buf, ')');
        int ppid;
        char state;
        unsigned flags;
        if (!p || sscanf(p + 1, " %c %d %*d %*d %*d %*d %u", &state, &ppid, &flags) != 3)
                return false;
        *ret_ppid = (pid_t)ppid;
        *ret_state = state;
        *ret_flags = flags;
        return true;
}

/* Calls fn on every child of ours that skip does not claim; returns how many fn counted. */
static int for_each_child(bool (*skip)(pid_t pid),
                          bool (*fn)(pid_t pid, char state, unsigned flags, int sig), int sig)
{
        _cleanup_closedir_ DIR *d = opendir("/proc");
        pid_t self = getpid();
        int n = 0;

        if (!d)
                return negative_errno();
        for (struct dirent *de; (de = readdir(d));) {
                pid_t ppid;
                char state;
                unsigned flags;

                if (!isdigit((unsigned char)de->d_name[0]))
                        continue;
                if (!proc_stat(de->d_name, &ppid, &state, &flags) || ppid != self)
                        continue;
                pid_t pid = (pid_t)atoi(de->d_name);
                if (skip && skip(pid))
                        continue;
                n += fn(pid, state, flags, sig);
        }
        return n;
}

static bool send_signal(pid_t pid, char state, unsigned flags, int sig)
{
        (void)state;
        (void)flags;
        return kill(pid, sig) == 0;
}

static bool is_dying(pid_t pid, char state, unsigned flags, int sig)
{
        (void)pid;
        (void)sig;
        return state == 'Z' || state == 'X' || (flags & REAPER_PF_EXITING);
}

int reaper_kill_children(int sig, bool (*skip)(pid_t pid))
{
        return for_each_child(skip, send_signal, sig);
}

int reaper_count_dying_children(bool (*skip)(pid_t pid))
{
        return for_each_child(skip, is_dying, 0);
}

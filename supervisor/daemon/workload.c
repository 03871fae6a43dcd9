/* SPDX-License-Identifier: MIT */
/* Workload: starts the supervised command directly in its cgroup leaf, holds its pidfd, and maps how
 * it ended onto the exit status oomless reports. */
#define _GNU_SOURCE 1
#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "strv.h"
#include "time-util.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* What the child reports through the CLOEXEC pipe when it fails before exec took over. */
enum { SPAWN_STEP_JOIN = 1, SPAWN_STEP_EXEC = 2, SPAWN_STEP_PDEATHSIG = 3 };
struct spawn_report {
        int step;
        int err;
};

static void report(int fd, int step, int err)
{
        struct spawn_report r = { .step = step, .err = err };
        ssize_t n = write(fd, &r, sizeof(r));
        (void)n;
}

/* Runs in the child between clone and exec. Only plain syscalls and the child's own copy of memory;
 * the supervisor is single-threaded, so the copy is consistent. */
_noreturn_ static void child_exec(const WorkloadSpawn *spec, int report_fd, bool take_tty, pid_t parent)
{
        sigset_t empty;

        /* First, so the window in which the supervisor's death goes unnoticed is as short as it can be.
         * The kernel sends the signal when the *thread* that forked us dies: the workload is started
         * from the loop's thread, the one that lives as long as the supervisor. If the supervisor died
         * before prctl(), we were reparented already and the signal will never come: check. */
        if (spec->parent_death_signal > 0) {
                if (prctl(PR_SET_PDEATHSIG, (unsigned long)spec->parent_death_signal) < 0) {
                        report(report_fd, SPAWN_STEP_PDEATHSIG, errno);
                        _exit(WORKLOAD_EXIT_FAILURE);
                }
                if (getppid() != parent)
                        _exit(WORKLOAD_EXIT_FAILURE);
        }

        if (spec->new_pgrp) {
                (void)setpgid(0, 0);
                /* SIGTTOU is ignored (inherited from the supervisor), so a background caller can
                 * still hand the terminal over without being stopped. */
                if (take_tty)
                        (void)tcsetpgrp(STDIN_FILENO, getpid());
        }

        for (const int *fd = spec->join_fds; fd && *fd >= 0; fd++)
                if (write(*fd, "0", 1) < 0) {
                        report(report_fd, SPAWN_STEP_JOIN, errno);
                        _exit(WORKLOAD_EXIT_FAILURE);
                }

        /* The fds we hand over on purpose (the sealed control page): every fd of ours is O_CLOEXEC,
         * and clearing the flag here, in the child only, keeps the supervisor's own copy from leaking
         * into anything else it starts. The number stays ours, so it cannot collide with an fd the
         * workload inherits from our caller (socket activation's 3, 4, ...). */
        for (const int *fd = spec->keep_fds; fd && *fd >= 0; fd++)
                (void)fcntl(*fd, F_SETFD, 0);

        /* The supervisor blocks the signals it handles and ignores a few; a workload must start from
         * the defaults it would get from a shell. */
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)signal(sig, SIG_DFL);
        sigemptyset(&empty);
        (void)sigprocmask(SIG_SETMASK, &empty, NULL);

        if (spec->envp)
                environ = spec->envp;
        for (const char *const *e = spec->envp ? NULL : spec->env_unset; e && *e; e++)
                (void)unsetenv(*e);
        for (char **e = spec->envp ? NULL : spec->env_set; e && *e; e++)
                (void)putenv(*e);

        execvp(spec->argv[0], spec->argv);
        int err = errno;
        report(report_fd, SPAWN_STEP_EXEC, err);
        _exit(workload_exec_errno_to_status(err));
}

static pid_t spawn_clone3(uint64_t flags, int cgroup_fd, int *ret_pidfd)
{
        struct clone_args args = {
                .flags = flags | CLONE_PIDFD,
                .pidfd = (uint64_t)(uintptr_t)ret_pidfd,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t)(flags & CLONE_INTO_CGROUP ? cgroup_fd : 0),
        };
        return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

int workload_spawn(const WorkloadSpawn *spec, Workload *ret)
{
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        int pipefd[2], pidfd = -1;
        bool take_tty = false, into = false;
        pid_t pid, self = getpid();

        if (!spec || !spec->argv || !spec->argv[0] || !ret)
                return -EINVAL;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return log_error_errno(negative_errno(), "Failed to create a pipe for the workload: %m");
        rfd = pipefd[0];
        wfd = pipefd[1];

        if (spec->new_pgrp && isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp())
                take_tty = true;

        /* clone3 starts the child inside the leaf, so not even its first page fault is charged
         * elsewhere; older kernels or a v1 leaf fall back to joining through cgroup.procs. */
        pid = -1;
        if (spec->cgroup_dirfd >= 0) {
                pid = spawn_clone3(CLONE_INTO_CGROUP, spec->cgroup_dirfd, &pidfd);
                if (pid >= 0)
                        into = true;
                else
                        log_debug_errno(negative_errno(),
                                        "clone3(CLONE_INTO_CGROUP) failed, falling back: %m");
        }
        if (pid < 0) {
                pid = spawn_clone3(0, -1, &pidfd);
                if (pid < 0 && IN_SET(errno, ENOSYS, EINVAL, E2BIG, EPERM)) {
                        pid = fork();
                        pidfd = -1;
                }
        }
        if (pid < 0)
                return log_error_errno(negative_errno(), "Failed to start the workload: %m");
        if (pid == 0) {
                rfd = safe_close(rfd);
                child_exec(spec, wfd, take_tty, self);
        }
        wfd = safe_close(wfd);

        if (pidfd < 0) {
                pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
                if (pidfd < 0) {
                        int r = negative_errno();
                        (void)kill(pid, SIGKILL);
                        (void)waitpid(pid, NULL, 0);
                        return log_error_errno(
                            r, "Failed to open a pidfd for the workload (needs Linux 5.3): %m");
                }
        }

        *ret = (Workload){
                .pid = pid,
                .pidfd = pidfd,
                .started_usec = now_usec(CLOCK_MONOTONIC),
                .into_cgroup = into,
                .took_tty = take_tty,
        };

        /* EOF means exec succeeded (the write end was close-on-exec). */
        struct spawn_report rep;
        ssize_t n;
        do
                n = read(rfd, &rep, sizeof(rep));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof(rep)) {
                if (IN_SET(rep.step, SPAWN_STEP_JOIN, SPAWN_STEP_PDEATHSIG)) {
                        siginfo_t si;
                        (void)waitid(P_PID, (id_t)pid, &si, WEXITED);
                        workload_done(ret);
                        return log_error_errno(
                            -rep.err,
                            rep.step == SPAWN_STEP_JOIN
                                ? "The workload could not join its cgroup leaf (cgroup.procs): %m"
                                : "The workload could not ask to die with oomless (PR_SET_PDEATHSIG): "
                                  "%m");
                }
                ret->exec_errno = rep.err > 0 ? rep.err : EIO;
        }
        return 0;
}

int workload_signal(Workload *w, int sig)
{
        if (!w || w->pidfd < 0)
                return -ESRCH;
        if (syscall(SYS_pidfd_send_signal, w->pidfd, sig, NULL, 0) < 0)
                return negative_errno();
        return 0;
}

void workload_release_tty(Workload *w)
{
        if (!w || !w->took_tty)
                return;
        /* SIGTTOU is ignored in the supervisor, so this works from a background group too. */
        (void)tcsetpgrp(STDIN_FILENO, getpgrp());
        w->took_tty = false;
}

void workload_done(Workload *w)
{
        if (!w)
                return;
        workload_release_tty(w);
        w->pidfd = safe_close(w->pidfd);
}

int workload_exit_status(int code, int status)
{
        switch (code) {
        case CLD_EXITED:
                return status & 0xff;
        case CLD_KILLED:
        case CLD_DUMPED:
                return 128 + status;
        default:
                return WORKLOAD_EXIT_FAILURE;
        }
}

int workload_exec_errno_to_status(int err)
{
        return IN_SET(err, ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG) ? WORKLOAD_EXIT_NOT_FOUND
                                                                 : WORKLOAD_EXIT_NOT_EXECUTABLE;
}

int workload_read_cmdline(pid_t pid, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[8192];
        ssize_t n;
        size_t len;

        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return -ENODATA;
        /* A long command line is cut at the buffer: the words it holds are what people need. */
        len = (size_t)n;
        buf[len] = 0;
        for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
                if (strv_push(&l, strdup(buf + i)) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* Runs hook programs off the event loop's critical path: posix_spawn + pidfd + timeout escalation.
 * See hook.h for the reaping contract with the manager. */
#define _GNU_SOURCE
#include "hook.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "time-util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

struct Hook {
        Hook *next;
        pid_t pid;
        int pidfd;
        sd_event *event;
        sd_event_source *io_source, *timer_source, *kill_source;
        uint64_t kill_grace_usec;
        uint64_t started_usec;
        bool timed_out;
        hook_done_t done;
        void *userdata;
};

/* Running hooks, for hook_child_reaped(). Event-loop thread only. */
static Hook *running_hooks;

bool hook_owns_pid(pid_t pid)
{
        for (Hook *h = running_hooks; h; h = h->next)
                if (h->pid == pid)
                        return true;
        return false;
}

static void hook_unlink(Hook *h)
{
        for (Hook **p = &running_hooks; *p; p = &(*p)->next)
                if (*p == h) {
                        *p = h->next;
                        break;
                }
}

static void hook_destroy(Hook *h)
{
        hook_unlink(h);
        h->io_source = sd_event_source_disable_unref(h->io_source);
        h->timer_source = sd_event_source_disable_unref(h->timer_source);
        h->kill_source = sd_event_source_disable_unref(h->kill_source);
        safe_close(h->pidfd);
        sd_event_unref(h->event);
        free(h);
}

static void hook_complete(Hook *h, bool known, int code, int status)
{
        HookResult r = {
                .pid = h->pid,
                .timed_out = h->timed_out,
                .status_known = known,
                .code = code,
                .status = status,
                .duration_usec = now_usec(CLOCK_MONOTONIC) - h->started_usec,
        };
        hook_done_t done = h->done;
        void *userdata = h->userdata;

        /* A hook that ran into its timeout may have left children in its group; finish them. */
        if (h->timed_out)
                (void)kill(-h->pid, SIGKILL);
        hook_destroy(h);
        if (done)
                done(&r, userdata);
}

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Hook *h = userdata;
        siginfo_t si = {};

        if (waitid((idtype_t)P_PIDFD, (id_t)h->pidfd, &si, WEXITED | WNOHANG) < 0) {
                if (errno == ECHILD) {
                        /* Reaped by someone who did not call hook_child_reaped(). */
                        hook_complete(h, false, 0, 0);
                        return 0;
                }
                log_warning_errno(errno, "Failed to collect hook %d: %m", (int)h->pid);
                hook_complete(h, false, 0, 0);
                return 0;
        }
        if (si.si_pid == 0)
                return 0; /* not yet */
        hook_complete(h, true, si.si_code, si.si_status);
        return 0;
}

static int on_kill(sd_event_source *s, uint64_t usec, void *userdata)
{
        Hook *h = userdata;

        log_warning("Hook %d did not exit after SIGTERM, sending SIGKILL to its process group.",
                    (int)h->pid);
        (void)kill(-h->pid, SIGKILL);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        Hook *h = userdata;
        int r;

        h->timed_out = true;
        (void)kill(-h->pid, SIGTERM);
        r = sd_event_add_time_relative(h->event, &h->kill_source, CLOCK_MONOTONIC, h->kill_grace_usec,
                                       10 * USEC_PER_MSEC, on_kill, h);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm the SIGKILL timer of hook %d, killing it now: %m",
                                  (int)h->pid);
                (void)kill(-h->pid, SIGKILL);
        }
        return 0;
}

static bool env_name_in(const char *entry, char *const *list)
{
        const char *eq = strchr(entry, '=');
        size_t len = eq ? (size_t)(eq - entry) : strlen(entry);

        for (; list && *list; list++)
                if (strncmp(*list, entry, len) == 0 && ((*list)[len] == '=' || (*list)[len] == 0))
                        return true;
        return false;
}

/* environ minus the names in extra, plus extra. Borrowed pointers; only the array is allocated. */
static char **merge_env(char *const *extra)
{
        size_t n = 0, m = 0, k = 0;
        char **env;

        while (environ && environ[n])
                n++;
        while (extra && extra[m])
                m++;
        env = calloc(n + m + 1, sizeof(char *));
        if (!env)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!env_name_in(environ[i], extra))
                        env[k++] = environ[i];
        for (size_t i = 0; i < m; i++)
                env[k++] = extra[i];
        env[k] = NULL;
        return env;
}

static int spawn(const HookSpec *spec, pid_t *ret)
{
        _cleanup_free_ char **env = merge_env(spec->env_extra);
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        pid_t pid;
        int r;

        if (!env)
                return -ENOMEM;
        sigemptyset(&none);
        sigfillset(&all);

        r = posix_spawnattr_init(&attr);
        if (r != 0)
                return -r;
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0) {
                posix_spawnattr_destroy(&attr);
                return -r;
        }
        /* The supervisor blocks signals for its signalfd; a hook must start with a clean slate, and
         * in its own process group so a timeout reaches whatever it starts. */
        r = posix_spawnattr_setflags(&attr,
                                     POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (r == 0)
                r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0 && spec->stdout_fd >= 0)
                r = posix_spawn_file_actions_adddup2(&fa, spec->stdout_fd, STDOUT_FILENO);
        if (r == 0 && spec->stderr_fd >= 0)
                r = posix_spawn_file_actions_adddup2(&fa, spec->stderr_fd, STDERR_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        if (r == 0)
                r = posix_spawnp(&pid, spec->argv[0], &fa, &attr, spec->argv, env);

        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return -r;
        *ret = pid;
        return 0;
}

int hook_run(sd_event *e, const HookSpec *spec, hook_done_t done, void *userdata, Hook **ret)
{
        Hook *h;
        pid_t pid;
        int r;

        if (!e || !spec || !spec->argv || !spec->argv[0])
                return -EINVAL;

        r = spawn(spec, &pid);
        if (r < 0)
                return r;

        h = calloc(1, sizeof(*h));
        if (!h) {
                (void)kill(-pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                return -ENOMEM;
        }
        h->pid = pid;
        h->event = sd_event_ref(e);
        h->started_usec = now_usec(CLOCK_MONOTONIC);
        h->kill_grace_usec = spec->kill_grace_usec ? spec->kill_grace_usec : HOOK_KILL_GRACE_DEFAULT;
        h->done = done;
        h->userdata = userdata;

        /* The child cannot be reaped before we get here (we are the only thread that waits), so the
         * pid still names it. */
        h->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (h->pidfd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = sd_event_add_io(e, &h->io_source, h->pidfd, EPOLLIN, on_pidfd, h);
        if (r < 0)
                goto fail;
        (void)sd_event_source_set_priority(h->io_source, HOOK_EVENT_PRIORITY);
        (void)sd_event_source_set_description(h->io_source, "hook-pidfd");
        if (spec->timeout_usec > 0) {
                r = sd_event_add_time_relative(e, &h->timer_source, CLOCK_MONOTONIC, spec->timeout_usec,
                                               10 * USEC_PER_MSEC, on_timeout, h);
                if (r < 0)
                        goto fail;
        }

        h->next = running_hooks;
        running_hooks = h;
        if (ret)
                *ret = h;
        return 0;

fail:
        (void)kill(-pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        h->done = NULL;
        hook_destroy(h);
        return r;
}

void hook_cancel(Hook *h)
{
        if (!h)
                return;
        (void)kill(-h->pid, SIGKILL);
        /* SIGKILL is prompt; this wait is for a process that is already dying. */
        (void)waitid((idtype_t)P_PIDFD, (id_t)h->pidfd, &(siginfo_t){}, WEXITED);
        hook_destroy(h);
}

void hook_terminate(Hook *h)
{
        if (!h || h->kill_source)
                return;
        h->timer_source = sd_event_source_disable_unref(h->timer_source);
        (void)on_timeout(NULL, 0, h);
}

bool hook_child_reaped(pid_t pid, int code, int status)
{
        for (Hook *h = running_hooks; h; h = h->next)
                if (h->pid == pid) {
                        hook_complete(h, true, code, status);
                        return true;
                }
        return false;
}

unsigned hook_running_count(void)
{
        unsigned n = 0;
        for (Hook *h = running_hooks; h; h = h->next)
                n++;
        return n;
}

const char *hook_result_describe(const HookResult *r, char *buf, size_t len)
{
        const char *after = r->timed_out ? " after its timeout" : "";

        if (!r->status_known)
                snprintf(buf, len, "ended%s, status collected elsewhere", after);
        else if (r->code == CLD_EXITED)
                snprintf(buf, len, "exited %d%s", r->status, after);
        else
                snprintf(buf, len, "killed by signal %d (%s)%s", r->status, sigabbrev_np(r->status) ?: "?",
                         after);
        return buf;
}

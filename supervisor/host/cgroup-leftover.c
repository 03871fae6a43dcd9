/* SPDX-License-Identifier: MIT */
/* Leaves of instances that are gone: a supervisor killed with SIGKILL removes nothing, so `oomless run`
 * removes what such instances left in the cgroup where it creates its own leaves. A live instance is
 * told by the lock it holds on each of its leaves (instance.h), not by its pid alone. */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "instance.h"
#include "log.h"

int cg_lock_leaf(Cg *cg, CgFd slot, const char *dir)
{
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r;

        if (fd < 0)
                return negative_errno();
        r = instance_lock(fd);
        if (r < 0)
                return r;
        /* A later run tells a leftover whose pid was reused by the leaf's ctime (instance_may_be_alive()),
         * but kernfs stamps an inode when it is instantiated, which for a leaf evicted from the cache and
         * read again is long after its mkdir. Times set explicitly are kept with the node. */
        if (futimens(fd, NULL) < 0)
                log_debug_errno(negative_errno(), "Cannot set the times of %s, ignoring: %m", dir);
        cg->fd[slot] = TAKE_FD(fd);
        return 0;
}

void cg_sweep_leftovers(const char *parent)
{
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_close_ int pfd = -EBADF;
        int fd;

        if (!parent)
                return;
        pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
                return;
        fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
                safe_close(fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_close_ int lfd = -EBADF;
                pid_t pid;

                /* Ours do not exist yet; a leaf named by our pid (another pid namespace's PID 1, or an
                 * earlier boot) is told by its lock and its age like any other. */
                if (instance_leaf_name_parse(de->d_name, &pid) < 0)
                        continue;
                lfd = openat(pfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                /* Never adopted, never entered: only removed when empty, under its lock. */
                if (lfd < 0 || instance_may_be_alive(lfd, pid))
                        continue;
                if (unlinkat(pfd, de->d_name, AT_REMOVEDIR) >= 0)
                        log_info("Removed the cgroup %s/%s, left behind by oomless %d, which is gone.",
                                 parent, de->d_name, (int)pid);
                else if (errno == EBUSY)
                        log_warning(
                            "The cgroup %s/%s, left behind by oomless %d, which is gone, still holds "
                            "processes (a workload run with --keep-on-supervisor-death, or processes "
                            "it started); left alone: stop them, then rmdir it.",
                            parent, de->d_name, (int)pid);
                else
                        log_warning_errno(negative_errno(),
                                          "Cannot remove the cgroup %s/%s, left behind by oomless %d: %m",
                                          parent, de->d_name, (int)pid);
        }
}

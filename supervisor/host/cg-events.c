/* SPDX-License-Identifier: MIT */
/* v1 memory thresholds through cgroup.event_control (cg-events.h). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cg-events.h"
#include "cgroup-internal.h"
#include <inttypes.h>
#include <string.h>

struct CgThresholds {
        char *dir;
        int usage_fd, memsw_fd; /* memory.usage_in_bytes, memory.memsw.usage_in_bytes (or -EBADF) */
        int efd;
};

int cg_thresholds_new(Cg *cg, CgThresholds **ret)
{
        _cleanup_(cg_thresholds_freep) CgThresholds *t = NULL;

        if (!cg || !cg->leaf || cg->ops->files != CG_FILES_V1)
                return -EOPNOTSUPP;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->usage_fd = t->memsw_fd = t->efd = -EBADF;
        t->dir = strdup(cg->leaf);
        if (!t->dir)
                return -ENOMEM;
        t->usage_fd = cg_open_ro(t->dir, "memory.usage_in_bytes");
        if (t->usage_fd < 0)
                return t->usage_fd;
        if (cg_caps_have(cg, CG_CAP_SWAP))
                t->memsw_fd = cg_open_ro(t->dir, "memory.memsw.usage_in_bytes");
        *ret = TAKE_PTR(t);
        return 0;
}

CgThresholds *cg_thresholds_free(CgThresholds *t)
{
        if (!t)
                return NULL;
        safe_close(t->efd);
        safe_close(t->usage_fd);
        safe_close(t->memsw_fd);
        free(t->dir);
        free(t);
        return NULL;
}

static int register_level(const CgThresholds *t, int efd, int fd, uint64_t level)
{
        char buf[96];

        if (fd < 0)
                return 0;
        snprintf(buf, sizeof(buf), "%d %d %" PRIu64, efd, fd, level);
        return cg_write_file(t->dir, "cgroup.event_control", buf);
}

int cg_thresholds_arm(CgThresholds *t, uint64_t above, uint64_t early, uint64_t below)
{
        _cleanup_close_ int efd = -EBADF;
        int r;

        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return negative_errno();
        /* memsw counts swap too: it crosses a level no later than usage does. */
        if (above != UINT64_MAX && above > 0) {
                r = register_level(t, efd, t->usage_fd, above);
                if (r >= 0)
                        r = register_level(t, efd, t->memsw_fd, above);
                if (r < 0)
                        return r;
        }
        if (early > 0 && early != UINT64_MAX && early < above) {
                r = register_level(t, efd, t->usage_fd, early);
                if (r < 0)
                        return r;
        }
        if (below > 0 && below != UINT64_MAX) {
                r = register_level(t, efd, t->usage_fd, below);
                if (r < 0)
                        return r;
        }
        safe_close(t->efd);
        t->efd = TAKE_FD(efd);
        return t->efd;
}

int cg_thresholds_fd(const CgThresholds *t)
{
        return t ? t->efd : -EBADF;
}

uint64_t cg_thresholds_consume(CgThresholds *t)
{
        uint64_t n = 0;

        if (t && t->efd >= 0 && read(t->efd, &n, sizeof(n)) != (ssize_t)sizeof(n))
                return 0;
        return n;
}

/* SPDX-License-Identifier: MIT */
/* v1 memory thresholds through cgroup.event_control, armed on a worker thread (cg-events.h). */
#define _GNU_SOURCE 1
#include "cg-events.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "thread-util.h"

/* One worker at a time; the loop thread owns every field but the worker's result, which the worker
 * writes before it signals done_efd and the loop reads after the join. */
struct CgThresholds {
        char *dir;
        int usage_fd, memsw_fd; /* memory.usage_in_bytes, memory.memsw.usage_in_bytes (or -EBADF) */
        int efd;                /* the armed levels' eventfd */
        int done_efd;           /* signalled by the worker when it has finished */

        bool busy;
        pthread_t thread;
        CgLevels running;
        int result; /* the new eventfd, or negative errno */

        bool queued;
        CgLevels next;
};

int cg_thresholds_new(Cg *cg, CgThresholds **ret)
{
        _cleanup_(cg_thresholds_freep) CgThresholds *t = NULL;

        if (!cg || !cg->leaf || cg->ops->files != CG_FILES_V1)
                return -EOPNOTSUPP;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->usage_fd = t->memsw_fd = t->efd = t->done_efd = t->result = -EBADF;
        t->dir = strdup(cg->leaf);
        if (!t->dir)
                return -ENOMEM;
        t->usage_fd = cg_open_ro(t->dir, "memory.usage_in_bytes");
        if (t->usage_fd < 0)
                return t->usage_fd;
        if (cg_caps_have(cg, CG_CAP_SWAP))
                t->memsw_fd = cg_open_ro(t->dir, "memory.memsw.usage_in_bytes");
        t->done_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (t->done_efd < 0)
                return negative_errno();
        *ret = TAKE_PTR(t);
        return 0;
}

static void join(CgThresholds *t)
{
        if (!t->busy)
                return;
        (void)pthread_join(t->thread, NULL);
        t->busy = false;
}

CgThresholds *cg_thresholds_free(CgThresholds *t)
{
        if (!t)
                return NULL;
        join(t);
        if (t->result >= 0)
                safe_close(t->result);
        safe_close(t->efd);
        safe_close(t->done_efd);
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

/* Registers l on a new eventfd and returns it; what the worker does. Reads only what no one changes
 * while it runs (dir, usage_fd, memsw_fd). */
static int arm_levels(const CgThresholds *t, const CgLevels *l)
{
        _cleanup_close_ int efd = -EBADF;
        int r;

        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return negative_errno();
        /* memsw counts swap too: it crosses a level no later than usage does. */
        if (l->above != UINT64_MAX && l->above > 0) {
                r = register_level(t, efd, t->usage_fd, l->above);
                if (r >= 0)
                        r = register_level(t, efd, t->memsw_fd, l->above);
                if (r < 0)
                        return r;
        }
        if (l->early > 0 && l->early != UINT64_MAX && l->early < l->above) {
                r = register_level(t, efd, t->usage_fd, l->early);
                if (r < 0)
                        return r;
        }
        if (l->below > 0 && l->below != UINT64_MAX) {
                r = register_level(t, efd, t->usage_fd, l->below);
                if (r < 0)
                        return r;
        }
        return TAKE_FD(efd);
}

static void *worker(void *arg)
{
        CgThresholds *t = arg;

        t->result = arm_levels(t, &t->running);
        (void)eventfd_write(t->done_efd, 1);
        return NULL;
}

static int start(CgThresholds *t, const CgLevels *l)
{
        int q;

        t->running = *l;
        t->result = -EBADF;
        q = thread_start_worker(&t->thread, worker, t);
        if (q < 0)
                return q;
        t->busy = true;
        return 0;
}

int cg_thresholds_request(CgThresholds *t, const CgLevels *l)
{
        if (!t || !l)
                return -EINVAL;
        if (t->busy) {
                /* Back to what is being armed: nothing more to do after it. */
                t->queued = !cg_levels_eq(l, &t->running);
                t->next = *l;
                return 0;
        }
        return start(t, l);
}

bool cg_thresholds_busy(const CgThresholds *t)
{
        return t && t->busy;
}

int cg_thresholds_done_fd(const CgThresholds *t)
{
        return t ? t->done_efd : -EBADF;
}

int cg_thresholds_collect(CgThresholds *t, CgLevels *ret)
{
        eventfd_t v;
        int r;

        if (!t)
                return -EINVAL;
        (void)eventfd_read(t->done_efd, &v);
        if (!t->busy)
                return -EAGAIN;
        join(t);
        r = t->result;
        t->result = -EBADF;
        if (r < 0) {
                /* The caller stops relying on the levels: a worker started now would only make it
                 * wait for the join. */
                t->queued = false;
                return r;
        }
        safe_close(t->efd);
        t->efd = r;
        if (ret)
                *ret = t->running;
        if (t->queued) {
                t->queued = false;
                /* Not started (no thread to be had now): the caller sees the levels it got differ from
                 * those it asked for, with no worker busy, and asks again. */
                (void)start(t, &t->next);
        }
        return r;
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

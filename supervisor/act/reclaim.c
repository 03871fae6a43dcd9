/* SPDX-License-Identifier: MIT */
/* memory.reclaim writes on a worker thread, in bounded chunks, reported back through an eventfd. */
#define _GNU_SOURCE
#include "reclaim.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "thread-util.h"
#include "time-util.h"

struct Reclaimer {
        sd_event_source *source;
        int efd;
        ReclaimFn fn;
        void *ctx;

        /* The request; written by the loop before the thread starts, by the worker until it signals
         * the eventfd, and read by the loop after the join. */
        bool busy;
        pthread_t thread;
        uint64_t bytes, deadline_usec, started_usec;
        atomic_bool cancel;
        ReclaimResult result;
        reclaim_done_t done;
        void *userdata;
};

static void *worker(void *arg)
{
        Reclaimer *r = arg;
        uint64_t left = r->bytes, done = 0;
        int err = 0;

        while (left > 0) {
                uint64_t chunk = MIN(left, (uint64_t)RECLAIM_CHUNK);

                if (atomic_load(&r->cancel)) {
                        err = -ECANCELED;
                        break;
                }
                if (now_usec(CLOCK_MONOTONIC) >= r->deadline_usec) {
                        err = -ETIME;
                        break;
                }
                err = r->fn(r->ctx, chunk);
                if (err < 0)
                        break;
                done += chunk;
                left -= chunk;
        }
        r->result = (ReclaimResult){
                .error = err,
                .requested = r->bytes,
                .reclaimed = done,
                .duration_usec = now_usec(CLOCK_MONOTONIC) - r->started_usec,
        };
        (void)eventfd_write(r->efd, 1);
        return NULL;
}

static void collect(Reclaimer *r)
{
        (void)pthread_join(r->thread, NULL);
        r->busy = false;
}

static int on_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Reclaimer *r = userdata;
        eventfd_t v;
        ReclaimResult res;

        if (eventfd_read(r->efd, &v) < 0 || !r->busy)
                return 0;
        collect(r);
        res = r->result;
        if (r->done)
                r->done(&res, r->userdata);
        return 0;
}

int reclaimer_new(sd_event *e, ReclaimFn fn, void *ctx, Reclaimer **ret)
{
        Reclaimer *r;
        int q;

        if (!e || !fn || !ret)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->fn = fn;
        r->ctx = ctx;
        r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->efd < 0) {
                q = negative_errno();
                free(r);
                return q;
        }
        q = sd_event_add_io(e, &r->source, r->efd, EPOLLIN, on_event, r);
        if (q < 0) {
                safe_close(r->efd);
                free(r);
                return q;
        }
        (void)sd_event_source_set_description(r->source, "reclaim-result");
        *ret = r;
        return 0;
}

int reclaimer_start(Reclaimer *r, uint64_t bytes, uint64_t timeout_usec, reclaim_done_t done, void *userdata)
{
        int q;

        if (r->busy)
                return -EBUSY;
        if (bytes == 0)
                return -EINVAL;
        r->bytes = MIN(bytes, RECLAIM_REQUEST_MAX);
        r->started_usec = now_usec(CLOCK_MONOTONIC);
        r->deadline_usec = timeout_usec ? r->started_usec + timeout_usec : UINT64_MAX;
        atomic_store(&r->cancel, false);
        r->done = done;
        r->userdata = userdata;

        q = thread_start_worker(&r->thread, worker, r);
        if (q < 0)
                return q;
        r->busy = true;
        return 0;
}

bool reclaimer_busy(const Reclaimer *r)
{
        return r->busy;
}

Reclaimer *reclaimer_free(Reclaimer *r)
{
        if (!r)
                return NULL;
        if (r->busy) {
                atomic_store(&r->cancel, true);
                collect(r);
        }
        r->source = sd_event_source_disable_unref(r->source);
        safe_close(r->efd);
        free(r);
        return NULL;
}

int reclaim_write_fd(void *ctx, uint64_t bytes)
{
        int fd = (int)(intptr_t)ctx;
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
        ssize_t w = pwrite(fd, buf, (size_t)n, 0);

        if (w < 0)
                return negative_errno();
        return w == n ? 0 : -EIO;
}

int reclaim_open(const char *cgroup_dir)
{
        int dfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int fd;

        if (dfd < 0)
                return negative_errno();
        fd = openat(dfd, "memory.reclaim", O_WRONLY | O_CLOEXEC);
        safe_close(dfd);
        if (fd < 0)
                return errno == ENOENT ? -EOPNOTSUPP : negative_errno();
        return fd;
}

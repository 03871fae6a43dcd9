/* SPDX-License-Identifier: MIT */
/*
 * Proactive reclaim (memory.reclaim, cgroup v2) off the event loop: the write can stall in the kernel
 * for as long as reclaim takes, so it runs on a worker thread, in chunks of RECLAIM_CHUNK bytes,
 * bounded in total per request and by a deadline checked between chunks. The result comes back to
 * the loop through an eventfd.
 *
 * Threading and ownership: reclaimer_* calls are event-loop-thread only. One request runs at a time;
 * the worker thread exists only while it runs, touches nothing but its request and the ReclaimFn,
 * and never logs. The ReclaimFn is called on the worker thread and must be safe there (cg_reclaim()
 * is: it only writes a held fd). reclaimer_free() joins a running worker, which waits for at most
 * the chunk in progress.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "macro.h"

#define RECLAIM_CHUNK       (16u << 20)
#define RECLAIM_REQUEST_MAX (UINT64_C(4) << 30) /* a request never asks for more than this */

/* Reclaims `bytes` in the target; 0, -EAGAIN when the kernel could not reclaim it all, or negative
 * errno (-EOPNOTSUPP when the tier has no memory.reclaim). */
typedef int (*ReclaimFn)(void *ctx, uint64_t bytes);

typedef struct ReclaimResult {
        int error;          /* 0 everything reclaimed; -EAGAIN partial; -ETIME deadline hit; other: failed */
        uint64_t requested; /* after clamping to RECLAIM_REQUEST_MAX */
        uint64_t reclaimed; /* bytes of the chunks the kernel fully served */
        uint64_t duration_usec;
} ReclaimResult;

typedef struct Reclaimer Reclaimer;
typedef void (*reclaim_done_t)(const ReclaimResult *result, void *userdata);

int reclaimer_new(sd_event *e, ReclaimFn fn, void *ctx, Reclaimer **ret);
/* Starts a request. -EBUSY while one runs. The callback runs once, on the loop. */
int reclaimer_start(Reclaimer *r, uint64_t bytes, uint64_t timeout_usec, reclaim_done_t done,
                    void *userdata);
bool reclaimer_busy(const Reclaimer *r);
Reclaimer *reclaimer_free(Reclaimer *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Reclaimer *, reclaimer_free)

/* A ReclaimFn over an open memory.reclaim fd (ctx = (void *)(intptr_t)fd), for callers that hold the
 * file themselves (the VM test). */
int reclaim_write_fd(void *ctx, uint64_t bytes);
/* Opens <cgroup_dir>/memory.reclaim for writing: the fd, or -EOPNOTSUPP when the file does not
 * exist (cgroup v1, or a v2 kernel older than 5.19). */
int reclaim_open(const char *cgroup_dir);

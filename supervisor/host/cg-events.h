/* SPDX-License-Identifier: MIT */
/* Kernel memory thresholds on cgroup v1: an eventfd registered through cgroup.event_control on
 * memory.usage_in_bytes (and memory.memsw.usage_in_bytes when swap is accounted) that the kernel
 * signals when the usage crosses a level, in either direction. They catch what bypasses the allocator:
 * mmap, tmpfs, page cache, other allocators. cgroup v2 has no such notification (the loop adapts its
 * interval there instead).
 *
 * Each registration waits in the kernel for an RCU grace period (measured 4-39 ms each, 3-4 of them
 * after a stage change), so levels are armed on a worker thread, never on the caller's loop: the
 * caller asks (cg_thresholds_request), is told on cg_thresholds_done_fd() when the worker is done, and
 * takes the result (cg_thresholds_collect). The old levels stay armed until then. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cgroup.h"
#include "macro.h"

typedef struct CgThresholds CgThresholds;

/* The levels of one arming, bytes. above and below: UINT64_MAX and 0 arm nothing; early is a second
 * upward level on memory.usage_in_bytes only, 0 for none. */
typedef struct CgLevels {
        uint64_t above, early, below;
} CgLevels;

static inline bool cg_levels_eq(const CgLevels *a, const CgLevels *b)
{
        return a->above == b->above && a->early == b->early && a->below == b->below;
}

/* -EOPNOTSUPP when cg is not a v1 memory cgroup. */
int cg_thresholds_new(Cg *cg, CgThresholds **ret);
/* Waits for a worker under way: one arming, up to 4 registrations (measured up to 160 ms in all). */
CgThresholds *cg_thresholds_free(CgThresholds *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(CgThresholds *, cg_thresholds_free)

/* Asks for the armed levels to be replaced by *l: a worker registers them on a new eventfd. While a
 * worker runs, the request waits for it and replaces any request waiting before it (the latest
 * levels are the ones that count). Returns 0, or negative errno when no worker could be started
 * (then nothing changed: ask again later). */
int cg_thresholds_request(CgThresholds *t, const CgLevels *l);
/* A worker is running, or finished and not yet collected. */
bool cg_thresholds_busy(const CgThresholds *t);
/* Readable (EPOLLIN) when a worker has finished: then call cg_thresholds_collect(). */
int cg_thresholds_done_fd(const CgThresholds *t);
/* Takes a finished arming: its eventfd becomes the one to watch (returned; watch it for EPOLLIN) and
 * the old one is closed, which unregisters its levels; *ret (may be NULL) gets its levels. Starts the
 * request waiting behind it, if any; when its worker cannot be started, the request is dropped (the
 * caller sees *ret differ from what it asked, with nothing busy). -EAGAIN when no worker has
 * finished; the arming's own error when it failed (the old levels are still armed, and the waiting
 * request is dropped: the caller should stop relying on the levels). */
int cg_thresholds_collect(CgThresholds *t, CgLevels *ret);
/* The eventfd of the levels armed now, -EBADF before the first collect. */
int cg_thresholds_fd(const CgThresholds *t);
/* Consumes that eventfd's counter: how many crossings were signalled since the last call. */
uint64_t cg_thresholds_consume(CgThresholds *t);

/* SPDX-License-Identifier: MIT */
/* Kernel memory thresholds on cgroup v1: an eventfd registered through cgroup.event_control on
 * memory.usage_in_bytes (and memory.memsw.usage_in_bytes when swap is accounted) that the kernel
 * signals when the usage crosses a level, in either direction. They catch what bypasses the allocator:
 * mmap, tmpfs, page cache, other allocators. cgroup v2 has no such notification (the loop adapts its
 * interval there instead). */
#pragma once

#include <stdint.h>

#include "cgroup.h"
#include "macro.h"

typedef struct CgThresholds CgThresholds;

/* -EOPNOTSUPP when cg is not a v1 memory cgroup. */
int cg_thresholds_new(Cg *cg, CgThresholds **ret);
CgThresholds *cg_thresholds_free(CgThresholds *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(CgThresholds *, cg_thresholds_free)

/* Replaces the armed levels with above, early and below (bytes; UINT64_MAX and 0 arm nothing; early
 * is a second upward level on memory.usage_in_bytes only): a new eventfd is registered and the old one
 * closed, which unregisters its levels. Each registration costs the kernel an RCU grace period (a few
 * ms, measured up to 5), so levels that may be needed together are armed together. Returns the new
 * eventfd (owned by t, watch it for EPOLLIN), or negative errno with the old levels still armed. */
int cg_thresholds_arm(CgThresholds *t, uint64_t above, uint64_t early, uint64_t below);
/* The current eventfd, -EBADF before the first arm. */
int cg_thresholds_fd(const CgThresholds *t);
/* Consumes the eventfd's counter: how many crossings were signalled since the last call. */
uint64_t cg_thresholds_consume(CgThresholds *t);

/* SPDX-License-Identifier: MIT */
/*
 * OomlessSample: one observation of the workload's memory, as the supervisor gathered it. This is
 * the only input the policy engine sees besides the time, so it is plain data with explicit validity
 * flags instead of sentinel guesses.
 *
 * Counters (events, PSI totals) are cumulative as the kernel reports them; the policy engine keeps
 * its own history to compute increments within windows.
 */
#ifndef OOMLESS_SAMPLE_H
#define OOMLESS_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#define OOMLESS_NO_LIMIT UINT64_MAX
/* The most kernel PSI triggers one policy may arm: the sample counts each, the policy keeps per-trigger
 * history, and the supervisor holds one fd per trigger. Every such array is sized by this. */
#define OOMLESS_PSI_TRIGGERS_MAX 8

typedef struct OomlessPsi {
        double avg10, avg60, avg300; /* percent, 0..100 */
        uint64_t total_usec;         /* cumulative stall time */
} OomlessPsi;

typedef struct OomlessSample {
        uint64_t timestamp_usec; /* CLOCK_MONOTONIC when taken */

        /* Memory charged to the workload (memory.current / memory.usage_in_bytes / RSS sum). */
        uint64_t current;
        uint64_t peak;       /* memory.peak / max_usage_in_bytes; 0 when unknown */
        uint64_t limit;      /* effective limit (min over ancestors, bounded by MemTotal) */
        uint64_t high;       /* memory.high in force, OOMLESS_NO_LIMIT when none or unsupported */
        uint64_t anon, file; /* from memory.stat; 0 when unknown */
        uint64_t shmem;      /* memory.stat shmem (v1 total_shmem); 0 when unknown */
        /* memory.stat inactive_file (v1 total_inactive_file); 0 when unknown. current minus this is the
         * working set, the figure cAdvisor and the kubelet's eviction use. */
        uint64_t inactive_file;
        /* memory.stat active_file (v1 total_active_file): file cache read more than once, which
         * reclaim deactivates and drops as well; 0 when unknown. Neither file list holds shmem. */
        uint64_t active_file;
        uint64_t swap_current; /* 0 when unknown */
        /* Kernel memory charged to the workload (v2 memory.stat kernel, or kernel_stack + slab + percpu
         * on kernels before 5.18; v1 memory.kmem.usage_in_bytes); 0 when the tier does not expose it. */
        uint64_t kernel;

        /* memory.events counters (v1: failcnt -> max, oom_control under_oom/oom_kill). */
        bool events_valid;
        uint64_t ev_low, ev_high, ev_max, ev_oom, ev_oom_kill, ev_oom_group_kill;

        /* Per-cgroup PSI (v2 memory.pressure, or the matching unified leaf on hybrid). */
        bool psi_valid;
        OomlessPsi psi_some, psi_full;
        /* Number of kernel PSI trigger events seen so far, per trigger index (policy order). */
        uint32_t psi_trigger_count;
        uint64_t psi_trigger_fired[OOMLESS_PSI_TRIGGERS_MAX];

        /* The allocator's figures from the control page, when a live allocator publishes them. */
        bool heap_valid;
        uint64_t heap_held, heap_in_use, heap_cap, heap_cap_hits;

        uint32_t nr_processes; /* processes in the leaf (or tree, tier none) */
} OomlessSample;

/* The working set: current less inactive file cache (the kubelet's figure). Active file cache counts,
 * so a workload that reads its files twice shows a working set at its limit that reclaim can still
 * shrink. */
static inline uint64_t oomless_sample_working_set(const OomlessSample *x)
{
        return x->current - (x->inactive_file < x->current ? x->inactive_file : x->current);
}

/* current less the file cache on the kernel's file lists, active and inactive (shmem lives on the
 * anon lists: no reclaim without swap drops it): anonymous memory, tmpfs and kernel memory. Growth
 * here is what ends in an OOM kill; growth of a file cache only makes the kernel reclaim. Where the
 * lists are unknown (tier none) it is current. */
static inline uint64_t oomless_sample_nonfile(const OomlessSample *x)
{
        uint64_t cache = x->active_file + x->inactive_file;

        if (cache < x->inactive_file) /* overflow: hostile or garbled figures */
                cache = UINT64_MAX;
        return x->current - (cache < x->current ? cache : x->current);
}

_Static_assert(sizeof(((OomlessSample *)0)->psi_trigger_fired) / sizeof(uint64_t) ==
                   OOMLESS_PSI_TRIGGERS_MAX,
               "one fired counter per PSI trigger");

#endif

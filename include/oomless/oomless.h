/* SPDX-License-Identifier: MIT */
/*
 * The liboomless application API: read the supervisor's memory stage, the budget for the program's
 * own caches and the instance's weight, get called when they change or when the heap hits its cap,
 * ask for memory to be given back, read the heap's figures.
 *
 * Programs may use it without depending on liboomless: the functions are declared weak, so a
 * program linked without the library still loads, and the oomless_try_*() wrappers below do the
 * right thing whether the library is linked, preloaded (LD_PRELOAD) or absent.
 *
 * Callbacks run on the allocator's background thread or inside an allocation's slow path, never
 * with allocator locks held; they may call malloc/free but should be short.
 */
#ifndef OOMLESS_OOMLESS_H
#define OOMLESS_OOMLESS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OOMLESS_STATS_VERSION 1u
#define OOMLESS_CALLBACKS_MAX 16 /* per kind */

/* Filled by oomless_stats(). The caller sets size = sizeof(struct oomless_stats); the library fills
 * at most that many bytes and sets version, so older and newer programs and libraries mix. */
struct oomless_stats {
        uint32_t size;       /* in: sizeof the caller's struct */
        uint32_t version;    /* out: OOMLESS_STATS_VERSION of the library */
        uint64_t held;       /* bytes the kernel charges the heap for, metadata and caches incl. */
        uint64_t in_use;     /* bytes handed out (objects in thread caches count as in use) */
        uint64_t returned;   /* cumulative bytes given back to the kernel */
        uint64_t cap;        /* the cap in force, bytes; 0 = none */
        uint64_t limit;      /* the effective memory limit found at start, bytes; 0 = unknown */
        uint64_t cap_hits;   /* allocations that hit the cap (recovered or failed) */
        uint64_t scavenges;  /* scavenges done, any trigger */
        int32_t stage;       /* the supervisor's current stage; 0 without a supervisor */
        uint32_t supervised; /* 1 when a control page is mapped */
        uint64_t reserved[8];
};

/* stage: the new stage (0 = normal); previous: the stage before. */
typedef void (*oomless_stage_fn)(int stage, int previous, void *userdata);
/* budget: permille (0..1000) of its normal size each app-level cache may hold; weight: the routing
 * weight the supervisor gives the instance (0..100, 100 = normal). Called when either changes. */
typedef void (*oomless_budget_fn)(int budget, int weight, void *userdata);
/* request: bytes of the allocation that hit the cap. Free what you can; the allocation is retried. */
typedef void (*oomless_pressure_fn)(size_t request, void *userdata);

#if defined(OOMLESS_BUILDING_LIBRARY)
#define OOMLESS_WEAK
#else
#define OOMLESS_WEAK __attribute__((weak))
#endif

/* The supervisor's current stage, 0 when unsupervised. */
extern int oomless_stage(void) OOMLESS_WEAK;
/* Registers a stage callback. 0, or -EINVAL (NULL fn), -ENOSPC (OOMLESS_CALLBACKS_MAX reached). */
extern int oomless_on_stage(oomless_stage_fn fn, void *userdata) OOMLESS_WEAK;
/* The cache budget in permille (0..1000): size each cache as normal * budget / 1000. 1000 when
 * unsupervised or when the supervisor does not publish one (a version 1 control page). */
extern int oomless_budget(void) OOMLESS_WEAK;
/* The instance's weight (0..100), for a registry or load balancer. 100 when unsupervised. */
extern int oomless_weight(void) OOMLESS_WEAK;
/* 0 while the supervisor marks the instance not ready (a stage with "ready": false, or it was told to
 * stop the workload), else 1. */
extern int oomless_ready(void) OOMLESS_WEAK;
/* Registers a budget callback, run when the budget or the weight changes (not at registration:
 * read oomless_budget() and oomless_weight() then). Same returns as oomless_on_stage(). */
extern int oomless_on_budget(oomless_budget_fn fn, void *userdata) OOMLESS_WEAK;
/* Registers a cap-pressure callback. Same returns as oomless_on_stage(). */
extern int oomless_on_pressure(oomless_pressure_fn fn, void *userdata) OOMLESS_WEAK;
/* Gives the heap's free pages back to the kernel now (as malloc_trim(0)). Returns bytes returned. */
extern size_t oomless_scavenge(void) OOMLESS_WEAK;
/* Fills *st (set st->size first). 0, or -EINVAL. */
extern int oomless_stats(struct oomless_stats *st) OOMLESS_WEAK;

#if !defined(OOMLESS_BUILDING_LIBRARY)
/* True when liboomless is linked in or preloaded. */
static inline int oomless_available(void)
{
        return oomless_stage != NULL;
}

static inline int oomless_try_stage(void)
{
        return oomless_stage ? oomless_stage() : 0;
}

/* -ENOSYS when the library is absent. */
static inline int oomless_try_on_stage(oomless_stage_fn fn, void *userdata)
{
        return oomless_on_stage ? oomless_on_stage(fn, userdata) : -ENOSYS;
}

static inline int oomless_try_budget(void)
{
        return oomless_budget ? oomless_budget() : 1000;
}

static inline int oomless_try_weight(void)
{
        return oomless_weight ? oomless_weight() : 100;
}

static inline int oomless_try_ready(void)
{
        return oomless_ready ? oomless_ready() : 1;
}

static inline int oomless_try_on_budget(oomless_budget_fn fn, void *userdata)
{
        return oomless_on_budget ? oomless_on_budget(fn, userdata) : -ENOSYS;
}

static inline int oomless_try_on_pressure(oomless_pressure_fn fn, void *userdata)
{
        return oomless_on_pressure ? oomless_on_pressure(fn, userdata) : -ENOSYS;
}

static inline size_t oomless_try_scavenge(void)
{
        return oomless_scavenge ? oomless_scavenge() : 0;
}

static inline int oomless_try_stats(struct oomless_stats *st)
{
        return oomless_stats ? oomless_stats(st) : -ENOSYS;
}
#endif

#ifdef __cplusplus
}
#endif

#endif

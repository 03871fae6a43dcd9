/* SPDX-License-Identifier: MIT */
/*
 * The control page: a small shared-memory structure through which the oomless supervisor and the
 * liboomless allocator inside the workload talk to each other.
 *
 * The supervisor creates the page (OOMLESS_CONTROL_SIZE bytes), fills the header, and hands it to the
 * workload in one of two ways (docs/control-page.md):
 *  - OOMLESS_CONTROL_FD=<n>: an inherited fd of a memfd sealed at least against shrinking
 *    (F_SEAL_SHRINK; oomless also seals F_SEAL_GROW | F_SEAL_SEAL). It cannot be truncated, so the
 *    mapping can never fault. When set, it wins over OOMLESS_CONTROL.
 *  - OOMLESS_CONTROL=<path>: a regular file, for a sidecar in a shared directory, or where oomless
 *    cannot create a memfd (<runtime-dir>/<supervisor-pid>/control). Anyone who can write the file
 *    can truncate it; the allocator then survives through a SIGBUS guard and detaches from the page.
 * The allocator maps it MAP_SHARED on first use. Optionally the supervisor also creates a FIFO named
 * by OOMLESS_WAKE=<path>; the allocator writes one byte to it (O_NONBLOCK, never waiting) when its
 * heap crosses the watermark, so the supervisor reacts without waiting for its next tick.
 *
 * Each side writes only its own half. Each half is guarded by a seqlock: the writer increments seq to
 * an odd value, stores the fields, then increments seq to an even value (with release ordering).
 * A reader copies the half, and retries when seq was odd or changed. No side ever waits for the
 * other, so a stopped or malicious peer cannot wedge anything.
 *
 * The supervisor treats the whole workload half as untrusted input: every value is range-checked,
 * and a torn or nonsensical snapshot is discarded.
 *
 * ABI rules: fields are only ever appended inside the reserved space, never moved, resized or given a
 * new meaning; the version is bumped when fields are appended whose zero is not "unset". A reader
 * accepts every version >= 1 and reads the fields it knows; a field newer than the page's version
 * reads as its default. A change that would break this gets a new magic, not a new version.
 * All integers are native-endian; both ends run on the same machine.
 */
#ifndef OOMLESS_CONTROL_H
#define OOMLESS_CONTROL_H

#include <stdint.h>

#define OOMLESS_CONTROL_MAGIC   UINT64_C(0x314c4f52544e434f) /* "OCNTRL1" little-endian */
#define OOMLESS_CONTROL_VERSION 2u /* 2: budget_permille, weight, OOMLESS_SUP_F_BUDGET/NOT_READY */
#define OOMLESS_CONTROL_SIZE    4096u
#define OOMLESS_CONTROL_ENV     "OOMLESS_CONTROL"
#define OOMLESS_CONTROL_FD_ENV  "OOMLESS_CONTROL_FD"
/* /proc/<supervisor pid>/fd/<n>: where a process whose parent closed OOMLESS_CONTROL_FD (Python's
 * subprocess does by default) opens the same sealed page again. */
#define OOMLESS_CONTROL_REOPEN_ENV "OOMLESS_CONTROL_REOPEN"
#define OOMLESS_WAKE_ENV           "OOMLESS_WAKE"
/* The smallest heap_cap the allocator accepts from the page (or OOMLESS_HEAP_CAP); the supervisor never
 * publishes a smaller one. */
#define OOMLESS_CONTROL_HEAP_CAP_MIN (UINT64_C(4) << 20)

/* Written by the supervisor, read by the allocator. */
struct oomless_control_sup {
        uint32_t seq;            /* seqlock sequence: odd while being written */
        uint32_t stage;          /* current policy stage, 0 = normal */
        uint32_t stage_count;    /* number of stages in the policy (levels 1..stage_count) */
        uint32_t flags;          /* OOMLESS_SUP_F_* */
        uint64_t heap_cap;       /* bytes the heap may hold; 0 = let the allocator decide */
        uint64_t scavenge_seq;   /* incremented to ask for an immediate scavenge */
        uint64_t wake_watermark; /* bytes held above which the allocator pokes OOMLESS_WAKE; 0 = never */
        /* Version 2. Valid only on a page of version >= 2 whose flags have OOMLESS_SUP_F_BUDGET;
         * otherwise (a version 1 supervisor, or a half not yet published) they read as
         * OOMLESS_BUDGET_NORMAL and OOMLESS_WEIGHT_NORMAL. Readers clamp larger values. */
        uint32_t budget_permille; /* share of its normal size each app-level cache may hold, 0..1000 */
        uint32_t weight;          /* the instance's routing weight, 0..100; 100 = normal */
        /* Appended in version 2, no bump: its zero is "unset" (a reader that predates it never wakes
         * downward, which costs only the latency it was there to save). Bytes held below which the
         * allocator pokes OOMLESS_WAKE, once per crossing: the current stage's exit threshold in the
         * allocator's figures. 0 = never. wake_watermark is the upward one: the lowest enter threshold
         * above the current stage. A new value of either re-arms it. */
        uint64_t wake_below;
        uint64_t reserved[8];
};

#define OOMLESS_SUP_F_DRY_RUN   (1u << 0) /* dry-run: the policy only logs; the stage stays 0 */
#define OOMLESS_SUP_F_BUDGET    (1u << 1) /* v2: budget_permille and weight are published */
#define OOMLESS_SUP_F_NOT_READY (1u << 2) /* v2: the stage declared "ready": false, or a stop began */

#define OOMLESS_BUDGET_NORMAL   1000u /* permille */
#define OOMLESS_WEIGHT_NORMAL   100u

/* Written by the allocator, read (as untrusted) by the supervisor. */
struct oomless_control_alloc {
        uint32_t seq;           /* seqlock sequence: odd while being written */
        uint32_t pid;           /* the process that last published */
        uint64_t heap_held;     /* bytes mapped and not returned: what the kernel charges, metadata incl. */
        uint64_t heap_in_use;   /* bytes handed out to the program */
        uint64_t heap_returned; /* cumulative bytes given back to the kernel */
        uint64_t heap_cap;      /* the cap in force, bytes; 0 = none */
        uint64_t cap_hits;      /* allocations that hit the cap (failed or recovered) */
        uint64_t scavenges;     /* scavenges done (any trigger) */
        uint64_t scavenge_ack;  /* the last scavenge_seq served */
        uint64_t stage_seen;    /* the last stage delivered to the app's callbacks */
        uint64_t updated_ns;    /* CLOCK_MONOTONIC of the last publish */
        /* Random, non-zero, drawn once per process image (at initialisation, and again in the child
         * of a fork). A new value means a new publisher whose counters start again from zero (an exec
         * under the same pid, a fork child taking over): reset every baseline. 0 = an allocator that
         * predates the field. */
        uint64_t instance_id;
        uint64_t reserved[8];
};

struct oomless_control {
        uint64_t magic;   /* OOMLESS_CONTROL_MAGIC, written once by the supervisor */
        uint32_t version; /* OOMLESS_CONTROL_VERSION */
        uint32_t size;    /* sizeof(struct oomless_control) as the supervisor built it */
        uint32_t supervisor_pid;
        uint32_t pad0;
        uint64_t reserved0[5];
        struct oomless_control_sup sup __attribute__((aligned(64)));
        struct oomless_control_alloc alloc __attribute__((aligned(64)));
};

#ifdef __cplusplus
#define OOMLESS_CONTROL_ASSERT static_assert
#else
#define OOMLESS_CONTROL_ASSERT _Static_assert
#endif
OOMLESS_CONTROL_ASSERT(sizeof(struct oomless_control) <= OOMLESS_CONTROL_SIZE, "control page too large");
/* Appending must not move anything: the halves keep their size and every field its offset. */
OOMLESS_CONTROL_ASSERT(sizeof(struct oomless_control_sup) == 120, "ABI: supervisor half resized");
OOMLESS_CONTROL_ASSERT(sizeof(struct oomless_control_alloc) == 152, "ABI: allocator half resized");
OOMLESS_CONTROL_ASSERT(__builtin_offsetof(struct oomless_control, sup) == 64, "ABI: sup moved");
OOMLESS_CONTROL_ASSERT(__builtin_offsetof(struct oomless_control_sup, flags) == 12, "ABI: flags moved");
OOMLESS_CONTROL_ASSERT(__builtin_offsetof(struct oomless_control_sup, heap_cap) == 16,
                       "ABI: heap_cap moved");
OOMLESS_CONTROL_ASSERT(__builtin_offsetof(struct oomless_control_sup, wake_watermark) == 32,
                       "ABI: wake_watermark moved");
OOMLESS_CONTROL_ASSERT(__builtin_offsetof(struct oomless_control_sup, budget_permille) == 40,
                       "ABI: budget_permille moved");
OOMLESS_CONTROL_ASSERT(__builtin_offsetof(struct oomless_control_sup, weight) == 44, "ABI: weight moved");
OOMLESS_CONTROL_ASSERT(__builtin_offsetof(struct oomless_control_sup, wake_below) == 48,
                       "ABI: wake_below moved");
OOMLESS_CONTROL_ASSERT(__builtin_offsetof(struct oomless_control_alloc, instance_id) == 80,
                       "ABI: instance_id moved");
OOMLESS_CONTROL_ASSERT(__builtin_offsetof(struct oomless_control, alloc) == 192, "ABI: halves moved");
#undef OOMLESS_CONTROL_ASSERT

#endif

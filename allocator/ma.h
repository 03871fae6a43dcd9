/* SPDX-License-Identifier: MIT */
/*
 * liboomless internals: every struct, tuning constant and cross-file prototype of the allocator.
 * The prototypes are grouped by file, bottom layer first (docs/allocator.md, "Layers"); a file calls
 * only into the groups above its own.
 *
 * Glossary:
 *   page   - MA_PAGE (8 KiB), the page heap's unit; a multiple of the kernel page.
 *   span   - a run of pages, either free (in the page heap), small (carved into objects of one size
 *            class, owned by that class's central list) or large (one object).
 *   class  - a small-object size class, 1..ma_nclasses-1; class 0 is "not small".
 *   bin    - a thread cache's free list for one class.
 *   held   - bytes the kernel charges us for: pages of live and free-but-not-returned spans plus
 *            metadata. "Returned" pages were given back with MADV_DONTNEED (or never touched).
 *
 * Lock order: meta lock < central locks (by class) < page heap lock. Nothing calls back into the
 * application, creates threads or sleeps while holding any of them.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#ifndef MA_DEBUG
#define MA_DEBUG 0 /* 1: invariant walks on slow paths (OOMLESS_ALLOC_DEBUG=ON) */
#endif

#define MA_API            __attribute__((visibility("default")))
#define MA_LIKELY(x)      __builtin_expect(!!(x), 1)
#define MA_UNLIKELY(x)    __builtin_expect(!!(x), 0)
#define MA_TLS            __thread __attribute__((tls_model("initial-exec")))

#define MA_PAGE_SHIFT     13
#define MA_PAGE           ((size_t)1 << MA_PAGE_SHIFT)
#define MA_MAX_SMALL      ((size_t)32768)    /* larger requests are whole spans */
#define MA_NCLASSES       80                 /* upper bound of the table; ma_nclasses is the real count */
#define MA_ARENA_SIZE     ((size_t)64 << 20) /* address space reserved at a time */
#define MA_ARENA_ALIGN    ((size_t)2 << 20)  /* arenas start on a huge-page boundary */
#define MA_FREE_LISTS     128                /* exact-size page heap lists 1..127 pages, [0] = bigger */
#define MA_REMAP_MIN      ((size_t)2 << 20)  /* realloc moves blocks this big with mremap, not memcpy */
#define MA_TRANSFER_SLOTS 32                 /* batches a central list keeps without touching spans */

/* Pagemap: a two-level radix tree over 48-bit addresses, one entry per MA_PAGE. */
#define MA_PM_LEAF_BITS 18
#define MA_PM_ROOT_BITS (48 - MA_PAGE_SHIFT - MA_PM_LEAF_BITS)
#define MA_PM_LEAF_SIZE ((size_t)1 << MA_PM_LEAF_BITS)
#define MA_PM_ROOT_SIZE ((size_t)1 << MA_PM_ROOT_BITS)

enum {
        MA_SPAN_FREE = 1,  /* in the page heap */
        MA_SPAN_SMALL = 2, /* owned by central[cls] */
        MA_SPAN_LARGE = 3, /* one object handed to the program */
        MA_SPAN_BUSY = 4,  /* taken out by the scavenger while it madvises without the lock */
};

/* A test-and-test-and-set lock: the critical sections are a few dozen instructions, so spinning
 * beats a futex round trip; waiters yield after a short spin so a preempted holder gets the CPU. */
typedef struct MaLock {
        _Atomic int v;
} MaLock;
#define MA_LOCK_INIT                                                                                        \
        {                                                                                                   \
                0                                                                                           \
        }
void ma_lock_slow(MaLock *l); /* os.c */
static inline void ma_lock(MaLock *l)
{
        if (MA_LIKELY(!atomic_exchange_explicit(&l->v, 1, memory_order_acquire)))
                return;
        ma_lock_slow(l);
}
static inline void ma_unlock(MaLock *l)
{
        atomic_store_explicit(&l->v, 0, memory_order_release);
}
static inline void ma_lock_reset(MaLock *l)
{
        atomic_store_explicit(&l->v, 0, memory_order_relaxed);
}

typedef struct MaSpan {
        struct MaSpan *next, *prev; /* page heap free list or central nonempty list */
        uintptr_t start;            /* address of the first page */
        size_t npages;
        void *freelist;     /* small: freed objects not in any cache */
        uintptr_t bump;     /* small: next never-handed-out object */
        uintptr_t limit;    /* small: end of the last whole object */
        uint32_t allocated; /* small: objects outside the span (caches or program) */
        uint8_t cls;
        uint8_t state;     /* MA_SPAN_* */
        uint8_t returned;  /* free: pages are not backed (they read as zero) */
        uint8_t zeroed;    /* large: contents were known zero when handed out */
        uint64_t free_ns;  /* free: CLOCK_MONOTONIC when it became free (scavenger age) */
        uint64_t released; /* small: 4 KiB pages given back while the span lives (bit i = page i);
                              every object overlapping one is free and on no list ("parked") */
} MaSpan;

typedef struct MaPmLeaf {
        MaSpan *span[MA_PM_LEAF_SIZE]; /* small spans: every page; others: first and last page */
        uint8_t cls[MA_PM_LEAF_SIZE];  /* non-zero iff the page belongs to a live small span */
} MaPmLeaf;

extern MaPmLeaf *ma_pm_root[MA_PM_ROOT_SIZE];

typedef struct MaBin {
        void *head;
        uint32_t count;
        uint32_t max; /* 0 in the shared empty cache, so pushes always take the slow path */
} MaBin;

typedef struct MaTCache {
        MaBin bins[MA_NCLASSES];
        struct MaTCache *next_free; /* recycled caches of exited threads */
} MaTCache;

typedef struct MaCentral {
        MaLock lock;
        MaSpan nonempty;                /* sentinel: spans with a free object or bump room */
        void *slots[MA_TRANSFER_SLOTS]; /* each a list of exactly batch objects */
        uint32_t nslots;
        uint64_t out_objs;   /* objects handed to caches/program (stats) */
        uint64_t last_ns;    /* ma_coarse_ns at the last remove/insert */
        uint64_t scanned_ns; /* last_ns + 1 once the scavenger released pages after it */
} __attribute__((aligned(64))) MaCentral;

/* Size classes (sizeclass.c). */
extern uint8_t ma_class_lo[1024 / 8 + 1];           /* (n + 7) >> 3 for n <= 1024 */
extern uint8_t ma_class_hi[MA_MAX_SMALL / 128 + 1]; /* (n + 127) >> 7 for n <= 32 KiB */
extern uint32_t ma_class_size[MA_NCLASSES];
extern uint8_t ma_class_pages[MA_NCLASSES];
extern uint16_t ma_class_batch[MA_NCLASSES];
extern uint8_t ma_class_slots[MA_NCLASSES]; /* transfer slots a class may fill (bounded in bytes) */
extern unsigned ma_nclasses;
void ma_sizeclass_init(void);

static inline unsigned ma_size_to_class(size_t n)
{
        if (n <= 1024)
                return ma_class_lo[(n + 7) >> 3];
        return ma_class_hi[(n + 127) >> 7];
}

/* os.c: the only file with memory syscalls, plus alloc-free helpers. */
void *ma_os_map(size_t size, size_t align);
void ma_os_no_huge(void *p, size_t size);
void ma_os_release(void *p, size_t size); /* MADV_DONTNEED: pages read as zero afterwards */
/* from reads as fresh zero pages afterwards, marked MADV_NOHUGEPAGE when no_huge. */
bool ma_os_move(void *from, size_t size, void *to, bool no_huge);
/* Maps private zero pages over [p, p + size) in place; async-signal-safe. */
bool ma_os_zero_fixed(void *p, size_t size);
uint64_t ma_os_random_id(void); /* random and non-zero; never blocks */
uint64_t ma_now_ns(void);
const char *ma_getenv(const char *name);
void ma_write_err(const char *s);
__attribute__((noreturn)) void ma_fatal(const char *what, const void *p);
char *ma_u64_str(uint64_t v, char buf[static 24]);
ssize_t ma_read_file(const char *path, char *buf, size_t size);

typedef struct MaBuf {
        char b[320];
        size_t n;
} MaBuf;
void mb_str(MaBuf *m, const char *s);
void mb_u64(MaBuf *m, uint64_t v);
void mb_flush(MaBuf *m);

/* Options and limits (options.c). */
#define MA_CAP_FLOOR ((uint64_t)4 << 20) /* no cap below this, from the environment or the page */
typedef struct MaOptions {
        uint64_t cap;         /* bytes, 0 = none; may be overridden by the control page */
        uint64_t cap_percent; /* the percent used, 0 when absolute */
        bool cap_auto;        /* cap follows the default rule (ma_default_cap), refreshed on slow paths */
        uint64_t limit;       /* the effective memory limit found, bytes */
        bool cap_abort;       /* OOMLESS_ON_CAP=abort */
        bool background;      /* OOMLESS_BACKGROUND */
        bool thp;             /* OOMLESS_THP: let the kernel back the heap with transparent huge pages */
        uint64_t scavenge_delay_ns;
        uint64_t background_min;    /* held bytes before the background thread starts */
        const char *control_path;   /* OOMLESS_CONTROL */
        const char *control_fd;     /* OOMLESS_CONTROL_FD, unparsed (control.c checks it) */
        const char *control_reopen; /* OOMLESS_CONTROL_REOPEN, unparsed (control.c checks it) */
        const char *wake_path;
} MaOptions;
extern MaOptions ma_opt;
extern bool ma_opt_loaded;
void ma_options_load(void);
void ma_options_mark_reported(void); /* from the constructor: the environment marker for children */
/* The default cap: the effective limit less what is charged outside the heap (held bytes) less a
 * reserve, never under the floor; 0 when no limit is known. Reads files: slow paths only. */
uint64_t ma_default_cap(uint64_t held, uint64_t *ret_limit);

/* Heap counters, the cap in force and the wake watermark (stats.c). */
extern _Atomic uint64_t ma_held;     /* backed pages in spans + metadata */
extern _Atomic uint64_t ma_returned; /* cumulative */
extern _Atomic uint64_t ma_large_in_use;
extern _Atomic uint64_t ma_scavenges;
extern _Atomic uint64_t ma_cap_hits;
extern _Atomic uint64_t ma_cap;                /* in force */
void ma_stats_set_wake_watermark(uint64_t wm); /* 0: no wake-ups */
void ma_stats_set_wake_below(uint64_t below);  /* 0: no downward wake-ups */
void ma_stats_note_held(uint64_t held);        /* wake watermark check, any context */

/* Application callbacks (callbacks.c). */
enum { MA_CB_STAGE, MA_CB_PRESSURE, MA_CB_BUDGET, MA_CB_KINDS };
int ma_callbacks_add(unsigned kind, void *fn, void *userdata); /* 0 or -ENOSPC */
void ma_run_stage_callbacks(int stage, int prev);              /* no locks held */
void ma_run_budget_callbacks(int budget, int weight);          /* no locks held */
void ma_run_pressure_callbacks(size_t request);                /* no locks held */

/* Metadata (pageheap.c). */
void *ma_meta_alloc(size_t size); /* zeroed, never freed; counted in held */

/* Page heap (pageheap.c). */
extern MaLock ma_ph_lock;
extern MA_TLS bool ma_fail_was_cap; /* the last page heap failure of this thread was the cap */

MaSpan *ma_ph_alloc(size_t npages, size_t align_pages); /* NULL: no memory or cap */
void ma_ph_free(MaSpan *s);
MaSpan *ma_ph_small_span(unsigned cls);
void ma_ph_small_release(MaSpan *s);
bool ma_ph_grow_inplace(MaSpan *s, size_t npages);
void ma_ph_shrink(MaSpan *s, size_t npages);
void ma_ph_free_returned(MaSpan *s);
size_t ma_ph_scavenge(uint64_t older_than_ns); /* 0 = everything free now; returns bytes */
void ma_ph_fork_prepare(void);
void ma_ph_fork_parent(void);
void ma_ph_fork_child(void);
void ma_ph_check(void); /* debug invariant walk */
bool ma_ph_in_arena(uintptr_t a);

static inline MaSpan *ma_pm_span(uintptr_t a)
{
        if (MA_UNLIKELY(a >> 48))
                return NULL;
        MaPmLeaf *l = __atomic_load_n(&ma_pm_root[a >> (MA_PAGE_SHIFT + MA_PM_LEAF_BITS)], __ATOMIC_ACQUIRE);
        return l ? l->span[(a >> MA_PAGE_SHIFT) & (MA_PM_LEAF_SIZE - 1)] : NULL;
}

/* The size class of the page holding a, 0 when not a live small span (or not ours). */
static inline unsigned ma_pm_cls(uintptr_t a)
{
        size_t ri = a >> (MA_PAGE_SHIFT + MA_PM_LEAF_BITS);
        if (MA_UNLIKELY(ri >= MA_PM_ROOT_SIZE))
                return 0;
        MaPmLeaf *l = __atomic_load_n(&ma_pm_root[ri], __ATOMIC_ACQUIRE);
        return l ? l->cls[(a >> MA_PAGE_SHIFT) & (MA_PM_LEAF_SIZE - 1)] : 0;
}

/* Central lists (central.c). */
extern MaCentral ma_central[MA_NCLASSES];
void ma_central_init(void);
unsigned ma_central_remove(unsigned cls, unsigned want, void **head);
void ma_central_insert(unsigned cls, void *head, unsigned n);
void ma_central_drain(void); /* transfer slots back to spans, so empty spans reach the page heap */
/* The same for classes untouched since idle_before (0: all), for the background scavenger. */
void ma_central_drain_idle(uint64_t idle_before);
size_t ma_central_release_pages(uint64_t idle_before); /* 0 = all classes now; returns bytes */
extern _Atomic uint64_t ma_coarse_ns;                  /* CLOCK_MONOTONIC as of the scavenger's last tick */
uint64_t ma_central_in_use(void);
uint64_t ma_heap_in_use(void); /* small objects out of the central lists + large spans, bytes */
void ma_central_fork_prepare(void);
void ma_central_fork_parent(void);
void ma_central_fork_child(void);
void ma_central_check(void);

/* Thread caches (tcache.c; the TLS pointer and the fast paths are in alloc-fast.h). */
extern MaTCache ma_empty_cache;
void ma_tcache_init(void);
MaTCache *ma_tcache_create(void); /* NULL after this thread's destructor ran, or no memory */
void ma_tcache_bin_flush(MaBin *b, unsigned cls, unsigned n); /* up to n objects to central */
void ma_tcache_flush_self(void);
void ma_tcache_fork_prepare(void);
void ma_tcache_fork_parent(void);
void ma_tcache_fork_child(void);

/* Giving memory back (scavenge.c). */
size_t ma_scavenge_all(bool own_cache);              /* everything free now; returns bytes */
void ma_scavenge_idle(uint64_t now, uint64_t delay); /* what has been idle for delay */

/* Control page client (control.c). */
void ma_control_init(void);
void ma_control_poll(bool from_background); /* no locks held */
/* Recomputes the default cap from the cgroup files, at most once per interval, and puts it in force
 * unless the supervisor publishes one. Slow paths only, no locks held. True when the cap rose. */
bool ma_cap_refresh(uint64_t min_interval_ns);
bool ma_cap_supervised(void); /* the cap in force is the supervisor's (from the control page) */
bool ma_control_mapped(void);
bool ma_control_pending(void); /* OOMLESS_CONTROL names a file not there yet */
void ma_control_fork_child(void);
void ma_control_note_background(bool running); /* from scavenger.c: whether its thread serves polls */
int ma_current_stage(void);
int ma_current_budget(void); /* permille, 0..1000; 1000 without a page */
int ma_current_weight(void); /* 0..100; 100 without a page */
bool ma_current_ready(void); /* false when the page says OOMLESS_SUP_F_NOT_READY */

/* Background scavenger thread (scavenger.c). */
extern bool ma_ctor_ran;
void ma_maybe_start_background(void); /* no locks held */
void ma_scavenger_fork_child(void);

/* Allocation entry points (alloc.c). */
void ma_init_slow(void);
extern _Atomic int ma_init_state; /* 0 none, 1 running, 2 done */
void *ma_malloc(size_t n);
void ma_free(void *p);
void *ma_calloc(size_t n, size_t size);
void *ma_realloc(void *p, size_t n);
void *ma_memalign(size_t align, size_t n);
size_t ma_usable_size(const void *p);
bool ma_pressure(size_t request); /* no locks held; true = worth retrying */
void ma_fork_prepare(void);
void ma_fork_parent(void);
void ma_fork_child(void);

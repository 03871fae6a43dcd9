/* SPDX-License-Identifier: MIT */
/*
 * Allocation: initialisation, the slow paths behind the inlined fast paths (thread cache refill and
 * overflow), large objects, calloc/realloc/memalign, the cap's pressure sequence, foreign pointers
 * and fork handling.
 */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-fast.h"

_Atomic int ma_init_state;
static MA_TLS bool ma_in_pressure; /* recursion guard for callbacks that allocate */
static MA_TLS bool ma_in_foreign;
static MA_TLS unsigned ma_slow_ticks;

/* How stale the default cap may be: on a cap hit, and otherwise (slow ticks, the scavenger). */
#define MA_CAP_REFRESH_HIT_NS  UINT64_C(10000000)
#define MA_CAP_REFRESH_IDLE_NS UINT64_C(1000000000)

/* On a cap hit: a fresher default cap, unless the supervisor's is in force. Then the cgroup files
 * (levels walked, memory.stat read, on v2 an rstat flush) would be read only to be discarded; the
 * idle refresh keeps the fallback (ma_opt.cap) current. */
static bool ma_cap_refresh_hit(void)
{
        return !ma_cap_supervised() && ma_cap_refresh(MA_CAP_REFRESH_HIT_NS);
}

void ma_init_slow(void)
{
        int expected = 0;
        if (atomic_compare_exchange_strong(&ma_init_state, &expected, 1)) {
                int saved = errno; /* reading the cgroup files must not leak an errno into malloc */
                ma_sizeclass_init();
                ma_central_init();
                ma_options_load();
                atomic_store(&ma_cap, ma_opt.cap);
                atomic_store(&ma_init_state, 2);
                /* Both may allocate, so they come after the heap is usable. */
                ma_tcache_init();
                pthread_atfork(ma_fork_prepare, ma_fork_parent, ma_fork_child);
                ma_control_init();
                errno = saved;
                return;
        }
        while (atomic_load(&ma_init_state) != 2)
                sched_yield();
}

static inline void ma_ensure_init(void)
{
        if (MA_UNLIKELY(atomic_load_explicit(&ma_init_state, memory_order_acquire) != 2))
                ma_init_slow();
}

__attribute__((constructor(101))) static void ma_constructor(void)
{
        int saved = errno;
        ma_ensure_init();
        ma_ctor_ran = true;
        if (!ma_opt_loaded) { /* the environment was not visible at the first malloc */
                ma_options_load();
                atomic_store(&ma_cap, ma_opt.cap);
        }
        ma_control_init();
        ma_options_mark_reported();
        ma_maybe_start_background();
        errno = saved;
}

/* Occasional work that must run without locks: starting the scavenger, serving the control page. */
static void ma_slow_tick(void)
{
#if MA_DEBUG
        if ((ma_slow_ticks & 255) == 0) {
                ma_central_check();
                ma_ph_check();
        }
#endif
        if (MA_UNLIKELY((++ma_slow_ticks & 63) == 0)) {
                ma_maybe_start_background();
                ma_control_poll(false);
                ma_cap_refresh(MA_CAP_REFRESH_IDLE_NS);
        }
}

static void *ma_fail(size_t n)
{
        if (ma_fail_was_cap && ma_opt.cap_abort) {
                MaBuf m = { .n = 0 };
                mb_str(&m, "liboomless: heap cap reached: cap ");
                mb_u64(&m, atomic_load(&ma_cap));
                mb_str(&m, " bytes, held ");
                mb_u64(&m, atomic_load(&ma_held));
                mb_str(&m, " bytes, request ");
                mb_u64(&m, n);
                mb_str(&m, " bytes; aborting (OOMLESS_ON_CAP=abort)");
                mb_flush(&m);
                abort();
        }
        errno = ENOMEM;
        return NULL;
}

bool ma_pressure(size_t request)
{
        if (ma_in_pressure)
                return false;
        ma_in_pressure = true;
        /* The default cap may be stale, since what the cgroup holds outside the heap shrinks too: a
         * cap that now leaves room (with a margin for the span around a small object) is not a hit. */
        if (ma_fail_was_cap && ma_cap_refresh_hit()) {
                uint64_t cap = atomic_load(&ma_cap);
                if (atomic_load(&ma_held) + request + (UINT64_C(1) << 20) <= cap) {
                        ma_in_pressure = false;
                        return true;
                }
        }
        if (ma_fail_was_cap)
                atomic_fetch_add(&ma_cap_hits, 1);
        ma_scavenge_all(true);
        ma_run_pressure_callbacks(request);
        ma_in_pressure = false;
        return true;
}

static void *ma_small_slow(unsigned cls, size_t n)
{
        for (int attempt = 0;; attempt++) {
                MaTCache *tc = ma_tc;
                void *list;
                ma_fail_was_cap = false;
                if (tc == &ma_empty_cache)
                        tc = ma_tcache_create();
                if (tc) {
                        MaBin *b = &tc->bins[cls];
                        if (b->head) {
                                void *p = b->head;
                                b->head = *(void **)p;
                                b->count--;
                                return p;
                        }
                        unsigned got = ma_central_remove(cls, ma_class_batch[cls], &list);
                        if (got) {
                                b->head = *(void **)list;
                                b->count = got - 1;
                                ma_slow_tick();
                                return list;
                        }
                } else if (ma_central_remove(cls, 1, &list))
                        return list;
                if (attempt || !ma_pressure(ma_class_size[cls]))
                        return ma_fail(n);
        }
}

static void *ma_large_alloc(size_t n, size_t align_pages, bool *ret_zeroed)
{
        ma_ensure_init();
        if (n > (SIZE_MAX >> 2)) {
                errno = ENOMEM;
                return NULL;
        }
        size_t npages = (n + MA_PAGE - 1) >> MA_PAGE_SHIFT;
        if (npages == 0)
                npages = 1;
        uint64_t cap = atomic_load_explicit(&ma_cap, memory_order_relaxed);
        if (cap && npages * MA_PAGE > cap && ma_cap_refresh_hit())
                cap = atomic_load_explicit(&ma_cap, memory_order_relaxed);
        if (cap && npages * MA_PAGE > cap) {
                /* Larger than the whole cap: no amount of scavenging helps, and a program probing
                 * with an absurd size must get ENOMEM, not an abort. */
                atomic_fetch_add(&ma_cap_hits, 1);
                errno = ENOMEM;
                return NULL;
        }
        for (int attempt = 0;; attempt++) {
                ma_fail_was_cap = false;
                MaSpan *s = ma_ph_alloc(npages, align_pages);
                if (s) {
                        atomic_fetch_add_explicit(&ma_large_in_use, npages * MA_PAGE, memory_order_relaxed);
                        if (ret_zeroed)
                                *ret_zeroed = s->zeroed;
                        ma_maybe_start_background();
                        ma_control_poll(false);
                        return (void *)s->start;
                }
                if (attempt || !ma_pressure(npages * MA_PAGE))
                        return ma_fail(n);
        }
}

void *ma_malloc_slow(size_t n)
{
        ma_ensure_init();
        if (n <= MA_MAX_SMALL)
                return ma_small_slow(ma_size_to_class(n), n);
        return ma_large_alloc(n, 1, NULL);
}

void *ma_malloc(size_t n)
{
        return ma_malloc_fast(n);
}

/* Pointers that are not ours go to the next allocator in link order, i.e. glibc's. */
static void *ma_next_symbol(const char *name)
{
        void *f = NULL;
        if (!ma_in_foreign) {
                ma_in_foreign = true;
                f = dlsym(RTLD_NEXT, name);
                ma_in_foreign = false;
        }
        return f;
}

static void ma_free_foreign(void *p)
{
        static void (*next_free)(void *);
        if (!next_free)
                next_free = (void (*)(void *))ma_next_symbol("free");
        if (!next_free || next_free == free)
                ma_fatal("free(): pointer not allocated by liboomless and no other allocator to give it to",
                         p);
        next_free(p);
}

static void ma_free_small_slow(void *p, unsigned cls)
{
        MaTCache *tc = ma_tc;
        if (tc == &ma_empty_cache)
                tc = ma_tcache_create();
        if (!tc) {
                *(void **)p = NULL;
                ma_central_insert(cls, p, 1);
                return;
        }
        MaBin *b = &tc->bins[cls];
        if (p == b->head)
                ma_fatal("free(): double free detected", p);
        if (b->count >= b->max)
                ma_tcache_bin_flush(b, cls, ma_class_batch[cls]);
        *(void **)p = b->head;
        b->head = p;
        b->count++;
}

void ma_free_slow(void *p)
{
        if (!p)
                return;
        int saved = errno;
        uintptr_t a = (uintptr_t)p;
        MaSpan *s = ma_pm_span(a);
        if (s && s->state == MA_SPAN_SMALL && a - s->start < s->npages * MA_PAGE) {
                ma_free_small_slow(p, s->cls);
        } else if (s && s->state == MA_SPAN_LARGE && s->start == a) {
                atomic_fetch_sub_explicit(&ma_large_in_use, s->npages * MA_PAGE, memory_order_relaxed);
                ma_ph_free(s);
        } else if (s || ma_ph_in_arena(a)) {
                ma_fatal("free(): invalid pointer or double free", p);
        } else
                ma_free_foreign(p);
        errno = saved;
}

void ma_free(void *p)
{
        ma_free_fast(p);
}

void *ma_calloc(size_t n, size_t size)
{
        size_t total;
        bool zeroed = false;
        void *p;
        if (__builtin_mul_overflow(n, size, &total)) {
                errno = ENOMEM;
                return NULL;
        }
        if (total <= MA_MAX_SMALL) {
                p = ma_malloc_fast(total);
                if (p)
                        memset(p, 0, total);
                return p;
        }
        p = ma_large_alloc(total, 1, &zeroed);
        if (p && !zeroed)
                memset(p, 0, total);
        return p;
}

size_t ma_usable_size(const void *p)
{
        if (!p)
                return 0;
        uintptr_t a = (uintptr_t)p;
        unsigned cls = ma_pm_cls(a);
        if (cls)
                return ma_class_size[cls];
        MaSpan *s = ma_pm_span(a);
        if (s && s->state == MA_SPAN_LARGE && s->start == a)
                return s->npages * MA_PAGE;
        if (s || ma_ph_in_arena(a))
                ma_fatal("malloc_usable_size(): invalid pointer", p);
        size_t (*next)(const void *) = (size_t(*)(const void *))ma_next_symbol("malloc_usable_size");
        if (!next)
                ma_fatal("malloc_usable_size(): pointer not allocated by liboomless", p);
        return next(p);
}

void *ma_realloc(void *p, size_t n)
{
        if (!p)
                return ma_malloc_fast(n);
        if (n == 0) { /* glibc: frees and returns NULL */
                ma_free_fast(p);
                return NULL;
        }
        uintptr_t a = (uintptr_t)p;
        unsigned cls = ma_pm_cls(a);
        MaSpan *s = NULL;
        size_t cur;
        if (MA_LIKELY(cls)) {
                /* The class byte alone: no span access on the common path. */
                cur = ma_class_size[cls];
                if (n <= cur && (n > cur / 2 || cur <= 64))
                        return p;
        } else if ((s = ma_pm_span(a)) && s->state == MA_SPAN_SMALL) {
                ma_fatal("realloc(): invalid pointer", p);
        } else if (s && s->state == MA_SPAN_LARGE && s->start == a) {
                cur = s->npages * MA_PAGE;
                size_t need = (n + MA_PAGE - 1) >> MA_PAGE_SHIFT;
                if (n > MA_MAX_SMALL || n > cur / 2) {
                        if (need == s->npages)
                                return p;
                        if (need < s->npages) {
                                size_t give = s->npages - need;
                                atomic_fetch_sub_explicit(&ma_large_in_use, give * MA_PAGE,
                                                          memory_order_relaxed);
                                ma_ph_shrink(s, need);
                                return p;
                        }
                        if (n <= (SIZE_MAX >> 2) && ma_ph_grow_inplace(s, need)) {
                                atomic_fetch_add_explicit(&ma_large_in_use,
                                                          (need - (cur >> MA_PAGE_SHIFT)) * MA_PAGE,
                                                          memory_order_relaxed);
                                return p;
                        }
                }
        } else if (s || ma_ph_in_arena(a)) {
                ma_fatal("realloc(): invalid pointer", p);
        } else {
                void *(*next)(void *, size_t) = (void *(*)(void *, size_t))ma_next_symbol("realloc");
                if (!next)
                        ma_fatal("realloc(): pointer not allocated by liboomless", p);
                return next(p, n);
        }
        if (s && n > cur && cur >= MA_REMAP_MIN) {
                void *q = ma_large_alloc(n, 1, NULL);
                if (!q)
                        return NULL;
                if (ma_os_move(p, cur, q, !ma_opt.thp)) {
                        atomic_fetch_sub_explicit(&ma_large_in_use, cur, memory_order_relaxed);
                        ma_ph_free_returned(s);
                        return q;
                }
                memcpy(q, p, cur);
                ma_free_fast(p);
                return q;
        }
        /* A block that grows in small steps would otherwise be copied at every class boundary:
         * grow small blocks by at least a quarter. */
        size_t want = n;
        if (n > cur && cur <= MA_MAX_SMALL && n < cur + cur / 4)
                want = cur + cur / 4;
        void *q = ma_malloc_fast(want);
        if (!q && want != n)
                q = ma_malloc_fast(n);
        if (!q)
                return NULL;
        memcpy(q, p, n < cur ? n : cur);
        ma_free_fast(p);
        return q;
}

void *ma_memalign(size_t align, size_t n)
{
        if (align <= 16) /* every class from 16 bytes on is a multiple of 16 */
                return ma_malloc_fast(align > 8 && n < 16 ? 16 : n);
        ma_ensure_init();
        if (n > (SIZE_MAX >> 2)) {
                errno = ENOMEM;
                return NULL;
        }
        if (align <= MA_PAGE) {
                size_t m = n ? (n + align - 1) & ~(align - 1) : align;
                if (m <= MA_MAX_SMALL) {
                        /* Spans are page aligned, so a class whose size is a multiple of align
                         * hands out only aligned objects; every power of two is a class. */
                        unsigned c = ma_size_to_class(m);
                        while (c < ma_nclasses && ma_class_size[c] % align)
                                c++;
                        if (c < ma_nclasses)
                                return ma_malloc_fast(ma_class_size[c]);
                }
        }
        return ma_large_alloc(n, align > MA_PAGE ? align / MA_PAGE : 1, NULL);
}

void ma_fork_prepare(void)
{
        if (atomic_load(&ma_init_state) != 2)
                return;
        ma_tcache_fork_prepare();
        ma_central_fork_prepare();
        ma_ph_fork_prepare();
}

void ma_fork_parent(void)
{
        if (atomic_load(&ma_init_state) != 2)
                return;
        ma_ph_fork_parent();
        ma_central_fork_parent();
        ma_tcache_fork_parent();
}

void ma_fork_child(void)
{
        if (atomic_load(&ma_init_state) != 2)
                return;
        ma_ph_fork_child();
        ma_central_fork_child();
        ma_tcache_fork_child();
        ma_scavenger_fork_child();
        ma_control_fork_child();
}

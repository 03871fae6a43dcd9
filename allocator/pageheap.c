/* SPDX-License-Identifier: MIT */
/*
 * The page heap: arenas reserved from the kernel, cut into spans of pages, free spans kept in
 * size-bucketed lists (backed and returned apart) and coalesced with free neighbours of the same
 * kind; the pagemap from address to span; the scavenger that gives idle free spans back with
 * MADV_DONTNEED; and the heap cap, checked where pages go from "returned" to "held".
 */
#include <errno.h>
#include <string.h>

#include "list.h"
#include "ma.h"

MaPmLeaf *ma_pm_root[MA_PM_ROOT_SIZE];
MaLock ma_ph_lock = MA_LOCK_INIT;
MA_TLS bool ma_fail_was_cap;

static MaLock ma_meta_lock = MA_LOCK_INIT;
static char *ma_meta_cur;
static size_t ma_meta_left;

/* [returned][npages] for npages < MA_FREE_LISTS; [returned][0] holds every bigger span. */
static MaSpan ma_free_lists[2][MA_FREE_LISTS];
static uint64_t ma_free_bits[2][MA_FREE_LISTS / 64];
static MaSpan *ma_span_pool;

/* Arena ranges, so a pointer inside our memory but not at an object is never taken for glibc's. */
#define MA_MAX_ARENAS 4096
static struct {
        uintptr_t lo, hi;
} ma_arenas[MA_MAX_ARENAS];
static _Atomic unsigned ma_narenas;

bool ma_ph_in_arena(uintptr_t a)
{
        unsigned n = atomic_load_explicit(&ma_narenas, memory_order_acquire);
        for (unsigned i = 0; i < n; i++)
                if (a >= ma_arenas[i].lo && a < ma_arenas[i].hi)
                        return true;
        return false;
}
static bool ma_ph_ready;

void *ma_meta_alloc(size_t size)
{
        void *p;
        size = (size + 63) & ~(size_t)63;
        ma_lock(&ma_meta_lock);
        if (ma_meta_left < size) {
                size_t chunk = size > ((size_t)256 << 10) ? size : (size_t)256 << 10;
                char *c = ma_os_map(chunk, 4096);
                if (!c) {
                        ma_unlock(&ma_meta_lock);
                        return NULL;
                }
                ma_meta_cur = c;
                ma_meta_left = chunk;
        }
        p = ma_meta_cur;
        ma_meta_cur += size;
        ma_meta_left -= size;
        ma_unlock(&ma_meta_lock);
        atomic_fetch_add_explicit(&ma_held, size, memory_order_relaxed);
        return p;
}

static MaSpan *ma_span_new(void)
{
        MaSpan *s = ma_span_pool;
        if (s) {
                ma_span_pool = s->next;
                memset(s, 0, sizeof(*s));
                return s;
        }
        /* Records come 64 at a time, packed: one per 8 KiB page is the common case. */
        MaSpan *block = ma_meta_alloc(64 * sizeof(MaSpan));
        if (!block)
                return NULL;
        for (size_t i = 1; i < 64; i++) {
                block[i].next = ma_span_pool;
                ma_span_pool = &block[i];
        }
        return &block[0];
}

static void ma_span_put(MaSpan *s)
{
        s->state = 0;
        s->next = ma_span_pool;
        ma_span_pool = s;
}

static void ma_ph_init_locked(void)
{
        if (ma_ph_ready)
                return;
        for (int r = 0; r < 2; r++)
                for (int i = 0; i < MA_FREE_LISTS; i++)
                        ma_list_init(&ma_free_lists[r][i]);
        ma_ph_ready = true;
}

static inline MaPmLeaf *ma_pm_leaf(uintptr_t a)
{
        return ma_pm_root[a >> (MA_PAGE_SHIFT + MA_PM_LEAF_BITS)];
}

static inline void ma_pm_set(uintptr_t a, MaSpan *s)
{
        ma_pm_leaf(a)->span[(a >> MA_PAGE_SHIFT) & (MA_PM_LEAF_SIZE - 1)] = s;
}

static inline void ma_pm_set_cls(uintptr_t a, uint8_t cls)
{
        ma_pm_leaf(a)->cls[(a >> MA_PAGE_SHIFT) & (MA_PM_LEAF_SIZE - 1)] = cls;
}

static void ma_fl_insert(MaSpan *s)
{
        unsigned r = s->returned, i = s->npages < MA_FREE_LISTS ? (unsigned)s->npages : 0;
        ma_list_push(&ma_free_lists[r][i], s);
        ma_free_bits[r][i / 64] |= UINT64_C(1) << (i % 64);
        ma_pm_set(s->start, s);
        ma_pm_set(s->start + (s->npages - 1) * MA_PAGE, s);
}

static void ma_fl_remove(MaSpan *s)
{
        unsigned r = s->returned, i = s->npages < MA_FREE_LISTS ? (unsigned)s->npages : 0;
        ma_list_remove(s);
        if (ma_list_empty(&ma_free_lists[r][i]))
                ma_free_bits[r][i / 64] &= ~(UINT64_C(1) << (i % 64));
}

/* Makes s free (backed or returned) and merges it with free neighbours of the same kind. */
static void ma_ph_free_locked(MaSpan *s, bool returned, uint64_t now)
{
        uintptr_t end = s->start + s->npages * MA_PAGE;
        MaSpan *l = ma_pm_span(s->start - MA_PAGE), *r = ma_pm_span(end);

        s->state = MA_SPAN_FREE;
        s->returned = returned;
        s->free_ns = now;
        s->freelist = NULL;
        s->cls = 0;
        if (l && l != s && l->state == MA_SPAN_FREE && l->returned == returned &&
            l->start + l->npages * MA_PAGE == s->start) {
                ma_fl_remove(l);
                s->start = l->start;
                s->npages += l->npages;
                if (l->free_ns < now && !returned)
                        s->free_ns = now;
                ma_span_put(l);
        }
        if (r && r != s && r->state == MA_SPAN_FREE && r->returned == returned && r->start == end) {
                ma_fl_remove(r);
                s->npages += r->npages;
                ma_span_put(r);
        }
        ma_fl_insert(s);
}

static MaSpan *ma_fl_find(size_t need, unsigned r)
{
        if (need < MA_FREE_LISTS) {
                for (size_t w = need / 64; w < MA_FREE_LISTS / 64; w++) {
                        uint64_t bits = ma_free_bits[r][w];
                        if (w == need / 64)
                                bits &= ~UINT64_C(0) << (need % 64);
                        if (w == 0)
                                bits &= ~UINT64_C(1);
                        if (bits)
                                return ma_free_lists[r][w * 64 + (size_t)__builtin_ctzll(bits)].next;
                }
        }
        MaSpan *best = NULL, *h = &ma_free_lists[r][0];
        for (MaSpan *s = h->next; s != h; s = s->next)
                if (s->npages >= need && (!best || s->npages < best->npages))
                        best = s;
        return best;
}

/* Reserves a new arena; its pages join the page heap as one returned free span. */
static bool ma_ph_grow_locked(size_t need)
{
        size_t bytes = need * MA_PAGE;
        bytes = bytes < MA_ARENA_SIZE ? MA_ARENA_SIZE : (bytes + MA_ARENA_ALIGN - 1) & ~(MA_ARENA_ALIGN - 1);
        if (bytes / MA_PAGE < need)
                return false;
        char *a = ma_os_map(bytes, MA_ARENA_ALIGN);
        if (!a)
                return false;
        if (!ma_opt.thp)
                ma_os_no_huge(a, bytes);
        if (((uintptr_t)a + bytes) >> 48) /* outside the pagemap's reach; never expected */
                return false;
        for (uintptr_t p = (uintptr_t)a; p < (uintptr_t)a + bytes;
             p = (p | ((MA_PM_LEAF_SIZE << MA_PAGE_SHIFT) - 1)) + 1) {
                size_t i = p >> (MA_PAGE_SHIFT + MA_PM_LEAF_BITS);
                if (!ma_pm_root[i]) {
                        MaPmLeaf *leaf = ma_os_map(sizeof(MaPmLeaf), 4096);
                        if (!leaf)
                                return false;
                        __atomic_store_n(&ma_pm_root[i], leaf, __ATOMIC_RELEASE);
                }
        }
        unsigned na = atomic_load_explicit(&ma_narenas, memory_order_relaxed);
        if (na < MA_MAX_ARENAS) {
                ma_arenas[na].lo = (uintptr_t)a;
                ma_arenas[na].hi = (uintptr_t)a + bytes;
                atomic_store_explicit(&ma_narenas, na + 1, memory_order_release);
        }
        /* The touched part of the pagemap: 9 bytes per page of arena. */
        atomic_fetch_add_explicit(&ma_held, bytes / MA_PAGE * 9, memory_order_relaxed);
        MaSpan *s = ma_span_new();
        if (!s)
                return false;
        s->start = (uintptr_t)a;
        s->npages = bytes / MA_PAGE;
        ma_ph_free_locked(s, true, 0);
        return true;
}

/* Cuts [off, off + n) pages out of free span s; the rest stays free with the same kind and age. */
static MaSpan *ma_ph_carve(MaSpan *s, size_t off, size_t n)
{
        ma_fl_remove(s);
        if (off) {
                MaSpan *f = ma_span_new();
                f->start = s->start;
                f->npages = off;
                f->state = MA_SPAN_FREE;
                f->returned = s->returned;
                f->free_ns = s->free_ns;
                ma_fl_insert(f);
                s->start += off * MA_PAGE;
                s->npages -= off;
        }
        if (s->npages > n) {
                MaSpan *b = ma_span_new();
                b->start = s->start + n * MA_PAGE;
                b->npages = s->npages - n;
                b->state = MA_SPAN_FREE;
                b->returned = s->returned;
                b->free_ns = s->free_ns;
                ma_fl_insert(b);
                s->npages = n;
        }
        return s;
}

static void ma_ph_release_span_locked(MaSpan *s)
{
        size_t bytes = s->npages * MA_PAGE;
        ma_fl_remove(s);
        ma_os_release((void *)s->start, bytes);
        atomic_fetch_sub_explicit(&ma_held, bytes, memory_order_relaxed);
        atomic_fetch_add_explicit(&ma_returned, bytes, memory_order_relaxed);
        ma_ph_free_locked(s, true, 0);
}

/* Cap path: give back every backed free span now, without dropping the lock. */
static void ma_ph_release_all_locked(void)
{
        for (unsigned i = 0; i < MA_FREE_LISTS; i++) {
                MaSpan *h = &ma_free_lists[0][i];
                while (h->next != h)
                        ma_ph_release_span_locked(h->next);
        }
        atomic_fetch_add_explicit(&ma_scavenges, 1, memory_order_relaxed);
}

static bool ma_ph_over_cap(size_t bytes)
{
        uint64_t cap = atomic_load_explicit(&ma_cap, memory_order_relaxed);
        return cap && atomic_load_explicit(&ma_held, memory_order_relaxed) + bytes > cap;
}

static MaSpan *ma_ph_alloc_locked(size_t npages, size_t align_pages)
{
        size_t need = npages + (align_pages > 1 ? align_pages - 1 : 0);
        uintptr_t amask = align_pages > 1 ? align_pages * MA_PAGE - 1 : 0;
        bool fresh = false;

        if (need < npages)
                return NULL;
        MaSpan *s = ma_fl_find(need, 0);
        if (!s) {
                if (ma_ph_over_cap(npages * MA_PAGE)) {
                        ma_ph_release_all_locked();
                        if (ma_ph_over_cap(npages * MA_PAGE)) {
                                ma_fail_was_cap = true;
                                return NULL;
                        }
                }
                s = ma_fl_find(need, 1);
                if (!s) {
                        if (!ma_ph_grow_locked(need))
                                return NULL;
                        s = ma_fl_find(need, 1);
                        if (!s)
                                return NULL;
                }
                fresh = true;
        }
        size_t off = ((((s->start + amask) & ~amask)) - s->start) / MA_PAGE;
        s = ma_ph_carve(s, off, npages);
        if (fresh)
                atomic_fetch_add_explicit(&ma_held, npages * MA_PAGE, memory_order_relaxed);
        s->zeroed = fresh;
        s->returned = 0;
        return s;
}

MaSpan *ma_ph_alloc(size_t npages, size_t align_pages)
{
        ma_lock(&ma_ph_lock);
        ma_ph_init_locked();
        MaSpan *s = ma_ph_alloc_locked(npages, align_pages);
        if (s) {
                s->state = MA_SPAN_LARGE;
                s->cls = 0;
                ma_pm_set(s->start, s);
                ma_pm_set(s->start + (s->npages - 1) * MA_PAGE, s);
        }
        ma_unlock(&ma_ph_lock);
        if (s)
                ma_stats_note_held(atomic_load_explicit(&ma_held, memory_order_relaxed));
        return s;
}

MaSpan *ma_ph_small_span(unsigned cls)
{
        ma_lock(&ma_ph_lock);
        ma_ph_init_locked();
        MaSpan *s = ma_ph_alloc_locked(ma_class_pages[cls], 1);
        if (s) {
                size_t size = ma_class_size[cls];
                s->state = MA_SPAN_SMALL;
                s->cls = (uint8_t)cls;
                s->released = 0;
                s->freelist = NULL;
                s->allocated = 0;
                s->bump = s->start;
                s->limit = s->start + (s->npages * MA_PAGE / size) * size;
                for (size_t i = 0; i < s->npages; i++) {
                        ma_pm_set(s->start + i * MA_PAGE, s);
                        ma_pm_set_cls(s->start + i * MA_PAGE, (uint8_t)cls);
                }
        }
        ma_unlock(&ma_ph_lock);
        if (s)
                ma_stats_note_held(atomic_load_explicit(&ma_held, memory_order_relaxed));
        return s;
}

void ma_ph_small_release(MaSpan *s)
{
        uint64_t now = ma_now_ns();
        /* Pages released while the span lived count as backed again: the page heap keeps whole spans
         * as one kind, and the scavenger will return them with the rest. */
        if (s->released) {
                atomic_fetch_add_explicit(&ma_held, (uint64_t)__builtin_popcountll(s->released) * 4096,
                                          memory_order_relaxed);
                s->released = 0;
        }
        ma_lock(&ma_ph_lock);
        for (size_t i = 0; i < s->npages; i++)
                ma_pm_set_cls(s->start + i * MA_PAGE, 0);
        ma_ph_free_locked(s, false, now);
        ma_unlock(&ma_ph_lock);
}

void ma_ph_free(MaSpan *s)
{
        uint64_t now = ma_now_ns();
        ma_lock(&ma_ph_lock);
        ma_ph_free_locked(s, false, now);
        ma_unlock(&ma_ph_lock);
}

bool ma_ph_grow_inplace(MaSpan *s, size_t npages)
{
        bool ok = false;
        size_t extra = npages - s->npages;
        ma_lock(&ma_ph_lock);
        uintptr_t end = s->start + s->npages * MA_PAGE;
        MaSpan *r = ma_pm_span(end);
        if (r && r->state == MA_SPAN_FREE && r->start == end && r->npages >= extra &&
            !(r->returned && ma_ph_over_cap(extra * MA_PAGE))) {
                bool fresh = r->returned;
                r = ma_ph_carve(r, 0, extra);
                if (fresh)
                        atomic_fetch_add_explicit(&ma_held, extra * MA_PAGE, memory_order_relaxed);
                s->npages += extra;
                ma_span_put(r);
                ma_pm_set(s->start + (s->npages - 1) * MA_PAGE, s);
                ok = true;
        }
        ma_unlock(&ma_ph_lock);
        return ok;
}

/* The pages of s were moved away (mremap) and fresh zero pages mapped in their place. */
void ma_ph_free_returned(MaSpan *s)
{
        ma_lock(&ma_ph_lock);
        atomic_fetch_sub_explicit(&ma_held, s->npages * MA_PAGE, memory_order_relaxed);
        ma_ph_free_locked(s, true, 0);
        ma_unlock(&ma_ph_lock);
}

void ma_ph_shrink(MaSpan *s, size_t npages)
{
        uint64_t now = ma_now_ns();
        ma_lock(&ma_ph_lock);
        MaSpan *t = ma_span_new();
        if (t) {
                t->start = s->start + npages * MA_PAGE;
                t->npages = s->npages - npages;
                s->npages = npages;
                ma_pm_set(s->start + (npages - 1) * MA_PAGE, s);
                ma_ph_free_locked(t, false, now);
        }
        ma_unlock(&ma_ph_lock);
}

/* Oldest-first candidate among backed free spans: list tails are the least recently freed. */
static MaSpan *ma_ph_idle_candidate(uint64_t older_than)
{
        for (unsigned i = 0; i < MA_FREE_LISTS; i++) {
                MaSpan *h = &ma_free_lists[0][i];
                if (h->prev != h && (older_than == 0 || h->prev->free_ns <= older_than))
                        return h->prev;
        }
        return NULL;
}

size_t ma_ph_scavenge(uint64_t older_than)
{
        size_t total = 0;
        ma_lock(&ma_ph_lock);
        ma_ph_init_locked();
        for (;;) {
                MaSpan *s = ma_ph_idle_candidate(older_than);
                if (!s)
                        break;
                size_t bytes = s->npages * MA_PAGE;
                ma_fl_remove(s);
                s->state = MA_SPAN_BUSY;
                /* madvise without the lock, so allocations elsewhere are not stalled behind it. */
                ma_unlock(&ma_ph_lock);
                ma_os_release((void *)s->start, bytes);
                ma_lock(&ma_ph_lock);
                atomic_fetch_sub_explicit(&ma_held, bytes, memory_order_relaxed);
                atomic_fetch_add_explicit(&ma_returned, bytes, memory_order_relaxed);
                ma_ph_free_locked(s, true, 0);
                total += bytes;
        }
        ma_unlock(&ma_ph_lock);
        if (total || older_than == 0)
                atomic_fetch_add_explicit(&ma_scavenges, 1, memory_order_relaxed);
        return total;
}

void ma_ph_fork_prepare(void)
{
        ma_lock(&ma_ph_lock);
        ma_lock(&ma_meta_lock);
}

void ma_ph_fork_parent(void)
{
        ma_unlock(&ma_meta_lock);
        ma_unlock(&ma_ph_lock);
}

void ma_ph_fork_child(void)
{
        ma_lock_reset(&ma_meta_lock);
        ma_lock_reset(&ma_ph_lock);
}

static void ma_check_fail(const char *what, const void *p)
{
        ma_fatal(what, p);
}

void ma_ph_check(void)
{
        ma_lock(&ma_ph_lock);
        ma_ph_init_locked();
        for (unsigned r = 0; r < 2; r++)
                for (unsigned i = 0; i < MA_FREE_LISTS; i++) {
                        MaSpan *h = &ma_free_lists[r][i];
                        bool bit = ma_free_bits[r][i / 64] & (UINT64_C(1) << (i % 64));
                        if (bit != (h->next != h))
                                ma_check_fail("invariant: free-list bitmap out of sync", h);
                        for (MaSpan *s = h->next; s != h; s = s->next) {
                                if (s->next->prev != s || s->prev->next != s)
                                        ma_check_fail("invariant: free list links broken", s);
                                if (s->state != MA_SPAN_FREE || s->returned != r)
                                        ma_check_fail("invariant: span on a free list is not free", s);
                                if ((i && s->npages != i) || (!i && s->npages < MA_FREE_LISTS))
                                        ma_check_fail("invariant: span on the wrong size list", s);
                                if (s->start & (MA_PAGE - 1))
                                        ma_check_fail("invariant: span not page aligned", s);
                                if (ma_pm_span(s->start) != s ||
                                    ma_pm_span(s->start + (s->npages - 1) * MA_PAGE) != s)
                                        ma_check_fail("invariant: pagemap does not point at free span", s);
                                MaSpan *l = ma_pm_span(s->start - MA_PAGE);
                                if (l && l->state == MA_SPAN_FREE && l->returned == r &&
                                    l->start + l->npages * MA_PAGE == s->start)
                                        ma_check_fail("invariant: adjacent free spans not coalesced", s);
                                for (size_t k = 0; k < s->npages; k += 1 + s->npages / 16)
                                        if (ma_pm_leaf(s->start + k * MA_PAGE)
                                                ->cls[((s->start + k * MA_PAGE) >> MA_PAGE_SHIFT) &
                                                      (MA_PM_LEAF_SIZE - 1)])
                                                ma_check_fail("invariant: free page has a size class", s);
                        }
                }
        ma_unlock(&ma_ph_lock);
}

/* SPDX-License-Identifier: MIT */
/*
 * Central free lists, one per size class, shared by all threads. Thread caches move objects in and
 * out in batches; whole batches are parked in transfer slots so the common exchange costs one lock
 * and O(1) work. Otherwise objects go back to their span (found through the pagemap), and a span
 * whose objects are all back returns to the page heap.
 */
#include <string.h>
#include <unistd.h>

#include "list.h"
#include "ma.h"

MaCentral ma_central[MA_NCLASSES];

_Atomic uint64_t ma_coarse_ns;

#define MA_OS_PAGE ((uintptr_t)4096)

static inline bool span_full(const MaSpan *s, size_t size)
{
        return !s->freelist && s->bump + size > s->limit && !s->released;
}

static inline bool obj_in_released(const MaSpan *s, uintptr_t o, size_t size)
{
        uintptr_t first = (o - s->start) / MA_OS_PAGE, last = (o + size - 1 - s->start) / MA_OS_PAGE;
        for (uintptr_t i = first; i <= last; i++)
                if (s->released & (UINT64_C(1) << i))
                        return true;
        return false;
}

/* Takes the parked objects back: called only when the span has no free list and no bump room, so
 * every free object of the span is parked. Touching them faults their pages back in. */
static void span_unpark(MaSpan *s, size_t size)
{
        void *list = NULL;
        for (size_t i = (s->limit - s->start) / size; i-- > 0;) {
                uintptr_t o = s->start + i * size;
                if (obj_in_released(s, o, size)) {
                        *(void **)o = list;
                        list = (void *)o;
                }
        }
        atomic_fetch_add_explicit(&ma_held, (uint64_t)__builtin_popcountll(s->released) * MA_OS_PAGE,
                                  memory_order_relaxed);
        s->released = 0;
        s->freelist = list;
}

/* Gives back the 4 KiB pages of a live small span that hold only free objects. The free list lives
 * inside the free objects, so it is rebuilt first without the objects on those pages (they are
 * parked until span_unpark()), and only then are the pages released. */
static size_t span_release_pages(MaSpan *s, size_t size)
{
        uint64_t freebits[MA_PAGE / 8 * 8 / 64]; /* one bit per object: at most 8 pages of 8-byte objects */
        size_t nobjs = (s->limit - s->start) / size, npg = s->npages * MA_PAGE / MA_OS_PAGE;
        uint64_t rel = 0;

        if (nobjs > sizeof(freebits) * 8 || npg > 64)
                return 0;
        memset(freebits, 0, (nobjs + 63) / 64 * 8);
        for (void *o = s->freelist; o; o = *(void **)o) {
                size_t i = ((uintptr_t)o - s->start) / size;
                freebits[i / 64] |= UINT64_C(1) << (i % 64);
        }
        for (size_t i = (s->bump - s->start) / size; i < nobjs; i++)
                freebits[i / 64] |= UINT64_C(1) << (i % 64);
        for (size_t p = 0; p < npg; p++) {
                uintptr_t ps = s->start + p * MA_OS_PAGE, pe = ps + MA_OS_PAGE;
                bool all_free = true;
                if (s->released & (UINT64_C(1) << p))
                        continue;
                if (ps < s->limit) {
                        size_t first = (ps - s->start) / size;
                        size_t last = ((pe < s->limit ? pe : s->limit) - 1 - s->start) / size;
                        for (size_t i = first; i <= last && all_free; i++)
                                all_free = freebits[i / 64] & (UINT64_C(1) << (i % 64));
                }
                if (all_free)
                        rel |= UINT64_C(1) << p;
        }
        if (!rel)
                return 0;
        s->released |= rel;
        /* Rebuild the free list from the bitmap, leaving out everything on a released page. */
        void *list = NULL;
        for (size_t i = nobjs; i-- > 0;) {
                uintptr_t o = s->start + i * size;
                if (!(freebits[i / 64] & (UINT64_C(1) << (i % 64))) || obj_in_released(s, o, size))
                        continue;
                *(void **)o = list;
                list = (void *)o;
        }
        s->freelist = list;
        s->bump = s->limit;
        size_t bytes = 0;
        for (size_t p = 0; p < npg;) {
                if (!(rel & (UINT64_C(1) << p))) {
                        p++;
                        continue;
                }
                size_t q = p;
                while (q < npg && (rel & (UINT64_C(1) << q)))
                        q++;
                ma_os_release((void *)(s->start + p * MA_OS_PAGE), (q - p) * MA_OS_PAGE);
                bytes += (q - p) * MA_OS_PAGE;
                p = q;
        }
        atomic_fetch_sub_explicit(&ma_held, bytes, memory_order_relaxed);
        atomic_fetch_add_explicit(&ma_returned, bytes, memory_order_relaxed);
        return bytes;
}

size_t ma_central_release_pages(uint64_t idle_before)
{
        static int page_ok = -1;
        size_t total = 0;
        if (page_ok < 0)
                page_ok = sysconf(_SC_PAGESIZE) == (long)MA_OS_PAGE;
        if (!page_ok)
                return 0;
        for (unsigned cls = 1; cls < ma_nclasses; cls++) {
                MaCentral *c = &ma_central[cls];
                if (idle_before) {
                        uint64_t last = __atomic_load_n(&c->last_ns, __ATOMIC_RELAXED);
                        if (last > idle_before || c->scanned_ns == last + 1)
                                continue;
                }
                if (!__atomic_load_n(&c->nonempty.next, __ATOMIC_RELAXED))
                        continue;
                ma_lock(&c->lock);
                for (MaSpan *s = c->nonempty.next; s != &c->nonempty; s = s->next)
                        total += span_release_pages(s, ma_class_size[cls]);
                c->scanned_ns = c->last_ns + 1;
                ma_unlock(&c->lock);
        }
        return total;
}

void ma_central_init(void)
{
        /* Nothing to do: a zeroed lock is unlocked and each list head is set up on first use, so
         * classes a program never uses cost no resident memory. */
}

/* Returns objects to their spans; spans that became empty are chained on *rel for the page heap. */
static void central_to_spans_locked(MaCentral *c, unsigned cls, void *head, unsigned n, MaSpan **rel)
{
        size_t size = ma_class_size[cls];
        while (n-- && head) {
                void *o = head;
                head = *(void **)o;
                MaSpan *s = ma_pm_span((uintptr_t)o);
                if (MA_UNLIKELY(!s || s->state != MA_SPAN_SMALL || s->cls != cls ||
                                ((uintptr_t)o - s->start) % size || s->allocated == 0))
                        ma_fatal("free(): invalid pointer or double free", o);
                bool was_full = span_full(s, size);
                *(void **)o = s->freelist;
                s->freelist = o;
                if (--s->allocated == 0) {
                        if (!was_full)
                                ma_list_remove(s);
                        s->next = *rel;
                        *rel = s;
                } else if (was_full) {
                        ma_list_push(&c->nonempty, s);
                } else if (s->allocated == (uint32_t)((s->limit - s->start) / size / 4)) {
                        /* Now mostly empty: move it behind the fuller spans, which serve
                         * allocations first, so it has a chance to drain and go back whole. */
                        ma_list_remove(s);
                        ma_list_push_tail(&c->nonempty, s);
                }
        }
}

static void central_release(MaSpan *rel)
{
        while (rel) {
                MaSpan *next = rel->next;
                ma_ph_small_release(rel);
                rel = next;
        }
}

unsigned ma_central_remove(unsigned cls, unsigned want, void **head)
{
        MaCentral *c = &ma_central[cls];
        size_t size = ma_class_size[cls];
        unsigned got = 0;
        void *first = NULL, **tail = &first;
        MaSpan *rel = NULL;

        ma_lock(&c->lock);
        if (MA_UNLIKELY(!c->nonempty.next))
                ma_list_init(&c->nonempty);
        c->last_ns = atomic_load_explicit(&ma_coarse_ns, memory_order_relaxed);
        if (c->nslots && want == ma_class_batch[cls]) {
                *head = c->slots[--c->nslots];
                c->out_objs += want;
                ma_unlock(&c->lock);
                return want;
        }
        while (got < want) {
                MaSpan *s = c->nonempty.next;
                if (s == &c->nonempty) {
                        if (c->nslots) {
                                /* Odd-sized request: spread a parked batch back into its spans. */
                                void *b = c->slots[--c->nslots];
                                c->out_objs += ma_class_batch[cls];
                                central_to_spans_locked(c, cls, b, ma_class_batch[cls], &rel);
                                c->out_objs -= ma_class_batch[cls];
                                continue;
                        }
                        ma_unlock(&c->lock);
                        central_release(rel);
                        rel = NULL;
                        s = ma_ph_small_span(cls);
                        ma_lock(&c->lock);
                        if (!s)
                                break;
                        ma_list_push(&c->nonempty, s);
                }
                while (got < want) {
                        void *o;
                        if (s->freelist) {
                                o = s->freelist;
                                s->freelist = *(void **)o;
                        } else if (s->bump + size <= s->limit) {
                                o = (void *)s->bump;
                                s->bump += size;
                        } else if (s->released) {
                                span_unpark(s, size);
                                continue;
                        } else
                                break;
                        *tail = o;
                        tail = (void **)o;
                        s->allocated++;
                        got++;
                }
                if (span_full(s, size))
                        ma_list_remove(s);
        }
        *tail = NULL;
        c->out_objs += got;
        ma_unlock(&c->lock);
        central_release(rel);
        *head = first;
        return got;
}

void ma_central_insert(unsigned cls, void *head, unsigned n)
{
        MaCentral *c = &ma_central[cls];
        MaSpan *rel = NULL;

        ma_lock(&c->lock);
        if (MA_UNLIKELY(!c->nonempty.next))
                ma_list_init(&c->nonempty);
        c->last_ns = atomic_load_explicit(&ma_coarse_ns, memory_order_relaxed);
        c->out_objs -= n;
        if (n == ma_class_batch[cls] && c->nslots < ma_class_slots[cls]) {
                c->slots[c->nslots++] = head;
                ma_unlock(&c->lock);
                return;
        }
        central_to_spans_locked(c, cls, head, n, &rel);
        ma_unlock(&c->lock);
        central_release(rel);
}

void ma_central_drain(void)
{
        ma_central_drain_idle(0);
}

void ma_central_drain_idle(uint64_t idle_before)
{
        for (unsigned cls = 1; cls < ma_nclasses; cls++) {
                MaCentral *c = &ma_central[cls];
                MaSpan *rel = NULL;
                if (!__atomic_load_n(&c->nslots, __ATOMIC_RELAXED))
                        continue;
                /* A class in use keeps its transfer slots: they are its fast refill path. */
                if (idle_before && __atomic_load_n(&c->last_ns, __ATOMIC_RELAXED) > idle_before)
                        continue;
                ma_lock(&c->lock);
                while (c->nslots)
                        central_to_spans_locked(c, cls, c->slots[--c->nslots], ma_class_batch[cls], &rel);
                ma_unlock(&c->lock);
                central_release(rel);
        }
}

uint64_t ma_central_in_use(void)
{
        uint64_t total = 0;
        for (unsigned cls = 1; cls < ma_nclasses; cls++) {
                uint64_t objs = __atomic_load_n(&ma_central[cls].out_objs, __ATOMIC_RELAXED);
                total += objs * ma_class_size[cls];
        }
        return total;
}

uint64_t ma_heap_in_use(void)
{
        return ma_central_in_use() + atomic_load_explicit(&ma_large_in_use, memory_order_relaxed);
}

void ma_central_fork_prepare(void)
{
        for (unsigned c = 1; c < MA_NCLASSES; c++)
                ma_lock(&ma_central[c].lock);
}

void ma_central_fork_parent(void)
{
        for (unsigned c = MA_NCLASSES - 1; c >= 1; c--)
                ma_unlock(&ma_central[c].lock);
}

void ma_central_fork_child(void)
{
        for (unsigned c = 1; c < MA_NCLASSES; c++)
                ma_lock_reset(&ma_central[c].lock);
}

void ma_central_check(void)
{
        for (unsigned cls = 1; cls < ma_nclasses; cls++) {
                MaCentral *c = &ma_central[cls];
                size_t size = ma_class_size[cls];
                ma_lock(&c->lock);
                if (!c->nonempty.next) {
                        if (c->nslots || c->out_objs)
                                ma_fatal("invariant: central list used before set-up", c);
                        ma_unlock(&c->lock);
                        continue;
                }
                for (MaSpan *s = c->nonempty.next; s != &c->nonempty; s = s->next) {
                        if (s->next->prev != s || s->prev->next != s)
                                ma_fatal("invariant: central list links broken", s);
                        if (s->state != MA_SPAN_SMALL || s->cls != cls)
                                ma_fatal("invariant: span on a central list is not of its class", s);
                        if (span_full(s, size))
                                ma_fatal("invariant: full span on the nonempty list", s);
                        size_t nfree = 0, nobjs = (s->limit - s->start) / size;
                        for (void *o = s->freelist; o; o = *(void **)o) {
                                if ((uintptr_t)o < s->start || (uintptr_t)o >= s->bump ||
                                    ((uintptr_t)o - s->start) % size)
                                        ma_fatal("invariant: free object outside its span", o);
                                if (++nfree > nobjs)
                                        ma_fatal("invariant: span free list has a cycle", s);
                        }
                        size_t parked = 0;
                        for (void *o = s->freelist; o; o = *(void **)o)
                                if (obj_in_released(s, (uintptr_t)o, size))
                                        ma_fatal("invariant: free list object on a released page", o);
                        if (s->released)
                                for (uintptr_t o = s->start; o + size <= s->limit; o += size)
                                        parked += obj_in_released(s, o, size);
                        if (nfree + parked + s->allocated + (s->limit - s->bump) / size != nobjs)
                                ma_fatal("invariant: span object count does not add up", s);
                        for (size_t i = 0; i < s->npages; i++)
                                if (ma_pm_span(s->start + i * MA_PAGE) != s)
                                        ma_fatal("invariant: pagemap does not point at small span", s);
                }
                for (unsigned i = 0; i < c->nslots; i++) {
                        unsigned n = 0;
                        for (void *o = c->slots[i]; o; o = *(void **)o)
                                n++;
                        if (n != ma_class_batch[cls])
                                ma_fatal("invariant: transfer slot does not hold one batch", c->slots[i]);
                }
                ma_unlock(&c->lock);
        }
}

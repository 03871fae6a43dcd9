/* SPDX-License-Identifier: MIT */
/*
 * Central free lists, one per size class, shared by all threads. Thread caches move objects in and
 * out in batches; whole batches are parked in transfer slots so the common exchange costs one lock
 * and O(1) work. Otherwise objects go back to their span (found through the pagemap), and a span
 * whose objects are all back returns to the page heap.
 */
#include <sched.h>

#include "ma.h"

MaCentral ma_central[MA_NCLASSES];

void ma_lock_slow(MaLock *l)
{
        for (unsigned spins = 0;; spins++) {
                if (!atomic_load_explicit(&l->v, memory_order_relaxed) &&
                    !atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
                        return;
                if (spins < 100) {
#if defined(__x86_64__) || defined(__i386__)
                        __builtin_ia32_pause();
#elif defined(__aarch64__)
                        __asm__ __volatile__("yield");
#endif
                } else
                        sched_yield();
        }
}

static inline void cl_init(MaSpan *h)
{
        h->next = h->prev = h;
}

static inline void cl_push(MaSpan *h, MaSpan *s)
{
        s->next = h->next;
        s->prev = h;
        h->next->prev = s;
        h->next = s;
}

static inline void cl_remove(MaSpan *s)
{
        s->prev->next = s->next;
        s->next->prev = s->prev;
        s->next = s->prev = NULL;
}

static inline bool span_full(const MaSpan *s, size_t size)
{
        return !s->freelist && s->bump + size > s->limit;
}

void ma_central_init(void)
{
        for (unsigned c = 0; c < MA_NCLASSES; c++) {
                ma_lock_reset(&ma_central[c].lock);
                cl_init(&ma_central[c].nonempty);
        }
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
                                cl_remove(s);
                        s->next = *rel;
                        *rel = s;
                } else if (was_full)
                        cl_push(&c->nonempty, s);
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
                        cl_push(&c->nonempty, s);
                }
                while (got < want) {
                        void *o;
                        if (s->freelist) {
                                o = s->freelist;
                                s->freelist = *(void **)o;
                        } else if (s->bump + size <= s->limit) {
                                o = (void *)s->bump;
                                s->bump += size;
                        } else
                                break;
                        *tail = o;
                        tail = (void **)o;
                        s->allocated++;
                        got++;
                }
                if (span_full(s, size))
                        cl_remove(s);
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
        for (unsigned cls = 1; cls < ma_nclasses; cls++) {
                MaCentral *c = &ma_central[cls];
                MaSpan *rel = NULL;
                if (!__atomic_load_n(&c->nslots, __ATOMIC_RELAXED))
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
                        if (nfree + s->allocated + (s->limit - s->bump) / size != nobjs)
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

/* SPDX-License-Identifier: MIT */
/*
 * The malloc/free fast paths, inlined into the exported entry points: a table lookup for the size
 * class, then a pop from or push to the thread's bin. Everything else is in alloc.c.
 */
#pragma once

#include "ma.h"

extern MA_TLS MaTCache *ma_tc;
void *ma_malloc_slow(size_t n);
void ma_free_slow(void *p);

static inline __attribute__((always_inline)) void *ma_malloc_fast(size_t n)
{
        if (MA_LIKELY(n <= MA_MAX_SMALL)) {
                unsigned cls = ma_size_to_class(n);
                MaBin *b = &ma_tc->bins[cls];
                void *p = b->head;
                if (MA_LIKELY(p != NULL)) {
                        b->head = *(void **)p;
                        b->count--;
                        return p;
                }
        }
        return ma_malloc_slow(n);
}

static inline __attribute__((always_inline)) void ma_free_fast(void *p)
{
        uintptr_t a = (uintptr_t)p;
        size_t ri = a >> (MA_PAGE_SHIFT + MA_PM_LEAF_BITS);
        if (MA_LIKELY(ri < MA_PM_ROOT_SIZE)) {
                MaPmLeaf *l = ma_pm_root[ri];
                if (MA_LIKELY(l != NULL)) {
                        unsigned cls = l->cls[(a >> MA_PAGE_SHIFT) & (MA_PM_LEAF_SIZE - 1)];
                        MaBin *b = &ma_tc->bins[cls];
                        /* cls 0 (not small) has max 0 in every cache, so it falls through too. */
                        if (MA_LIKELY(b->count < b->max && p != b->head)) {
                                *(void **)p = b->head;
                                b->head = p;
                                b->count++;
                                return;
                        }
                }
        }
        ma_free_slow(p);
}

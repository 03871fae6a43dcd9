/* SPDX-License-Identifier: MIT */
/*
 * Giving memory back to the kernel, at two strengths: everything free now (malloc_trim,
 * oomless_scavenge, the cap's pressure path, a supervisor request), or only what has been idle for
 * the scavenge delay (one tick of the background scavenger thread).
 */
#include "ma.h"

size_t ma_scavenge_all(bool own_cache)
{
        if (own_cache)
                ma_tcache_flush_self();
        ma_central_drain();
        size_t r = ma_ph_scavenge(0);
        return r + ma_central_release_pages(0);
}

void ma_scavenge_idle(uint64_t now, uint64_t delay)
{
        uint64_t before = now > delay ? now - delay : 1;
        atomic_store_explicit(&ma_coarse_ns, now, memory_order_relaxed);
        /* Objects parked in idle classes' transfer slots pin their spans as in use: hand them back
         * first, or a program that freed everything (redis after FLUSHALL) keeps its pages until the
         * next explicit trim. */
        ma_central_drain_idle(before);
        ma_ph_scavenge(before);
        /* Classes untouched for the whole delay: their partly used spans give back the pages that
         * hold only free objects. */
        ma_central_release_pages(before);
}

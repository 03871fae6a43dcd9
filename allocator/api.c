/* SPDX-License-Identifier: MIT */
/*
 * The oomless_* application API (include/oomless/oomless.h): the current stage, budget, weight and
 * readiness, registering stage, budget and pressure callbacks, an explicit scavenge, and the
 * versioned statistics.
 */
#include <errno.h>
#include <string.h>

#define OOMLESS_BUILDING_LIBRARY 1
#include "ma.h"
#include "oomless/oomless.h"

static int ma_register(unsigned kind, void *fn, void *userdata)
{
        if (!fn)
                return -EINVAL;
        if (atomic_load(&ma_init_state) != 2)
                ma_init_slow();
        int r = ma_callbacks_add(kind, fn, userdata);
        ma_maybe_start_background();
        return r;
}

MA_API int oomless_stage(void)
{
        return ma_current_stage();
}

MA_API int oomless_on_stage(oomless_stage_fn fn, void *userdata)
{
        return ma_register(MA_CB_STAGE, (void *)fn, userdata);
}

MA_API int oomless_budget(void)
{
        return ma_current_budget();
}

MA_API int oomless_weight(void)
{
        return ma_current_weight();
}

MA_API int oomless_ready(void)
{
        return ma_current_ready();
}

MA_API int oomless_on_budget(oomless_budget_fn fn, void *userdata)
{
        return ma_register(MA_CB_BUDGET, (void *)fn, userdata);
}

MA_API int oomless_on_pressure(oomless_pressure_fn fn, void *userdata)
{
        return ma_register(MA_CB_PRESSURE, (void *)fn, userdata);
}

MA_API size_t oomless_scavenge(void)
{
        if (atomic_load(&ma_init_state) != 2)
                return 0;
        int saved = errno;
        size_t r = ma_scavenge_all(true);
        ma_control_poll(false);
        errno = saved;
        return r;
}

MA_API int oomless_stats(struct oomless_stats *st)
{
        struct oomless_stats s;
        if (!st || st->size < 2 * sizeof(uint32_t))
                return -EINVAL;
        if (atomic_load(&ma_init_state) != 2)
                ma_init_slow();
        memset(&s, 0, sizeof(s));
        s.size = st->size < sizeof(s) ? st->size : (uint32_t)sizeof(s);
        s.version = OOMLESS_STATS_VERSION;
        s.held = atomic_load(&ma_held);
        s.in_use = ma_heap_in_use();
        s.returned = atomic_load(&ma_returned);
        s.cap = atomic_load(&ma_cap);
        s.limit = ma_opt.limit;
        s.cap_hits = atomic_load(&ma_cap_hits);
        s.scavenges = atomic_load(&ma_scavenges);
        s.stage = ma_current_stage();
        s.supervised = ma_control_mapped();
        memcpy(st, &s, s.size);
        return 0;
}

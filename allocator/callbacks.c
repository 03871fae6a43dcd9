/* SPDX-License-Identifier: MIT */
/*
 * The application's stage, budget and pressure callbacks: a fixed table per kind, appended under a
 * mutex and published by the count, so running them takes no lock. The control page client runs the
 * stage and budget callbacks, the cap's pressure path the pressure callbacks; all with no allocator
 * lock held.
 */
#include <errno.h>

#include "ma.h"
#include "oomless/oomless.h"

typedef struct MaCallback {
        void *fn;
        void *userdata;
} MaCallback;

static MaCallback ma_cbs[MA_CB_KINDS][OOMLESS_CALLBACKS_MAX];
static _Atomic unsigned ma_ncbs[MA_CB_KINDS];
static pthread_mutex_t ma_cb_lock = PTHREAD_MUTEX_INITIALIZER;

int ma_callbacks_add(unsigned kind, void *fn, void *userdata)
{
        int r = 0;
        pthread_mutex_lock(&ma_cb_lock);
        unsigned i = atomic_load(&ma_ncbs[kind]);
        if (i >= OOMLESS_CALLBACKS_MAX)
                r = -ENOSPC;
        else {
                ma_cbs[kind][i].fn = fn;
                ma_cbs[kind][i].userdata = userdata;
                atomic_store(&ma_ncbs[kind], i + 1); /* publishes the entry */
        }
        pthread_mutex_unlock(&ma_cb_lock);
        return r;
}

void ma_run_stage_callbacks(int stage, int prev)
{
        unsigned n = atomic_load(&ma_ncbs[MA_CB_STAGE]);
        for (unsigned i = 0; i < n; i++)
                ((oomless_stage_fn)ma_cbs[MA_CB_STAGE][i].fn)(stage, prev, ma_cbs[MA_CB_STAGE][i].userdata);
}

void ma_run_budget_callbacks(int budget, int weight)
{
        unsigned n = atomic_load(&ma_ncbs[MA_CB_BUDGET]);
        for (unsigned i = 0; i < n; i++)
                ((oomless_budget_fn)ma_cbs[MA_CB_BUDGET][i].fn)(budget, weight,
                                                                ma_cbs[MA_CB_BUDGET][i].userdata);
}

void ma_run_pressure_callbacks(size_t request)
{
        unsigned n = atomic_load(&ma_ncbs[MA_CB_PRESSURE]);
        for (unsigned i = 0; i < n; i++)
                ((oomless_pressure_fn)ma_cbs[MA_CB_PRESSURE][i].fn)(request,
                                                                    ma_cbs[MA_CB_PRESSURE][i].userdata);
}

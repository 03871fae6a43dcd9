/* SPDX-License-Identifier: MIT */
/* The Sampler (sample.h): the only writer of an OomlessSample. The cgroup backends fill CgFigures,
 * the control page gives ControlAllocFigures, the daemon notes PSI trigger events; this file puts
 * them together. cg_sample() and control_fill_sample(), the older one-part fillers, live here too
 * so that no other file writes a sample. */
#include <errno.h>
#include <stdlib.h>

#include "sample.h"
#include "time-util.h"

struct Sampler {
        Cg *cg;
        Control *control;
        unsigned n_psi;
        uint64_t psi_fired[OOMLESS_PSI_TRIGGERS_MAX];
};

/* Everything the cgroup gives; the heap and PSI-trigger fields are left as they were. */
static void put_figures(OomlessSample *s, const CgFigures *f, uint64_t now)
{
        s->timestamp_usec = now;
        s->current = f->current;
        s->peak = f->peak;
        s->limit = f->limit;
        s->high = f->high;
        s->anon = f->anon;
        s->file = f->file;
        s->shmem = f->shmem;
        s->inactive_file = f->inactive_file;
        s->active_file = f->active_file;
        s->swap_current = f->swap_current;
        s->kernel = f->kernel ? f->kernel : f->kernel_parts;
        s->events_valid = f->events_valid;
        s->ev_low = f->ev_low;
        s->ev_high = f->ev_high;
        s->ev_max = f->ev_max;
        s->ev_oom = f->ev_oom;
        s->ev_oom_kill = f->ev_oom_kill;
        s->ev_oom_group_kill = f->ev_oom_group_kill;
        s->psi_valid = f->psi_valid;
        s->psi_some = f->psi_some;
        s->psi_full = f->psi_full;
        s->nr_processes = f->nr_processes;
}

/* The heap fields from a fresh valid snapshot of the allocator half, or heap_valid false. The
 * workload writes that half, so only what it alone can know comes from there, and even that is
 * bounded by our own numbers (docs/control-page.md, "What each side trusts"):
 *  - heap_cap, the denominator of `heap %` conditions, is the cap we published; without one, the
 *    cgroup's effective limit (the allocator's own cap is at most that), and with neither, none (a
 *    percent condition is then false). A workload publishing a cap of 1 cannot make `heap > 90%` true.
 *  - heap_held is clamped to what the cgroup is charged (s->current, when known): the heap cannot hold
 *    more than the kernel charges for it. Clamped rather than discarded, because an honest allocator
 *    read a moment after the cgroup can be slightly ahead of it, and the clamped figure is still a
 *    true upper bound. heap_in_use stays within heap_held. */
static int put_heap(OomlessSample *s, Control *c)
{
        ControlAllocFigures a;
        uint64_t cap = control_published_heap_cap(c);
        int r = control_read_alloc(c, &a);

        if (r < 0) {
                s->heap_valid = false;
                return r;
        }
        s->heap_valid = true;
        s->heap_held = a.heap_held;
        if (s->current > 0 && s->heap_held > s->current)
                s->heap_held = s->current;
        s->heap_in_use = MIN(a.heap_in_use, s->heap_held);
        if (cap == 0 && s->limit != OOMLESS_NO_LIMIT)
                cap = s->limit;
        s->heap_cap = cap;
        s->heap_cap_hits = a.cap_hits;
        return 0;
}

int sampler_new(Cg *cg, Control *control, Sampler **ret)
{
        Sampler *s;

        if (!cg || !ret)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->cg = cg;
        s->control = control;
        *ret = s;
        return 0;
}

Sampler *sampler_free(Sampler *s)
{
        free(s);
        return NULL;
}

void sampler_set_control(Sampler *s, Control *control)
{
        s->control = control;
}

void sampler_set_psi_triggers(Sampler *s, unsigned n)
{
        s->n_psi = MIN(n, (unsigned)OOMLESS_PSI_TRIGGERS_MAX);
}

void sampler_note_psi_fired(Sampler *s, unsigned idx)
{
        if (idx < s->n_psi)
                s->psi_fired[idx]++;
}

uint64_t sampler_psi_fired(const Sampler *s, unsigned idx)
{
        return idx < s->n_psi ? s->psi_fired[idx] : 0;
}

int sampler_acquire(Sampler *s, OomlessSample *ret)
{
        OomlessSample out = {};
        CgFigures f;
        int r;

        r = cg_read_figures(s->cg, &f);
        if (r < 0)
                return r;
        put_figures(&out, &f, now_usec(CLOCK_MONOTONIC));
        out.psi_trigger_count = s->n_psi;
        for (unsigned i = 0; i < s->n_psi; i++)
                out.psi_trigger_fired[i] = s->psi_fired[i];
        if (s->control)
                (void)put_heap(&out, s->control);
        *ret = out;
        return 0;
}

int cg_sample(Cg *cg, OomlessSample *ret)
{
        CgFigures f;
        int r = cg_read_figures(cg, &f);
        if (r < 0)
                return r;
        put_figures(ret, &f, now_usec(CLOCK_MONOTONIC));
        return 0;
}

int control_fill_sample(Control *c, OomlessSample *sample)
{
        return put_heap(sample, c);
}

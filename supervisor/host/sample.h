/* SPDX-License-Identifier: MIT */
/*
 * The Sampler: the one place an OomlessSample is put together. It borrows the workload's Cg and,
 * when the workload runs our allocator, its Control, keeps the count of each kernel PSI trigger's
 * events (the daemon polls the trigger fds and reports them here), and fills a whole sample in one
 * call: the cgroup's figures, the PSI trigger counts and the allocator's heap figures.
 *
 * Belongs to the event-loop thread. The borrowed Cg and Control must outlive the Sampler, or be
 * replaced (sampler_set_control(s, NULL)) before they are freed.
 */
#pragma once

#include <stdint.h>

#include "cgroup.h"
#include "control.h"
#include "macro.h"
#include "oomless/sample.h"

typedef struct Sampler Sampler;

/* control may be NULL (no allocator page; heap_valid stays false). */
int sampler_new(Cg *cg, Control *control, Sampler **ret);
Sampler *sampler_free(Sampler *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Sampler *, sampler_free)

/* Sets or drops (NULL) the control page whose allocator half gives the heap figures. */
void sampler_set_control(Sampler *s, Control *control);

/* How many PSI trigger slots the policy has (slot i is the policy's trigger i, armed or not);
 * capped at OOMLESS_PSI_TRIGGERS_MAX. Counts already noted are kept. */
void sampler_set_psi_triggers(Sampler *s, unsigned n);
/* One kernel event of trigger idx; ignored for idx beyond the slots. */
void sampler_note_psi_fired(Sampler *s, unsigned idx);
/* Events of trigger idx so far. */
uint64_t sampler_psi_fired(const Sampler *s, unsigned idx);

/* Fills *ret with a fresh sample: CLOCK_MONOTONIC time, the cgroup's figures (cg_read_figures),
 * the PSI trigger counts, and the heap figures of a valid allocator snapshot (heap_valid false when
 * there is none). Fails only when the cgroup cannot be read; *ret is untouched then. */
int sampler_acquire(Sampler *s, OomlessSample *ret);

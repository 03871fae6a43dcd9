/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's side of the control page (include/oomless/control.h): creates the page (a sealed
 * memfd where oomless starts the workload, or <dir>/control where a file is needed) and the <dir>/wake
 * FIFO, publishes the supervisor half under its seqlock, asks for scavenges, and reads the allocator
 * half as untrusted input.
 *
 * Threading and ownership: a Control belongs to the event-loop thread; no function here blocks or
 * takes a lock. The supervisor never maps the page: a hostile workload could truncate the file and
 * turn every access of a mapping into SIGBUS, so both halves go through pread()/pwrite() on a held
 * fd, where truncation is only a short read. What the workload writes into our half is never read
 * back: each publish rewrites the whole half from the copy kept in Control.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "macro.h"
#include "oomless/control.h"
#include "oomless/sample.h"

typedef struct Control Control;

/* The allocator's figures after validation. */
typedef struct ControlAllocFigures {
        pid_t pid;
        uint64_t heap_held, heap_in_use, heap_returned, heap_cap;
        uint64_t cap_hits, scavenges, scavenge_ack, stage_seen;
        uint64_t updated_ns;  /* CLOCK_MONOTONIC of the allocator's last publish */
        uint64_t instance_id; /* the publishing image; 0 = an allocator that predates the field */
} ControlAllocFigures;

/* The allocator's floor: it ignores a heap_cap under this (it would fail every allocation), so the
 * supervisor never publishes one. */
#define CONTROL_HEAP_CAP_MIN OOMLESS_CONTROL_HEAP_CAP_MIN

/* Seqlock retries before a read gives up with -EAGAIN (the writer is mid-update or wedged). */
#define CONTROL_READ_RETRIES 64

/* Creates <dir> if missing (0755, last component only), then <dir>/control (OOMLESS_CONTROL_SIZE
 * bytes, 0600, header filled, both halves zero) and the <dir>/wake FIFO (0600), replacing stale ones
 * left by a dead supervisor with the same pid. */
int control_create(const char *dir, Control **ret);
/* The same with the page in a memfd sealed against shrinking, growing and further seals, so that the
 * workload can neither truncate it (SIGBUS in every process that maps it) nor seal it against our
 * writes. Only <dir>/wake is created in dir. For a workload we start ourselves: the child inherits
 * the fd (control_fd()) and finds its number in OOMLESS_CONTROL_FD (control_env()). */
int control_create_sealed(const char *dir, Control **ret);

/* The page as a regular file at path, for a workload oomless did not start (attach --control-page, a
 * sidecar sharing a directory with the app): a valid page left there by an earlier oomless is
 * continued, anything else is replaced by a new page renamed into place (so that an allocator waiting
 * for the path never sees half of one). The wake FIFO is PATH.wake (continued or created, 0660; a
 * warning and none when that fails). Both are left in place at control_free(): the app keeps them
 * open, and the next oomless continues them. */
int control_open_page(const char *path, Control **ret);
/* The workload's process was replaced (attach --follow): clears an allocator half still published by
 * gone, so that the new process claims it at once. */
void control_rebaseline(Control *c, pid_t gone);

/* When the workload runs under another uid, hands both files to it (the allocator maps the page
 * read-write and opens the FIFO for writing). */
int control_chown(Control *c, uid_t uid, gid_t gid);

/* Rewrites the whole supervisor half under the seqlock. budget_permille (clamped to 1000) and weight
 * (clamped to 100) are always published with OOMLESS_SUP_F_BUDGET; not_ready sets
 * OOMLESS_SUP_F_NOT_READY (the current stage declares "ready": false). */
int control_publish(Control *c, uint32_t stage, uint32_t stage_count, uint64_t heap_cap,
                    uint64_t wake_watermark, bool dry_run, uint32_t budget_permille, uint32_t weight,
                    bool not_ready);
/* Sets wake_below, the held bytes under which the allocator wakes us (0: never), and republishes when
 * it changed. control_publish() keeps it. */
int control_set_wake_below(Control *c, uint64_t wake_below);
/* Bumps scavenge_seq (and republishes). Returns the new sequence number (> 0) or negative errno. */
int64_t control_request_scavenge(Control *c);

/* The page's fd (O_CLOEXEC in the supervisor). A workload spawner clears FD_CLOEXEC in the child only,
 * keeping the number, which control_env() names. */
int control_fd(const Control *c);
/* The heap_cap we last published (0: none), the denominator of `heap %` conditions: the workload's own
 * figure is never trusted for it. */
uint64_t control_published_heap_cap(const Control *c);

/* Reads and validates the allocator half. 0 and *ret filled on success; -ENODATA when no allocator
 * has published yet; -EAGAIN when every retry saw a torn snapshot; -EBADMSG when a field is out of
 * bounds (logged, rate-limited, naming the file and the field); -EIO when the file was truncated.
 * *ret is untouched on failure. */
int control_read_alloc(Control *c, ControlAllocFigures *ret);

/* The last snapshot control_read_alloc() accepted, without reading; false when there is none. The
 * counters (heap_returned, cap_hits, scavenges) are totals over every publisher seen, each counted at
 * the highest figure it reported, so that they never go back across restarts, takeovers and a
 * publisher's return; control_read_alloc() fills *ret the same way. */
bool control_last_alloc(const Control *c, ControlAllocFigures *ret);

/* Fills sample->heap_* from a fresh valid snapshot, or clears heap_valid. Returns what
 * control_read_alloc() returned. Defined in host/sample.c (the one place a sample is written); the
 * daemon gets the heap figures through its Sampler. */
int control_fill_sample(Control *c, OomlessSample *sample);

/* True once a valid snapshot has been seen from any allocator. */
bool control_has_allocator(const Control *c);

/* The FIFO's read end (O_RDWR|O_NONBLOCK|O_CLOEXEC, so it never reports EOF). Owned by Control. */
int control_wake_fd(const Control *c);
/* Empties the FIFO without blocking; returns the number of bytes read (wake-ups coalesce). */
int control_wake_drain(Control *c);

typedef void (*control_wake_handler_t)(Control *c, void *userdata);
/* An sd-event io source on the wake fd that drains it and calls handler, at most once per
 * min_interval_usec: after each call the io source rests until a one-shot timer re-arms it, so a
 * workload writing to the FIFO in a loop costs at most one handler call per interval, while a lone
 * wake-up is handled at once. Bytes written while it rests stay in the FIFO and are handled when it
 * is re-armed, so no crossing is lost. Both sources are owned by Control and freed with it. */
int control_add_wake_source(Control *c, sd_event *e, uint64_t min_interval_usec,
                            control_wake_handler_t handler, void *userdata);
/* Handler calls so far (for tests and diagnostics). */
uint64_t control_wake_calls(const Control *c);

/* <dir>/control, or NULL for a sealed page (it has no path). */
const char *control_path(const Control *c);
const char *control_wake_path(const Control *c);
/* "OOMLESS_CONTROL=<path>" (or "OOMLESS_CONTROL_FD=<n>" for a sealed page) and "OOMLESS_WAKE=<path>"
 * as a new strv for the child's environment. */
int control_env(const Control *c, char ***ret);

/* Unlinks the files, closes fds, frees. NULL-safe, returns NULL. */
Control *control_free(Control *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Control *, control_free)

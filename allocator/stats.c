/* SPDX-License-Identifier: MIT */
/*
 * Heap counters: held, returned, large bytes in use, scavenges, cap hits and the cap in force, and
 * the held-bytes watermark that pokes the supervisor's wake FIFO when held rises above it. Every
 * layer that moves pages calls down into here; nothing here calls into the rest of the allocator.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "ma.h"

_Atomic uint64_t ma_held, ma_returned, ma_large_in_use, ma_scavenges, ma_cap_hits, ma_cap;

static _Atomic uint64_t ma_wake_watermark; /* 0: no wake-ups wanted */
static _Atomic int ma_wake_armed = 1;
static _Atomic int ma_wake_fd = -1;

void ma_stats_set_wake_watermark(uint64_t wm)
{
        atomic_store(&ma_wake_watermark, wm);
}

void ma_stats_note_held(uint64_t held)
{
        uint64_t wm = atomic_load_explicit(&ma_wake_watermark, memory_order_relaxed);
        if (!wm)
                return;
        if (held < wm - wm / 8) {
                atomic_store_explicit(&ma_wake_armed, 1, memory_order_relaxed);
                return;
        }
        if (held <= wm || !atomic_exchange(&ma_wake_armed, 0))
                return;
        if (!ma_opt.wake_path || !*ma_opt.wake_path)
                return;
        int saved = errno;
        int fd = atomic_load(&ma_wake_fd);
        if (fd < 0) {
                /* ENXIO: no reader yet; try again at the next crossing. */
                fd = open(ma_opt.wake_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                if (fd >= 0) {
                        int expected = -1;
                        if (!atomic_compare_exchange_strong(&ma_wake_fd, &expected, fd)) {
                                close(fd);
                                fd = expected;
                        }
                }
        }
        if (fd >= 0) {
                char b = 1;
                (void)!write(fd, &b, 1); /* EAGAIN: the supervisor has wake-ups pending already */
        }
        errno = saved;
}

/* SPDX-License-Identifier: MIT */
/*
 * Heap counters: held, returned, large bytes in use, scavenges, cap hits and the cap in force, and
 * the held-bytes watermark that pokes the supervisor's wake FIFO when held rises above it. Every
 * layer that moves pages calls down into here; nothing here calls into the rest of the allocator.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ma.h"

_Atomic uint64_t ma_held, ma_returned, ma_large_in_use, ma_scavenges, ma_cap_hits, ma_cap;

static _Atomic uint64_t ma_wake_watermark; /* 0: no wake-ups wanted */
static _Atomic int ma_wake_armed = 1;
static _Atomic int ma_wake_fd = -1; /* -1 not open yet, -2 refused for good */

/* Opens OOMLESS_WAKE for writing, only if it is a FIFO reached without following a symlink: a
 * planted link or file must never receive our byte. ENXIO (no reader yet) is retried at the next
 * crossing; anything else gets one line, and no wake-ups from this process. */
static int ma_wake_open(void)
{
        const char *why = NULL;
        int fd = open(ma_opt.wake_path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0 && errno == ENXIO)
                return -1;
        if (fd < 0)
                why = errno == ELOOP ? "it is a symlink" : "cannot open it";
        else if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
                why = "it is not a FIFO";
                close(fd);
        }
        if (!why)
                return fd;
        MaBuf m = { .n = 0 };
        mb_str(&m, "liboomless: ignoring OOMLESS_WAKE=");
        mb_str(&m, ma_opt.wake_path);
        mb_str(&m, ": ");
        mb_str(&m, why);
        mb_str(&m, "; the supervisor will not be woken early");
        mb_flush(&m);
        return -2;
}

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
        if (fd == -1) {
                fd = ma_wake_open();
                if (fd != -1) {
                        int expected = -1;
                        if (!atomic_compare_exchange_strong(&ma_wake_fd, &expected, fd)) {
                                if (fd >= 0)
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

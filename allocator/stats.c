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
static _Atomic uint64_t ma_wake_below;     /* 0: no downward wake-ups */
static _Atomic int ma_wake_armed = 1, ma_wake_below_armed = 1;
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

/* A new threshold is a new crossing to report: the supervisor moves them as the stage changes. */
void ma_stats_set_wake_watermark(uint64_t wm)
{
        if (atomic_exchange(&ma_wake_watermark, wm) != wm)
                atomic_store(&ma_wake_armed, 1);
}

void ma_stats_set_wake_below(uint64_t below)
{
        if (atomic_exchange(&ma_wake_below, below) != below)
                atomic_store(&ma_wake_below_armed, 1);
}

static void ma_wake(void);

/* Called where the heap maps memory (and from each poll, which is where held comes down): one byte
 * per crossing, re-armed once held is back on the other side by an eighth of the threshold. */
void ma_stats_note_held(uint64_t held)
{
        uint64_t wm = atomic_load_explicit(&ma_wake_watermark, memory_order_relaxed);
        uint64_t below = atomic_load_explicit(&ma_wake_below, memory_order_relaxed);
        if (below) {
                if (held > below + below / 8)
                        atomic_store_explicit(&ma_wake_below_armed, 1, memory_order_relaxed);
                else if (held < below && atomic_exchange(&ma_wake_below_armed, 0))
                        ma_wake();
        }
        if (!wm)
                return;
        if (held < wm - wm / 8) {
                atomic_store_explicit(&ma_wake_armed, 1, memory_order_relaxed);
                return;
        }
        if (held <= wm || !atomic_exchange(&ma_wake_armed, 0))
                return;
        ma_wake();
}

static void ma_wake(void)
{
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

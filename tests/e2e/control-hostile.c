/* SPDX-License-Identifier: MIT */
/*
 * A hostile workload for the control page (issue 14): it writes the allocator half itself, as any
 * process of a workload can, instead of liboomless. Run it without LD_PRELOAD under `oomless run`
 * (`env -u LD_PRELOAD control-hostile MODE SECONDS`); it finds the page in OOMLESS_CONTROL_FD (or
 * OOMLESS_CONTROL) and the FIFO in OOMLESS_WAKE.
 *
 *   absurd     valid-looking snapshots claiming 1.5x the machine's memory held and a cap of 1 byte
 *   pidflip    one instance id, a new pid on every publish, counters going down
 *   exec       a first image with large counters, then (same pid) a new id with small ones
 *   adversary  all at once: garbage in the half, seq left odd, hostile snapshots, truncation and
 *              F_SEAL_WRITE attempts, and a thread writing to the wake FIFO without pause
 *
 * Prints one line of counts at the end; exits 0 unless the page could not be found or was truncated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oomless/control.h"

static struct oomless_control *page;
static int page_fd = -1;
static char page_proc[64];
static volatile bool stop;
static unsigned long long fifo_bytes;

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(void)
{
        static uint64_t x = 88172645463325252ull;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
}

/* The allocator's seqlock writer, restarting from an even value like a real one would. */
static void publish(const struct oomless_control_alloc *v)
{
        struct oomless_control_alloc *a = &page->alloc;
        uint32_t seq = __atomic_load_n(&a->seq, __ATOMIC_RELAXED) & ~1u;
        __atomic_store_n(&a->seq, seq + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        struct oomless_control_alloc body = *v;
        body.seq = seq + 1;
        memcpy((char *)a + sizeof(a->seq), (const char *)&body + sizeof(body.seq),
               sizeof(body) - sizeof(body.seq));
        __atomic_store_n(&a->seq, seq + 2, __ATOMIC_RELEASE);
}

static uint64_t phys(void)
{
        return (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
}

static struct oomless_control_alloc absurd(uint64_t i)
{
        return (struct oomless_control_alloc){
                .pid = (uint32_t)getpid(),
                .heap_held = phys() / 2 * 3,
                .heap_in_use = phys() / 2,
                .heap_cap = 1,
                .cap_hits = i,
                .updated_ns = now_ns(),
                .instance_id = 0xbad,
        };
}

static bool map_page(void)
{
        const char *fd_env = getenv(OOMLESS_CONTROL_FD_ENV), *path = getenv(OOMLESS_CONTROL_ENV);

        if (fd_env && *fd_env) {
                page_fd = atoi(fd_env);
                snprintf(page_proc, sizeof(page_proc), "/proc/self/fd/%d", page_fd);
        } else if (path && *path) {
                page_fd = open(path, O_RDWR | O_CLOEXEC);
                snprintf(page_proc, sizeof(page_proc), "%s", path);
        }
        if (page_fd < 0)
                return false;
        page = mmap(NULL, OOMLESS_CONTROL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, page_fd, 0);
        return page != MAP_FAILED;
}

static void *spam_fifo(void *arg)
{
        const char *path = getenv(OOMLESS_WAKE_ENV);
        char buf[64];
        int fd = path ? open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC) : -1;

        (void)arg;
        memset(buf, '!', sizeof(buf));
        while (fd >= 0 && !stop) {
                /* Mostly single bytes, each of which used to cost a sample and a tick. */
                ssize_t n = write(fd, buf, rnd() % 8 == 0 ? sizeof(buf) : 1);
                if (n > 0)
                        __atomic_add_fetch(&fifo_bytes, (unsigned long long)n, __ATOMIC_RELAXED);
                else
                        sched_yield(); /* full: the supervisor has not drained it yet */
        }
        if (fd >= 0)
                close(fd);
        return NULL;
}

/* Every way we know to shrink or freeze the page; each must fail. Returns how many succeeded. */
static unsigned try_truncate(void)
{
        unsigned ok = 0;
        int fd = open(page_proc, O_RDWR | O_CLOEXEC);

        ok += ftruncate(page_fd, 0) == 0;
        if (fd >= 0) {
                ok += ftruncate(fd, 0) == 0;
                ok += fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0;
                close(fd);
        }
        ok += truncate(page_proc, 0) == 0;
        ok += fcntl(page_fd, F_ADD_SEALS, F_SEAL_WRITE) == 0;
        return ok;
}

int main(int argc, char **argv)
{
        const char *mode = argc > 1 ? argv[1] : "adversary";
        double secs = argc > 2 ? atof(argv[2]) : 10;
        uint64_t end = now_ns() + (uint64_t)(secs * 1e9), i = 0;
        unsigned long long truncated = 0;
        pthread_t spammer;
        bool spamming = false;

        if (!map_page()) {
                fprintf(stderr, "control-hostile: no control page (%s)\n", strerror(errno));
                return 2;
        }
        if (!strcmp(mode, "adversary"))
                spamming = pthread_create(&spammer, NULL, spam_fifo, NULL) == 0;

        for (; now_ns() < end; i++) {
                struct oomless_control_alloc v;
                if (!strcmp(mode, "absurd")) {
                        v = absurd(i);
                        publish(&v);
                        usleep(20000);
                } else if (!strcmp(mode, "pidflip")) {
                        v = absurd(0);
                        v.heap_held = 8 << 20;
                        v.heap_in_use = 4 << 20;
                        v.heap_cap = 64 << 20;
                        v.pid = i == 0 ? (uint32_t)getpid() : (uint32_t)(100 + i % 30000);
                        v.cap_hits = i == 0 ? 1000000 : 1000000 - i;
                        v.heap_returned = i == 0 ? (1ull << 40) : 4096 * i;
                        publish(&v);
                        usleep(i == 0 ? 300000 : 5000);
                } else if (!strcmp(mode, "exec")) {
                        v = absurd(0);
                        v.heap_held = 8 << 20;
                        v.heap_in_use = 4 << 20;
                        v.heap_cap = 64 << 20;
                        v.instance_id = i < 20 ? 0x1111 : 0x2222;
                        v.cap_hits = i < 20 ? 1000000 + i : i;
                        v.heap_returned = i < 20 ? (1ull << 40) : 4096 * i;
                        publish(&v);
                        usleep(20000);
                } else {
                        /* adversary: a new phase every 100 ms */
                        switch ((now_ns() / 100000000u) % 4) {
                        case 0: { /* garbage over the whole half, seq included */
                                uint64_t *w = (uint64_t *)&page->alloc;
                                for (size_t k = 0; k < sizeof(page->alloc) / 8; k++)
                                        __atomic_store_n(&w[k], rnd(), __ATOMIC_RELAXED);
                                break;
                        }
                        case 1: /* a writer that never finishes: seq odd for the whole phase */
                                __atomic_store_n(&page->alloc.seq, page->alloc.seq | 1, __ATOMIC_RELEASE);
                                break;
                        case 2: /* valid-looking lies, a new pid each time */
                                v = absurd(i);
                                v.pid = (uint32_t)(1 + rnd() % 4000000);
                                publish(&v);
                                break;
                        default:
                                truncated += try_truncate();
                                /* and scribble over our own half */
                                page->sup.seq = (uint32_t)rnd() | 1;
                                page->sup.heap_cap = 1;
                                break;
                        }
                        usleep(200);
                }
        }
        stop = true;
        if (spamming)
                pthread_join(spammer, NULL);
        struct stat st;
        bool intact = fstat(page_fd, &st) == 0 && st.st_size == OOMLESS_CONTROL_SIZE;
        printf("control-hostile %s: %llu iterations, %llu FIFO bytes, %llu truncations succeeded, page %s\n",
               mode, (unsigned long long)i, fifo_bytes, truncated, intact ? "intact" : "TRUNCATED");
        return intact ? 0 : 1;
}

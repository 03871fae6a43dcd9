/* SPDX-License-Identifier: MIT */
/*
 * The reclaim worker on this host: requests run on a real thread while the loop keeps its timers
 * (the ReclaimFn here stalls like a slow memory.reclaim write), chunks, partial results (EAGAIN),
 * deadlines and one request at a time; and on a cgroup v1 child of our own memory cgroup,
 * memory.reclaim does not exist, which reclaim_open() reports as -EOPNOTSUPP.
 *
 *   <own v1 memory cgroup>/
 *     oomless-reclaim-test-<pid>/   created and removed here; no memory.reclaim in v1
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#include "helpers.h"
#include "reclaim.h"

T_DEFINE_DONE(ReclaimResult)

typedef struct Fake {
        atomic_uint calls;
        unsigned eagain_at; /* 1-based call that returns -EAGAIN; 0 never */
        unsigned sleep_ms;
        atomic_ulong bytes;
} Fake;

static int fake_reclaim(void *ctx, uint64_t bytes)
{
        Fake *f = ctx;
        unsigned n = atomic_fetch_add(&f->calls, 1) + 1;
        usleep(f->sleep_ms * 1000);
        if (f->eagain_at && n == f->eagain_at)
                return -EAGAIN;
        atomic_fetch_add(&f->bytes, bytes);
        return 0;
}

/* A reclaimer on e whose "memory.reclaim write" is fake_reclaim with f. */
static Reclaimer *fake_reclaimer(sd_event *e, Fake *f)
{
        Reclaimer *r = NULL;
        ASSERT_OK(reclaimer_new(e, fake_reclaim, f, &r));
        return r;
}

/* Asks r for bytes (with a deadline, 0: none) and runs the loop until the result is in d. */
static void reclaim_and_wait(sd_event *e, Reclaimer *r, uint64_t bytes, uint64_t deadline_usec, Done *d)
{
        ASSERT_OK(reclaimer_start(r, bytes, deadline_usec, on_done, d));
        ASSERT_TRUE(t_run_until(e, &d->done, 5000000));
}

TEST(worker_does_not_block_the_loop)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Fake f = { .sleep_ms = 150 };
        Reclaimer *r = fake_reclaimer(e, &f);
        Done d = {};
        TickProbe probe;

        t_tick_start(e, &probe, 20000);
        ASSERT_OK(reclaimer_start(r, 3 * RECLAIM_CHUNK, 0, on_done, &d));
        ASSERT_TRUE(reclaimer_busy(r));
        ASSERT_ERROR(reclaimer_start(r, 4096, 0, on_done, &d), EBUSY);
        ASSERT_TRUE(t_run_until(e, &d.done, 5000000));
        t_tick_stop(&probe);
        printf("reclaimed %llu in %llu ms, max tick lateness %llu ms (%llu ms not waiting for a CPU), %u "
               "ticks\n",
               (unsigned long long)d.res.reclaimed, (unsigned long long)d.res.duration_usec / 1000,
               (unsigned long long)probe.max_late_usec / 1000,
               (unsigned long long)probe.max_blocked_usec / 1000, probe.ticks);
        ASSERT_EQ(d.res.error, 0);
        ASSERT_U64_EQ(d.res.requested, 3 * RECLAIM_CHUNK);
        ASSERT_U64_EQ(d.res.reclaimed, 3 * RECLAIM_CHUNK);
        ASSERT_EQ(atomic_load(&f.calls), 3);
        ASSERT_TRUE(d.res.duration_usec >= 450000);
        ASSERT_TRUE(probe.ticks >= 5);
        ASSERT_TRUE(probe.max_blocked_usec < t_lateness_budget_usec());
        ASSERT_TRUE(!reclaimer_busy(r));
        reclaimer_free(r);
}

/* Requests that end early: what each asked for, what it got and why it stopped. */
TEST(partial_results)
{
        static const struct {
                unsigned eagain_at, sleep_ms; /* the fake's */
                uint64_t bytes, deadline_usec;
                int error;
                uint64_t requested, reclaimed_min, reclaimed_max;
                unsigned calls; /* 0: any */
        } cases[] = {
                /* the second chunk gets -EAGAIN: the first chunk's bytes, and the error */
                { 2, 0, 5 * RECLAIM_CHUNK, 0, -EAGAIN, 5 * RECLAIM_CHUNK, RECLAIM_CHUNK, RECLAIM_CHUNK, 2 },
                /* far more than the bound: clamped; the deadline stops it between chunks */
                { 0, 100, UINT64_MAX, 250000, -ETIME, RECLAIM_REQUEST_MAX, RECLAIM_CHUNK, 4 * RECLAIM_CHUNK,
                  0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
                Fake f = { .eagain_at = cases[i].eagain_at, .sleep_ms = cases[i].sleep_ms };
                Reclaimer *r = fake_reclaimer(e, &f);
                Done d = {};

                reclaim_and_wait(e, r, cases[i].bytes, cases[i].deadline_usec, &d);
                printf("case %zu: error %d, requested %llu, reclaimed %llu in %u calls\n", i, d.res.error,
                       (unsigned long long)d.res.requested, (unsigned long long)d.res.reclaimed,
                       atomic_load(&f.calls));
                ASSERT_EQ(d.res.error, cases[i].error);
                ASSERT_U64_EQ(d.res.requested, cases[i].requested);
                ASSERT_TRUE(d.res.reclaimed >= cases[i].reclaimed_min &&
                            d.res.reclaimed <= cases[i].reclaimed_max);
                ASSERT_TRUE(d.res.duration_usec < 1000000);
                ASSERT_TRUE(!cases[i].calls || atomic_load(&f.calls) == cases[i].calls);
                reclaimer_free(r);
        }
}

/* Freeing while a request runs joins the worker after its current chunk, without calling back. */
TEST(free_while_running)
{
        _cleanup_(sd_event_unrefp) sd_event *e = t_event_new();
        Fake f = { .sleep_ms = 100 };
        Reclaimer *r = fake_reclaimer(e, &f);
        Done d = {};

        ASSERT_ERROR(reclaimer_start(r, 0, 0, on_done, &d), EINVAL);
        ASSERT_OK(reclaimer_start(r, 100 * RECLAIM_CHUNK, 0, on_done, &d));
        usleep(50000);
        uint64_t t0 = t_now_usec();
        reclaimer_free(r);
        ASSERT_TRUE(t_now_usec() - t0 < 500000);
        ASSERT_TRUE(!d.done);
}

/* v1: memory.reclaim does not exist. On a pure v2 host (the VM) the same call finds it. */
TEST(memory_reclaim_exists_only_on_v2)
{
        char own[512], leaf[600];
        struct statfs sfs;
        bool v2 = false;
        int fd;

        if (!t_own_cgroup(false, own, sizeof(own))) {
                if (statfs("/sys/fs/cgroup", &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC ||
                    !t_own_cgroup(true, own, sizeof(own)))
                        test_skip("neither a cgroup v1 memory controller nor cgroup2 at /sys/fs/cgroup");
                v2 = true;
        }
        snprintf(leaf, sizeof(leaf), "%s/oomless-reclaim-test-%d", own, (int)getpid());
        if (mkdir(leaf, 0755) < 0)
                test_skip("cannot create %s: %s", leaf, strerror(errno));
        fd = reclaim_open(leaf);
        if (fd >= 0)
                close(fd);
        /* remove what we created before asserting, so a failure leaves nothing behind */
        ASSERT_OK(rmdir(leaf));
        if (v2)
                ASSERT_OK(fd);
        else
                ASSERT_ERROR(fd, EOPNOTSUPP);
        ASSERT_ERROR(reclaim_open("/nonexistent/cgroup"), ENOENT);
}

TEST_MAIN()

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

TEST(worker_does_not_block_the_loop)
{
        sd_event *e = NULL;
        Reclaimer *r = NULL;
        Fake f = { .sleep_ms = 150 };
        Done d = {};
        TickProbe probe;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(reclaimer_new(e, fake_reclaim, &f, &r));
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
        sd_event_unref(e);
}

TEST(eagain_is_partial)
{
        sd_event *e = NULL;
        Reclaimer *r = NULL;
        Fake f = { .eagain_at = 2 };
        Done d = {};

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(reclaimer_new(e, fake_reclaim, &f, &r));
        ASSERT_OK(reclaimer_start(r, 5 * RECLAIM_CHUNK, 0, on_done, &d));
        ASSERT_TRUE(t_run_until(e, &d.done, 5000000));
        ASSERT_EQ(d.res.error, -EAGAIN);
        ASSERT_U64_EQ(d.res.reclaimed, RECLAIM_CHUNK);
        ASSERT_EQ(atomic_load(&f.calls), 2);
        reclaimer_free(r);
        sd_event_unref(e);
}

TEST(deadline_and_bound)
{
        sd_event *e = NULL;
        Reclaimer *r = NULL;
        Fake f = { .sleep_ms = 100 };
        Done d = {};

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(reclaimer_new(e, fake_reclaim, &f, &r));
        /* asks for far more than the bound: clamped; the deadline stops it between chunks */
        ASSERT_OK(reclaimer_start(r, UINT64_MAX, 250000, on_done, &d));
        ASSERT_TRUE(t_run_until(e, &d.done, 5000000));
        ASSERT_EQ(d.res.error, -ETIME);
        ASSERT_U64_EQ(d.res.requested, RECLAIM_REQUEST_MAX);
        ASSERT_TRUE(d.res.reclaimed >= RECLAIM_CHUNK && d.res.reclaimed <= 4 * RECLAIM_CHUNK);
        ASSERT_TRUE(d.res.duration_usec < 1000000);
        ASSERT_ERROR(reclaimer_start(r, 0, 0, on_done, &d), EINVAL);

        /* freeing while a request runs joins the worker after its current chunk, without calling back */
        d.done = false;
        ASSERT_OK(reclaimer_start(r, 100 * RECLAIM_CHUNK, 0, on_done, &d));
        usleep(50000);
        uint64_t t0 = t_now_usec();
        reclaimer_free(r);
        ASSERT_TRUE(t_now_usec() - t0 < 500000);
        ASSERT_TRUE(!d.done);
        sd_event_unref(e);
}

static bool v2_own_cgroup(char *ret, size_t len)
{
        FILE *f = fopen("/proc/self/cgroup", "re");
        char line[400];
        bool found = false;

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = 0;
                        snprintf(ret, len, "/sys/fs/cgroup%s", streq(line + 3, "/") ? "" : line + 3);
                        found = true;
                }
        fclose(f);
        return found;
}

static bool v1_memory_cgroup(char *ret, size_t len)
{
        FILE *f = fopen("/proc/self/cgroup", "re");
        char line[512];
        bool found = false;

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                char *p = strstr(line, ":memory:");
                if (!p)
                        continue;
                p += 8;
                p[strcspn(p, "\n")] = 0;
                snprintf(ret, len, "/sys/fs/cgroup/memory%s", streq(p, "/") ? "" : p);
                found = true;
        }
        fclose(f);
        return found;
}

/* v1: memory.reclaim does not exist. On a pure v2 host (the VM) the same call finds it. */
TEST(memory_reclaim_exists_only_on_v2)
{
        char own[512], leaf[600];
        struct statfs sfs;
        bool v2 = false;
        int fd;

        if (!v1_memory_cgroup(own, sizeof(own))) {
                if (statfs("/sys/fs/cgroup", &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC ||
                    !v2_own_cgroup(own, sizeof(own)))
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

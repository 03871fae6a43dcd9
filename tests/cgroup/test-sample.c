/* SPDX-License-Identifier: MIT */
/* The Sampler (host/sample.h): one call fills a whole OomlessSample from the cgroup's files, the PSI
 * trigger counts and the allocator's half of the control page. On the fixture trees of every tier
 * (no root needed), then on this host's real kernel: a v1 (or, in the VM, v2) leaf with a process
 * that allocates 16 MiB:
 *
 *   <own cgroup>/oomless-<pid>[-workload]   memory limit 256M
 *   `-- kid                                 2 x 8 MiB touched: current >= 16M, 1 process
 */
#include "cgtest.h"

#include <stddef.h>

#include "control.h"
#include "oomless/control.h"
#include "sample.h"
#include "time-util.h"

#ifndef FIXTURE_DIR
#error FIXTURE_DIR must point at tests/fixtures/cgroupfs
#endif

static Sampler *new_sampler(Cg *cg, Control *c)
{
        Sampler *s = NULL;
        ASSERT_OK(sampler_new(cg, c, &s));
        return s;
}

TEST(fixture_v2)
{
        Cg *cg = cgtest_fixture_cg(cgtest_fixture("v2"), "system.slice/app.service", UINT64_MAX);
        Sampler *s = new_sampler(cg, NULL);
        OomlessSample smp;

        ASSERT_EQ(cg_tier(cg), CG_TIER_V2);
        ASSERT_TRUE(cg_has(cg, CG_CAP_MAX | CG_CAP_HIGH | CG_CAP_RECLAIM | CG_CAP_KILL));
        ASSERT_TRUE(!cg_has(cg, CG_CAP_LEAVES));                            /* attached: nothing created */
        ASSERT_TRUE(!cg_has(cg, CG_CAP_PSI) && !cg_has(cg, CG_CAP_EVENTS)); /* no such files */

        sampler_set_psi_triggers(s, 2);
        sampler_note_psi_fired(s, 1);
        sampler_note_psi_fired(s, 1);
        sampler_note_psi_fired(s, 5); /* beyond the slots: ignored */
        uint64_t before = now_usec(CLOCK_MONOTONIC);
        ASSERT_OK(sampler_acquire(s, &smp));
        ASSERT_TRUE(smp.timestamp_usec >= before);
        ASSERT_U64_EQ(smp.current, 1234567);
        ASSERT_U64_EQ(smp.limit, 1073741824ull); /* system.slice's memory.max below MemTotal */
        ASSERT_U64_EQ(smp.high, OOMLESS_NO_LIMIT);
        ASSERT_EQ(smp.nr_processes, 1);
        ASSERT_TRUE(!smp.events_valid && !smp.psi_valid && !smp.heap_valid);
        ASSERT_EQ(smp.psi_trigger_count, 2);
        ASSERT_U64_EQ(smp.psi_trigger_fired[0], 0);
        ASSERT_U64_EQ(smp.psi_trigger_fired[1], 2);
        ASSERT_U64_EQ(sampler_psi_fired(s, 1), 2);
        sampler_free(s);
        cg_free(cg);
}

TEST(fixture_v1_hybrid)
{
        Cg *cg = cgtest_fixture_cg(cgtest_fixture("v1-hybrid"), "jobs/job1", UINT64_MAX);
        Sampler *s = new_sampler(cg, NULL);
        OomlessSample smp;

        ASSERT_EQ(cg_tier(cg), CG_TIER_V1);
        ASSERT_TRUE(cg_has(cg, CG_CAP_MAX | CG_CAP_SOFT_LIMIT));
        ASSERT_TRUE(!cg_has(cg, CG_CAP_HIGH) && !cg_has(cg, CG_CAP_RECLAIM));
        /* The unified twin is "/", not the same cgroup: no PSI and no cgroup.kill from it. */
        ASSERT_TRUE(!cg_has(cg, CG_CAP_PSI) && !cg_has(cg, CG_CAP_KILL));
        ASSERT_OK(sampler_acquire(s, &smp));
        ASSERT_U64_EQ(smp.current, 4096);
        ASSERT_U64_EQ(smp.anon, 4096);
        ASSERT_U64_EQ(smp.file, 0);
        ASSERT_U64_EQ(smp.shmem, 8192);
        ASSERT_U64_EQ(smp.inactive_file, 12288);
        ASSERT_U64_EQ(smp.active_file, 20480);  /* total_active_file, not the local active_file */
        ASSERT_U64_EQ(smp.limit, 536870912ull); /* hierarchical_memory_limit and jobs/ */
        ASSERT_EQ(smp.nr_processes, 0);
        ASSERT_TRUE(!smp.psi_valid && !smp.events_valid);
        ASSERT_EQ(smp.psi_trigger_count, 0);
        sampler_free(s);
        cg_free(cg);
}

TEST(fixture_observe)
{
        Cg *cg = cgtest_fixture_cg(cgtest_fixture("observe"), NULL, UINT64_MAX);
        Sampler *s = new_sampler(cg, NULL);
        OomlessSample smp;

        ASSERT_EQ(cg_tier(cg), CG_TIER_OBSERVE);
        ASSERT_TRUE(!(cg_caps(cg) & (CG_CAP_LEAVES | CG_CAP_MAX | CG_CAP_HIGH | CG_CAP_SOFT_LIMIT |
                                     CG_CAP_RECLAIM | CG_CAP_PSI_TRIGGER)));
        ASSERT_OK(sampler_acquire(s, &smp));
        ASSERT_U64_EQ(smp.current, 52428800);
        ASSERT_U64_EQ(smp.limit, 268435456);
        ASSERT_EQ(smp.nr_processes, 0); /* the "1" in cgroup.procs is the supervisor's place */
        sampler_free(s);
        cg_free(cg);
}

TEST(fixture_none)
{
        Cg *cg = cgtest_fixture_cg(cgtest_fixture("none"), NULL, 100u << 20);
        Sampler *s = new_sampler(cg, NULL);
        OomlessSample smp;

        ASSERT_EQ(cg_tier(cg), CG_TIER_NONE);
        ASSERT_EQ(cg_caps(cg), 0);
        ASSERT_OK(sampler_acquire(s, &smp));
        ASSERT_U64_EQ(smp.current, 0); /* no process in the fixture's /proc */
        ASSERT_U64_EQ(smp.limit, 100u << 20);
        ASSERT_U64_EQ(smp.high, OOMLESS_NO_LIMIT);
        ASSERT_TRUE(!smp.psi_valid && !smp.events_valid);
        sampler_free(s);
        cg_free(cg);
}

/* The allocator's seqlock writer, through the file: the heap figures land in the sample. */
static void publish_alloc(Control *c, uint64_t held, uint64_t in_use, uint64_t cap, uint64_t hits)
{
        struct oomless_control_alloc a = {
                .seq = 2,
                .pid = (uint32_t)getpid(),
                .heap_held = held,
                .heap_in_use = in_use,
                .heap_cap = cap,
                .cap_hits = hits,
                .updated_ns = now_usec(CLOCK_MONOTONIC) * 1000,
        };
        int fd = open(control_path(c), O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(pwrite(fd, &a, sizeof(a), offsetof(struct oomless_control, alloc)) ==
                    (ssize_t)sizeof(a));
        close(fd);
}

TEST(heap_figures_from_the_control_page)
{
        char dir[] = "/tmp/oomless-sample-XXXXXX";
        Cg *cg = cgtest_fixture_cg(cgtest_fixture("observe"), NULL, UINT64_MAX);
        Control *c = NULL;
        OomlessSample smp;

        ASSERT_TRUE(mkdtemp(dir) != NULL);
        ASSERT_OK(control_create(dir, &c));
        Sampler *s = new_sampler(cg, c);

        ASSERT_OK(sampler_acquire(s, &smp)); /* no allocator has published yet */
        ASSERT_TRUE(!smp.heap_valid);
        publish_alloc(c, 8u << 20, 6u << 20, 64u << 20, 3);
        ASSERT_OK(sampler_acquire(s, &smp));
        ASSERT_TRUE(smp.heap_valid);
        ASSERT_U64_EQ(smp.heap_held, 8u << 20);
        ASSERT_U64_EQ(smp.heap_in_use, 6u << 20);
        /* The denominator is never the workload's figure (64M here): without a cap of ours, the
         * cgroup's effective limit; with one, ours. */
        ASSERT_U64_EQ(smp.heap_cap, 268435456);
        ASSERT_U64_EQ(smp.heap_cap_hits, 3);
        ASSERT_U64_EQ(smp.current, 52428800); /* the cgroup part is there too */
        ASSERT_OK(control_publish(c, 0, 0, 32u << 20, 0, false, OOMLESS_BUDGET_NORMAL, OOMLESS_WEIGHT_NORMAL,
                                  false));
        publish_alloc(c, 8u << 20, 6u << 20, 1, 3); /* a cap of 1 claimed by the workload */
        ASSERT_OK(sampler_acquire(s, &smp));
        ASSERT_TRUE(smp.heap_valid);
        ASSERT_U64_EQ(smp.heap_cap, 32u << 20);

        /* More heap than the cgroup is charged (50M): clamped to the charge. */
        publish_alloc(c, 1u << 30, 900u << 20, 0, 3);
        ASSERT_OK(sampler_acquire(s, &smp));
        ASSERT_TRUE(smp.heap_valid);
        ASSERT_U64_EQ(smp.heap_held, 52428800);
        ASSERT_U64_EQ(smp.heap_in_use, 52428800);

        /* A snapshot that fails validation clears heap_valid, the rest of the sample stands. */
        publish_alloc(c, 8u << 20, 9u << 20, 64u << 20, 3);
        ASSERT_OK(sampler_acquire(s, &smp));
        ASSERT_TRUE(!smp.heap_valid);
        ASSERT_U64_EQ(smp.current, 52428800);

        sampler_set_control(s, NULL);
        ASSERT_OK(sampler_acquire(s, &smp));
        ASSERT_TRUE(!smp.heap_valid);
        sampler_free(s);
        control_free(c);
        rmdir(dir);
        cg_free(cg);
}

TEST(real_kernel_leaf)
{
        CgOptions o = { .requested = CG_TIER_AUTO, .oom_group = -1, .tree_limit = UINT64_MAX };
        char *msg = NULL;
        Cg *cg = NULL;
        Kid k = { .pid = -1, .cmd = -1, .ack = -1 };

        ASSERT_OK(units_parse_size_spec("256M", &o.memory_max));
        if (cg_setup_run(&o, &cg, &msg) < 0 || !cg_has(cg, CG_CAP_LEAVES)) {
                /* Only v1 (this host) and v2 (the VM) give us a leaf; the fixtures covered the rest. */
                printf("no writable memory cgroup here (%s), real-kernel check not run\n", msg ? msg : "");
                free(msg);
                cg_free(cg);
                return;
        }
        cgtest_track(cg);
        Sampler *s = new_sampler(cg, NULL);
        OomlessSample smp;
        const int *join;
        int dirfd;

        ASSERT_OK(cg_spawn_fds(cg, &dirfd, &join));
        ASSERT_OK(kid_start(&k, join, dirfd));
        ASSERT_OK(kid_cmd(&k, 'a'));
        ASSERT_OK(kid_cmd(&k, 'a'));
        sampler_set_psi_triggers(s, 1);
        sampler_note_psi_fired(s, 0);
        ASSERT_OK(sampler_acquire(s, &smp));
        ASSERT_TRUE(smp.current >= 2 * KID_CHUNK);
        ASSERT_U64_EQ(smp.limit, 256ull << 20);
        ASSERT_EQ(smp.nr_processes, 1);
        ASSERT_TRUE(smp.events_valid);
        ASSERT_U64_EQ(smp.ev_oom_kill, 0);
        ASSERT_TRUE(smp.psi_valid == cg_has(cg, CG_CAP_PSI));
        ASSERT_EQ(smp.psi_trigger_count, 1);
        ASSERT_U64_EQ(smp.psi_trigger_fired[0], 1);
        ASSERT_TRUE(!smp.heap_valid);

        kid_quit(&k);
        sampler_free(s);
        cgtest_free(cg);
        free(msg);
}

int main(int argc, char **argv)
{
        return test_main(argc, argv);
}

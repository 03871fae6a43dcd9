/* SPDX-License-Identifier: MIT */
/* Real kernel, cgroup v1 memory controller (hybrid host: this machine and CI).
 *
 *   /sys/fs/cgroup/memory/<own>/                 our own v1 memory cgroup (unlimited)
 *   `-- oomless-<pid>/                           workload leaf, memory.limit_in_bytes = 64M
 *   /sys/fs/cgroup/unified/<own v2>/oomless-<pid>/  its unified twin: memory.pressure, cgroup.events,
 *                                                cgroup.kill
 *
 * A kid joins both through the join fds; it allocates 8M chunks: usage follows, past 64M the kernel
 * OOM-kills it (no swap here), oom_control says oom_kill >= 1 and the eventfd fires. Every directory
 * is gone after cg_free. Skips only when no v1 memory hierarchy exists (pure v2 hosts). */
#include "cgtest.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

#include "cg-events.h"
#include "cgroup.h"
#include "cgroup-internal.h"

static CgOptions opts_64m(void)
{
        CgOptions o = { .requested = CG_TIER_AUTO, .oom_group = -1, .tree_limit = UINT64_MAX };
        ASSERT_OK(units_parse_size_spec("64M", &o.memory_max));
        return o;
}

static void require_v1(void)
{
        CgHost h = {};
        ASSERT_OK(cg_host_load(NULL, 0, &h));
        bool ok = h.v1_dir != NULL;
        cg_host_done(&h);
        if (!ok)
                test_skip("no cgroup v1 memory hierarchy on this host");
}

TEST(setup_sample_oom_free)
{
        require_v1();
        CgOptions o = opts_64m();
        ASSERT_OK(units_parse_size_spec("48M", &o.memory_high));
        ASSERT_OK(units_parse_size_spec("0", &o.memory_swap_max));
        o.oom_group = 1; /* no v1 equivalent: a warning, not an error */
        Cg *cg = cgtest_setup(&o);
        ASSERT_EQ(cg_tier(cg), CG_TIER_V1);
        ASSERT_TRUE(strstr(cg_describe(cg), "cgroup tier v1"));

        /* The leaf is a child of our own v1 memory cgroup. */
        const char *own = proc_cgroup_path(getpid(), false);
        char want[8192], leaf[4096], uni[4096];
        snprintf(want, sizeof(want), "/sys/fs/cgroup/memory%s/oomless-%d", strcmp(own, "/") ? own : "",
                 (int)getpid());
        /* "oomless-<pid>-<8 hex nonce>" (common/instance.c) */
        ASSERT_TRUE(strneq(cg_leaf_path(cg), want, strlen(want)));
        ASSERT_EQ(strlen(cg_leaf_path(cg)), strlen(want) + 9);
        ASSERT_TRUE(cg_leaf_path(cg)[strlen(want)] == '-');
        snprintf(leaf, sizeof(leaf), "%s", cg_leaf_path(cg));
        ASSERT_TRUE(dir_exists(leaf));
        ASSERT_U64_EQ(read_u64_at(leaf, "memory.limit_in_bytes"), 64ull << 20);
        /* --memory-high maps to the soft limit; --memory-swap-max 0 to memsw = max + 0. */
        ASSERT_U64_EQ(read_u64_at(leaf, "memory.soft_limit_in_bytes"), 48ull << 20);
        char msw[4200];
        snprintf(msw, sizeof(msw), "%s/memory.memsw.limit_in_bytes", leaf);
        if (access(msw, F_OK) == 0)
                ASSERT_U64_EQ(read_u64_at(leaf, "memory.memsw.limit_in_bytes"), 64ull << 20);
        uint64_t v;
        ASSERT_OK(cg_get_memory_max(cg, &v));
        ASSERT_U64_EQ(v, 64ull << 20);

        const char *u = cg_unified_leaf_path(cg);
        ASSERT_TRUE(u);
        snprintf(uni, sizeof(uni), "%s", u);
        ASSERT_TRUE(dir_exists(uni));
        ASSERT_TRUE(cg_pressure_path(cg) && strstr(cg_pressure_path(cg), uni));

        int dirfd;
        const int *join;
        ASSERT_OK(cg_spawn_fds(cg, &dirfd, &join));
        ASSERT_EQ(dirfd, -1);
        ASSERT_TRUE(join[0] >= 0 && join[1] >= 0 && join[2] == -1);

        Kid k;
        ASSERT_OK(kid_start(&k, join, -1));
        ASSERT_OK(kid_cmd(&k, 'a')); /* first chunk, also proves the kid runs */
        /* In both hierarchies. */
        const char *mp = proc_cgroup_path(k.pid, false);
        ASSERT_TRUE(mp && strstr(leaf, mp) && strlen(mp) > 1);
        ASSERT_TRUE(strcmp(leaf + strlen(leaf) - strlen(mp), mp) == 0);
        const char *up = proc_cgroup_path(k.pid, true);
        ASSERT_TRUE(up && strcmp(uni + strlen(uni) - strlen(up), up) == 0);
        ASSERT_EQ(cg_is_populated(cg), 1);

        /* Samples match the files and move with allocations. */
        OomlessSample s1 = {}, s2 = {};
        ASSERT_OK(cg_sample(cg, &s1));
        uint64_t file_usage = read_u64_at(leaf, "memory.usage_in_bytes");
        ASSERT_TRUE(s1.current <= file_usage + (1 << 20) && s1.current + (1 << 20) >= file_usage);
        ASSERT_U64_EQ(s1.limit, 64ull << 20);
        ASSERT_U64_EQ(s1.high, 48ull << 20);
        ASSERT_EQ(s1.nr_processes, 1);
        ASSERT_TRUE(s1.events_valid && s1.psi_valid);
        ASSERT_TRUE(s1.anon >= KID_CHUNK / 2);
        ASSERT_TRUE(s1.peak >= s1.current);
        for (int i = 0; i < 3; i++)
                ASSERT_OK(kid_cmd(&k, 'a'));
        ASSERT_OK(cg_sample(cg, &s2));
        ASSERT_TRUE(s2.current >= s1.current + 3 * KID_CHUNK - (2 << 20));
        ASSERT_TRUE(s2.anon >= s1.anon + 3 * KID_CHUNK - (2 << 20));
        ASSERT_U64_EQ(s2.ev_oom_kill, 0);

        /* A PSI trigger can be armed on the unified twin (no pressure, so no firing asserted here;
         * the VM test asserts firing). 2 s window: we may lack CAP_SYS_RESOURCE. */
        char *msg = NULL;
        int pfd = cg_psi_trigger_open_msg(cg, "some 150000 2000000", &msg);
        if (pfd < 0)
                TEST_FAIL("cg_psi_trigger_open: %s", msg);
        struct pollfd pp = { .fd = pfd, .events = POLLPRI };
        ASSERT_TRUE(poll(&pp, 1, 0) >= 0 && !(pp.revents & (POLLERR | POLLNVAL)));
        int bad = cg_psi_trigger_open_msg(cg, "some 150000 1000000", &msg);
        if (bad < 0)
                ASSERT_TRUE(strstr(msg, "multiple of 2s")); /* unprivileged rule, named in the error */
        else
                close(bad);
        ASSERT_ERROR(cg_psi_trigger_open_msg(cg, "some 1 100", &msg), EINVAL);
        free(msg);

        /* Past 64M: OOM kill, the eventfd fires, oom_kill counted. */
        int efd = cg_events_fd(cg);
        ASSERT_TRUE(efd >= 0);
        int died = -1;
        for (int i = 0; i < 16 && died < 0; i++)
                if (kid_cmd(&k, 'a') < 0)
                        died = i;
        ASSERT_TRUE(died >= 0);
        int st = kid_wait(&k);
        ASSERT_TRUE(WIFSIGNALED(st));
        ASSERT_EQ(WTERMSIG(st), SIGKILL);
        struct pollfd ep = { .fd = efd, .events = POLLIN };
        ASSERT_EQ(poll(&ep, 1, 5000), 1);
        OomlessSample s3 = {};
        ASSERT_OK(cg_sample(cg, &s3));
        ASSERT_TRUE(s3.ev_oom_kill >= 1);
        /* No assertion on ev_max (failcnt): with memsw equal to the limit, 6.18 kills without counting
         * a failure in either failcnt. */
        ASSERT_TRUE(s3.peak >= (60ull << 20));
        /* cg_sample drained the eventfd. */
        ASSERT_EQ(poll(&ep, 1, 0), 0);
        ASSERT_EQ(cg_is_populated(cg), 0);
        close(pfd);

        /* Limits can be changed for actions. */
        ASSERT_OK(cg_set_memory_max(cg, 128ull << 20));
        ASSERT_U64_EQ(read_u64_at(leaf, "memory.limit_in_bytes"), 128ull << 20);
        if (access(msw, F_OK) == 0) /* the swap allowance (0) moved along */
                ASSERT_U64_EQ(read_u64_at(leaf, "memory.memsw.limit_in_bytes"), 128ull << 20);
        ASSERT_OK(cg_set_memory_max(cg, 96ull << 20));
        ASSERT_U64_EQ(read_u64_at(leaf, "memory.limit_in_bytes"), 96ull << 20);
        ASSERT_OK(cg_set_memory_high(cg, 96ull << 20));
        ASSERT_U64_EQ(read_u64_at(leaf, "memory.soft_limit_in_bytes"), 96ull << 20);
        ASSERT_EQ(cg_reclaim(cg, 1 << 20), -EOPNOTSUPP);

        cgtest_free_removed(cg, leaf);
        ASSERT_TRUE(!dir_exists(uni));
}

TEST(kill_all_empties_leaf)
{
        require_v1();
        CgOptions o = opts_64m();
        Cg *cg = cgtest_setup(&o);
        char leaf[4096], uni[4096];
        snprintf(leaf, sizeof(leaf), "%s", cg_leaf_path(cg));
        snprintf(uni, sizeof(uni), "%s", cg_unified_leaf_path(cg));
        const int *join;
        ASSERT_OK(cg_spawn_fds(cg, NULL, &join));
        Kid k[3];
        for (int i = 0; i < 3; i++) {
                ASSERT_OK(kid_start(&k[i], join, -1));
                ASSERT_OK(kid_cmd(&k[i], 'f')); /* each forks a grandchild that stays in the leaf */
        }
        /* One more, moved in after start by pid (libcgroup). */
        Kid late;
        ASSERT_OK(kid_start(&late, NULL, -1));
        ASSERT_OK(cg_attach_pid(cg, late.pid));
        ASSERT_OK(kid_cmd(&late, 'f'));
        ASSERT_TRUE(strcmp(leaf + strlen(leaf) - strlen(proc_cgroup_path(late.pid, false)),
                           proc_cgroup_path(late.pid, false)) == 0);

        pid_t *pids = NULL;
        size_t n = 0;
        ASSERT_OK(cg_list_pids(cg, &pids, &n));
        ASSERT_EQ(n, 8);
        free(pids);

        int fd = cg_populated_fd(cg);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(cg_is_populated(cg), 1); /* read: arms the notification */
        ASSERT_TRUE(cg_kill_all(cg, SIGKILL) >= 0);
        for (int i = 0; i < 3; i++)
                ASSERT_TRUE(WIFSIGNALED(kid_wait(&k[i])));
        ASSERT_TRUE(WIFSIGNALED(kid_wait(&late)));
        /* As the supervisor does, reap the orphaned grandchildren (we are their subreaper): v1 lists
         * zombies in cgroup.procs until then. */
        for (int i = 0; i < 200; i++) {
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                ASSERT_OK(cg_list_pids(cg, &pids, &n));
                free(pids);
                if (n == 0)
                        break;
                usleep(10000);
        }
        ASSERT_TRUE(wait_pollpri(fd, 1000)); /* populated 1 -> 0 notified */
        ASSERT_EQ(cg_is_populated(cg), 0);
        ASSERT_OK(cg_list_pids(cg, &pids, &n));
        ASSERT_EQ(n, 0);
        free(pids);
        /* We are still alive, of course. */
        ASSERT_TRUE(kill(getpid(), 0) == 0);
        cgtest_free_removed(cg, leaf);
        ASSERT_TRUE(!dir_exists(uni));
}

/* A 256M parent made under our own cgroup; a child process moved into it sets up a leaf with
 * --memory-max 50%: that resolves against the parent's limit, not MemTotal. */
TEST(percent_resolves_against_effective_limit)
{
        require_v1();
        const char *own = proc_cgroup_path(getpid(), false);
        char parent[8192];
        snprintf(parent, sizeof(parent), "/sys/fs/cgroup/memory%s/oomless-test-parent-%d",
                 strcmp(own, "/") ? own : "", (int)getpid());
        ASSERT_TRUE(mkdir(parent, 0755) == 0);
        char path[8300];
        snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", parent);
        FILE *f = fopen(path, "we");
        ASSERT_TRUE(f && fputs("268435456", f) >= 0 && fclose(f) == 0);

        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                snprintf(path, sizeof(path), "%s/cgroup.procs", parent);
                f = fopen(path, "we");
                if (!f || fputs("0", f) < 0 || fclose(f) != 0)
                        _exit(10);
                CgOptions o = { .requested = CG_TIER_V1, .oom_group = -1, .tree_limit = UINT64_MAX };
                if (units_parse_size_spec("50%", &o.memory_max) < 0)
                        _exit(11);
                Cg *cg = cgtest_setup(&o);
                uint64_t lim = read_u64_at(cg_leaf_path(cg), "memory.limit_in_bytes");
                OomlessSample s = {};
                int r = cg_sample(cg, &s);
                cgtest_free(cg);
                if (lim != (128ull << 20))
                        _exit(12);
                if (r < 0 || s.limit != (128ull << 20))
                        _exit(13);
                _exit(0);
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        for (int i = 0; i < 100 && rmdir(parent) < 0 && errno == EBUSY; i++)
                usleep(10000);
        ASSERT_TRUE(!dir_exists(parent));
        ASSERT_TRUE(WIFEXITED(st));
        ASSERT_EQ(WEXITSTATUS(st), 0);
}

static bool wait_readable(int fd, int timeout_ms)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };
        return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* Kernel thresholds (cg-events.c) are armed by a worker: a request returns with nothing armed yet
 * (each registration waits for an RCU grace period, which must not stall the loop), the done fd says
 * when to collect, and the collected eventfd fires when a kid's usage crosses the level. A request
 * made while a worker runs waits, and only the latest one waiting is armed. An arming that fails
 * (the cgroup is gone) is reported by collect, and the old levels stay. */
TEST(thresholds_armed_by_a_worker)
{
        require_v1();
        CgOptions o = opts_64m();
        Cg *cg = cgtest_setup(&o);
        CgThresholds *t = NULL;
        CgLevels got = {};
        const int *join;
        Kid k;

        ASSERT_OK(cg_thresholds_new(cg, &t));
        ASSERT_OK(cg_spawn_fds(cg, NULL, &join));
        ASSERT_OK(kid_start(&k, join, -1));
        ASSERT_ERROR(cg_thresholds_collect(t, NULL), EAGAIN);

        ASSERT_OK(cg_thresholds_request(t, &(CgLevels){ .above = 20u << 20, .early = 18u << 20 }));
        ASSERT_EQ(cg_thresholds_fd(t), -EBADF); /* armed only at collect */
        ASSERT_TRUE(wait_readable(cg_thresholds_done_fd(t), 5000));
        int efd = cg_thresholds_collect(t, &got);
        ASSERT_TRUE(efd >= 0);
        ASSERT_EQ(cg_thresholds_fd(t), efd);
        ASSERT_U64_EQ(got.above, 20u << 20);
        ASSERT_U64_EQ(got.early, 18u << 20);
        ASSERT_TRUE(!wait_readable(efd, 50));
        for (int i = 0; i < 3; i++)
                ASSERT_OK(kid_cmd(&k, 'a')); /* 24M: past both levels */
        ASSERT_TRUE(wait_readable(efd, 2000));
        ASSERT_TRUE(cg_thresholds_consume(t) >= 1);

        /* Three requests in a row: the first runs, the third replaces the second behind it. */
        ASSERT_OK(cg_thresholds_request(t, &(CgLevels){ .above = 40u << 20, .below = 16u << 20 }));
        ASSERT_OK(cg_thresholds_request(t, &(CgLevels){ .above = 48u << 20 }));
        ASSERT_OK(cg_thresholds_request(t, &(CgLevels){ .above = 56u << 20, .below = 8u << 20 }));
        ASSERT_TRUE(wait_readable(cg_thresholds_done_fd(t), 5000));
        int efd2 = cg_thresholds_collect(t, &got);
        ASSERT_TRUE(efd2 >= 0);
        ASSERT_U64_EQ(got.above, 40u << 20);
        ASSERT_TRUE(wait_readable(cg_thresholds_done_fd(t), 5000));
        int efd3 = cg_thresholds_collect(t, &got);
        ASSERT_TRUE(efd3 >= 0);
        ASSERT_U64_EQ(got.above, 56u << 20);
        ASSERT_U64_EQ(got.below, 8u << 20);
        ASSERT_TRUE(!wait_readable(cg_thresholds_done_fd(t), 100)); /* the second never ran */
        ASSERT_ERROR(cg_thresholds_collect(t, NULL), EAGAIN);
        ASSERT_OK(kid_cmd(&k, 'a')); /* 32M: between the levels now armed, nothing fires */
        ASSERT_TRUE(!wait_readable(efd3, 200));

        /* The cgroup goes: the arming fails, collect says so, the armed eventfd stays. */
        ASSERT_OK(kid_quit(&k));
        char leaf[4096];
        snprintf(leaf, sizeof(leaf), "%s", cg_leaf_path(cg));
        cgtest_free_removed(cg, leaf);
        ASSERT_OK(cg_thresholds_request(t, &(CgLevels){ .above = 60u << 20 }));
        ASSERT_TRUE(wait_readable(cg_thresholds_done_fd(t), 5000));
        int r = cg_thresholds_collect(t, &got);
        ASSERT_TRUE(r < 0);
        ASSERT_EQ(cg_thresholds_fd(t), efd3);
        ASSERT_U64_EQ(got.above, 56u << 20);
        cg_thresholds_free(t);
}

TEST(attach_by_pid_and_path)
{
        require_v1();
        CgOptions o = opts_64m();
        Cg *run = cgtest_setup(&o);
        const int *join;
        ASSERT_OK(cg_spawn_fds(run, NULL, &join));
        Kid k;
        ASSERT_OK(kid_start(&k, join, -1));
        ASSERT_OK(kid_cmd(&k, 'a'));

        CgOptions ao = { .requested = CG_TIER_AUTO, .oom_group = -1, .tree_limit = UINT64_MAX };
        char *msg = NULL;
        OomlessSample s;
        Cg *a = cgtest_attach_pid(k.pid, CG_TIER_V1, cg_leaf_path(run), &s);
        ASSERT_TRUE(s.current >= KID_CHUNK / 2);
        ASSERT_EQ(s.nr_processes, 1);
        ASSERT_U64_EQ(s.limit, 64ull << 20);
        cgtest_free(a);

        /* Absolute path, then relative to the memory mount. */
        ASSERT_OK(cg_setup_attach(&ao, 0, cg_leaf_path(run), &a, &msg));
        ASSERT_STREQ(cg_leaf_path(a), cg_leaf_path(run));
        cgtest_free(a);
        const char *rel = cg_leaf_path(run) + strlen("/sys/fs/cgroup/memory");
        ASSERT_OK(cg_setup_attach(&ao, 0, rel, &a, &msg));
        ASSERT_STREQ(cg_leaf_path(a), cg_leaf_path(run));
        /* Attach created nothing: freeing it leaves the leaf in place. */
        char leaf[4096];
        snprintf(leaf, sizeof(leaf), "%s", cg_leaf_path(run));
        cgtest_free(a);
        ASSERT_TRUE(dir_exists(leaf));
        ASSERT_TRUE(cg_setup_attach(&ao, 0, "/no/such/cgroup", &a, &msg) < 0);
        ASSERT_TRUE(msg && strstr(msg, "does not exist"));
        free(msg);

        kid_quit(&k);
        cgtest_free_removed(run, leaf);
}

TEST(forced_tiers_on_this_host)
{
        require_v1();
        CgOptions o = { .requested = CG_TIER_V2, .oom_group = -1, .tree_limit = UINT64_MAX };
        char *msg = NULL;
        Cg *cg = NULL;
        ASSERT_TRUE(cg_setup_run(&o, &cg, &msg) < 0);
        ASSERT_TRUE(cg == NULL && msg && strstr(msg, "--cgroup-mode=v2"));
        free(msg);
        msg = NULL;

        /* Forced observe reads our own v1 cgroup and creates nothing. */
        o.requested = CG_TIER_OBSERVE;
        cg = cgtest_setup(&o);
        ASSERT_EQ(cg_tier(cg), CG_TIER_OBSERVE);
        const char *own = proc_cgroup_path(getpid(), false);
        ASSERT_TRUE(strcmp(cg_leaf_path(cg) + strlen(cg_leaf_path(cg)) - strlen(own), own) == 0);
        OomlessSample s = {};
        ASSERT_OK(cg_sample(cg, &s));
        ASSERT_TRUE(s.current > 0);
        ASSERT_EQ(cg_set_memory_max(cg, 1 << 30), -EOPNOTSUPP);
        /* kill_all in observe: kills a kid in our cgroup, never us. */
        Kid k;
        ASSERT_OK(kid_start(&k, NULL, -1));
        ASSERT_OK(kid_cmd(&k, 'a'));
        /* Other sessions may share this cgroup: signal only the kid here by using SIGCONT, harmless. */
        ASSERT_TRUE(cg_kill_all(cg, 0) >= 1);
        kid_quit(&k);
        cgtest_free(cg);
}

int main(int argc, char **argv)
{
        /* Like the supervisor: orphans of our kids come back to us to be reaped. */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
        return test_main(argc, argv);
}

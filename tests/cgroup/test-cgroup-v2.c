/* SPDX-License-Identifier: MIT */
/* Pure cgroup v2 on the real kernel (run inside the VM by tests/vm; skips with 77 unless
 * /sys/fs/cgroup is a writable cgroup2 whose memory controller our cgroup can hand down).
 *
 *   <own>/                                   our cgroup ("/" in the VM); +memory +pids enabled
 *   |-- oomless-<pid>-supervisor/            the test process (as the supervisor) moves here first
 *   `-- oomless-<pid>-workload/              memory.max 64M, memory.high 48M, swap.max 0, oom.group 1
 *
 * Kids start by clone3(CLONE_INTO_CGROUP) through the leaf's dirfd and by the cgroup.procs join fd.
 * Past 64M the OOM killer takes the whole group (oom.group), memory.events says so and its fd
 * polls POLLPRI. cgroup.kill empties a leaf of forking kids. A PSI trigger fires while a kid
 * allocates past memory.high=16M. With VM_RUN=1 a child in a private mount namespace makes
 * /sys/fs/cgroup read-only and finds the observe tier. */
#include "cgtest.h"

#include <glob.h>

#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "cgroup-internal.h"

static char own_dir[4096];

static void require_v2(void)
{
        struct statfs sf;
        if (statfs("/sys/fs/cgroup", &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
                test_skip("/sys/fs/cgroup is not cgroup2");
        const char *own = proc_cgroup_path(getpid(), true);
        if (!own)
                test_skip("no unified cgroup in /proc/self/cgroup");
        snprintf(own_dir, sizeof(own_dir), "/sys/fs/cgroup%s", strcmp(own, "/") ? own : "");
        char p[4200];
        snprintf(p, sizeof(p), "%s/cgroup.controllers", own_dir);
        const char *c = read_text(p);
        if (!c || !strstr(c, "memory"))
                test_skip("the memory controller is not available to %s", own_dir);
        snprintf(p, sizeof(p), "%s/cgroup.procs", own_dir);
        if (access(own_dir, W_OK) < 0 || access(p, W_OK) < 0)
                test_skip("%s is not writable", own_dir);
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

TEST(leaves_limits_clone_into_cgroup_oom)
{
        require_v2();
        CgOptions o = {
                .requested = CG_TIER_AUTO, .oom_group = 1, .tree_limit = UINT64_MAX, .want_cpu = true
        };
        ASSERT_OK(units_parse_size_spec("64M", &o.memory_max));
        ASSERT_OK(units_parse_size_spec("48M", &o.memory_high));
        ASSERT_OK(units_parse_size_spec("0", &o.memory_swap_max));
        char orig[4096];
        snprintf(orig, sizeof(orig), "%s", proc_cgroup_path(getpid(), true));
        Cg *cg = cgtest_setup(&o);
        ASSERT_EQ(cg_tier(cg), CG_TIER_V2);
        ASSERT_TRUE(strstr(cg_describe(cg), "cgroup tier v2"));

        /* Evacuation: we sit in our own supervisor leaf now. */
        /* Names "oomless-<pid>-<8 hex nonce>-{supervisor,workload}" (common/instance.c). */
        char sup[64], leaf[4096], supdir[4200];
        snprintf(leaf, sizeof(leaf), "%s", cg_leaf_path(cg));
        char want[4200];
        snprintf(want, sizeof(want), "%s/oomless-%d-", own_dir, (int)getpid());
        ASSERT_TRUE(strneq(leaf, want, strlen(want)) && ends_with(leaf, "-workload"));
        ASSERT_EQ(strlen(leaf), strlen(want) + 8 + strlen("-workload"));
        snprintf(sup, sizeof(sup), "/oomless-%d-%.8s-supervisor", (int)getpid(), leaf + strlen(want));
        ASSERT_TRUE(ends_with(proc_cgroup_path(getpid(), true), sup));
        snprintf(supdir, sizeof(supdir), "%s%s", own_dir, sup);
        ASSERT_TRUE(dir_exists(supdir));
        char p[4200];
        snprintf(p, sizeof(p), "%s/cgroup.subtree_control", own_dir);
        const char *sc = read_text(p);
        ASSERT_TRUE(sc && strstr(sc, "memory") && strstr(sc, "pids"));

        ASSERT_U64_EQ(read_u64_at(leaf, "memory.max"), 64ull << 20);
        ASSERT_U64_EQ(read_u64_at(leaf, "memory.high"), 48ull << 20);
        ASSERT_U64_EQ(read_u64_at(leaf, "memory.oom.group"), 1);
        snprintf(p, sizeof(p), "%s/memory.swap.max", leaf);
        if (access(p, F_OK) == 0)
                ASSERT_U64_EQ(read_u64_at(leaf, "memory.swap.max"), 0);
        uint64_t v;
        ASSERT_OK(cg_get_memory_high(cg, &v));
        ASSERT_U64_EQ(v, 48ull << 20);
        ASSERT_STREQ(cg_unified_leaf_path(cg), leaf);

        /* clone3(CLONE_INTO_CGROUP) through the dirfd, and the join-fd fallback. */
        int dirfd;
        const int *join;
        ASSERT_OK(cg_spawn_fds(cg, &dirfd, &join));
        ASSERT_TRUE(dirfd >= 0 && join[0] >= 0 && join[1] == -1);
        Kid k1, k2;
        ASSERT_OK(kid_start(&k1, NULL, dirfd));
        ASSERT_OK(kid_cmd(&k1, 'a'));
        ASSERT_OK(kid_start(&k2, join, -1));
        ASSERT_OK(kid_cmd(&k2, 'a'));
        const char *rel = leaf + strlen("/sys/fs/cgroup");
        ASSERT_STREQ(proc_cgroup_path(k1.pid, true), rel);
        ASSERT_STREQ(proc_cgroup_path(k2.pid, true), rel);

        OomlessSample s1 = {}, s2 = {};
        ASSERT_OK(cg_sample(cg, &s1));
        uint64_t cur = read_u64_at(leaf, "memory.current");
        ASSERT_TRUE(s1.current + (1 << 20) >= cur && s1.current <= cur + (1 << 20));
        ASSERT_EQ(s1.nr_processes, 2);
        ASSERT_U64_EQ(s1.limit, 64ull << 20);
        ASSERT_U64_EQ(s1.high, 48ull << 20);
        ASSERT_TRUE(s1.current < (40ull << 20)); /* below high: the allocations below are not throttled */
        ASSERT_TRUE(s1.events_valid && s1.psi_valid);
        ASSERT_TRUE(s1.anon >= 2ull * KID_CHUNK - (2 << 20));
        ASSERT_TRUE(s1.peak >= s1.current);
        ASSERT_OK(kid_cmd(&k1, 'a'));
        ASSERT_OK(kid_cmd(&k1, 'a'));
        ASSERT_OK(cg_sample(cg, &s2));
        ASSERT_TRUE(s2.current >= s1.current + 2ull * KID_CHUNK - (2 << 20));

        /* Past memory.max: OOM kill of the group, memory.events fd polls POLLPRI. memory.high goes
         * first, or the kid spends a minute throttled under emulation before reaching max. */
        ASSERT_OK(cg_set_memory_high(cg, UINT64_MAX));
        int efd = cg_events_fd(cg);
        ASSERT_TRUE(efd >= 0);
        int dead = 0;
        for (int i = 0; i < 16 && !dead; i++)
                dead = kid_cmd(&k1, 'a') < 0;
        ASSERT_TRUE(dead);
        int st = kid_wait(&k1);
        ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        st = kid_wait(&k2); /* oom.group: the idle sibling dies too */
        ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        ASSERT_TRUE(wait_pollpri(efd, 5000));
        OomlessSample s3 = {};
        ASSERT_OK(cg_sample(cg, &s3));
        ASSERT_TRUE(s3.ev_oom >= 1);
        ASSERT_TRUE(s3.ev_oom_kill >= 1);
        ASSERT_TRUE(s3.ev_max >= 1);
        ASSERT_TRUE(s3.ev_oom_group_kill >= 1 || s3.ev_oom_kill >= 2);

        /* Limit writes (libcgroup) and reclaim. */
        ASSERT_OK(cg_set_memory_max(cg, 200ull << 20));
        ASSERT_U64_EQ(read_u64_at(leaf, "memory.max"), 200ull << 20);
        ASSERT_OK(cg_set_memory_high(cg, 100ull << 20));
        ASSERT_U64_EQ(read_u64_at(leaf, "memory.high"), 100ull << 20);
        int r = cg_reclaim(cg, 1 << 20);
        ASSERT_TRUE(r == 0 || r == -EAGAIN);

        cgtest_free_removed(cg, leaf);
        ASSERT_TRUE(!dir_exists(supdir));
        ASSERT_STREQ(proc_cgroup_path(getpid(), true), orig);
}

TEST(cgroup_kill_empties_leaf)
{
        require_v2();
        CgOptions o = { .requested = CG_TIER_V2, .oom_group = -1, .tree_limit = UINT64_MAX };
        Cg *cg = cgtest_setup(&o);
        char leaf[4096];
        snprintf(leaf, sizeof(leaf), "%s", cg_leaf_path(cg));
        int dirfd;
        const int *join;
        ASSERT_OK(cg_spawn_fds(cg, &dirfd, &join));
        Kid k[3];
        for (int i = 0; i < 3; i++) {
                ASSERT_OK(kid_start(&k[i], NULL, dirfd));
                ASSERT_OK(kid_cmd(&k[i], 'f'));
        }
        OomlessSample s = {};
        ASSERT_OK(cg_sample(cg, &s));
        ASSERT_EQ(s.nr_processes, 6);
        int pfd = cg_populated_fd(cg);
        ASSERT_TRUE(pfd >= 0);
        ASSERT_EQ(cg_is_populated(cg), 1);
        ASSERT_TRUE(cg_kill_all(cg, SIGKILL) >= 0);
        for (int i = 0; i < 3; i++) {
                int st = kid_wait(&k[i]);
                ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        }
        for (int i = 0; i < 500; i++) {
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                pid_t *pids = NULL;
                size_t n = 0;
                ASSERT_OK(cg_list_pids(cg, &pids, &n));
                free(pids);
                if (n == 0)
                        break;
                usleep(10000);
        }
        ASSERT_TRUE(wait_pollpri(pfd, 2000));
        ASSERT_EQ(cg_is_populated(cg), 0);

        /* A kid started outside the leaf and moved in by pid (libcgroup on v2); then attach by pid
         * finds the same leaf, and by path too (relative to the mount). */
        Kid a;
        ASSERT_OK(kid_start(&a, NULL, -1));
        ASSERT_OK(cg_attach_pid(cg, a.pid));
        ASSERT_OK(kid_cmd(&a, 'a'));
        ASSERT_STREQ(proc_cgroup_path(a.pid, true), leaf + strlen("/sys/fs/cgroup"));
        CgOptions ao = { .requested = CG_TIER_AUTO, .oom_group = -1, .tree_limit = UINT64_MAX };
        char *msg = NULL;
        OomlessSample as;
        Cg *at = cgtest_attach_pid(a.pid, CG_TIER_V2, leaf, &as);
        ASSERT_EQ(as.nr_processes, 1);
        cg_free(at);
        ASSERT_OK(cg_setup_attach(&ao, 0, leaf + strlen("/sys/fs/cgroup"), &at, &msg));
        ASSERT_STREQ(cg_leaf_path(at), leaf);
        cg_free(at);
        free(msg);
        kid_quit(&a);

        cgtest_free_removed(cg, leaf);
}

TEST(psi_trigger_fires_under_memory_high)
{
        require_v2();
        CgOptions o = { .requested = CG_TIER_V2, .oom_group = -1, .tree_limit = UINT64_MAX };
        ASSERT_OK(units_parse_size_spec("16M", &o.memory_high));
        ASSERT_OK(units_parse_size_spec("512M", &o.memory_max));
        Cg *cg = cgtest_setup(&o);
        char *msg = NULL;
        int tfd = cg_psi_trigger_open_msg(cg, "some 150000 1000000", &msg);
        if (tfd < 0) /* without CAP_SYS_RESOURCE only 2 s multiples are allowed */
                tfd = cg_psi_trigger_open_msg(cg, "some 150000 2000000", &msg);
        if (tfd < 0)
                TEST_FAIL("cannot arm a PSI trigger: %s", msg);
        ASSERT_TRUE(!wait_pollpri(tfd, 0));

        int dirfd;
        ASSERT_OK(cg_spawn_fds(cg, &dirfd, NULL));
        Kid k;
        ASSERT_OK(kid_start(&k, NULL, dirfd));
        /* Queue 8 x 8M without waiting: the kid gets throttled above 16M. */
        for (int i = 0; i < 8; i++)
                ASSERT_TRUE(write(k.cmd, "a", 1) == 1);
        bool fired = wait_pollpri(tfd, 30000);
        OomlessSample s = {};
        ASSERT_OK(cg_sample(cg, &s));
        ASSERT_TRUE(fired);
        ASSERT_TRUE(s.psi_valid && s.psi_some.total_usec > 0);
        ASSERT_TRUE(s.ev_high >= 1);
        close(tfd);
        ASSERT_TRUE(cg_kill_all(cg, SIGKILL) >= 0);
        kid_wait(&k);
        cgtest_free(cg);
        free(msg);
}

TEST(percent_of_effective_limit)
{
        require_v2();
        CgOptions o = { .requested = CG_TIER_V2, .oom_group = -1, .tree_limit = UINT64_MAX };
        ASSERT_OK(units_parse_size_spec("50%", &o.memory_max));
        CgHost h = {};
        ASSERT_OK(cg_host_load(NULL, 0, &h));
        uint64_t above;
        ASSERT_OK(cg_limit_above(CG_FILES_V2, h.v2_dir, h.v2_mount, h.memtotal, &above));
        cg_host_done(&h);
        Cg *cg = cgtest_setup(&o);
        uint64_t got = read_u64_at(cg_leaf_path(cg), "memory.max");
        uint64_t want = above / 2;
        ASSERT_TRUE(got <= want && got + 4096 > want); /* the kernel keeps whole pages */
        OomlessSample s = {};
        ASSERT_OK(cg_sample(cg, &s));
        ASSERT_U64_EQ(s.limit, got);
        cgtest_free(cg);
}

/* In a private mount namespace with /sys/fs/cgroup bound read-only, a process in its own child
 * cgroup finds the observe tier, reads its cgroup and kills only others. VM only: it needs a
 * cgroup it may move a process into and a mount namespace nobody else sees. */
TEST(observe_on_readonly_cgroupfs)
{
        require_v2();
        if (!getenv("VM_RUN") || strcmp(proc_cgroup_path(getpid(), true), "/") != 0) {
                printf("(observe test runs only in the VM, VM_RUN=1 in the root cgroup)\n");
                return;
        }
        char obs[256];
        snprintf(obs, sizeof(obs), "/sys/fs/cgroup/oomless-obs-%d", (int)getpid());
        ASSERT_TRUE(mkdir(obs, 0755) == 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                char p[300];
                snprintf(p, sizeof(p), "%s/cgroup.procs", obs);
                int fd = open(p, O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, "0", 1) != 1)
                        _exit(20);
                close(fd);
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("/sys/fs/cgroup", "/sys/fs/cgroup", NULL, MS_BIND, NULL) < 0 ||
                    mount(NULL, "/sys/fs/cgroup", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                        _exit(21);
                char *msg = NULL;
                CgOptions o = { .requested = CG_TIER_AUTO, .oom_group = -1, .tree_limit = UINT64_MAX };
                CgTier t;
                ASSERT_OK(cg_detect(&o, &t, &msg));
                ASSERT_EQ(t, CG_TIER_OBSERVE);
                o.requested = CG_TIER_V2;
                ASSERT_ERROR(cg_detect(&o, &t, &msg), EROFS);
                ASSERT_TRUE(msg && strstr(msg, "--cgroup-mode=observe") && strstr(msg, "read-only"));
                o.requested = CG_TIER_AUTO;
                Cg *cg = NULL;
                ASSERT_OK(cg_setup_run(&o, &cg, &msg));
                ASSERT_EQ(cg_tier(cg), CG_TIER_OBSERVE);
                ASSERT_STREQ(cg_leaf_path(cg), obs);
                Kid k;
                ASSERT_OK(kid_start(&k, NULL, -1));
                ASSERT_OK(kid_cmd(&k, 'a'));
                OomlessSample s = {};
                ASSERT_OK(cg_sample(cg, &s));
                ASSERT_TRUE(s.current >= KID_CHUNK);
                ASSERT_EQ(s.nr_processes, 1); /* the kid; we are not counted */
                ASSERT_TRUE(s.psi_valid);
                /* A trigger needs memory.pressure opened for writing: impossible on a read-only mount,
                 * and the error says so (the supervisor falls back to sampling memory.pressure). */
                ASSERT_ERROR(cg_psi_trigger_open_msg(cg, "some 150000 1000000", &msg), EROFS);
                ASSERT_TRUE(msg && strstr(msg, "read-only"));
                ASSERT_TRUE(cg_kill_all(cg, SIGKILL) >= 1);
                int st = kid_wait(&k);
                ASSERT_TRUE(WIFSIGNALED(st));
                ASSERT_EQ(cg_set_memory_max(cg, 1 << 30), -EOPNOTSUPP);
                cg_free(cg);
                free(msg);
                _exit(0);
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        int r = -1;
        for (int i = 0; i < 200 && (r = rmdir(obs)) < 0 && errno == EBUSY; i++)
                usleep(10000);
        ASSERT_TRUE(r == 0);
        ASSERT_TRUE(WIFEXITED(st));
        ASSERT_EQ(WEXITSTATUS(st), 0);
}

static void write_str(const char *dir, const char *file, const char *v)
{
        char p[4300];
        snprintf(p, sizeof(p), "%s/%s", dir, file);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, v, strlen(v)) != (ssize_t)strlen(v))
                TEST_FAIL("cannot write %s to %s: %s", v, p, strerror(errno));
        close(fd);
}

/* The delegated case (systemd Delegate=yes): our own cgroup is not the root, so the "no internal
 * processes" rule applies to it.
 *
 *   <own>/oomless-deleg-<pid>/          "P": a process of ours runs the setup from here
 *   |-- oomless-<cpid>-supervisor/      it moves here, then +memory +pids go into P's subtree_control
 *   `-- oomless-<cpid>-workload/
 *
 * After cg_free, P's subtree_control is empty again and the process is back in P. With a second
 * process sitting in P, setup fails with EBUSY and a message naming the rule, and leaves nothing. */
TEST(delegated_non_root_cgroup)
{
        require_v2();
        char P[4200];
        snprintf(P, sizeof(P), "%s/oomless-deleg-%d", own_dir, (int)getpid());
        ASSERT_TRUE(mkdir(P, 0755) == 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                write_str(P, "cgroup.procs", "0");
                CgOptions o = { .requested = CG_TIER_V2, .oom_group = -1, .tree_limit = UINT64_MAX };
                ASSERT_OK(units_parse_size_spec("64M", &o.memory_max));
                char *msg = NULL;
                Cg *cg = NULL;
                ASSERT_OK(cg_setup_run(&o, &cg, &msg));
                char p[4300];
                snprintf(p, sizeof(p), "%s/cgroup.subtree_control", P);
                const char *sc = read_text(p);
                ASSERT_TRUE(sc && strstr(sc, "memory") && strstr(sc, "pids"));
                ASSERT_U64_EQ(read_u64_at(cg_leaf_path(cg), "memory.max"), 64ull << 20);
                int dirfd;
                ASSERT_OK(cg_spawn_fds(cg, &dirfd, NULL));
                Kid k;
                ASSERT_OK(kid_start(&k, NULL, dirfd));
                ASSERT_OK(kid_cmd(&k, 'a'));
                OomlessSample s = {};
                ASSERT_OK(cg_sample(cg, &s));
                ASSERT_TRUE(s.current >= KID_CHUNK);
                kid_quit(&k);
                char leaf[4096];
                snprintf(leaf, sizeof(leaf), "%s", cg_leaf_path(cg));
                cg_free(cg);
                ASSERT_TRUE(!dir_exists(leaf));
                sc = read_text(p);
                ASSERT_TRUE(sc && strcmp(sc, "\n") == 0 ? true : (sc && sc[0] == '\0'));
                ASSERT_STREQ(proc_cgroup_path(getpid(), true), P + strlen("/sys/fs/cgroup"));
                _exit(0);
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

        /* A second process in P: EBUSY, the rule explained, nothing left behind. */
        Kid other;
        ASSERT_OK(kid_start(&other, NULL, -1));
        char pidbuf[32];
        snprintf(pidbuf, sizeof(pidbuf), "%d", (int)other.pid);
        write_str(P, "cgroup.procs", pidbuf);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                write_str(P, "cgroup.procs", "0");
                CgOptions o = { .requested = CG_TIER_V2, .oom_group = -1, .tree_limit = UINT64_MAX };
                char *msg = NULL;
                Cg *cg = NULL;
                ASSERT_ERROR(cg_setup_run(&o, &cg, &msg), EBUSY);
                ASSERT_TRUE(msg && strstr(msg, "holds processes oomless did not start") &&
                            strstr(msg, "Delegate=yes"));
                char sup[4300];
                snprintf(sup, sizeof(sup), "%s/oomless-%d-*-supervisor", P, (int)getpid());
                glob_t g = { 0 };
                ASSERT_TRUE(glob(sup, 0, NULL, &g) == GLOB_NOMATCH);
                globfree(&g);
                ASSERT_STREQ(proc_cgroup_path(getpid(), true), P + strlen("/sys/fs/cgroup"));
                _exit(0);
        }
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        kill(other.pid, SIGKILL);
        kid_wait(&other);
        int r = -1;
        for (int i = 0; i < 200 && (r = rmdir(P)) < 0 && errno == EBUSY; i++)
                usleep(10000);
        ASSERT_TRUE(r == 0);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
        return test_main(argc, argv);
}

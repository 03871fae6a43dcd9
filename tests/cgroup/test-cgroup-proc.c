/* SPDX-License-Identifier: MIT */
/* Tier none on the real kernel: the workload is the supervisor's process tree in /proc. A kid that
 * allocates 24M shows up in the RSS sum; its forked grandchild is part of the tree; kill_all ends
 * both and never us. Runs on any Linux host. */
#include "cgtest.h"

#include <sys/prctl.h>

#include "cgroup.h"

TEST(tier_none_tree)
{
        CgOptions o = { .requested = CG_TIER_NONE, .oom_group = -1, .tree_limit = 100ull << 20 };
        char *msg = NULL;
        Cg *cg = NULL;
        ASSERT_OK(cg_setup_run(&o, &cg, &msg));
        ASSERT_EQ(cg_tier(cg), CG_TIER_NONE);
        ASSERT_TRUE(cg_leaf_path(cg) == NULL);
        ASSERT_TRUE(strstr(cg_describe(cg), "none"));
        ASSERT_TRUE(cg_pressure_path(cg) == NULL);
        ASSERT_EQ(cg_psi_trigger_open(cg, "some 150000 2000000"), -EOPNOTSUPP);
        ASSERT_EQ(cg_set_memory_max(cg, 1 << 30), -EOPNOTSUPP);
        ASSERT_EQ(cg_events_fd(cg), -1);

        OomlessSample s0 = {};
        ASSERT_OK(cg_sample(cg, &s0));
        ASSERT_EQ(s0.nr_processes, 0);
        ASSERT_U64_EQ(s0.limit, 100ull << 20);
        ASSERT_EQ(cg_is_populated(cg), 0);

        Kid k;
        ASSERT_OK(kid_start(&k, NULL, -1));
        ASSERT_OK(cg_attach_pid(cg, k.pid));
        for (int i = 0; i < 3; i++)
                ASSERT_OK(kid_cmd(&k, 'a'));
        ASSERT_OK(kid_cmd(&k, 'f'));
        OomlessSample s = {};
        ASSERT_OK(cg_sample(cg, &s));
        ASSERT_EQ(s.nr_processes, 2);
        ASSERT_TRUE(s.current >= 3ull * KID_CHUNK);
        ASSERT_TRUE(s.anon >= 3ull * KID_CHUNK - (1 << 20));
        ASSERT_EQ(cg_is_populated(cg), 1);

        pid_t *pids = NULL;
        size_t n = 0;
        ASSERT_OK(cg_list_pids(cg, &pids, &n));
        ASSERT_EQ(n, 2);
        ASSERT_TRUE(pids[0] == k.pid || pids[1] == k.pid);
        free(pids);

        ASSERT_TRUE(cg_kill_all(cg, SIGKILL) >= 2);
        ASSERT_TRUE(WIFSIGNALED(kid_wait(&k)));
        for (int i = 0; i < 200; i++) {
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                if (cg_is_populated(cg) == 0)
                        break;
                usleep(10000);
        }
        ASSERT_EQ(cg_is_populated(cg), 0);
        cg_free(cg);
        free(msg);
}

TEST(attach_none_by_pid)
{
        Kid k;
        ASSERT_OK(kid_start(&k, NULL, -1));
        ASSERT_OK(kid_cmd(&k, 'a'));
        ASSERT_OK(kid_cmd(&k, 'f'));
        CgOptions o = { .requested = CG_TIER_NONE, .oom_group = -1, .tree_limit = UINT64_MAX };
        char *msg = NULL;
        Cg *cg = NULL;
        ASSERT_OK(cg_setup_attach(&o, k.pid, NULL, &cg, &msg));
        OomlessSample s = {};
        ASSERT_OK(cg_sample(cg, &s));
        ASSERT_EQ(s.nr_processes, 2); /* the pid itself and its child */
        ASSERT_TRUE(s.current >= KID_CHUNK);
        ASSERT_TRUE(s.limit > 0 && s.limit != UINT64_MAX); /* MemTotal */
        ASSERT_TRUE(cg_kill_all(cg, SIGKILL) >= 2);        /* the attached pid and its child */
        ASSERT_TRUE(WIFSIGNALED(kid_wait(&k)));
        for (int i = 0; i < 200 && cg_is_populated(cg) != 0; i++) {
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                usleep(10000);
        }
        ASSERT_EQ(cg_is_populated(cg), 0);
        cg_free(cg);
        free(msg);
        /* The killed grandchild was an orphan handed to us: reap it before the next test counts. */
        while (waitpid(-1, NULL, 0) > 0)
                ;
}

int main(int argc, char **argv)
{
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
        return test_main(argc, argv);
}

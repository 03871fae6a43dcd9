/* SPDX-License-Identifier: MIT */
/* Tier detection, on this host and on fixture trees (tests/fixtures/cgroupfs/<case>/, see
 * cgtest_fixture()). */
#include "cgtest.h"

#include "cgroup.h"
#include "cgroup-internal.h"
#include "macro.h"

#ifndef FIXTURE_DIR
#error FIXTURE_DIR must point at tests/fixtures/cgroupfs
#endif

static CgTier detect(const char *root, CgTier want, char **msg)
{
        CgOptions o = { .requested = want, .root = root, .oom_group = -1, .tree_limit = UINT64_MAX };
        CgTier t = _CG_TIER_INVALID;
        free(*msg);
        *msg = NULL;
        int r = cg_detect(&o, &t, msg);
        return r < 0 ? (CgTier)r : t;
}

TEST(tier_strings)
{
        for (int t = 0; t < _CG_TIER_MAX; t++)
                ASSERT_EQ(cg_tier_from_string(cg_tier_to_string((CgTier)t)), t);
        ASSERT_EQ(cg_tier_from_string("auto"), CG_TIER_AUTO);
        ASSERT_EQ(cg_tier_from_string("v3"), _CG_TIER_INVALID);
}

/* What detection decides on each fixture for each requested tier: a tier, or a refusal (negative
 * errno) whose message names the reason and the way out. */
TEST(fixture_verdicts)
{
        static const struct {
                const char *fixture;
                CgTier requested;
                int want;
                const char *says[2]; /* words the refusal's message must contain */
        } cases[] = {
                { "v2", CG_TIER_AUTO, CG_TIER_V2 },
                { "v2", CG_TIER_V2, CG_TIER_V2 },
                { "v2", CG_TIER_OBSERVE, CG_TIER_OBSERVE },
                { "v2", CG_TIER_NONE, CG_TIER_NONE },
                /* no v1 hierarchy: forcing v1 is refused with the reason */
                { "v2", CG_TIER_V1, -EOPNOTSUPP, { "--cgroup-mode=v1", "no cgroup v1 hierarchy" } },
                { "v1-hybrid", CG_TIER_AUTO, CG_TIER_V1 },
                { "v1-hybrid",
                  CG_TIER_V2,
                  -EOPNOTSUPP,
                  { "memory controller is not available", "--cgroup-mode=v1" } },
                { "observe", CG_TIER_AUTO, CG_TIER_OBSERVE },
                { "observe", CG_TIER_V2, -EROFS, { "read-only file system", "--cgroup-mode=observe" } },
                { "observe", CG_TIER_V1, -EOPNOTSUPP },
                /* the later ro bind of the container's own cgroup hides the rw mount below it */
                { "observe-bind", CG_TIER_AUTO, CG_TIER_OBSERVE },
                { "v1-readonly", CG_TIER_AUTO, CG_TIER_OBSERVE },
                { "v1-readonly", CG_TIER_V1, -EROFS, { "read-only", "--cgroup-mode=observe" } },
                { "none", CG_TIER_AUTO, CG_TIER_NONE },
                { "none", CG_TIER_OBSERVE, -EOPNOTSUPP, { "--cgroup-mode=none" } },
                { "none", CG_TIER_V2, -EOPNOTSUPP, { "memory controller is not available" } },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *msg = NULL;
                int t = detect(cgtest_fixture(cases[i].fixture), cases[i].requested, &msg);
                printf("%s, %s: %d (%s)\n", cases[i].fixture, cg_tier_to_string(cases[i].requested), t,
                       msg ? msg : "");
                ASSERT_EQ(t, cases[i].want);
                for (size_t k = 0; k < ELEMENTSOF(cases[i].says) && cases[i].says[k]; k++)
                        ASSERT_TRUE(msg && strstr(msg, cases[i].says[k]));
                free(msg);
        }
}

/* The host description of fixture: the caller calls cg_host_done(). */
static CgHost host_of(const char *root)
{
        CgHost h = {};
        ASSERT_OK(cg_host_load(root, 0, &h));
        return h;
}

static void assert_path_under(const char *got, const char *root, const char *rel)
{
        char want[600];
        snprintf(want, sizeof(want), "%s%s", root, rel);
        ASSERT_STREQ(got, want);
}

TEST(fixture_v2)
{
        const char *root = cgtest_fixture("v2");
        CgHost h = host_of(root);
        assert_path_under(h.v2_dir, root, "/sys/fs/cgroup/system.slice/app.service");
        ASSERT_STREQ(h.v2_path, "/system.slice/app.service");
        ASSERT_TRUE(h.v1_dir == NULL);
        ASSERT_U64_EQ(h.memtotal, 8000000ull * 1024);
        /* Percent sizes resolve against the smallest limit above: system.slice's 1G. */
        uint64_t above;
        ASSERT_OK(cg_limit_above(CG_FILES_V2, h.v2_dir, h.v2_mount, h.memtotal, &above));
        ASSERT_U64_EQ(above, 1073741824ull);
        cg_host_done(&h);
}

TEST(fixture_v1_hybrid)
{
        const char *root = cgtest_fixture("v1-hybrid");
        CgHost h = host_of(root);
        ASSERT_STREQ(h.v1_path, "/jobs/job1");
        ASSERT_STREQ(h.v2_path, "/");
        uint64_t above;
        ASSERT_OK(cg_limit_above(CG_FILES_V1, h.v1_dir, h.v1_mount, h.memtotal, &above));
        ASSERT_U64_EQ(above, 536870912ull);
        cg_host_done(&h);

        /* Attach by a path relative to the memory mount; fixture sampling of the v1 files. */
        Cg *cg = cgtest_fixture_cg(root, "jobs/job1", UINT64_MAX);
        ASSERT_EQ(cg_tier(cg), CG_TIER_V1);
        OomlessSample s = {};
        ASSERT_OK(cg_sample(cg, &s));
        ASSERT_U64_EQ(s.current, 4096);
        ASSERT_U64_EQ(s.anon, 4096);
        ASSERT_U64_EQ(s.limit, 536870912ull);
        ASSERT_TRUE(!s.psi_valid); /* the unified twin is "/", not the same cgroup: no PSI from it */
        cg_free(cg);
}

TEST(fixture_observe)
{
        Cg *cg = cgtest_fixture_cg(cgtest_fixture("observe"), NULL, UINT64_MAX);
        ASSERT_EQ(cg_tier(cg), CG_TIER_OBSERVE);
        ASSERT_TRUE(strstr(cg_describe(cg), "observe") && strstr(cg_describe(cg), "read-only"));
        OomlessSample s = {};
        ASSERT_OK(cg_sample(cg, &s));
        ASSERT_U64_EQ(s.current, 52428800);
        ASSERT_U64_EQ(s.limit, 268435456);
        ASSERT_EQ(cg_set_memory_max(cg, 1 << 20), -EOPNOTSUPP);
        ASSERT_EQ(cg_kill_all(cg, 0), -EPERM); /* the fixture's "1" in cgroup.procs is not our init */
        int dirfd;
        const int *join;
        ASSERT_OK(cg_spawn_fds(cg, &dirfd, &join));
        ASSERT_EQ(dirfd, -1);
        ASSERT_EQ(join[0], -1);
        cg_free(cg);
}

TEST(fixture_observe_bind_mount_root)
{
        /* The later ro bind of the container's own cgroup hides the rw mount below it. */
        const char *root = cgtest_fixture("observe-bind");
        CgHost h = host_of(root);
        assert_path_under(h.v2_dir, root, "/sys/fs/cgroup");
        ASSERT_TRUE(h.v2_mount_ro);
        cg_host_done(&h);
}

TEST(this_host)
{
        /* Here memory is on v1 and the unified tree has no memory controller: v1, with our own v1
         * memory cgroup as the parent of the leaf. In the v2 VM: v2. */
        char *msg = NULL;
        CgTier t = detect(NULL, CG_TIER_AUTO, &msg);
        CgHost h = {};
        ASSERT_OK(cg_host_load(NULL, 0, &h));
        if (h.v1_dir) {
                ASSERT_EQ(t, CG_TIER_V1);
                const char *own = proc_cgroup_path(getpid(), false);
                ASSERT_TRUE(own);
                ASSERT_STREQ(h.v1_path, own);
                char want[8192];
                snprintf(want, sizeof(want), "/sys/fs/cgroup/memory%s", strcmp(own, "/") ? own : "");
                ASSERT_STREQ(h.v1_dir, want);
                ASSERT_EQ(detect(NULL, CG_TIER_V2, &msg), -EOPNOTSUPP);
                ASSERT_TRUE(msg && strstr(msg, "v1"));
        } else if (h.v2_dir)
                ASSERT_TRUE(t == CG_TIER_V2 || t == CG_TIER_OBSERVE || t == CG_TIER_NONE);
        cg_host_done(&h);
        free(msg);
}

static void put(const char *root, const char *rel, const char *text)
{
        char p[1024], cmd[1200];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", p);
        if (system(cmd) != 0)
                TEST_FAIL("mkdir for %s", p);
        FILE *f = fopen(p, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                TEST_FAIL("cannot write %s", p);
}

/* Malformed mountinfo and cgroup files: no crash, and the verdict degrades to a tier that needs
 * nothing from them. */
TEST(malformed_proc_files)
{
        static const char *mountinfo[] = {
                "",
                "garbage\n",
                "31 23 0:27 / /sys/fs/cgroup rw - cgroup2\n",                   /* no source/options */
                "31 23 0:27 /a/../.. /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", /* odd root */
                "31 23 0:27 / /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n",
                "1 2 3 4 5 6 - - - -\n\n\n",
        };
        static const char *cgroup[] = { "",           "::\n",
                                        "0::\n",      "0::/../..\n",
                                        "x:memory\n", "4:memory:/a\n0::/b (deleted)\n" };
        char root[512];
        snprintf(root, sizeof(root), "%s", cgtest_fixture("none"));
        for (size_t i = 0; i < sizeof(mountinfo) / sizeof(mountinfo[0]); i++)
                for (size_t j = 0; j < sizeof(cgroup) / sizeof(cgroup[0]); j++) {
                        char *msg = NULL;
                        put(root, "proc/self/mountinfo", mountinfo[i]);
                        put(root, "proc/self/cgroup", cgroup[j]);
                        CgTier t = detect(root, CG_TIER_AUTO, &msg);
                        if (t != CG_TIER_NONE)
                                TEST_FAIL("mountinfo case %zu, cgroup case %zu: tier %d (%s)", i, j, (int)t,
                                          msg ? msg : "");
                        ASSERT_TRUE(detect(root, CG_TIER_V2, &msg) < 0 && msg && *msg);
                        free(msg);
                }
}

int main(int argc, char **argv)
{
        return test_main(argc, argv);
}

/* SPDX-License-Identifier: MIT */
/* The kernel log parser on literal records of a memcg OOM kill (6.1 and 6.18 wording), names with
 * spaces and parentheses, other cgroups' kills and malformed text. */
#include <string.h>

#include "kmsg.h"
#include "test.h"

TEST(killed_process)
{
        KmsgOomKill k;

        ASSERT_TRUE(kmsg_parse_killed(
            "Memory cgroup out of memory: Killed process 19374 (dd) total-vm:6032kB, anon-rss:1408kB, "
            "file-rss:1664kB, shmem-rss:0kB, UID:0 pgtables:52kB oom_score_adj:0",
            &k));
        ASSERT_EQ(k.pid, 19374);
        ASSERT_STREQ(k.comm, "dd");
        ASSERT_U64_EQ(k.total_vm, 6032 * 1024);
        ASSERT_U64_EQ(k.anon_rss, 1408 * 1024);
        ASSERT_U64_EQ(k.file_rss, 1664 * 1024);
        ASSERT_U64_EQ(k.shmem_rss, 0);
        /* a name with a space and a parenthesis of its own */
        ASSERT_TRUE(kmsg_parse_killed("Memory cgroup out of memory: Killed process 7 (my (x) app) "
                                      "total-vm:10kB, anon-rss:2kB, file-rss:0kB, shmem-rss:3kB",
                                      &k));
        ASSERT_STREQ(k.comm, "my (x) app");
        ASSERT_U64_EQ(k.shmem_rss, 3 * 1024);
        ASSERT_TRUE(!kmsg_parse_killed("Killed process x (dd)", &k));
        ASSERT_TRUE(!kmsg_parse_killed("Killed process 12 dd", &k));
        ASSERT_TRUE(!kmsg_parse_killed("oom_reaper: reaped process 19374 (dd)", &k));
}

TEST(constraint)
{
        pid_t pid = 0;
        const char *ours = "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
                           "oom_memcg=/process_api/9a/oomless-19371-77271e80,task_memcg=/process_api/9a/"
                           "oomless-19371-77271e80,task=dd,pid=19374,uid=0";

        ASSERT_TRUE(kmsg_parse_constraint(ours, "oomless-19371-77271e80", &pid));
        ASSERT_EQ(pid, 19374);
        /* another instance's leaf, and a name that only shares a suffix */
        ASSERT_TRUE(!kmsg_parse_constraint(ours, "oomless-1-77271e80", &pid));
        ASSERT_TRUE(!kmsg_parse_constraint(ours, "77271e80", &pid));
        ASSERT_TRUE(!kmsg_parse_constraint("oom-kill:constraint=CONSTRAINT_NONE,oom_memcg=/,task=x,pid=1",
                                           "oomless-1-2", &pid));
        ASSERT_TRUE(!kmsg_parse_constraint("Killed process 1 (x)", "oomless-1-2", &pid));
}

TEST_MAIN()

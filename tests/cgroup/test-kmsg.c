/* SPDX-License-Identifier: MIT */
/* The kernel log parser on literal records of a memcg OOM kill (6.1 and 6.18 wording), names with
 * spaces and parentheses, other cgroups' kills and malformed text; hostile names and records a process
 * wrote itself; the reader across calls on a SEQPACKET socket standing in for /dev/kmsg (one record
 * per read, EAGAIN at the end), and a forged record through the real /dev/kmsg (root). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "kmsg.h"
#include "macro.h"
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

TEST(hostile_names)
{
        KmsgOomKill k;
        pid_t pid = 0;

        /* A process named ",pid=9" (prctl(PR_SET_NAME)): the kernel's pid is the last one. */
        ASSERT_TRUE(kmsg_parse_constraint("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,"
                                          "mems_allowed=0,oom_memcg=/a/ours,task_memcg=/a/ours,task=,pid=9,"
                                          "pid=19374,uid=0",
                                          "ours", &pid));
        ASSERT_EQ(pid, 19374);
        /* ... and cgroups named so, below ours (the victim is in a child of our leaf) */
        ASSERT_TRUE(kmsg_parse_constraint("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/a/"
                                          "ours/x,pid=7,mems_allowed=0,oom_memcg=/a/ours,task_memcg=/a/ours/"
                                          "x,pid=7,task=dd,pid=55,uid=0",
                                          "ours", &pid));
        ASSERT_EQ(pid, 55);
        /* a forged earlier field does not hide the kernel's own */
        ASSERT_TRUE(kmsg_parse_constraint("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/b/"
                                          "task_memcg=,mems_allowed=0,oom_memcg=/a/ours,task_memcg=/a/ours,"
                                          "task=dd,pid=56,uid=0",
                                          "ours", &pid));
        ASSERT_EQ(pid, 56);
        /* no digits after the last ",pid=": not taken rather than a wrong pid */
        ASSERT_TRUE(
            !kmsg_parse_constraint("oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/a/ours,task_memcg="
                                   "/a/ours,task=dd,pid=56,uid=0,pid=x",
                                   "ours", &pid));
        ASSERT_TRUE(
            !kmsg_parse_constraint("oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/a/ours,task_memcg="
                                   "/a/ours,task=dd,pid=56x,uid=0",
                                   "ours", &pid));
        /* a name that only starts like ours */
        ASSERT_TRUE(
            !kmsg_parse_constraint("oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/a/oursx,task_memcg="
                                   "/a/oursx,task=dd,pid=56,uid=0",
                                   "ours", &pid));
        /* A process named "a) total-vm:1": the name ends at the last ") total-vm:". */
        ASSERT_TRUE(
            kmsg_parse_killed("Memory cgroup out of memory: Killed process 19374 (a) total-vm:1) "
                              "total-vm:6032kB, anon-rss:1408kB, file-rss:1664kB, shmem-rss:0kB, UID:0",
                              &k));
        ASSERT_EQ(k.pid, 19374);
        ASSERT_STREQ(k.comm, "a) total-vm:1");
        ASSERT_U64_EQ(k.total_vm, 6032 * 1024);
        ASSERT_U64_EQ(k.anon_rss, 1408 * 1024);
}

TEST(record_facility)
{
        char kern[] = "3,1017,5542871,-;oom-kill:constraint=CONSTRAINT_MEMCG,task=dd,pid=1,uid=0\n"
                      " SUBSYSTEM=x\n";
        char user[] = "12,1018,5542872,-;oom-kill:constraint=CONSTRAINT_MEMCG,task=dd,pid=1,uid=0\n";
        char user_kern_level[] = "8,1019,5542873,-;Killed process 1 (dd) total-vm:1kB\n";
        char junk[] = "oom-kill:constraint=CONSTRAINT_MEMCG;x\n";
        const char *msg = kmsg_record_message(kern);

        ASSERT_TRUE(msg != NULL);
        ASSERT_STREQ(msg, "oom-kill:constraint=CONSTRAINT_MEMCG,task=dd,pid=1,uid=0");
        ASSERT_TRUE(kmsg_record_message(user) == NULL);
        ASSERT_TRUE(kmsg_record_message(user_kern_level) == NULL);
        ASSERT_TRUE(kmsg_record_message(junk) == NULL);
}

static void send_record(int fd, const char *rec)
{
        ASSERT_EQ(send(fd, rec, strlen(rec), 0), (ssize_t)strlen(rec));
}

#define CONSTRAINT(pri, memcg, pid)                                                                         \
        pri ",2001,100,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"     \
            "oom_memcg=/k/" memcg ",task_memcg=/k/" memcg ",task=dd,pid=" pid ",uid=0\n"
#define KILLED(pri, pid)                                                                                    \
        pri ",2002,101,-;Memory cgroup out of memory: Killed process " pid " (dd) total-vm:6032kB, "        \
            "anon-rss:1408kB, file-rss:1664kB, shmem-rss:4kB, UID:0 pgtables:52kB oom_score_adj:0\n"

/* The read woken by the counter ends between the constraint line and "Killed process": the next call
 * still names the victim. */
TEST(read_across_calls)
{
        KmsgMatch match = {};
        KmsgOomKill k[4];
        int sv[2];

        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
        send_record(sv[1], CONSTRAINT("3", "cri-containerd-ab.scope", "4242"));
        ASSERT_EQ(kmsg_read_oom_kills(sv[0], "cri-containerd-ab.scope", &match, k, 4), 0);
        send_record(sv[1], "6,2003,102,-;unrelated line\n");
        send_record(sv[1], KILLED("3", "4242"));
        ASSERT_EQ(kmsg_read_oom_kills(sv[0], "cri-containerd-ab.scope", &match, k, 4), 1);
        ASSERT_EQ(k[0].pid, 4242);
        ASSERT_STREQ(k[0].comm, "dd");
        ASSERT_U64_EQ(k[0].shmem_rss, 4 * 1024);

        /* Another cgroup's kill, and a pair a process wrote to /dev/kmsg itself (facility user). */
        send_record(sv[1], CONSTRAINT("3", "other.scope", "77"));
        send_record(sv[1], KILLED("3", "77"));
        send_record(sv[1], CONSTRAINT("12", "cri-containerd-ab.scope", "78"));
        send_record(sv[1], KILLED("12", "78"));
        ASSERT_EQ(kmsg_read_oom_kills(sv[0], "cri-containerd-ab.scope", &match, k, 4), 0);
        /* A forged "Killed process" does not complete a real pending constraint line either. */
        send_record(sv[1], CONSTRAINT("3", "cri-containerd-ab.scope", "79"));
        send_record(sv[1], KILLED("14", "79"));
        ASSERT_EQ(kmsg_read_oom_kills(sv[0], "cri-containerd-ab.scope", &match, k, 4), 0);
        send_record(sv[1], KILLED("3", "79"));
        ASSERT_EQ(kmsg_read_oom_kills(sv[0], "cri-containerd-ab.scope", &match, k, 4), 1);
        ASSERT_EQ(k[0].pid, 79);
        /* Two kills logged while the counter showed one: the second stays for the next rise. */
        send_record(sv[1], CONSTRAINT("3", "cri-containerd-ab.scope", "80"));
        send_record(sv[1], KILLED("3", "80"));
        send_record(sv[1], CONSTRAINT("3", "cri-containerd-ab.scope", "81"));
        send_record(sv[1], KILLED("3", "81"));
        ASSERT_EQ(kmsg_read_oom_kills(sv[0], "cri-containerd-ab.scope", &match, k, 1), 1);
        ASSERT_EQ(k[0].pid, 80);
        ASSERT_EQ(kmsg_read_oom_kills(sv[0], "cri-containerd-ab.scope", &match, k, 4), 1);
        ASSERT_EQ(k[0].pid, 81);
        close(sv[0]);
        close(sv[1]);
}

static void put(const char *root, const char *rel, const char *text)
{
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        for (char *s = strchr(path + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                (void)mkdir(path, 0755);
                *s = '/';
        }
        f = fopen(path, "we");
        ASSERT_TRUE(f != NULL);
        fputs(text, f);
        ASSERT_EQ(fclose(f), 0);
}

/* attach to a pid whose cgroup is not in our view (a sibling container's cgroup namespace): its files
 * are read through /proc/PID/root/sys/fs/cgroup, whose last component ("cgroup") is not its memcg's;
 * the kernel log's name is kept from /proc/PID/cgroup. A sysroot tree stands in for / (no root). */
TEST(attach_proc_root_memcg)
{
        static const char *const files[] = {
                "proc/self/mountinfo",
                "proc/self/cgroup",
                "proc/4242/cgroup",
                "proc/4242/root/sys/fs/cgroup/memory.current",
                "proc/4242/root/sys/fs/cgroup/memory.max",
                "proc/4242/root/sys/fs/cgroup/cgroup.controllers",
                "proc/4242/root/sys/fs/cgroup/cgroup.procs",
                "sys/fs/cgroup/cgroup.controllers",
        };
        char root[] = "/tmp/oomless-kmsg-XXXXXX", path[4096], *msg = NULL;
        CgOptions o = { .requested = CG_TIER_AUTO, .oom_group = -1, .tree_limit = UINT64_MAX };
        const char *memcg, *name;
        pid_t pid = 0;
        Cg *cg = NULL;
        int r;

        ASSERT_TRUE(mkdtemp(root) != NULL);
        o.root = root;
        put(root, files[0],
            "700 690 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup "
            "ro,nsdelegate\n");
        put(root, files[1], "0::/\n");
        put(root, files[2], "0::/../cri-containerd-ab.scope\n");
        put(root, files[3], "52428800\n");
        put(root, files[4], "268435456\n");
        put(root, files[5], "memory pids\n");
        put(root, files[6], "1\n");
        put(root, files[7], "memory pids\n");
        r = cg_setup_attach(&o, 4242, NULL, &cg, &msg);
        if (r < 0)
                TEST_FAIL("attach through %s/proc/4242/root: %s", root, msg ? msg : strerror(-r));
        ASSERT_TRUE(strstr(cg_leaf_path(cg), "/proc/4242/root/sys/fs/cgroup") != NULL);
        memcg = cg_memcg_path(cg);
        ASSERT_TRUE(memcg != NULL);
        ASSERT_STREQ(memcg, "/../cri-containerd-ab.scope");
        /* what manager-decide.c matches the kernel's full path with */
        name = strrchr(memcg, '/') + 1;
        ASSERT_TRUE(kmsg_parse_constraint("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,"
                                          "mems_allowed=0,oom_memcg=/kubepods/pod1/cri-containerd-ab.scope,"
                                          "task_memcg=/kubepods/pod1/cri-containerd-ab.scope,task=dd,pid=42,"
                                          "uid=0",
                                          name, &pid));
        ASSERT_EQ(pid, 42);
        cg_free(cg);
        free(msg);
        for (size_t i = ELEMENTSOF(files); i > 0; i--) {
                snprintf(path, sizeof(path), "%s/%s", root, files[i - 1]);
                ASSERT_EQ(unlink(path), 0);
        }
        static const char *const dirs[] = { "proc/4242/root/sys/fs/cgroup",
                                            "proc/4242/root/sys/fs",
                                            "proc/4242/root/sys",
                                            "proc/4242/root",
                                            "proc/4242",
                                            "proc/self",
                                            "proc",
                                            "sys/fs/cgroup",
                                            "sys/fs",
                                            "sys",
                                            "" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
                ASSERT_EQ(rmdir(path), 0);
        }
}

/* Its own ctest (cgroup/kmsg-real), as it may skip. A process that can write /dev/kmsg writes an OOM report
 * naming our memcg; the real kernel log holds it (read raw), and the reader does not take it. */
TEST(real_kmsg_forged)
{
        char name[64], line[512], rec[8192];
        KmsgMatch match = {};
        KmsgOomKill k[4];
        int rfd, raw, wfd, pid = 900000 + (int)(getpid() % 99999);
        bool seen = false;

        snprintf(name, sizeof(name), "oomless-forge-%d", (int)getpid());
        rfd = kmsg_open();
        raw = kmsg_open();
        wfd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
        if (rfd < 0 || raw < 0 || wfd < 0)
                test_skip("/dev/kmsg cannot be read and written here (needs root)");
        snprintf(
            line, sizeof(line),
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/t/%s,"
            "task_memcg=/t/%s,task=dd,pid=%d,uid=0\n",
            name, name, pid);
        ASSERT_EQ(write(wfd, line, strlen(line)), (ssize_t)strlen(line));
        snprintf(line, sizeof(line),
                 "<0>Memory cgroup out of memory: Killed process %d (dd) total-vm:1kB, anon-rss:1kB, "
                 "file-rss:0kB, shmem-rss:0kB\n",
                 pid);
        ASSERT_EQ(write(wfd, line, strlen(line)), (ssize_t)strlen(line));
        for (;;) {
                ssize_t n = read(raw, rec, sizeof(rec) - 1);
                if (n < 0 && errno == EPIPE)
                        continue;
                if (n <= 0)
                        break;
                rec[n] = '\0';
                seen = seen || strstr(rec, name);
        }
        ASSERT_TRUE(seen);
        ASSERT_EQ(kmsg_read_oom_kills(rfd, name, &match, k, 4), 0);
        ASSERT_EQ(match.pid, 0);
        close(rfd);
        close(raw);
        close(wfd);
}

TEST_MAIN()

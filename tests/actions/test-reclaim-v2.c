/* SPDX-License-Identifier: MIT */
/*
 * memory.reclaim through the reclaim worker on a real cgroup v2 memory controller. Runs where
 * /sys/fs/cgroup is a writable cgroup2 mount with the memory controller available to our own
 * cgroup (the tests/vm guest); exits 77 anywhere else, before writing anything.
 *
 *   <own cgroup>/
 *     oomless-reclaim-v2-<pid>/    created here; a child reads ~48 MiB of files into page cache,
 *                                  charged here, then exits; we reclaim 32 MiB and expect
 *                                  memory.current to fall by at least 8 MiB; removed at the end
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "helpers.h"
#include "reclaim.h"

static char leaf[1200];

T_DEFINE_DONE(ReclaimResult)

static uint64_t read_u64(const char *dir, const char *file)
{
        char path[1400];
        unsigned long long v = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        FILE *f = fopen(path, "re");
        ASSERT_TRUE(f);
        ASSERT_EQ(fscanf(f, "%llu", &v), 1);
        fclose(f);
        return v;
}

static bool file_has_word(const char *path, const char *word)
{
        char buf[512] = "";
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        (void)!fgets(buf, sizeof(buf), f);
        fclose(f);
        for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
                if (streq(t, word))
                        return true;
        return false;
}

static void fill_page_cache(uint64_t want)
{
        static char buf[1 << 16];
        const char *dirs[] = { "/usr/lib/x86_64-linux-gnu", "/usr/bin", "/usr/lib" };
        uint64_t got = 0;

        for (size_t i = 0; i < ELEMENTSOF(dirs) && got < want; i++) {
                DIR *d = opendir(dirs[i]);
                struct dirent *de;
                while (d && (de = readdir(d)) && got < want) {
                        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                        struct stat st;
                        ssize_t n;
                        if (fd < 0)
                                continue;
                        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                                while ((n = read(fd, buf, sizeof(buf))) > 0)
                                        got += (uint64_t)n;
                        close(fd);
                }
                if (d)
                        closedir(d);
        }
}

TEST(reclaim_shrinks_page_cache)
{
        struct statfs sfs;
        char own[1024] = "", path[1400];

        if (statfs("/sys/fs/cgroup", &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
                test_skip("/sys/fs/cgroup is not a cgroup2 mount (pure v2 runs in the VM: tests/vm)");
        ASSERT_TRUE(t_own_cgroup(true, own, sizeof(own)));
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", own);
        if (!file_has_word(path, "memory"))
                test_skip("the memory controller is not enabled for children of %s", own);
        snprintf(leaf, sizeof(leaf), "%s/oomless-reclaim-v2-%d", own, (int)getpid());
        if (mkdir(leaf, 0755) < 0)
                test_skip("cannot create %s: %s", leaf, strerror(errno));

        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                snprintf(path, sizeof(path), "%s/cgroup.procs", leaf);
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, "0", 1) != 1)
                        _exit(2);
                fill_page_cache(UINT64_C(48) << 20);
                _exit(0);
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_EQ(WEXITSTATUS(st), 0);

        uint64_t before = read_u64(leaf, "memory.current");
        printf("memory.current after reading files: %llu\n", (unsigned long long)before);
        ASSERT_TRUE(before >= UINT64_C(16) << 20);

        int fd = reclaim_open(leaf);
        ASSERT_OK(fd);
        sd_event *e = NULL;
        Reclaimer *r = NULL;
        Done d = {};
        TickProbe probe;
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(reclaimer_new(e, reclaim_write_fd, (void *)(intptr_t)fd, &r));
        t_tick_start(e, &probe, 20000);
        ASSERT_OK(reclaimer_start(r, UINT64_C(32) << 20, 30 * 1000000, on_done, &d));
        ASSERT_TRUE(t_run_until(e, &d.done, 60 * 1000000));
        t_tick_stop(&probe);
        uint64_t after = read_u64(leaf, "memory.current");
        printf("reclaim: error %d, %llu of %llu bytes in %llu ms; memory.current %llu -> %llu; lateness "
               "%llu ms\n",
               d.res.error, (unsigned long long)d.res.reclaimed, (unsigned long long)d.res.requested,
               (unsigned long long)d.res.duration_usec / 1000, (unsigned long long)before,
               (unsigned long long)after, (unsigned long long)probe.max_late_usec / 1000);
        reclaimer_free(r);
        close(fd);
        sd_event_unref(e);
        ASSERT_OK(rmdir(leaf));

        ASSERT_TRUE(d.res.error == 0 || d.res.error == -EAGAIN);
        ASSERT_TRUE(d.res.reclaimed > 0);
        ASSERT_TRUE(after + (UINT64_C(8) << 20) <= before);
}

TEST_MAIN()

/* SPDX-License-Identifier: MIT */
/*
 * Giving memory back. The fragmentation scenario of issue 4, scaled to 256 MiB: fill with 256-byte
 * objects, free 90% of them in page-sized runs (keep one run in ten), then make no call at all for
 * 1.5 s: the background scavenger must bring RSS (from /proc/self/statm) to <= 1.3x the live set
 * above the starting point. malloc_trim(0) must then bring it lower still. The same scenario runs
 * in a child inside a fresh memory cgroup, where memory.usage_in_bytes (v1) / memory.current (v2)
 * must drop the same way.
 *
 *   <own memory cgroup>/oomless-alloc-scav-<pid>/   limit 1G; child runs the scenario, reports
 *   phases over a pipe; the parent reads the cgroup's usage at each phase.
 */
#include <dirent.h>
#include <malloc.h>
#include <sys/mman.h>

#include "alloc-cg.h"
#include "oomless/oomless.h"
#include "test.h"
#include "alloc-test.h"

#define OBJ   256
#define TOTAL (256ull << 20)
#define N     (TOTAL / OBJ)
#define RUN   (8192 / OBJ) /* objects in one 8 KiB page */

static unsigned long long rss(void)
{
        char buf[256];
        unsigned long long size, res;
        FILE *f = fopen("/proc/self/statm", "re");
        if (!f)
                return 0;
        if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%llu %llu", &size, &res) != 2)
                res = 0;
        fclose(f);
        return res * (unsigned long long)sysconf(_SC_PAGESIZE);
}

static char **objs;

/* The pointer array is test overhead (8 MiB): map and touch it before any RSS baseline. */
static void objs_prepare(void)
{
        if (objs)
                return;
        objs = mmap(NULL, N * sizeof(char *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(objs != MAP_FAILED);
        memset(objs, 0, N * sizeof(char *));
}

/* Returns the live bytes. */
static unsigned long long fill_and_fragment(void)
{
        unsigned long long live = 0;
        objs_prepare();
        for (size_t i = 0; i < N; i++) {
                objs[i] = malloc(OBJ);
                ASSERT_TRUE(objs[i] != NULL);
                memset(objs[i], (int)i, OBJ);
        }
        for (size_t i = 0; i < N; i++) {
                if ((i / RUN) % 10 == 0) {
                        live += OBJ;
                        continue;
                }
                free(objs[i]);
                objs[i] = NULL;
        }
        return live;
}

static void free_rest(void)
{
        for (size_t i = 0; i < N; i++) {
                free(objs[i]);
                objs[i] = NULL;
        }
}

TEST(rss_drops_when_idle_and_after_trim)
{
        ASSERT_TRUE(oomless_available());
        objs_prepare();
        malloc_trim(0);
        long long base = (long long)rss();
        long long live = (long long)fill_and_fragment();
        long long peak = (long long)rss();
        at_sleep_ms(1500); /* no allocator call at all */
        long long idle = (long long)rss();
        ASSERT_TRUE(malloc_trim(0) >= 0);
        long long trimmed = (long long)rss();
        printf("  base %lld MiB, live %lld MiB, after free %lld MiB, idle 1.5 s %lld MiB, trim %lld MiB\n",
               base >> 20, live >> 20, peak >> 20, idle >> 20, trimmed >> 20);
        ASSERT_TRUE(peak - base > live * 3); /* most came back only while idle: the drop is real */
        if (idle - base > live * 13 / 10)
                TEST_FAIL("RSS above start after idle: %lld > 1.3 x live %lld", idle - base, live);
        if (trimmed - base > live * 12 / 10)
                TEST_FAIL("RSS above start after trim: %lld > 1.2 x live %lld", trimmed - base, live);
        struct oomless_stats st = { .size = sizeof(st) };
        ASSERT_OK(oomless_try_stats(&st));
        ASSERT_TRUE(st.returned >= TOTAL / 2);
        ASSERT_TRUE(st.scavenges >= 2);
        free_rest();
}

TEST(explicit_scavenge)
{
        /* The background scavenger may take part of it first (the program is allowed to be idle),
         * so the test counts what came back by either path. */
        struct oomless_stats st0 = { .size = sizeof(st0) }, st1 = { .size = sizeof(st1) };
        objs_prepare();
        malloc_trim(0);
        ASSERT_OK(oomless_try_stats(&st0));
        long long base = (long long)rss();
        long long live = (long long)fill_and_fragment();
        size_t got = oomless_try_scavenge();
        long long after = (long long)rss();
        ASSERT_OK(oomless_try_stats(&st1));
        printf("  oomless_scavenge returned %zu MiB, %llu MiB in all; RSS above start %lld MiB (live %lld "
               "MiB)\n",
               got >> 20, (unsigned long long)(st1.returned - st0.returned) >> 20, (after - base) >> 20,
               live >> 20);
        ASSERT_TRUE(st1.returned - st0.returned >= TOTAL / 2);
        ASSERT_TRUE(after - base <= live * 12 / 10);
        free_rest();
}

static AllocCg cg;

static void cleanup(void)
{
        acg_destroy(&cg);
}

TEST(cgroup_usage_drops)
{
        if (geteuid() != 0)
                test_skip("needs root to create a memory cgroup");
        if (!acg_create(&cg, "oomless-alloc-scav", 1ull << 30))
                test_skip("cannot create a child memory cgroup under our own");
        atexit(cleanup);
        int go[2], phase[2];
        ASSERT_EQ(pipe(go), 0);
        ASSERT_EQ(pipe(phase), 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                char c;
                objs_prepare();
                if (read(go[0], &c, 1) != 1) /* wait until we are in the cgroup */
                        _exit(2);
                fill_and_fragment();
                if (write(phase[1], "f", 1) != 1 || read(go[0], &c, 1) != 1)
                        _exit(3);
                at_sleep_ms(1500);
                if (write(phase[1], "i", 1) != 1 || read(go[0], &c, 1) != 1)
                        _exit(4);
                malloc_trim(0);
                if (write(phase[1], "t", 1) != 1 || read(go[0], &c, 1) != 1)
                        _exit(5);
                _exit(0);
        }
        char c;
        ASSERT_TRUE(acg_attach(&cg, pid));
        unsigned long long base = acg_usage(&cg);
        ASSERT_EQ(write(go[1], "g", 1), 1);
        ASSERT_EQ(read(phase[0], &c, 1), 1);
        unsigned long long filled = acg_usage(&cg);
        ASSERT_EQ(write(go[1], "g", 1), 1);
        ASSERT_EQ(read(phase[0], &c, 1), 1);
        unsigned long long idle = acg_usage(&cg);
        ASSERT_EQ(write(go[1], "g", 1), 1);
        ASSERT_EQ(read(phase[0], &c, 1), 1);
        unsigned long long trimmed = acg_usage(&cg);
        ASSERT_EQ(write(go[1], "g", 1), 1);
        int status = at_wait(pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        printf("  cgroup usage: start %llu MiB, after free %llu MiB, idle %llu MiB, trim %llu MiB\n",
               base >> 20, filled >> 20, idle >> 20, trimmed >> 20);
        ASSERT_TRUE(filled > base + TOTAL / 2);
        ASSERT_TRUE(idle < base + TOTAL / 5);
        ASSERT_TRUE(trimmed <= idle + (1ull << 20));
}

/* Child mode: allocate REPORT_MIB MiB, then print how many threads the process has and whether one
 * is the scavenger. */
static int thread_report(void)
{
        int mib = getenv("REPORT_MIB") ? atoi(getenv("REPORT_MIB")) : 64;
        for (int i = 0; i < mib; i++)
                memset(malloc(1 << 20), 1, 1 << 20);
        for (int i = 0; i < 200; i++) /* start-up is lazy and asynchronous */
                at_sleep_ms(5);
        int n = 0;
        bool scav = false;
        DIR *d = opendir("/proc/self/task");
        if (!d)
                return 2;
        for (struct dirent *e; (e = readdir(d));) {
                char path[300], name[64] = "";
                if (e->d_name[0] == '.')
                        continue;
                n++;
                snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
                FILE *f = fopen(path, "re");
                if (f && fgets(name, sizeof(name), f) && strncmp(name, "oomless-scav", 12) == 0)
                        scav = true;
                if (f)
                        fclose(f);
        }
        closedir(d);
        printf("%d %d\n", n, scav);
        return 0;
}

static void run_thread_report(const char *background, const char *mib, int *threads, int *scav)
{
        int out;
        pid_t pid = at_fork_piped(&out, NULL);
        if (pid == 0) {
                setenv("OOMLESS_BACKGROUND", background, 1);
                setenv("REPORT_MIB", mib, 1);
                execl("/proc/self/exe", "test-alloc-scavenge", "--thread-report", (char *)NULL);
                _exit(99);
        }
        char buf[64] = "";
        ssize_t n = read(out, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = 0;
        close(out);
        int status = at_wait(pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_EQ(sscanf(buf, "%d %d", threads, scav), 2);
}

TEST(background_thread_lazy_and_optional)
{
        int threads, scav;
        run_thread_report("0", "64", &threads, &scav); /* disabled */
        ASSERT_EQ(threads, 1);
        ASSERT_EQ(scav, 0);
        run_thread_report("1", "2", &threads, &scav); /* a small heap does not need it */
        ASSERT_EQ(threads, 1);
        ASSERT_EQ(scav, 0);
        run_thread_report("1", "64", &threads, &scav);
        ASSERT_EQ(threads, 2);
        ASSERT_EQ(scav, 1);
}

int main(int argc, char **argv)
{
        if (argc == 2 && strcmp(argv[1], "--thread-report") == 0)
                return thread_report();
        return test_main(argc, argv);
}

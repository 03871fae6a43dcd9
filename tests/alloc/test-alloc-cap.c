/* SPDX-License-Identifier: MIT */
/*
 * The heap cap under a real memory cgroup limit.
 *
 *   <own memory cgroup>/                      (this test's, left alone)
 *     oomless-alloc-cap-<pid>/                memory.limit_in_bytes = 128M (memsw too: no swap)
 *       child: this binary "child MODE", LD_PRELOAD=liboomless.so
 *
 * The child allocates (and touches) until malloc returns NULL. With the default cap (the limit less
 * what the cgroup holds outside the heap, less a 4M reserve: about 123M of 128M) that must happen
 * with ENOMEM within 10 MiB below the cap, with no OOM kill (memory.oom_control oom_kill or
 * memory.events oom_kill unchanged, the child exits 0). Variants: OOMLESS_HEAP_CAP=50%, 40M and
 * 0.0625G, a pressure callback that drops a cache and lets allocations continue, OOMLESS_ON_CAP=abort,
 * and a malformed OOMLESS_HEAP_CAP (one warning naming the default in force, then the default).
 *
 * The default rule without a supervisor (issue 8), in a second cgroup of 256M:
 *
 *     oomless-alloc-cap256-<pid>/             256M (memsw too)
 *       [holder: 96 MiB of anonymous memory, no liboomless, for the refresh case]
 *       child: this binary, LD_PRELOAD=liboomless.so
 *
 * - one malloc(235 MiB), touched, succeeds (the kernel would give it; a 75% cap refused it);
 * - a 200 MiB heap of 64 KiB blocks, touched and held, succeeds;
 * - OOMLESS_HEAP_CAP=64M still wins: the same malloc(235 MiB) gets ENOMEM;
 * - a 200 MiB heap of 64 KiB blocks succeeds beside 128 MiB of file cache read twice (all active);
 * - the cap follows what the cgroup holds outside the heap: with the holder in the cgroup at the
 *   child's start, the cap is at most 256M - 96M; the holder then exits, and the child's
 *   malloc(200 MiB) succeeds, since a cap hit re-reads the cgroup (the slow-path refresh).
 * A fork child keeps refreshing its default cap (fork_child_keeps_refreshing), in a third cgroup:
 *
 *     oomless-alloc-capfork-<pid>/            256M (memsw too), lowered to 128M by the fork child
 *       child: this binary, LD_PRELOAD=liboomless.so, OOMLESS_BACKGROUND=0
 *         a thread stalled inside a cap refresh (alloc-stall.c holds its open()) while it forks
 *         grandchild: lowers the limit, hits the cap, must see a cap under 128M
 *
 * Costs about 3 s. With OOMLESS_TEST_REQUIRE_V2=1 (ctest alloc/cap-rule-purev2, run by vm/alloc)
 * anything but a pure v2 memory cgroup skips.
 *
 * Usage: test-alloc-cap /path/to/liboomless.so
 */
#include "alloc-cg.h"
#include "alloc-stall.h"
#include "oomless/oomless.h"
#include "test.h"
#include "alloc-test.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define LIMIT (128ull << 20)

static const char *lib;
static const char *self;
static char cache_dir[1024] = "."; /* a disk file system: the directory of this binary */

struct result {
        unsigned long long total, cap, cap_hits, callbacks;
        int err, status;
        char out[4096];
};

static void **cache;
static size_t ncache;
static unsigned long long callbacks;

static void drop_cache(size_t request, void *ud)
{
        callbacks++;
        for (size_t i = 0; i < ncache; i++)
                free(cache[i]);
        ncache = 0;
}

/* One block of n MiB, touched: prints "ok CAP" or "enomem CAP". */
static int child_one_block(size_t mib)
{
        errno = 0;
        char *p = malloc(mib << 20);
        int err = errno;
        struct oomless_stats st = { .size = sizeof(st) };
        oomless_try_stats(&st);
        if (p)
                memset(p, 0x5a, mib << 20);
        printf("%s %llu\n", p ? "ok" : err == ENOMEM ? "enomem" : "error", (unsigned long long)st.cap);
        fflush(stdout);
        return 0;
}

/* Waits for a line on stdin between reporting the cap at start and the one block of n MiB. */
static int child_wait_then_block(size_t mib)
{
        char line[16];
        struct oomless_stats st = { .size = sizeof(st) };
        free(malloc(16)); /* the allocator is up, its cap computed */
        oomless_try_stats(&st);
        printf("start %llu\n", (unsigned long long)st.cap);
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin))
                return 7;
        return child_one_block(mib);
}

static int child_fixed_heap(size_t mib)
{
        size_t n = (mib << 20) / (64 << 10);
        char **blocks = malloc(n * sizeof(*blocks));
        for (size_t i = 0; i < n; i++) {
                blocks[i] = malloc(64 << 10);
                if (!blocks[i]) {
                        printf("enomem at %zu MiB\n", i / 16);
                        return 0;
                }
                memset(blocks[i], 0x33, 64 << 10);
        }
        at_sleep_ms(300); /* held, with the scavenger's tick and refreshes running */
        printf("ok held %zu MiB\n", mib);
        return 0;
}

/* 128 MiB written to an unlinked file in dir and read back twice, so the cgroup holds it as active
 * file cache; "cached", then on a line from stdin the 200 MiB heap of child_fixed_heap(). */
static int child_hot_cache(const char *dir)
{
        static char chunk[1 << 20];
        char path[4096];

        snprintf(path, sizeof(path), "%s/oomless-hot-cache-XXXXXX", dir ? dir : ".");
        int fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
                return perror(path), 8;
        unlink(path);
        memset(chunk, 0x42, sizeof(chunk));
        for (int i = 0; i < 128; i++)
                if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
                        return perror("write"), 8;
        if (fsync(fd) < 0) /* clean pages: reclaim may drop them at once */
                return perror("fsync"), 8;
        for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < 128; i++)
                        if (pread(fd, chunk, sizeof(chunk), (off_t)i << 20) != (ssize_t)sizeof(chunk))
                                return perror("pread"), 8;
        printf("cached\n");
        fflush(stdout);
        if (!fgets(path, sizeof(path), stdin))
                return 7;
        int r = child_fixed_heap(200);
        close(fd);
        return r;
}

/* A cap hit, which refreshes the default cap. Volatile, or the compiler drops the pair. */
static void cap_hit(void)
{
        void *volatile p = malloc((size_t)1 << 40);
        free(p);
}

/* A refresh stalled in its open() of a cgroup file. */
static void *refresh_and_stall(void *arg)
{
        (void)arg;
        alloc_stall_arm_this_thread();
        cap_hit();
        return NULL;
}

/* Forks while another thread is inside a cap refresh; the grandchild lowers the cgroup's limit to
 * 128M and hits the cap. Prints "before CAP" and "after CAP" (the grandchild's cap). */
static int child_fork_refresh(const char *dir)
{
        pthread_t t;
        struct oomless_stats st = { .size = sizeof(st) };
        bool v2 = getenv("TEST_CG_V2") != NULL;
        free(malloc(16));
        oomless_try_stats(&st);
        printf("before %llu\n", (unsigned long long)st.cap);
        fflush(stdout);
        if (pthread_create(&t, NULL, refresh_and_stall, NULL) != 0)
                return 8;
        if (!alloc_stall_wait(5000))
                return 9; /* the refresh never opened a file */
        pid_t pid = fork();
        if (pid == 0) {
                const char *lim = "134217728";
                if (!(v2 ? acg_write(dir, "memory.max", lim)
                         : acg_write(dir, "memory.limit_in_bytes", lim) &&
                               acg_write(dir, "memory.memsw.limit_in_bytes", lim)))
                        _exit(10);
                cap_hit(); /* the default cap is re-read */
                oomless_try_stats(&st);
                printf("after %llu\n", (unsigned long long)st.cap);
                fflush(stdout);
                _exit(0);
        }
        alloc_stall_release();
        pthread_join(t, NULL);
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return 11;
        return WEXITSTATUS(status);
}

static int child_main(const char *mode)
{
        if (strcmp(mode, "one235") == 0)
                return child_one_block(235);
        if (strcmp(mode, "wait200") == 0)
                return child_wait_then_block(200);
        if (strcmp(mode, "fixed200") == 0)
                return child_fixed_heap(200);
        if (strcmp(mode, "hotcache") == 0)
                return child_hot_cache(getenv("TEST_CACHE_DIR"));
        if (strcmp(mode, "forkrefresh") == 0)
                return child_fork_refresh(getenv("TEST_CG_DIR"));

        size_t block = strcmp(mode, "small") == 0 || strcmp(mode, "pressure") == 0 ? 512 : 1 << 20;
        unsigned long long total = 0;
        int err = 0;
        if (!oomless_available()) {
                fprintf(stderr, "child: liboomless not loaded\n");
                return 3;
        }
        if (strcmp(mode, "pressure") == 0) {
                cache = malloc(sizeof(void *) * 4096);
                for (ncache = 0; ncache < 4096; ncache++) { /* a 16 MiB "cache" */
                        cache[ncache] = malloc(4096);
                        memset(cache[ncache], 1, 4096);
                }
                if (oomless_try_on_pressure(drop_cache, NULL) < 0)
                        return 4;
        }
        for (;;) {
                errno = 0;
                void *p = malloc(block);
                if (!p) {
                        err = errno;
                        break;
                }
                memset(p, 0x11, block);
                total += block;
                if (total > 4 * LIMIT)
                        break;
        }
        struct oomless_stats st = { .size = sizeof(st) };
        oomless_try_stats(&st);
        printf("%llu %d %llu %llu %llu\n", total, err, (unsigned long long)st.cap,
               (unsigned long long)st.cap_hits, callbacks);
        fflush(stdout);
        return 0;
}

static void run_child(const AllocCg *cg, const char *mode, const char *cap_env, const char *on_cap,
                      struct result *r)
{
        int out, err;
        memset(r, 0, sizeof(*r));
        pid_t pid = at_fork_piped(&out, &err);
        if (pid == 0) {
                if (!acg_attach(cg, getpid()))
                        _exit(5);
                char e1[1200], e2[200], e3[200];
                snprintf(e1, sizeof(e1), "LD_PRELOAD=%s", lib);
                snprintf(e2, sizeof(e2), "OOMLESS_HEAP_CAP=%s", cap_env ? cap_env : "");
                snprintf(e3, sizeof(e3), "OOMLESS_ON_CAP=%s", on_cap ? on_cap : "enomem");
                char *envp[] = { e1, cap_env ? e2 : (char *)"X=1", e3, (char *)"OOMLESS_BACKGROUND=0",
                                 NULL };
                char *argv[] = { (char *)self, (char *)"child", (char *)mode, NULL };
                execve(self, argv, envp);
                _exit(6);
        }
        char buf[4096];
        at_read_all(out, buf, sizeof(buf));
        sscanf(buf, "%llu %d %llu %llu %llu", &r->total, &r->err, &r->cap, &r->cap_hits, &r->callbacks);
        ssize_t n = read(err, r->out, sizeof(r->out) - 1);
        r->out[n > 0 ? n : 0] = 0;
        close(out);
        close(err);
        r->status = at_wait(pid);
        printf("  %s cap=%s: reached %llu MiB (cap %llu MiB, hits %llu, callbacks %llu), errno %d, status "
               "0x%x%s%s\n",
               mode, cap_env ? cap_env : "default", r->total >> 20, r->cap >> 20, r->cap_hits, r->callbacks,
               r->err, r->status, r->out[0] ? ", stderr: " : "", r->out);
}

static AllocCg cg;

static void cleanup(void)
{
        acg_destroy(&cg);
}

/* Creates c unless it exists already; says whether it did. */
static bool create_once(AllocCg *c, const char *name, unsigned long long limit)
{
        if (c->dir[0])
                return false;
        if (geteuid() != 0)
                test_skip("needs root to create a memory cgroup");
        if (!acg_create(c, name, limit))
                test_skip("cannot create a child memory cgroup under our own");
        return true;
}

static void setup(void)
{
        if (create_once(&cg, "oomless-alloc-cap", LIMIT))
                atexit(cleanup);
}

/* cap 0: the default rule, which must leave between the 4M reserve and 4M + 12M (what a small test
 * program and its files may hold outside the heap) under the limit. */
static void check_near_bytes(const struct result *r, unsigned long long cap, long long kills_before)
{
        if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
                TEST_FAIL("child did not exit 0 (status 0x%x)", r->status);
        ASSERT_EQ(r->err, ENOMEM);
        if (cap)
                ASSERT_U64_EQ(r->cap, cap);
        else if (r->cap > LIMIT - (4ull << 20) || r->cap < LIMIT - (16ull << 20))
                TEST_FAIL("default cap %llu, expected %llu - 4M reserve - (0..12M outside the heap)", r->cap,
                          LIMIT);
        cap = r->cap;
        if (r->total > cap || r->total + (10ull << 20) < cap)
                TEST_FAIL("ENOMEM at %llu bytes, expected within 10 MiB below the cap %llu", r->total, cap);
        ASSERT_TRUE(r->cap_hits >= 1);
        ASSERT_EQ(acg_oom_kills(&cg), kills_before);
}

/* Runs the child in mode with OOMLESS_HEAP_CAP=cap_env (NULL: unset) in the cgroup and checks that
 * it stopped with ENOMEM just below cap bytes, without an OOM kill. */
static void expect_cap(const char *mode, const char *cap_env, unsigned long long cap, struct result *r)
{
        setup();
        long long kills = acg_oom_kills(&cg);
        run_child(&cg, mode, cap_env, NULL, r);
        check_near_bytes(r, cap, kills);
}

#define PERCENT_OF_LIMIT(p) (LIMIT * (p) / 100)

TEST(absolute_cap)
{
        struct result r;
        expect_cap("large", "40M", 40ull << 20, &r);
}

TEST(default_cap_large_blocks)
{
        struct result r;
        expect_cap("large", NULL, 0, &r);
}

TEST(default_cap_small_objects)
{
        struct result r;
        expect_cap("small", NULL, 0, &r);
}

TEST(size_with_fraction)
{
        struct result r;
        expect_cap("large", "0.0625G", 64ull << 20, &r);
}

TEST(configured_percent)
{
        struct result r;
        expect_cap("large", "50%", PERCENT_OF_LIMIT(50), &r);
}

TEST(pressure_callback_frees_cache)
{
        struct result r;
        expect_cap("pressure", NULL, 0, &r);
        ASSERT_TRUE(r.callbacks >= 1);
}

TEST(abort_on_cap)
{
        struct result r;
        setup();
        run_child(&cg, "large", "96M", "abort", &r);
        ASSERT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT);
        ASSERT_TRUE(strstr(r.out, "heap cap reached: cap 100663296 bytes") != NULL);
}

TEST(bad_env_value_warns_and_defaults)
{
        struct result r;
        expect_cap("large", "banana", 0, &r);
        ASSERT_TRUE(strstr(r.out, "OOMLESS_HEAP_CAP=\"banana\"") != NULL);
        ASSERT_TRUE(strstr(r.out, "expected") != NULL);
        /* The line names the default in force, in MiB. */
        const char *now = strstr(r.out, "using the default cap, now ");
        ASSERT_TRUE(now != NULL);
        unsigned long long mib = strtoull(now + strlen("using the default cap, now "), NULL, 10);
        if (mib > (LIMIT >> 20) - 4 || mib < (LIMIT >> 20) - 16)
                TEST_FAIL("the warning names a default cap of %lluM under a limit of %lluM", mib,
                          LIMIT >> 20);
}

/* --- The default rule under 256M, without a supervisor --- */

/* Reads one line (with its newline) from fd, a byte at a time so nothing after it is consumed. */
static size_t at_read_line(int fd, char *buf, size_t n)
{
        size_t got = 0;
        while (got < n - 1 && read(fd, buf + got, 1) == 1)
                if (buf[got++] == '\n')
                        break;
        buf[got] = 0;
        return got;
}

#define LIMIT256 (256ull << 20)
static AllocCg cg256;

static void cleanup256(void)
{
        acg_destroy(&cg256);
}

static void setup256(void)
{
        if (!create_once(&cg256, "oomless-alloc-cap256", LIMIT256))
                return;
        atexit(cleanup256); /* before the skip, which exits too */
        if (getenv("OOMLESS_TEST_REQUIRE_V2") && !cg256.v2)
                test_skip("not a pure cgroup v2 host (this variant runs in the VM: vm/alloc)");
}

/* Starts "child MODE" in cg256 with stdin and stdout on pipes; *in is the write end of its stdin. */
static pid_t start_child256(const char *mode, const char *cap_env, int *in, int *out)
{
        int i[2];
        ASSERT_EQ(pipe2(i, O_CLOEXEC), 0);
        pid_t pid = at_fork_piped(out, NULL);
        if (pid == 0) {
                dup2(i[0], 0);
                close(i[1]);
                if (!acg_attach(&cg256, getpid()))
                        _exit(5);
                char e1[1200], e2[200], e3[1200];
                snprintf(e1, sizeof(e1), "LD_PRELOAD=%s", lib);
                snprintf(e2, sizeof(e2), "OOMLESS_HEAP_CAP=%s", cap_env ? cap_env : "");
                snprintf(e3, sizeof(e3), "TEST_CACHE_DIR=%s", cache_dir);
                char *envp[] = { e1, cap_env ? e2 : (char *)"X=1", e3, NULL };
                char *argv[] = { (char *)self, (char *)"child", (char *)mode, NULL };
                execve(self, argv, envp);
                _exit(6);
        }
        close(i[0]);
        *in = i[1];
        return pid;
}

static void run256(const char *mode, const char *cap_env, char *buf, size_t n)
{
        int in, out;
        setup256();
        long long kills = acg_oom_kills(&cg256);
        pid_t pid = start_child256(mode, cap_env, &in, &out);
        close(in);
        at_read_all(out, buf, n);
        close(out);
        int status = at_wait(pid);
        printf("  %s cap=%s: %s", mode, cap_env ? cap_env : "default", buf);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                TEST_FAIL("child did not exit 0 (status 0x%x)", status);
        ASSERT_EQ(acg_oom_kills(&cg256), kills);
}

TEST(rule_single_malloc_235m_under_256m)
{
        char buf[256];
        run256("one235", NULL, buf, sizeof(buf));
        ASSERT_TRUE(strncmp(buf, "ok ", 3) == 0);
}

TEST(rule_fixed_heap_200m_under_256m)
{
        char buf[256];
        run256("fixed200", NULL, buf, sizeof(buf));
        ASSERT_TRUE(strncmp(buf, "ok held 200 MiB", 15) == 0);
}

TEST(rule_env_cap_still_wins)
{
        char buf[256];
        run256("one235", "64M", buf, sizeof(buf));
        ASSERT_TRUE(strcmp(buf, "enomem 67108864\n") == 0);
}

TEST(rule_follows_usage_outside_the_heap)
{
        char buf[256], line[64];
        int hin, hout, in, out;
        setup256();
        long long kills = acg_oom_kills(&cg256);
        /* The holder: 96 MiB of anonymous memory in the cgroup, with glibc's malloc. */
        int hi[2];
        ASSERT_EQ(pipe2(hi, O_CLOEXEC), 0); /* no other child may keep the write end */
        pid_t holder = at_fork_piped(&hout, NULL);
        if (holder == 0) {
                close(hi[1]);
                if (!acg_attach(&cg256, getpid()))
                        _exit(5);
                char *p = mmap(NULL, 96 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        _exit(6);
                memset(p, 1, 96 << 20);
                if (write(1, "held\n", 5) != 5)
                        _exit(7);
                char c;
                (void)!read(hi[0], &c, 1);
                _exit(0);
        }
        close(hi[0]);
        hin = hi[1];
        ASSERT_TRUE(at_read_line(hout, line, sizeof(line)) > 0);
        ASSERT_STREQ(line, "held\n");

        pid_t pid = start_child256("wait200", NULL, &in, &out);
        ASSERT_TRUE(at_read_line(out, line, sizeof(line)) > 0);
        unsigned long long cap0 = strtoull(line + strlen("start "), NULL, 10);
        printf("  with 96 MiB held outside the heap: cap %llu MiB\n", cap0 >> 20);
        if (cap0 > LIMIT256 - (96ull << 20) || cap0 < LIMIT256 - (96ull << 20) - (24ull << 20))
                TEST_FAIL("cap %llu at start, expected 256M - 96M - 8M reserve - a little", cap0);

        close(hin); /* the holder exits, its 96 MiB leave the cgroup */
        ASSERT_EQ(at_wait(holder), 0);
        close(hout);
        ASSERT_EQ(write(in, "go\n", 3), 3);
        close(in);
        at_read_all(out, buf, sizeof(buf));
        close(out);
        int status = at_wait(pid);
        printf("  after the holder left: %s", buf);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(strncmp(buf, "ok ", 3) == 0);
        unsigned long long cap1 = strtoull(buf + 3, NULL, 10);
        ASSERT_TRUE(cap1 >= (200ull << 20));
        ASSERT_EQ(acg_oom_kills(&cg256), kills);
}

/* Page cache read twice is on the active list, and reclaim still drops it before it kills: the
 * default cap does not count it as held outside the heap (it once did, via the working set, and
 * refused this heap at about 120 MiB). */
TEST(rule_active_file_cache_is_not_outside_the_heap)
{
        char buf[256], line[64], stat[8192];
        int in, out;
        setup256();
        long long kills = acg_oom_kills(&cg256);

        pid_t pid = start_child256("hotcache", NULL, &in, &out);
        ASSERT_TRUE(at_read_line(out, line, sizeof(line)) > 0);
        ASSERT_STREQ(line, "cached\n");
        ASSERT_TRUE(acg_read(cg256.dir, "memory.stat", stat, sizeof(stat)));
        const char *key = cg256.v2 ? "\nactive_file " : "\ntotal_active_file ";
        const char *at = strstr(stat, key);
        unsigned long long active = at ? strtoull(at + strlen(key), NULL, 10) : 0;
        printf("  active file cache before the heap: %llu MiB\n", active >> 20);
        if (active < (64ull << 20))
                TEST_FAIL("the 128 MiB file read twice left %llu MiB of active file cache in %s, expected "
                          ">= 64 MiB: the case under test did not arise (is %s on a disk file system?)",
                          active, cg256.dir, cache_dir);
        ASSERT_EQ(write(in, "go\n", 3), 3);
        close(in);
        at_read_all(out, buf, sizeof(buf));
        close(out);
        int status = at_wait(pid);
        printf("  then: %s", buf);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(strncmp(buf, "ok held 200 MiB", 15) == 0);
        ASSERT_EQ(acg_oom_kills(&cg256), kills);
}

/* --- A fork child's default cap still follows the cgroup --- */

static AllocCg cgfork;

static void cleanup_fork(void)
{
        acg_destroy(&cgfork);
}

TEST(fork_child_keeps_refreshing)
{
        char buf[256], e1[1200], e2[1500];
        int out;
        if (!create_once(&cgfork, "oomless-alloc-capfork", LIMIT256))
                TEST_FAIL("cgroup already made");
        atexit(cleanup_fork);
        pid_t pid = at_fork_piped(&out, NULL);
        if (pid == 0) {
                if (!acg_attach(&cgfork, getpid()))
                        _exit(5);
                snprintf(e1, sizeof(e1), "LD_PRELOAD=%s", lib);
                snprintf(e2, sizeof(e2), "TEST_CG_DIR=%s", cgfork.dir);
                char *envp[] = { e1, e2, (char *)"OOMLESS_BACKGROUND=0",
                                 cgfork.v2 ? (char *)"TEST_CG_V2=1" : (char *)"X=1", NULL };
                char *argv[] = { (char *)self, (char *)"child", (char *)"forkrefresh", NULL };
                execve(self, argv, envp);
                _exit(6);
        }
        at_read_all(out, buf, sizeof(buf));
        close(out);
        int status = at_wait(pid);
        printf("  %s  status 0x%x\n", buf, status);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        unsigned long long before = 0, after = 0;
        ASSERT_EQ(sscanf(buf, "before %llu after %llu", &before, &after), 2);
        if (before < (160ull << 20))
                TEST_FAIL("cap %llu before the fork, expected 256M less a little", before);
        if (after >= (128ull << 20))
                TEST_FAIL("the fork child's cap %llu did not follow the limit down to 128M: its refresh "
                          "stayed busy from the parent's thread",
                          after);
}

int main(int argc, char **argv)
{
        if (argc >= 3 && strcmp(argv[1], "child") == 0)
                return child_main(argv[2]);
        if (argc < 2)
                TEST_FAIL("usage: %s /path/to/liboomless.so", argv[0]);
        lib = argv[1];
        self = "/proc/self/exe";
        static char exe[1024];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = 0;
                self = exe;
                snprintf(cache_dir, sizeof(cache_dir), "%.*s", (int)(strrchr(exe, '/') - exe), exe);
        }
        return test_main(argc - 1, argv + 1);
}

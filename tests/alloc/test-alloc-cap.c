/* SPDX-License-Identifier: MIT */
/*
 * The heap cap under a real memory cgroup limit.
 *
 *   <own memory cgroup>/                      (this test's, left alone)
 *     oomless-alloc-cap-<pid>/                memory.limit_in_bytes = 128M (memsw too: no swap)
 *       child: this binary "child MODE", LD_PRELOAD=liboomless.so
 *
 * The child allocates (and touches) until malloc returns NULL. With the default OOMLESS_HEAP_CAP
 * (75%) that must happen with ENOMEM between 75% - 8 MiB and 75% of 128M = 96M, with no OOM kill
 * (memory.oom_control oom_kill unchanged, the child exits 0). Variants: OOMLESS_HEAP_CAP=50%, a
 * pressure callback that drops a cache and lets allocations continue, OOMLESS_ON_CAP=abort, and a
 * malformed OOMLESS_HEAP_CAP (one warning, then the default).
 *
 * Usage: test-alloc-cap /path/to/liboomless.so
 */
#include "alloc-cg.h"
#include "oomless/oomless.h"
#include "test.h"
#include "alloc-test.h"

#define LIMIT (128ull << 20)

static const char *lib;
static const char *self;

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

static int child_main(const char *mode)
{
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

static void setup(void)
{
        if (cg.dir[0])
                return;
        if (geteuid() != 0)
                test_skip("needs root to create a memory cgroup");
        if (!acg_create(&cg, "oomless-alloc-cap", LIMIT))
                test_skip("cannot create a child memory cgroup under our own");
        atexit(cleanup);
}

static void check_near_bytes(const struct result *r, unsigned long long cap, long long kills_before)
{
        if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
                TEST_FAIL("child did not exit 0 (status 0x%x)", r->status);
        ASSERT_EQ(r->err, ENOMEM);
        ASSERT_U64_EQ(r->cap, cap);
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
        expect_cap("large", NULL, PERCENT_OF_LIMIT(75), &r);
}

TEST(default_cap_small_objects)
{
        struct result r;
        expect_cap("small", NULL, PERCENT_OF_LIMIT(75), &r);
}

TEST(configured_percent)
{
        struct result r;
        expect_cap("large", "50%", PERCENT_OF_LIMIT(50), &r);
}

TEST(pressure_callback_frees_cache)
{
        struct result r;
        expect_cap("pressure", NULL, PERCENT_OF_LIMIT(75), &r);
        ASSERT_TRUE(r.callbacks >= 1);
}

TEST(abort_on_cap)
{
        struct result r;
        setup();
        run_child(&cg, "large", NULL, "abort", &r);
        ASSERT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT);
        ASSERT_TRUE(strstr(r.out, "heap cap reached: cap 100663296 bytes") != NULL);
}

TEST(bad_env_value_warns_and_defaults)
{
        struct result r;
        expect_cap("large", "banana", PERCENT_OF_LIMIT(75), &r);
        ASSERT_TRUE(strstr(r.out, "OOMLESS_HEAP_CAP=\"banana\"") != NULL);
        ASSERT_TRUE(strstr(r.out, "expected") != NULL);
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
        }
        return test_main(argc - 1, argv + 1);
}

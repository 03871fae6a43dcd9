/* SPDX-License-Identifier: MIT */
/*
 * Invariant walks of the allocator's internal structures on a debug build (MA_DEBUG=1, which also
 * walks them every 256 slow-path refills): after random single- and multi-threaded work, every page
 * heap free list, its bitmap, the pagemap and every central list must be consistent. Also the
 * checks that guard against silent corruption: double free and invalid pointers abort with a
 * one-line message, pointers from glibc's own malloc are handed back to glibc, and malloc/free keep
 * working in a thread after liboomless's cache destructor ran.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <malloc.h>

#include "ma.h"
#include "oomless/oomless.h"
#include "test.h"
#include "alloc-test.h"

static void walk(void)
{
        ma_central_check();
        ma_ph_check();
}

static void *worker(void *arg)
{
        uint64_t s = (uintptr_t)arg * 31 + 7;
        void *slots[512] = { 0 };
        for (int i = 0; i < 60000; i++) {
                unsigned k = (unsigned)(at_rnd(&s) % 512);
                free(slots[k]);
                uint64_t r = at_rnd(&s);
                size_t n = r % 8 == 0 ? (size_t)(r >> 8) % (2u << 20) : (size_t)(r >> 8) % 3000;
                if (r % 5 == 0)
                        slots[k] = realloc(slots[k] ? malloc(10) : NULL, n + 1);
                else if (r % 7 == 0)
                        slots[k] = aligned_alloc((size_t)1 << (r % 14 + 3), n + 1);
                else
                        slots[k] = malloc(n);
                if (!slots[k])
                        abort();
                memset(slots[k], 0x77, n < 64 ? n : 64);
        }
        for (int k = 0; k < 512; k++)
                free(slots[k]);
        return NULL;
}

TEST(walk_after_single_thread)
{
        worker((void *)1);
        walk();
        malloc_trim(0);
        walk();
}

TEST(walk_after_threads)
{
        pthread_t t[3];
        for (uintptr_t i = 0; i < 3; i++)
                ASSERT_EQ(pthread_create(&t[i], NULL, worker, (void *)(i + 2)), 0);
        for (int i = 0; i < 3; i++) {
                walk();
                pthread_join(t[i], NULL);
        }
        walk();
        ASSERT_TRUE(oomless_scavenge() > 0 || atomic_load(&ma_returned) > 0);
        walk();
}

TEST(walk_catches_corruption)
{
        /* Make sure the walk can fail: corrupt a free list in a child and expect the abort. */
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                void *p = malloc(100000); /* a large span */
                free(p);
                MaSpan *s = ma_pm_span((uintptr_t)p);
                if (!s || s->state != MA_SPAN_FREE)
                        _exit(3);
                s->returned ^= 1; /* now on the wrong list */
                walk();
                _exit(0);
        }
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

static int run_child(void (*fn)(void), char *err, size_t n)
{
        int efd;
        pid_t pid = at_fork_piped(NULL, &efd);
        if (pid == 0) {
                fn();
                _exit(0);
        }
        ssize_t r = read(efd, err, n - 1);
        err[r > 0 ? r : 0] = 0;
        close(efd);
        return at_wait(pid);
}

static void *volatile keep;

static void double_free_small(void)
{
        void *p = malloc(40);
        free(p);
        free(p);
}

static void double_free_large(void)
{
        void *p = malloc(1 << 20);
        free(p);
        free(p);
}

static void interior_pointer(void)
{
        char *p = malloc(1 << 20);
        keep = p;
        free(p + 8192);
}

TEST(bad_frees_abort_with_message)
{
        char err[512];
        void (*cases[])(void) = { double_free_small, double_free_large, interior_pointer };
        for (size_t i = 0; i < 3; i++) {
                int status = run_child(cases[i], err, sizeof(err));
                printf("  case %zu: %s", i, err);
                ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
                ASSERT_TRUE(strncmp(err, "liboomless: ", 12) == 0);
                ASSERT_TRUE(strchr(err, '\n') == err + strlen(err) - 1); /* one line */
        }
}

TEST(foreign_pointer_goes_to_glibc)
{
        void *(*glibc_malloc)(size_t) = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
        size_t (*glibc_usable)(void *) = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
        ASSERT_TRUE(glibc_malloc != NULL && glibc_malloc != malloc);
        void *p = glibc_malloc(100);
        ASSERT_TRUE(p != NULL);
        ASSERT_TRUE(ma_pm_span((uintptr_t)p) == NULL);
        ASSERT_EQ(malloc_usable_size(p), glibc_usable(p));
        p = realloc(p, 200); /* stays glibc's */
        ASSERT_TRUE(p != NULL);
        free(p); /* would abort in glibc if it were handled as ours */
        walk();
}

static pthread_key_t late_key;

static void late_destructor(void *arg)
{
        /* Runs after liboomless's own destructor (its key was created first). */
        for (int i = 0; i < 1000; i++) {
                void *p = malloc((size_t)i * 7 + 1);
                memset(p, 1, (size_t)i * 7 + 1);
                free(p);
        }
        free(arg);
}

static void *late_thread(void *arg)
{
        pthread_setspecific(late_key, malloc(123));
        free(malloc(50));
        return NULL;
}

TEST(malloc_after_thread_cache_destructor)
{
        ASSERT_EQ(pthread_key_create(&late_key, late_destructor), 0);
        for (int i = 0; i < 20; i++) {
                pthread_t t;
                ASSERT_EQ(pthread_create(&t, NULL, late_thread, NULL), 0);
                pthread_join(t, NULL);
        }
        walk();
}

TEST(released_pages_of_live_spans)
{
        /* Free most objects of several classes, give back their pages while the spans still hold
         * live objects, walk, then allocate everything again (parked objects come back) and check
         * that no live object was touched. */
        enum { N = 20000 };
        static unsigned char *o[N];
        static size_t sz[N];
        for (int round = 0; round < 3; round++) {
                for (size_t i = 0; i < N; i++) {
                        sz[i] = 8 + (i % 7) * 40 + (size_t)round * 300;
                        o[i] = malloc(sz[i]);
                        memset(o[i], (int)(i & 0xff), sz[i]);
                }
                for (size_t i = 0; i < N; i++)
                        if ((i / 50) % 7 != 0) {
                                free(o[i]);
                                o[i] = NULL;
                        }
                size_t got = ma_central_release_pages(0);
                ASSERT_TRUE(round > 0 || got > 0);
                walk();
                for (size_t i = 0; i < N; i++) {
                        if (o[i])
                                continue;
                        o[i] = malloc(sz[i]);
                        memset(o[i], (int)(i & 0xff), sz[i]);
                }
                walk();
                for (size_t i = 0; i < N; i++) {
                        for (size_t k = 0; k < sz[i]; k++)
                                if (o[i][k] != (unsigned char)(i & 0xff))
                                        TEST_FAIL("object %zu byte %zu changed", i, k);
                        free(o[i]);
                }
                walk();
        }
}

TEST_MAIN()

/* SPDX-License-Identifier: MIT */
/* Randomised stress of liboomless: every block is filled with a pattern derived from its address
 * and size and verified before it is freed or reallocated; threads free each other's blocks; threads
 * come and go; threads keep allocating while the main thread forks and the child allocates; realloc
 * chains grow and shrink. Runs linked and under LD_PRELOAD. */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <malloc.h>

#include "oomless/oomless.h"
#include "test.h"
#include "alloc-test.h"

static size_t rnd_size(uint64_t *s)
{
        uint64_t r = at_rnd(s);
        switch (r % 16) {
        case 0:
                return (size_t)(r >> 8) % (256u << 10);
        case 1:
                return (size_t)(r >> 8) % (4u << 20) / (r % 7 == 0 ? 1 : 64);
        default:
                return (size_t)(r >> 8) % 1100;
        }
}

static void fill(unsigned char *p, size_t n)
{
        unsigned char v = (unsigned char)(((uintptr_t)p >> 4) ^ n);
        size_t step = n > 4096 ? 509 : 1;
        for (size_t i = 0; i < n; i += step)
                p[i] = (unsigned char)(v + i);
        if (n)
                p[n - 1] = (unsigned char)(v + n - 1);
}

static void verify(const unsigned char *p, size_t n, const unsigned char *orig)
{
        unsigned char v = (unsigned char)(((uintptr_t)orig >> 4) ^ n);
        size_t step = n > 4096 ? 509 : 1;
        for (size_t i = 0; i < n; i += step)
                if (p[i] != (unsigned char)(v + i))
                        TEST_FAIL("block %p size %zu corrupted at %zu", (void *)p, n, i);
        if (n && p[n - 1] != (unsigned char)(v + n - 1))
                TEST_FAIL("block %p size %zu corrupted at its end", (void *)p, n);
}

struct block {
        unsigned char *p;
        size_t n;
};

/* Replaces a random one of the nb blocks (verified, then freed) with a new filled block of 1..max
 * bytes. */
static void block_churn(struct block *b, unsigned nb, uint64_t *s, size_t max)
{
        struct block *x = &b[at_rnd(s) % nb];
        if (x->p) {
                verify(x->p, x->n, x->p);
                free(x->p);
        }
        x->n = rnd_size(s) % max + 1;
        x->p = malloc(x->n);
        fill(x->p, x->n);
}

TEST(loaded)
{
        ASSERT_TRUE(oomless_available());
}

TEST(single_thread_random)
{
        enum { N = 4096 };
        static struct block b[N];
        uint64_t s = 88172645463325252ull;
        for (int it = 0; it < 400000; it++) {
                struct block *x = &b[at_rnd(&s) % N];
                if (x->p) {
                        verify(x->p, x->n, x->p);
                        if (at_rnd(&s) % 4 == 0) {
                                size_t n = rnd_size(&s);
                                unsigned char *q = realloc(x->p, n ? n : 1);
                                ASSERT_TRUE(q != NULL);
                                size_t keep = x->n < n ? x->n : n;
                                verify(q, 0, q);
                                (void)keep;
                                x->p = q;
                                x->n = n ? n : 1;
                                fill(x->p, x->n);
                                continue;
                        }
                        free(x->p);
                        x->p = NULL;
                } else {
                        x->n = rnd_size(&s);
                        x->p = (at_rnd(&s) & 3) == 0 ? calloc(1, x->n) : malloc(x->n);
                        ASSERT_TRUE(x->p != NULL);
                        fill(x->p, x->n);
                }
        }
        for (int i = 0; i < N; i++)
                if (b[i].p) {
                        verify(b[i].p, b[i].n, b[i].p);
                        free(b[i].p);
                        b[i].p = NULL;
                }
}

/* Cross-thread frees: producers allocate, consumers verify and free, through a locked ring. */
enum { RING = 1024 };
static struct block ring[RING];
static size_t ring_head, ring_tail;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ring_cond = PTHREAD_COND_INITIALIZER;
static int producers_left;

static void *producer(void *arg)
{
        uint64_t s = (uintptr_t)arg * 7919 + 1;
        for (int i = 0; i < 100000; i++) {
                struct block x = { .n = rnd_size(&s) % 2000 + 1 };
                x.p = malloc(x.n);
                if (!x.p)
                        abort();
                fill(x.p, x.n);
                pthread_mutex_lock(&ring_lock);
                while (ring_head - ring_tail == RING)
                        pthread_cond_wait(&ring_cond, &ring_lock);
                ring[ring_head++ % RING] = x;
                pthread_cond_broadcast(&ring_cond);
                pthread_mutex_unlock(&ring_lock);
        }
        pthread_mutex_lock(&ring_lock);
        producers_left--;
        pthread_cond_broadcast(&ring_cond);
        pthread_mutex_unlock(&ring_lock);
        return NULL;
}

static void *consumer(void *arg)
{
        for (;;) {
                pthread_mutex_lock(&ring_lock);
                while (ring_head == ring_tail && producers_left)
                        pthread_cond_wait(&ring_cond, &ring_lock);
                if (ring_head == ring_tail) {
                        pthread_mutex_unlock(&ring_lock);
                        return NULL;
                }
                struct block x = ring[ring_tail++ % RING];
                pthread_cond_broadcast(&ring_cond);
                pthread_mutex_unlock(&ring_lock);
                verify(x.p, x.n, x.p);
                free(x.p);
        }
}

TEST(cross_thread_frees)
{
        pthread_t t[4];
        producers_left = 2;
        for (uintptr_t i = 0; i < 2; i++)
                ASSERT_EQ(pthread_create(&t[i], NULL, producer, (void *)(i + 1)), 0);
        for (int i = 2; i < 4; i++)
                ASSERT_EQ(pthread_create(&t[i], NULL, consumer, NULL), 0);
        for (int i = 0; i < 4; i++)
                pthread_join(t[i], NULL);
        ASSERT_EQ(ring_head, ring_tail);
}

static void *churn_thread(void *arg)
{
        uint64_t s = (uintptr_t)arg + 12345;
        struct block b[64] = { 0 };
        for (int i = 0; i < 2000; i++)
                block_churn(b, 64, &s, 5000);
        /* Leave half for the joiner to free: blocks outlive their thread's cache. */
        struct block *keep = malloc(sizeof(b));
        memcpy(keep, b, sizeof(b));
        return keep;
}

TEST(thread_churn)
{
        for (int round = 0; round < 50; round++) {
                pthread_t t[4];
                for (uintptr_t i = 0; i < 4; i++)
                        ASSERT_EQ(pthread_create(&t[i], NULL, churn_thread, (void *)(round * 4 + i)), 0);
                for (int i = 0; i < 4; i++) {
                        struct block *b;
                        pthread_join(t[i], (void **)&b);
                        for (int k = 0; k < 64; k++)
                                if (b[k].p) {
                                        verify(b[k].p, b[k].n, b[k].p);
                                        free(b[k].p);
                                }
                        free(b);
                }
        }
}

static volatile int stop_hammer;

static void *hammer(void *arg)
{
        uint64_t s = (uintptr_t)arg + 99;
        struct block b[32] = { 0 };
        while (!stop_hammer)
                block_churn(b, 32, &s, 70000);
        for (int i = 0; i < 32; i++)
                free(b[i].p);
        return NULL;
}

TEST(fork_from_threads)
{
        pthread_t t[3];
        stop_hammer = 0;
        for (uintptr_t i = 0; i < 3; i++)
                ASSERT_EQ(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
        for (int i = 0; i < 60; i++) {
                pid_t pid = fork();
                ASSERT_TRUE(pid >= 0);
                if (pid == 0) {
                        uint64_t s = 5;
                        for (int k = 0; k < 2000; k++) {
                                size_t n = rnd_size(&s) % 100000 + 1;
                                unsigned char *p = malloc(n);
                                if (!p)
                                        _exit(2);
                                fill(p, n);
                                verify(p, n, p);
                                free(p);
                        }
                        /* a thread in the child works too */
                        pthread_t c;
                        if (pthread_create(&c, NULL, churn_thread, NULL) != 0)
                                _exit(3);
                        void *r;
                        pthread_join(c, &r);
                        _exit(0);
                }
                int status;
                ASSERT_EQ(waitpid(pid, &status, 0), pid);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        TEST_FAIL("fork child %d: status 0x%x", i, status);
        }
        stop_hammer = 1;
        for (int i = 0; i < 3; i++)
                pthread_join(t[i], NULL);
}

TEST(realloc_chains)
{
        uint64_t s = 42;
        for (int chain = 0; chain < 200; chain++) {
                size_t n = 1;
                unsigned char *p = malloc(1);
                p[0] = 0x42;
                for (int k = 0; k < 300; k++) {
                        size_t m =
                            (at_rnd(&s) % 3 == 0) ? n / 2 + 1 : n + at_rnd(&s) % (n < 4096 ? 64 : n / 4) + 1;
                        if (m > (8u << 20))
                                m = 1;
                        unsigned char *q = realloc(p, m);
                        ASSERT_TRUE(q != NULL);
                        ASSERT_EQ(q[0], 0x42);
                        size_t keep = n < m ? n : m;
                        for (size_t i = 1; i < keep; i += 97)
                                if (q[i] != (unsigned char)i)
                                        TEST_FAIL("realloc lost byte %zu (%zu -> %zu)", i, n, m);
                        for (size_t i = 1; i < m; i += 97)
                                q[i] = (unsigned char)i;
                        p = q;
                        n = m;
                }
                free(p);
        }
}

TEST(trim_after_stress)
{
        ASSERT_TRUE(malloc_trim(0) >= 0);
        void *p = malloc(100);
        ASSERT_TRUE(p != NULL);
        free(p);
}

TEST_MAIN()

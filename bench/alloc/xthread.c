/* SPDX-License-Identifier: MIT */
/* Workload: cross-thread frees. In each pair a producer thread allocates blocks of 16-512 bytes and hands
 * them through a single-producer/single-consumer ring to a consumer thread, which reads and frees them:
 * every free is remote. Prints blocks per second over all pairs.
 * Usage: bench-xthread PAIRS BLOCKS_PER_PAIR */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench-common.h"

#define RING 4096

struct pair {
        pthread_t producer, consumer;
        long blocks;
        uint64_t seed;
        _Alignas(64) _Atomic size_t head; /* written by the producer */
        _Alignas(64) _Atomic size_t tail; /* written by the consumer */
        _Alignas(64) void *ring[RING];
        unsigned long check;
};

static void *produce(void *arg)
{
        struct pair *p = arg;
        size_t head = 0;
        for (long i = 0; i < p->blocks; i++) {
                uint64_t r = bench_rand(&p->seed);
                size_t sz = 16 + (size_t)(r % 497);
                unsigned char *b = malloc(sz);
                if (!b)
                        exit(1);
                b[0] = (unsigned char)i;
                b[sz - 1] = (unsigned char)i;
                while (head - atomic_load_explicit(&p->tail, memory_order_acquire) >= RING)
                        sched_yield();
                p->ring[head % RING] = b;
                atomic_store_explicit(&p->head, ++head, memory_order_release);
        }
        return NULL;
}

static void *consume(void *arg)
{
        struct pair *p = arg;
        size_t tail = 0;
        unsigned long check = 0;
        for (long i = 0; i < p->blocks; i++) {
                while (atomic_load_explicit(&p->head, memory_order_acquire) == tail)
                        sched_yield();
                unsigned char *b = p->ring[tail % RING];
                check += b[0];
                free(b);
                atomic_store_explicit(&p->tail, ++tail, memory_order_release);
        }
        p->check = check;
        return NULL;
}

int main(int argc, char **argv)
{
        long pairs = bench_arg(argc, argv, 1, 1);
        long blocks = bench_arg(argc, argv, 2, 2000000);
        struct pair *p = aligned_alloc(64, sizeof(*p) * (size_t)pairs);
        unsigned long check = 0;

        if (!p)
                return 1;
        double t0 = bench_now();
        for (long i = 0; i < pairs; i++) {
                p[i].blocks = blocks;
                p[i].seed = 0xD1B54A32D192ED03ULL * (uint64_t)(i + 1);
                atomic_init(&p[i].head, 0);
                atomic_init(&p[i].tail, 0);
                if (pthread_create(&p[i].consumer, NULL, consume, &p[i]) ||
                    pthread_create(&p[i].producer, NULL, produce, &p[i])) {
                        fprintf(stderr, "bench-xthread: pthread_create failed\n");
                        return 1;
                }
        }
        for (long i = 0; i < pairs; i++) {
                pthread_join(p[i].producer, NULL);
                pthread_join(p[i].consumer, NULL);
                check += p[i].check;
        }
        bench_report(pairs * blocks, bench_now() - t0, check);
        free(p);
        return 0;
}

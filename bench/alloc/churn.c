/* SPDX-License-Identifier: MIT */
/* Workload: small-object churn. Each thread keeps a window of live blocks of 8-1024 bytes (sizes skewed
 * towards the small end, as real programs are) and replaces one at random per step, with occasional
 * bursts of LIFO alloc/free. Prints throughput in malloc+free pairs per second.
 * Usage: bench-churn THREADS OPS_PER_THREAD WINDOW */
#include <pthread.h>
#include <string.h>

#include "bench-common.h"

struct worker {
        pthread_t thread;
        uint64_t seed;
        long ops;
        long window;
        unsigned long check;
};

static size_t pick_size(uint64_t *s)
{
        uint64_t r = bench_rand(s);
        unsigned e = 3 + (unsigned)(r % 8); /* 8 .. 1024 */
        size_t lo = (size_t)1 << e;
        size_t sz = lo + (size_t)((r >> 8) % lo);
        return sz > 1024 ? 1024 : sz;
}

static void *worker_run(void *arg)
{
        struct worker *w = arg;
        void **slot = calloc((size_t)w->window, sizeof(void *));
        size_t *len = calloc((size_t)w->window, sizeof(size_t));
        void *burst[32];
        unsigned long check = 0;

        if (!slot || !len) {
                fprintf(stderr, "bench-churn: out of memory\n");
                exit(1);
        }
        for (long i = 0; i < w->ops;) {
                uint64_t r = bench_rand(&w->seed);
                if ((r & 63) == 0) {
                        /* A burst of short-lived temporaries, freed in reverse order. */
                        for (int k = 0; k < 32; k++) {
                                size_t sz = pick_size(&w->seed);
                                burst[k] = malloc(sz);
                                if (!burst[k])
                                        exit(1);
                                ((char *)burst[k])[0] = (char)k;
                                ((char *)burst[k])[sz - 1] = (char)k;
                        }
                        for (int k = 31; k >= 0; k--) {
                                check += (unsigned char)((char *)burst[k])[0];
                                free(burst[k]);
                        }
                        i += 32;
                        continue;
                }
                long idx = (long)((r >> 7) % (uint64_t)w->window);
                if (slot[idx]) {
                        check += (unsigned char)((char *)slot[idx])[len[idx] - 1];
                        free(slot[idx]);
                }
                size_t sz = pick_size(&w->seed);
                char *p = malloc(sz);
                if (!p)
                        exit(1);
                p[0] = (char)sz;
                p[sz - 1] = (char)i;
                slot[idx] = p;
                len[idx] = sz;
                i++;
        }
        for (long k = 0; k < w->window; k++)
                free(slot[k]);
        free(slot);
        free(len);
        w->check = check;
        return NULL;
}

int main(int argc, char **argv)
{
        long threads = bench_arg(argc, argv, 1, 1);
        long ops = bench_arg(argc, argv, 2, 2000000);
        long window = bench_arg(argc, argv, 3, 20000);
        struct worker *w = calloc((size_t)threads, sizeof(*w));
        unsigned long check = 0;

        if (!w)
                return 1;
        double t0 = bench_now();
        for (long t = 0; t < threads; t++) {
                w[t].seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(t + 1);
                w[t].ops = ops;
                w[t].window = window;
                if (pthread_create(&w[t].thread, NULL, worker_run, &w[t]) != 0) {
                        fprintf(stderr, "bench-churn: pthread_create failed\n");
                        return 1;
                }
        }
        for (long t = 0; t < threads; t++) {
                pthread_join(w[t].thread, NULL);
                check += w[t].check;
        }
        bench_report(ops * threads, bench_now() - t0, check);
        free(w);
        return 0;
}

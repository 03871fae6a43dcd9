/* SPDX-License-Identifier: MIT */
/* Workload: realloc growth in small steps, as string builders and vectors without capacity doubling do.
 * BUFFERS buffers are grown round-robin by 8-64 bytes per call up to MAX bytes, then freed and restarted.
 * Prints realloc calls per second.
 * Usage: bench-realloc CALLS BUFFERS MAX */
#include <string.h>

#include "bench-common.h"

int main(int argc, char **argv)
{
        long calls = bench_arg(argc, argv, 1, 4000000);
        long nbuf = bench_arg(argc, argv, 2, 64);
        long max = bench_arg(argc, argv, 3, 65536);
        char **buf = calloc((size_t)nbuf, sizeof(char *));
        size_t *len = calloc((size_t)nbuf, sizeof(size_t));
        uint64_t seed = 0x243F6A8885A308D3ULL;
        unsigned long check = 0;

        if (!buf || !len)
                return 1;
        double t0 = bench_now();
        for (long i = 0; i < calls; i++) {
                long b = i % nbuf;
                size_t grow = 8 + (size_t)(bench_rand(&seed) % 57);
                if (len[b] + grow > (size_t)max) {
                        check += (unsigned char)buf[b][len[b] - 1];
                        free(buf[b]);
                        buf[b] = NULL;
                        len[b] = 0;
                }
                char *n = realloc(buf[b], len[b] + grow);
                if (!n)
                        return 1;
                memset(n + len[b], (int)(i & 0x7f), grow);
                buf[b] = n;
                len[b] += grow;
        }
        double dt = bench_now() - t0;
        for (long b = 0; b < nbuf; b++)
                free(buf[b]);
        free(buf);
        free(len);
        bench_report(calls, dt, check);
        return 0;
}

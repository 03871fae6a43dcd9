/* SPDX-License-Identifier: MIT */
/* Workload: large blocks. Sizes are log-uniform between 64 KiB and 16 MiB; every page of each new block
 * is written, and a window of WINDOW blocks stays live (the oldest is freed). Prints blocks per second.
 * Usage: bench-large BLOCKS WINDOW */
#include "bench-common.h"

int main(int argc, char **argv)
{
        long blocks = bench_arg(argc, argv, 1, 20000);
        long window = bench_arg(argc, argv, 2, 4);
        char **live = calloc((size_t)window, sizeof(char *));
        uint64_t seed = 0x13198A2E03707344ULL;
        unsigned long check = 0;
        long page = sysconf(_SC_PAGESIZE);

        if (!live)
                return 1;
        double t0 = bench_now();
        for (long i = 0; i < blocks; i++) {
                uint64_t r = bench_rand(&seed);
                /* 2^16 .. 2^24 with a fractional exponent: 8 octaves in 1/256 steps. */
                unsigned e = (unsigned)(r % 8), frac = (unsigned)((r >> 8) % 256);
                size_t sz = ((size_t)1 << (16 + e)) + (((size_t)1 << (16 + e)) / 256) * frac;
                if (sz > ((size_t)16 << 20))
                        sz = (size_t)16 << 20;
                long w = i % window;
                if (live[w]) {
                        check += (unsigned char)live[w][0];
                        free(live[w]);
                }
                char *b = malloc(sz);
                if (!b)
                        return 1;
                for (size_t off = 0; off < sz; off += (size_t)page)
                        b[off] = (char)i;
                live[w] = b;
        }
        double dt = bench_now() - t0;
        for (long w = 0; w < window; w++)
                free(live[w]);
        free(live);
        bench_report(blocks, dt, check);
        return 0;
}

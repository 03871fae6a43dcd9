/* SPDX-License-Identifier: MIT */
/* Shared bits of the allocator workloads: a PRNG, a monotonic clock, RSS from /proc/self/statm read
 * with open/read (so that measuring does not itself call the allocator), and argument parsing. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t bench_rand(uint64_t *s)
{
        /* xorshift64*: cheap and identical under every allocator, so all of them see the same sizes. */
        uint64_t x = *s;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *s = x;
        return x * 0x2545F4914F6CDD1DULL;
}

static inline double bench_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline long bench_rss_bytes(void)
{
        char buf[128];
        long size = 0, resident = 0;
        int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        if (sscanf(buf, "%ld %ld", &size, &resident) != 2)
                return -1;
        return resident * sysconf(_SC_PAGESIZE);
}

/* The result lines run.py parses; check keeps the work from being optimised away. */
static inline void bench_report(long ops, double seconds, unsigned long check)
{
        printf("ops=%ld\nseconds=%.6f\nops_per_sec=%.0f\ncheck=%lu\n", ops, seconds, (double)ops / seconds,
               check);
}

/* Positional argument i as a positive number, or the default; a bad value ends the run with a message. */
static inline long bench_arg(int argc, char **argv, int i, long def)
{
        if (i >= argc)
                return def;
        char *end;
        errno = 0;
        long v = strtol(argv[i], &end, 10);
        if (errno || *end || v <= 0) {
                fprintf(stderr, "%s: argument %d: '%s' is not a positive integer\n", argv[0], i, argv[i]);
                exit(2);
        }
        return v;
}

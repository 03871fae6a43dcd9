/* SPDX-License-Identifier: MIT */
/*
 * balloon: a workload that allocates memory at a controlled rate and touches every page, so the
 * kernel charges it to the cgroup. Used by the e2e tests, the policy tests and the demo.
 *
 *   balloon [--rate SIZE] [--step SIZE] [--max SIZE] [--hold DUR|inf] [--free] [--after DUR]
 *           [--cycles N] [--leak] [--mmap] [--quiet]
 *
 * It grows in --step chunks (malloc + memset) at --rate bytes per second (0 = as fast as it can)
 * up to --max, holds for --hold, then with --free releases everything and waits --after before the
 * next cycle or the exit. --leak grows forever (no --max). --mmap takes memory straight from mmap(2),
 * as runtimes with their own allocator do, so a preloaded malloc's heap cap does not apply. Sizes take K/M/G
 * suffixes, durations ms/s/m. Prints one line per milestone on stdout. Exits 0, 2 on bad arguments, 3 when
 * malloc fails.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

static bool quiet;

static int parse_size(const char *s, uint64_t *ret)
{
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || v < 0)
                return -1;
        uint64_t mul = 1;
        switch (*end) {
        case 'k':
        case 'K':
                mul = 1024;
                end++;
                break;
        case 'm':
        case 'M':
                mul = 1024 * 1024;
                end++;
                break;
        case 'g':
        case 'G':
                mul = 1024 * 1024 * 1024;
                end++;
                break;
        default:
                break;
        }
        if (*end == 'i')
                end++;
        if (*end == 'B' || *end == 'b')
                end++;
        if (*end)
                return -1;
        *ret = (uint64_t)(v * (double)mul);
        return 0;
}

/* Microseconds; -1 for "inf". */
static int parse_duration(const char *s, int64_t *ret)
{
        char *end;
        if (strcmp(s, "inf") == 0 || strcmp(s, "infinity") == 0) {
                *ret = -1;
                return 0;
        }
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || v < 0)
                return -1;
        double mul = 1e6;
        if (strcmp(end, "ms") == 0)
                mul = 1e3;
        else if (strcmp(end, "us") == 0)
                mul = 1;
        else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
                mul = 60e6;
        else if (*end && strcmp(end, "s") != 0)
                return -1;
        *ret = (int64_t)(v * mul);
        return 0;
}

static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_usec(int64_t usec)
{
        if (usec < 0) {
                for (;;)
                        pause();
        }
        struct timespec ts = { .tv_sec = usec / 1000000, .tv_nsec = (usec % 1000000) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
        va_list ap;
        if (quiet)
                return;
        va_start(ap, fmt);
        printf("balloon[%d]: ", (int)getpid());
        vprintf(fmt, ap);
        printf("\n");
        fflush(stdout);
        va_end(ap);
}

static void usage(FILE *f)
{
        fputs(
            "Usage: balloon [--rate SIZE] [--step SIZE] [--max SIZE] [--hold DUR|inf] [--free] [--after "
            "DUR]\n"
            "               [--cycles N] [--leak] [--mmap] [--quiet]\n"
            "Allocates and touches memory at --rate per second (0 = as fast as possible) in --step chunks\n"
            "up to --max (default 100M), holds for --hold, frees it all with --free, waits --after.\n"
            "--leak grows forever. Sizes: 512K, 20M, 1G. Durations: 500ms, 10s, 2m, inf.\n",
            f);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "rate", required_argument, NULL, 'r' },   { "step", required_argument, NULL, 's' },
                { "max", required_argument, NULL, 'm' },    { "hold", required_argument, NULL, 'H' },
                { "free", no_argument, NULL, 'f' },         { "after", required_argument, NULL, 'a' },
                { "cycles", required_argument, NULL, 'c' }, { "leak", no_argument, NULL, 'l' },
                { "quiet", no_argument, NULL, 'q' },        { "mmap", no_argument, NULL, 'M' },
                { "help", no_argument, NULL, 'h' },         {},
        };
        uint64_t rate = 0, step = 1024 * 1024, max = 100 * 1024 * 1024;
        int64_t hold = 0, after = 0;
        bool do_free = false, leak = false, use_mmap = false;
        long cycles = 1;
        int c, idx = 0;

        while ((c = getopt_long(argc, argv, "hq", opts, &idx)) >= 0) {
                int bad = 0;
                switch (c) {
                case 'r':
                        bad = parse_size(optarg, &rate);
                        break;
                case 's':
                        bad = parse_size(optarg, &step) < 0 || step == 0 ? -1 : 0;
                        break;
                case 'm':
                        bad = parse_size(optarg, &max);
                        break;
                case 'H':
                        bad = parse_duration(optarg, &hold);
                        break;
                case 'a':
                        bad = parse_duration(optarg, &after);
                        break;
                case 'f':
                        do_free = true;
                        break;
                case 'l':
                        leak = true;
                        break;
                case 'M':
                        use_mmap = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'c': {
                        char *end;
                        cycles = strtol(optarg, &end, 10);
                        bad = *end || cycles < 1 ? -1 : 0;
                        break;
                }
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
                if (bad) {
                        fprintf(stderr,
                                "balloon: --%s: invalid value '%s' (sizes like 20M, durations like 10s)\n",
                                opts[idx].name, optarg);
                        return 2;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }

        size_t nchunks = leak ? 1024 : (size_t)((max + step - 1) / step);
        char **chunks = calloc(nchunks ? nchunks : 1, sizeof(char *));
        size_t *sizes = calloc(nchunks ? nchunks : 1, sizeof(size_t));
        if (!chunks || !sizes)
                return 3;
        long page = sysconf(_SC_PAGESIZE);

        for (long cycle = 0; cycle < cycles; cycle++) {
                uint64_t start = now_usec(), total = 0;
                size_t n = 0;
                say("growing to %s%" PRIu64 " MiB at %" PRIu64 " MiB/s in %" PRIu64 " KiB steps",
                    leak ? "(leak) " : "", max >> 20, rate >> 20, step >> 10);
                while (leak || total < max) {
                        if (n == nchunks) {
                                nchunks *= 2;
                                char **nc = realloc(chunks, nchunks * sizeof(char *));
                                size_t *ns = nc ? realloc(sizes, nchunks * sizeof(size_t)) : NULL;
                                if (!nc || !ns) {
                                        fprintf(stderr, "balloon: out of memory for the chunk table\n");
                                        return 3;
                                }
                                chunks = nc;
                                sizes = ns;
                        }
                        size_t sz = (size_t)(leak ? step : (max - total < step ? max - total : step));
                        char *p;
                        if (use_mmap) {
                                p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                                         0);
                                if (p == MAP_FAILED)
                                        p = NULL;
                        } else
                                p = malloc(sz);
                        if (!p) {
                                fprintf(stderr, "balloon: %s(%zu) failed after %" PRIu64 " MiB: %s\n",
                                        use_mmap ? "mmap" : "malloc", sz, total >> 20, strerror(errno));
                                return 3;
                        }
                        /* Touch every page so the kernel charges it. */
                        for (size_t o = 0; o < sz; o += (size_t)page)
                                p[o] = (char)(o | 1);
                        p[sz - 1] = 1;
                        sizes[n] = sz;
                        chunks[n++] = p;
                        total += sz;
                        if (rate > 0) {
                                uint64_t due = start + total * 1000000u / rate;
                                uint64_t now = now_usec();
                                if (due > now)
                                        sleep_usec((int64_t)(due - now));
                        }
                }
                say("reached %" PRIu64 " MiB", total >> 20);
                if (hold)
                        sleep_usec(hold);
                if (do_free) {
                        for (size_t i = 0; i < n; i++)
                                if (use_mmap)
                                        munmap(chunks[i], sizes[i]);
                                else
                                        free(chunks[i]);
                        say("freed %" PRIu64 " MiB", total >> 20);
                        if (after)
                                sleep_usec(after);
                }
        }
        say("done");
        return 0;
}

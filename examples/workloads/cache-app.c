/* SPDX-License-Identifier: MIT */
/*
 * cache-app: an example workload that keeps an in-memory cache and cooperates with oomless through
 * the liboomless app API: when the supervisor's stage rises it sheds part (stage 1) or all (stage 2+)
 * of its cache and shrinks its target size; it sizes the cache as budget x normal size when the
 * supervisor publishes a capacity budget (a policy's "shed" action and its climb back), taking the
 * smaller of the two; when an allocation hits the heap cap it drops the cache from the pressure
 * callback so the allocation can be retried. It runs unchanged without liboomless
 * (the API is weak; see include/oomless/oomless.h) and then simply never sheds.
 *
 * Usage: cache-app [--cache-mib N] [--value-kib K] [--grow MIB_PER_SEC] [--seconds S] [--quiet]
 *                  [--ballast-mib N --ballast-at-budget PERMILLE]
 * --grow limits how fast the cache fills (default: as fast as lookups miss), for demonstrations.
 * --ballast-mib allocates N MiB the app needs for something else than its cache (and never sheds)
 * the first time the budget climbs back to PERMILLE after a shed: the pressure that returns during a
 * climb, which makes the budget drop again (the multiplicative decrease; tests/e2e-policy).
 * Prints one status line per second: stage, budget, cache entries and MiB, heap figures when available,
 * and one line per change of stage or budget.
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oomless/oomless.h"

static void **slots;
static size_t nslots, used, value_size;
static size_t target; /* entries we aim to keep, lowered when told to */
static atomic_int pending_stage = -1;
static atomic_int pending_budget = -1;
static unsigned long long shed_total;

static void shed(size_t keep)
{
        for (size_t i = keep; i < nslots; i++)
                if (slots[i]) {
                        free(slots[i]);
                        slots[i] = NULL;
                        used--;
                        shed_total++;
                }
}

/* Runs on liboomless's thread: only record the request; the main loop acts on it. */
static void on_stage(int stage, int previous, void *userdata)
{
        atomic_store(&pending_stage, stage);
}

/* Runs on liboomless's thread too: record, the main loop resizes. */
static void on_budget(int budget, int weight, void *userdata)
{
        atomic_store(&pending_budget, budget);
}

/* What a stage leaves of the cache: all at 0, half at 1, an eighth from 2 on. */
static size_t stage_target(int stage)
{
        return stage >= 2 ? nslots / 8 + 1 : stage == 1 ? nslots / 2 : nslots;
}

/* The budget's share of the normal size (permille, clamped). */
static size_t budget_target(int budget)
{
        budget = budget < 0 ? 0 : budget > 1000 ? 1000 : budget;
        return (size_t)((unsigned long long)nslots * (unsigned)budget / 1000);
}

/* Runs inside the malloc that hit the cap, in our own thread. The cache is consistent at every
 * malloc call (values are allocated before they are linked in), so freeing here is safe. */
static void on_pressure(size_t request, void *userdata)
{
        shed(0);
        target = target / 2 + 1;
}

static double now_sec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        size_t cache_mib = 256, value_kib = 64;
        double seconds = 10, grow = 0;
        int quiet = 0, stage = 0, budget = 1000;
        size_t ballast_mib = 0;
        int ballast_at = 0, ballast_armed = 0;
        static const struct option opts[] = { { "cache-mib", required_argument, NULL, 'c' },
                                              { "value-kib", required_argument, NULL, 'v' },
                                              { "seconds", required_argument, NULL, 's' },
                                              { "grow", required_argument, NULL, 'g' },
                                              { "quiet", no_argument, NULL, 'q' },
                                              { "ballast-mib", required_argument, NULL, 'b' },
                                              { "ballast-at-budget", required_argument, NULL, 'a' },
                                              { NULL, 0, NULL, 0 } };
        for (int c; (c = getopt_long(argc, argv, "c:v:s:g:qb:a:", opts, NULL)) != -1;) {
                switch (c) {
                case 'c':
                        cache_mib = strtoull(optarg, NULL, 10);
                        break;
                case 'v':
                        value_kib = strtoull(optarg, NULL, 10);
                        break;
                case 's':
                        seconds = strtod(optarg, NULL);
                        break;
                case 'g':
                        grow = strtod(optarg, NULL);
                        break;
                case 'q':
                        quiet = 1;
                        break;
                case 'b':
                        ballast_mib = strtoull(optarg, NULL, 10);
                        break;
                case 'a':
                        ballast_at = atoi(optarg);
                        break;
                default:
                        fprintf(
                            stderr,
                            "usage: %s [--cache-mib N] [--value-kib K] [--grow MIB_PER_SEC] [--seconds S] "
                            "[--quiet] [--ballast-mib N --ballast-at-budget PERMILLE]\n",
                            argv[0]);
                        return 2;
                }
        }
        if (!cache_mib || !value_kib || cache_mib * 1024 / value_kib == 0) {
                fprintf(stderr,
                        "cache-app: --cache-mib and --value-kib must be positive and cache >= value\n");
                return 2;
        }
        value_size = value_kib * 1024;
        nslots = target = cache_mib * 1024 / value_kib;
        slots = calloc(nslots, sizeof(void *));
        if (!slots)
                return 1;

        if (oomless_available()) {
                if (oomless_try_on_stage(on_stage, NULL) < 0 ||
                    oomless_try_on_pressure(on_pressure, NULL) < 0)
                        fprintf(stderr, "cache-app: cannot register liboomless callbacks\n");
                if (oomless_try_on_budget(on_budget, NULL) < 0)
                        fprintf(stderr, "cache-app: this liboomless has no budget callback\n");
                budget = oomless_try_budget();
                target = budget_target(budget) < target ? budget_target(budget) : target;
                printf("cache-app: liboomless present, stage %d, budget %d\n", oomless_try_stage(), budget);
        } else
                printf("cache-app: liboomless absent, running without memory cooperation\n");
        fflush(stdout);

        uint64_t rng = 0x9e3779b97f4a7c15ull, hits = 0, misses = 0, failures = 0;
        double start = now_sec(), next_report = start + 1;
        for (;;) {
                double t = now_sec();
                if (t - start >= seconds)
                        break;
                int s = atomic_exchange(&pending_stage, -1);
                int b = atomic_exchange(&pending_budget, -1);
                if ((s >= 0 && s != stage) || (b >= 0 && b != budget)) {
                        int os = stage, ob = budget;
                        stage = s >= 0 ? s : stage;
                        budget = b >= 0 ? b : budget;
                        /* The stricter of the stage's share and the budget's; stage 2 drops everything
                         * now and refills up to its eighth. */
                        target = stage_target(stage);
                        if (budget_target(budget) < target)
                                target = budget_target(budget);
                        shed(stage >= 2 && os < 2 ? 0 : target);
                        if (stage != os)
                                printf("cache-app: stage %d -> %d, cache now %zu entries (target %zu)\n", os,
                                       stage, used, target);
                        if (budget != ob)
                                printf("cache-app: budget %d -> %d, cache now %zu entries (target %zu)\n",
                                       ob, budget, used, target);
                        if (ballast_mib && budget < ballast_at)
                                ballast_armed = 1;
                        if (ballast_armed == 1 && budget >= ballast_at) {
                                char *p = malloc(ballast_mib << 20);
                                if (p)
                                        memset(p, 0x42, ballast_mib << 20); /* kept to the end */
                                ballast_armed = 2;
                                printf("cache-app: ballast of %zu MiB %s at budget %d\n", ballast_mib,
                                       p ? "allocated" : "refused", budget);
                        }
                        fflush(stdout);
                }
                for (int i = 0; i < 1000; i++) {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        size_t k = (size_t)(rng % nslots);
                        if (slots[k]) {
                                hits++;
                                continue;
                        }
                        misses++;
                        if (k >= target)
                                continue; /* outside what we may keep now: compute, don't cache */
                        if (grow > 0 && (double)((used + 1) * value_size) > (t - start) * grow * 1048576.0)
                                continue;             /* filling no faster than --grow */
                        void *v = malloc(value_size); /* before linking in: see on_pressure() */
                        if (!v) {
                                failures++;
                                shed(0);
                                continue;
                        }
                        memset(v, (int)k, value_size);
                        slots[k] = v;
                        used++;
                }
                if (grow > 0) /* a paced demo need not burn a core */
                        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
                if (!quiet && t >= next_report) {
                        struct oomless_stats st = { .size = sizeof(st) };
                        if (oomless_try_stats(&st) == 0)
                                printf(
                                    "cache-app: stage %d, budget %d, %zu entries (%zu MiB), heap held %llu "
                                    "MiB, cap %llu MiB, cap hits %llu\n",
                                    stage, budget, used, used * value_size >> 20,
                                    (unsigned long long)st.held >> 20, (unsigned long long)st.cap >> 20,
                                    (unsigned long long)st.cap_hits);
                        else
                                printf("cache-app: %zu entries (%zu MiB)\n", used, used * value_size >> 20);
                        fflush(stdout);
                        next_report = t + 1;
                }
        }
        printf("cache-app: done: hits %llu, misses %llu, shed %llu, failed allocations %llu\n",
               (unsigned long long)hits, (unsigned long long)misses, shed_total,
               (unsigned long long)failures);
        shed(0);
        free(slots);
        return 0;
}

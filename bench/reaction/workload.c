/* SPDX-License-Identifier: MIT */
/*
 * The reaction benchmark's workload: grows its memory at a given rate, by malloc or by mmap, and
 * records the moment its cgroup's usage crosses a threshold and the moment the stage's signal (SIGUSR1,
 * sent by the policy's on_enter) arrives, with the usage then. It then frees everything, waits for the
 * stage's exit signal (SIGUSR2) and repeats. One line per crossing on stdout:
 *   crossing <i> latency_us <n> overshoot_bytes <n>
 * and "missed <i>" when no signal came in time.
 *
 * usage: reaction-workload malloc|mmap <MiB/s, 0 = as fast as possible> <threshold bytes>
 *                          <crossings> [<start delay ms>]
 * The usage file is found from /proc/self/cgroup (v1 memory.usage_in_bytes, else v2 memory.current),
 * or given in $REACTION_USAGE_FILE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHUNK    ((size_t)1 << 20)
#define MAXCHUNK 4096

static int usage_fd = -1;
static volatile sig_atomic_t got_enter, got_exit;
static volatile uint64_t enter_ns, enter_usage;

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Async-signal-safe: pread and strtoull-free parsing. */
static uint64_t usage(void)
{
        char buf[32];
        ssize_t n = pread(usage_fd, buf, sizeof(buf) - 1, 0);
        uint64_t v = 0;
        for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
                v = v * 10 + (uint64_t)(buf[i] - '0');
        return v;
}

static void on_usr1(int sig)
{
        (void)sig;
        if (!got_enter) {
                enter_ns = now_ns();
                enter_usage = usage();
                got_enter = 1;
        }
}

static void on_usr2(int sig)
{
        (void)sig;
        got_exit = 1;
}

static int open_usage(void)
{
        const char *env = getenv("REACTION_USAGE_FILE");
        char line[4096], path[4200], v2[4096] = "";
        FILE *f;

        if (env)
                return open(env, O_RDONLY | O_CLOEXEC);
        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
                if (!b)
                        continue;
                *b = 0;
                if (strcmp(a + 1, "memory") == 0 || strstr(a + 1, ",memory")) {
                        snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", b + 1);
                        fclose(f);
                        return open(path, O_RDONLY | O_CLOEXEC);
                }
                if (a[1] == 0 && strncmp(line, "0", 1) == 0)
                        snprintf(v2, sizeof(v2), "%s", b + 1);
        }
        fclose(f);
        snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.current", v2);
        return open(path, O_RDONLY | O_CLOEXEC);
}

static void sleep_until(uint64_t t)
{
        struct timespec ts = { .tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u) };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

static void wait_flag(volatile sig_atomic_t *flag, uint64_t timeout_ns)
{
        uint64_t end = now_ns() + timeout_ns;
        while (!*flag && now_ns() < end)
                usleep(1000);
}

int main(int argc, char **argv)
{
        static void *chunks[MAXCHUNK];
        bool use_mmap;
        uint64_t rate, threshold, delay_ms = 300;
        int n;

        if (argc < 5 || (strcmp(argv[1], "malloc") != 0 && strcmp(argv[1], "mmap") != 0)) {
                fprintf(stderr, "usage: %s malloc|mmap MiB/s threshold-bytes crossings [delay-ms]\n",
                        argv[0]);
                return 2;
        }
        use_mmap = strcmp(argv[1], "mmap") == 0;
        rate = strtoull(argv[2], NULL, 10) << 20;
        threshold = strtoull(argv[3], NULL, 10);
        n = atoi(argv[4]);
        if (argc > 5)
                delay_ms = strtoull(argv[5], NULL, 10);
        usage_fd = open_usage();
        if (usage_fd < 0) {
                perror("reaction-workload: cannot open the cgroup's usage file");
                return 2;
        }
        struct sigaction sa = { .sa_handler = on_usr1 };
        sigaction(SIGUSR1, &sa, NULL);
        sa.sa_handler = on_usr2;
        sigaction(SIGUSR2, &sa, NULL);
        setvbuf(stdout, NULL, _IOLBF, 0);

        for (int i = 0; i < n; i++) {
                size_t k = 0;
                uint64_t cross_ns = 0, cross_usage = 0, t0;

                /* Settled below the exit level, with the previous round's stage left, before growing:
                 * the start delay, and a random part so that crossings do not line up with the tick. */
                sleep_until(now_ns() + delay_ms * 1000000u + (uint64_t)(rand() % 100) * 1000000u);
                got_enter = 0;
                got_exit = 0;
                t0 = now_ns();
                while (!got_enter && k < MAXCHUNK) {
                        void *p;
                        if (use_mmap) {
                                p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                                         -1, 0);
                                if (p == MAP_FAILED)
                                        p = NULL;
                        } else
                                p = malloc(CHUNK);
                        if (!p)
                                break;
                        memset(p, 1, CHUNK);
                        chunks[k++] = p;
                        if (!cross_ns) {
                                uint64_t u = usage();
                                if (u >= threshold) {
                                        cross_ns = now_ns();
                                        cross_usage = u;
                                }
                        }
                        /* Stop growing well before the limit: past 90% of twice the threshold we wait. */
                        if (cross_ns && usage() > threshold + threshold * 8 / 10)
                                break;
                        if (rate)
                                sleep_until(t0 + (uint64_t)((double)k * CHUNK * 1e9 / (double)rate));
                }
                /* The stage came before our own reading showed the crossing (the supervisor sampled
                 * between our chunk and our read, or the cgroup's per-CPU charge batches put the two
                 * readings on either side of the level): the signal came first, latency 0. */
                if (!cross_ns && got_enter) {
                        cross_ns = enter_ns;
                        cross_usage = enter_usage;
                }
                if (cross_ns)
                        wait_flag(&got_enter, 20000000000u);
                if (!cross_ns || !got_enter)
                        printf("missed %d\n", i);
                else
                        printf("crossing %d latency_us %llu overshoot_bytes %lld\n", i,
                               (unsigned long long)(enter_ns > cross_ns ? (enter_ns - cross_ns) / 1000 : 0),
                               (long long)(enter_usage - threshold));
                (void)cross_usage;
                for (size_t j = 0; j < k; j++) {
                        if (use_mmap)
                                munmap(chunks[j], CHUNK);
                        else
                                free(chunks[j]);
                }
                malloc_trim(0);
                wait_flag(&got_exit, 20000000000u);
        }
        return 0;
}

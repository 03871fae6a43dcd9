/* SPDX-License-Identifier: MIT */
/* The C workloads of the scenario suite (tests/scenarios): a leaking service that does a job of a
 * fixed length and keeps its progress across restarts, a parent that forks growing workers, and a
 * build-like job that writes files and reads them back. Each prints one result line that the harness
 * checks ("done ..."), so a run that ends early or wrong is visible, not only its exit status.
 *
 *   scen-work leak RATE_MB_S JOB_MB STATE_FILE
 *   scen-work fork WORKERS PARALLEL SIZE_MB
 *   scen-work build DIR FILES FILE_MB ANON_MB [PASSES]
 *
 * Exit statuses: 0 done; 3 an allocation failed (ENOMEM, reported); 1 a worker was killed, a check
 * failed, or bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
        struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_requested)
                ;
}

static double read_progress(const char *path)
{
        FILE *f = fopen(path, "re");
        double v = 0;
        if (!f)
                return 0;
        if (fscanf(f, "%lf", &v) != 1)
                v = 0;
        fclose(f);
        return v;
}

/* Written through a temporary name and rename(2), so a kill between the two leaves the old value. */
static void write_progress(const char *path, double v)
{
        char tmp[4096];
        FILE *f;

        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        f = fopen(tmp, "we");
        if (!f)
                return;
        fprintf(f, "%.3f\n", v);
        if (fclose(f) == 0)
                rename(tmp, path);
}

/* A service that does a job of JOB units, each of which leaks 1 MiB, at up to RATE units per second.
 * The work is a count, not a time, so a slower machine leaks as much. Its progress survives a graceful
 * restart (SIGTERM saves it), as a real service's committed work does; a kernel OOM kill loses what
 * was done since the last save (every 0.5 s). */
static int do_leak(int argc, char **argv)
{
        double rate, job, done, t0, last_save;
        long this_run = 0;
        const char *state;

        if (argc != 3)
                return fprintf(stderr, "usage: scen-work leak RATE_MB_S JOB_MB STATE_FILE\n"), 1;
        rate = atof(argv[0]);
        job = atof(argv[1]);
        state = argv[2];
        signal(SIGTERM, on_term);
        done = read_progress(state);
        printf("leak: starting at %.0f of %.0f MiB\n", done, job);
        t0 = last_save = now_s();
        while (done < job) {
                while (this_run < (now_s() - t0) * rate && done < job) {
                        char *p = malloc(MIB);
                        if (!p) {
                                write_progress(state, done);
                                printf("leak: malloc failed after %ld MiB (ENOMEM) at %.0f of %.0f\n",
                                       this_run, done, job);
                                return 3;
                        }
                        memset(p, 0x5a, MIB);
                        this_run++;
                        done++;
                }
                if (stop_requested) {
                        write_progress(state, done);
                        printf("leak: SIGTERM at %.0f of %.0f, progress saved\n", done, job);
                        return 0;
                }
                sleep_s(0.01);
                if (now_s() - last_save >= 0.5) {
                        write_progress(state, done);
                        last_save = now_s();
                }
        }
        write_progress(state, done);
        printf("done: job of %.0f MiB finished\n", job);
        return 0;
}

/* A worker grows to size_mb in 1 MiB steps over about two seconds, holds it briefly and exits 0; a
 * failed allocation makes it exit 75 (EX_TEMPFAIL), and the parent retries it later. A worker that
 * dies by a signal fails the whole job, as it does for make or a CI runner. */
static int worker(long size_mb)
{
        for (long i = 0; i < size_mb; i++) {
                char *p = malloc(MIB);
                if (!p)
                        _exit(75);
                memset(p, (int)i, MIB);
                sleep_s(2.0 / (double)size_mb);
        }
        sleep_s(0.5);
        _exit(0);
}

static int do_fork(int argc, char **argv)
{
        long workers, parallel, size_mb, finished = 0, started = 0, retries = 0, running = 0;

        if (argc != 3)
                return fprintf(stderr, "usage: scen-work fork WORKERS PARALLEL SIZE_MB\n"), 1;
        workers = atol(argv[0]);
        parallel = atol(argv[1]);
        size_mb = atol(argv[2]);
        long pending = workers;
        while (finished < workers) {
                while (running < parallel && pending > 0) {
                        pid_t pid = fork();
                        if (pid < 0)
                                return perror("fork"), 1;
                        if (pid == 0)
                                worker(size_mb);
                        running++;
                        pending--;
                        started++;
                }
                int st;
                pid_t pid = wait(&st);
                if (pid < 0)
                        return perror("wait"), 1;
                running--;
                if (WIFSIGNALED(st)) {
                        printf("fork: worker %d killed by signal %d\n", (int)pid, WTERMSIG(st));
                        return 1;
                }
                if (WEXITSTATUS(st) == 75) {
                        retries++;
                        pending++;
                        sleep_s(0.3);
                        continue;
                }
                if (WEXITSTATUS(st) != 0) {
                        printf("fork: worker %d exited %d\n", (int)pid, WEXITSTATUS(st));
                        return 1;
                }
                finished++;
        }
        printf("done: %ld workers finished, %ld retried after ENOMEM, %ld started\n", finished, retries,
               started);
        return 0;
}

static uint64_t fill(char *buf, size_t n, unsigned seed)
{
        uint64_t x = seed * 2654435761u + 1, sum = 0;
        for (size_t i = 0; i < n; i += 8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                memcpy(buf + i, &x, 8);
                sum += x;
        }
        return sum;
}

static uint64_t checksum(const char *buf, size_t n)
{
        uint64_t sum = 0, x;
        for (size_t i = 0; i < n; i += 8) {
                memcpy(&x, buf + i, 8);
                sum += x;
        }
        return sum;
}

/* Writes FILES files of FILE_MB each (more than the limit in total: the page cache fills the cgroup
 * and is reclaimed), holds ANON_MB of anonymous memory as a compiler would, then reads every file
 * back twice and checks it. */
static int do_build(int argc, char **argv)
{
        long files, file_mb, anon_mb, passes = 2;
        const char *dir;
        uint64_t *sums;
        char *buf, *anon, path[4096];

        if (argc != 4 && argc != 5)
                return fprintf(stderr, "usage: scen-work build DIR FILES FILE_MB ANON_MB [PASSES]\n"), 1;
        dir = argv[0];
        files = atol(argv[1]);
        file_mb = atol(argv[2]);
        anon_mb = atol(argv[3]);
        if (argc == 5)
                passes = atol(argv[4]);
        size_t sz = (size_t)file_mb * MIB;
        buf = malloc(sz);
        sums = calloc((size_t)files, sizeof(*sums));
        anon = malloc((size_t)anon_mb * MIB);
        if (!buf || !sums || !anon)
                return printf("build: malloc failed (ENOMEM)\n"), 3;
        memset(anon, 1, (size_t)anon_mb * MIB);
        for (long i = 0; i < files; i++) {
                sums[i] = fill(buf, sz, (unsigned)i);
                snprintf(path, sizeof(path), "%s/obj-%ld.o", dir, i);
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0 || write(fd, buf, sz) != (ssize_t)sz || close(fd) < 0)
                        return perror(path), 1;
        }
        for (long pass = 0; pass < passes; pass++)
                for (long i = 0; i < files; i++) {
                        snprintf(path, sizeof(path), "%s/obj-%ld.o", dir, i);
                        int fd = open(path, O_RDONLY | O_CLOEXEC);
                        if (fd < 0 || read(fd, buf, sz) != (ssize_t)sz)
                                return perror(path), 1;
                        close(fd);
                        if (checksum(buf, sz) != sums[i])
                                return printf("build: %s reads back wrong\n", path), 1;
                }
        for (long i = 0; i < files; i++) {
                snprintf(path, sizeof(path), "%s/obj-%ld.o", dir, i);
                unlink(path);
        }
        printf("done: %ld files of %ld MiB written and read back %ld times\n", files, file_mb, passes);
        return 0;
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc >= 2 && strcmp(argv[1], "leak") == 0)
                return do_leak(argc - 2, argv + 2);
        if (argc >= 2 && strcmp(argv[1], "fork") == 0)
                return do_fork(argc - 2, argv + 2);
        if (argc >= 2 && strcmp(argv[1], "build") == 0)
                return do_build(argc - 2, argv + 2);
        fprintf(stderr, "usage: scen-work leak|fork|build ...\n");
        return 1;
}

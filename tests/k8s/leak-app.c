/* SPDX-License-Identifier: MIT */
/* The pod tests' app: `leak-app LOG [STEP_MB [PERIOD_MS]]`. The first instance of a pod (no LOG.leaked
 * yet) leaks STEP_MB (default 8) of touched heap every PERIOD_MS (default 100) until it is stopped;
 * the instances after it stay small and idle, so a test sees one leak, one restart, then calm. Each
 * instance appends "start PID leak|idle" to LOG, and "TERM PID" when SIGTERM arrives, then exits 0:
 * that line is how a test tells a graceful stop from a kill. Links only libc, so it runs in an image
 * that holds nothing but glibc and this file. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t term;

static void on_term(int sig)
{
        (void)sig;
        term = 1;
}

static void log_line(const char *path, const char *what)
{
        char line[128];
        int n = snprintf(line, sizeof(line), "%s %d\n", what, (int)getpid());
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
                fprintf(stderr, "leak-app: cannot open %s: %s\n", path, strerror(errno));
                return;
        }
        if (write(fd, line, (size_t)n) != n)
                fprintf(stderr, "leak-app: cannot write %s: %s\n", path, strerror(errno));
        close(fd);
        fputs(line, stdout);
        fflush(stdout);
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: leak-app LOG [STEP_MB [PERIOD_MS]]\n");
                return 2;
        }
        const char *log = argv[1];
        long step = argc > 2 ? atol(argv[2]) : 8, period = argc > 3 ? atol(argv[3]) : 100;
        if (step <= 0 || step > 1024 || period <= 0 || period > 60000) {
                fprintf(stderr, "leak-app: STEP_MB must be 1..1024 and PERIOD_MS 1..60000\n");
                return 2;
        }
        char marker[4096];
        snprintf(marker, sizeof(marker), "%s.leaked", log);
        int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        int leak = fd >= 0;
        if (fd >= 0)
                close(fd);

        struct sigaction sa = { .sa_handler = on_term };
        sigaction(SIGTERM, &sa, NULL);
        log_line(log, leak ? "start leak" : "start idle");

        struct timespec ts = { period / 1000, (period % 1000) * 1000000L };
        while (!term) {
                if (leak) {
                        char *p = malloc((size_t)step << 20);
                        if (p)
                                memset(p, 0x5a, (size_t)step << 20);
                }
                nanosleep(&ts, NULL);
        }
        log_line(log, "TERM");
        return 0;
}

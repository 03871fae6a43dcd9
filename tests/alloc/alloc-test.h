/* SPDX-License-Identifier: MIT */
/* Helpers shared by the allocator tests: a xorshift generator, a sleep that survives signals, and
 * child processes whose stdout/stderr the test reads through pipes. Include after test.h. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t at_rnd(uint64_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

static inline void at_sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0)
                ;
}

/* fork() with the child's stdout (out != NULL) and stderr (err != NULL) going into pipes. Returns 0
 * in the child; in the parent the child's pid, with the read ends in *out and *err. */
static inline pid_t at_fork_piped(int *out, int *err)
{
        int o[2] = { -1, -1 }, e[2] = { -1, -1 };
        if (out)
                ASSERT_EQ(pipe(o), 0);
        if (err)
                ASSERT_EQ(pipe(e), 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (out)
                        dup2(o[1], 1);
                if (err)
                        dup2(e[1], 2);
                return 0;
        }
        if (out) {
                close(o[1]);
                *out = o[0];
        }
        if (err) {
                close(e[1]);
                *err = e[0];
        }
        return pid;
}

/* Reads fd until EOF or buf is full; buf is NUL-terminated. Returns the bytes read. */
static inline size_t at_read_all(int fd, char *buf, size_t n)
{
        size_t got = 0;
        ssize_t r;
        while (got < n - 1 && (r = read(fd, buf + got, n - 1 - got)) > 0)
                got += (size_t)r;
        buf[got] = 0;
        return got;
}

/* Waits for pid and returns its wait status. */
static inline int at_wait(pid_t pid)
{
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        return status;
}

/* The start of a test that runs itself again as the preloaded child: our own executable into self,
 * and a fresh /tmp/oomless-<name>-XXXXXX into dir, which cleanup (called at exit) removes. */
static inline void at_setup_self_and_dir(char *self, size_t self_size, char *dir, size_t dir_size,
                                         const char *name, void (*cleanup)(void))
{
        ssize_t n = readlink("/proc/self/exe", self, self_size - 1);
        ASSERT_TRUE(n > 0);
        self[n] = 0;
        snprintf(dir, dir_size, "/tmp/oomless-%s-XXXXXX", name);
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        atexit(cleanup);
}

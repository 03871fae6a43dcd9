/* SPDX-License-Identifier: MIT */
/*
 * A stall in the middle of liboomless's work, for tests that must fork at that moment. The test
 * binary is linked with exported symbols (ENABLE_EXPORTS), so this open() is found before libc's by
 * the preloaded library too: the first open() from a thread that armed the stall blocks until
 * another thread releases it. Apart from that it is libc's open, done by the system call.
 */
#undef _FORTIFY_SOURCE /* its inline open() in <fcntl.h> could not be redefined */
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc-stall.h"

static _Thread_local bool stall_armed;
static _Atomic int stall_state; /* 0 idle, 1 a thread is stalled, 2 released */
static _Atomic unsigned opens;

void alloc_stall_arm_this_thread(void)
{
        stall_armed = true;
}

bool alloc_stall_wait(long ms)
{
        struct timespec ts = { 0, 1000000 };
        for (long i = 0; i < ms; i++) {
                if (atomic_load(&stall_state) == 1)
                        return true;
                nanosleep(&ts, NULL);
        }
        return false;
}

unsigned alloc_stall_opens(void)
{
        return atomic_load(&opens);
}

void alloc_stall_release(void)
{
        atomic_store(&stall_state, 2);
}

int open(const char *path, int flags, ...)
{
        unsigned mode = 0;
        if (flags & O_CREAT) {
                va_list ap;
                va_start(ap, flags);
                mode = va_arg(ap, unsigned);
                va_end(ap);
        }
        atomic_fetch_add(&opens, 1);
        if (stall_armed) {
                struct timespec ts = { 0, 1000000 };
                stall_armed = false;
                atomic_store(&stall_state, 1);
                while (atomic_load(&stall_state) == 1)
                        nanosleep(&ts, NULL);
        }
        return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

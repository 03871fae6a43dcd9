/* SPDX-License-Identifier: MIT */
/*
 * pthread_create that fails with EAGAIN (as under RLIMIT_NPROC or a seccomp filter) when
 * TEST_NO_THREADS is set, for the preloaded library's background thread. The test binary is linked
 * with exported symbols (ENABLE_EXPORTS), so the library finds this one before libc's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "alloc-nothread.h"

static _Atomic unsigned refused;

unsigned alloc_nothread_refused(void)
{
        return atomic_load(&refused);
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
        if (getenv("TEST_NO_THREADS")) {
                atomic_fetch_add(&refused, 1);
                return EAGAIN;
        }
        int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) =
            (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(RTLD_NEXT,
                                                                                           "pthread_create");
        return real ? real(t, attr, fn, arg) : ENOSYS;
}

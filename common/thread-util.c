/* SPDX-License-Identifier: MIT */
#include "thread-util.h"

#include <signal.h>

int thread_start_worker(pthread_t *ret, void *(*fn)(void *), void *arg)
{
        pthread_attr_t attr;
        sigset_t all, old;
        int q;

        q = pthread_attr_init(&attr);
        if (q != 0)
                return -q;
        (void)pthread_attr_setstacksize(&attr, 64 * 1024);
        /* The new thread inherits the mask in force at pthread_create. */
        sigfillset(&all);
        (void)pthread_sigmask(SIG_SETMASK, &all, &old);
        q = pthread_create(ret, &attr, fn, arg);
        (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        return -q;
}

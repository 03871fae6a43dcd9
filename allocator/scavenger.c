/* SPDX-License-Identifier: MIT */
/*
 * The background scavenger thread ("oomless-scav"): started lazily from a slow path, outside every
 * lock, with all signals blocked, once the heap is big enough to matter or a control page is mapped.
 * Each tick gives back what has been idle for the scavenge delay and serves the control page.
 */
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

#include "ma.h"

bool ma_ctor_ran;               /* set by alloc.c's constructor: threads may be created from now on */
static _Atomic int ma_bg_state; /* 0 not started, 1 starting/running, 2 failed */

static void *ma_bg_main(void *arg)
{
        (void)prctl(PR_SET_NAME, "oomless-scav", 0, 0, 0);
        uint64_t delay = ma_opt.scavenge_delay_ns;
        uint64_t tick = delay / 4;
        if (tick > 100000000)
                tick = 100000000;
        if (tick < 5000000)
                tick = 5000000;
        for (;;) {
                struct timespec ts = { .tv_sec = (time_t)(tick / 1000000000),
                                       .tv_nsec = (long)(tick % 1000000000) };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
                ma_scavenge_idle(ma_now_ns(), delay);
                ma_control_poll(true);
                ma_cap_refresh(UINT64_C(1000000000)); /* the default cap follows the cgroup */
        }
        return NULL;
}

void ma_maybe_start_background(void)
{
        if (!ma_opt.background || !ma_ctor_ran || atomic_load_explicit(&ma_bg_state, memory_order_relaxed))
                return;
        if (atomic_load_explicit(&ma_held, memory_order_relaxed) < ma_opt.background_min &&
            !ma_control_mapped() && !ma_control_pending())
                return;
        int expected = 0;
        if (!atomic_compare_exchange_strong(&ma_bg_state, &expected, 1))
                return;
        ma_control_note_background(true);
        /* All signals blocked, so process-directed signals never land on our thread. */
        sigset_t all, old;
        pthread_attr_t attr;
        pthread_t t;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 << 10);
        int saved = errno;
        if (pthread_create(&t, &attr, ma_bg_main, NULL) != 0) {
                atomic_store(&ma_bg_state, 2);
                ma_control_note_background(false); /* slow paths serve the control page */
        }
        errno = saved;
        pthread_attr_destroy(&attr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ma_scavenger_fork_child(void)
{
        /* The scavenger thread did not survive the fork; it restarts lazily. */
        atomic_store(&ma_bg_state, 0);
}

/* SPDX-License-Identifier: MIT */
/*
 * The allocator's side of the outside world: the supervisor's control page (read its half with the
 * seqlock, publish ours), the wake FIFO, the background scavenger thread, the application's stage
 * and pressure callbacks, and the oomless_* app API.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OOMLESS_BUILDING_LIBRARY 1
#include "ma.h"
#include "oomless/control.h"
#include "oomless/oomless.h"

typedef struct MaCallback {
        void *fn;
        void *userdata;
} MaCallback;

static MaCallback ma_stage_cbs[OOMLESS_CALLBACKS_MAX], ma_pressure_cbs[OOMLESS_CALLBACKS_MAX];
static _Atomic unsigned ma_nstage_cbs, ma_npressure_cbs;
static pthread_mutex_t ma_cb_lock = PTHREAD_MUTEX_INITIALIZER;

static struct oomless_control *ma_ctl;
static _Atomic int ma_ctl_state; /* 0 not tried, 1 mapped, 2 standalone */
static _Atomic int ma_poll_busy;
static _Atomic uint64_t ma_last_poll_ns;
static _Atomic int ma_stage_now;  /* last stage read from the page */
static _Atomic int ma_stage_seen; /* last stage delivered to callbacks */
static uint64_t ma_scavenge_ack;
static _Atomic uint64_t ma_wake_watermark;
static _Atomic int ma_wake_armed = 1;
static _Atomic int ma_wake_fd = -1;
static _Atomic int ma_bg_state;      /* 0 not started, 1 starting/running, 2 failed */
static _Atomic int ma_ctl_publisher; /* this process owns the allocator half */

/* One process publishes into the allocator half: the first one to map the page, or the next one
 * after it died. Other processes that inherited OOMLESS_CONTROL (forked workers, exec'd children)
 * still follow the stage, the cap and scavenge requests, but do not overwrite its figures. */
static void ma_ctl_claim(void)
{
        int saved = errno;
        uint32_t me = (uint32_t)getpid();
        uint32_t cur = __atomic_load_n(&ma_ctl->alloc.pid, __ATOMIC_ACQUIRE);
        if (cur == me)
                atomic_store(&ma_ctl_publisher, 1);
        else if (cur == 0 || (kill((pid_t)cur, 0) < 0 && errno == ESRCH)) {
                if (__atomic_compare_exchange_n(&ma_ctl->alloc.pid, &cur, me, false, __ATOMIC_ACQ_REL,
                                                __ATOMIC_ACQUIRE))
                        atomic_store(&ma_ctl_publisher, 1);
        }
        errno = saved;
}

void ma_control_init(void)
{
        int expected = 0;
        if (!ma_opt.control_path || !*ma_opt.control_path)
                return;
        if (!atomic_compare_exchange_strong(&ma_ctl_state, &expected, 2))
                return;
        int saved_errno = errno;
        const char *why = NULL;
        int fd = open(ma_opt.control_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        if (fd < 0)
                why = "cannot open it";
        else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)OOMLESS_CONTROL_SIZE)
                why = "it is not a regular file of OOMLESS_CONTROL_SIZE bytes";
        else {
                void *p = mmap(NULL, OOMLESS_CONTROL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (p == MAP_FAILED)
                        why = "cannot map it";
                else {
                        struct oomless_control *c = p;
                        if (__atomic_load_n(&c->magic, __ATOMIC_ACQUIRE) != OOMLESS_CONTROL_MAGIC)
                                why = "bad magic";
                        else if (c->version != OOMLESS_CONTROL_VERSION)
                                why = "unsupported version";
                        else if (c->size < sizeof(struct oomless_control) || c->size > OOMLESS_CONTROL_SIZE)
                                why = "bad size field";
                        if (why)
                                munmap(p, OOMLESS_CONTROL_SIZE);
                        else
                                ma_ctl = c;
                }
        }
        if (fd >= 0)
                close(fd);
        if (why) {
                MaBuf m = { .n = 0 };
                mb_str(&m, "liboomless: ignoring OOMLESS_CONTROL=");
                mb_str(&m, ma_opt.control_path);
                mb_str(&m, ": ");
                mb_str(&m, why);
                mb_str(&m, "; running standalone (the supervisor and liboomless versions must match)");
                mb_flush(&m);
                errno = saved_errno;
                return;
        }
        atomic_store(&ma_ctl_state, 1);
        ma_ctl_claim();
        errno = saved_errno;
}

static bool ma_ctl_read(struct oomless_control_sup *out)
{
        struct oomless_control_sup *s = &ma_ctl->sup;
        for (int tries = 0; tries < 64; tries++) {
                uint32_t a = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
                if (a & 1)
                        continue;
                out->stage = __atomic_load_n(&s->stage, __ATOMIC_RELAXED);
                out->stage_count = __atomic_load_n(&s->stage_count, __ATOMIC_RELAXED);
                out->flags = __atomic_load_n(&s->flags, __ATOMIC_RELAXED);
                out->heap_cap = __atomic_load_n(&s->heap_cap, __ATOMIC_RELAXED);
                out->scavenge_seq = __atomic_load_n(&s->scavenge_seq, __ATOMIC_RELAXED);
                out->wake_watermark = __atomic_load_n(&s->wake_watermark, __ATOMIC_RELAXED);
                __atomic_thread_fence(__ATOMIC_ACQUIRE);
                if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == a)
                        return true;
        }
        return false;
}

static uint64_t ma_in_use(void)
{
        return ma_central_in_use() + atomic_load_explicit(&ma_large_in_use, memory_order_relaxed);
}

static void ma_ctl_publish(void)
{
        struct oomless_control_alloc *a = &ma_ctl->alloc;
        uint32_t seq = __atomic_load_n(&a->seq, __ATOMIC_RELAXED);
        if (seq & 1) /* a previous writer died mid-update (e.g. fork): restart the sequence */
                seq++;
        __atomic_store_n(&a->seq, seq + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        __atomic_store_n(&a->pid, (uint32_t)getpid(), __ATOMIC_RELAXED);
        __atomic_store_n(&a->heap_held, atomic_load(&ma_held), __ATOMIC_RELAXED);
        __atomic_store_n(&a->heap_in_use, ma_in_use(), __ATOMIC_RELAXED);
        __atomic_store_n(&a->heap_returned, atomic_load(&ma_returned), __ATOMIC_RELAXED);
        __atomic_store_n(&a->heap_cap, atomic_load(&ma_cap), __ATOMIC_RELAXED);
        __atomic_store_n(&a->cap_hits, atomic_load(&ma_cap_hits), __ATOMIC_RELAXED);
        __atomic_store_n(&a->scavenges, atomic_load(&ma_scavenges), __ATOMIC_RELAXED);
        __atomic_store_n(&a->scavenge_ack, ma_scavenge_ack, __ATOMIC_RELAXED);
        __atomic_store_n(&a->stage_seen, (uint64_t)atomic_load(&ma_stage_seen), __ATOMIC_RELAXED);
        __atomic_store_n(&a->updated_ns, ma_now_ns(), __ATOMIC_RELAXED);
        __atomic_store_n(&a->seq, seq + 2, __ATOMIC_RELEASE);
}

static size_t ma_scavenge_all(bool own_cache)
{
        if (own_cache)
                ma_tcache_flush_self();
        ma_central_drain();
        size_t r = ma_ph_scavenge(0);
        return r + ma_central_release_pages(0);
}

static void ma_run_stage_callbacks(int stage, int prev)
{
        unsigned n = atomic_load(&ma_nstage_cbs);
        for (unsigned i = 0; i < n; i++)
                ((oomless_stage_fn)ma_stage_cbs[i].fn)(stage, prev, ma_stage_cbs[i].userdata);
}

void ma_run_pressure_callbacks(size_t request)
{
        unsigned n = atomic_load(&ma_npressure_cbs);
        for (unsigned i = 0; i < n; i++)
                ((oomless_pressure_fn)ma_pressure_cbs[i].fn)(request, ma_pressure_cbs[i].userdata);
}

void ma_control_poll(bool from_background)
{
        if (atomic_load_explicit(&ma_ctl_state, memory_order_relaxed) != 1)
                return;
        uint64_t now = ma_now_ns();
        if (!from_background &&
            now - atomic_load_explicit(&ma_last_poll_ns, memory_order_relaxed) < 10000000)
                return;
        if (atomic_exchange(&ma_poll_busy, 1))
                return;
        atomic_store(&ma_last_poll_ns, now);

        if (!atomic_load_explicit(&ma_ctl_publisher, memory_order_relaxed) && from_background)
                ma_ctl_claim();
        struct oomless_control_sup sup;
        if (ma_ctl_read(&sup)) {
                atomic_store(&ma_cap, sup.heap_cap ? sup.heap_cap : ma_opt.cap);
                atomic_store(&ma_wake_watermark, sup.wake_watermark);
                if (sup.scavenge_seq != ma_scavenge_ack) {
                        ma_scavenge_all(!from_background);
                        ma_scavenge_ack = sup.scavenge_seq;
                }
                int stage = sup.stage > 1000 ? 1000 : (int)sup.stage;
                atomic_store(&ma_stage_now, stage);
                int prev = atomic_load(&ma_stage_seen);
                if (stage != prev) {
                        atomic_store(&ma_stage_seen, stage);
                        ma_run_stage_callbacks(stage, prev);
                }
        }
        if (atomic_load_explicit(&ma_ctl_publisher, memory_order_relaxed))
                ma_ctl_publish();
        atomic_store(&ma_poll_busy, 0);
        ma_note_held(atomic_load(&ma_held));
}

void ma_note_held(uint64_t held)
{
        uint64_t wm = atomic_load_explicit(&ma_wake_watermark, memory_order_relaxed);
        if (!wm)
                return;
        if (held < wm - wm / 8) {
                atomic_store_explicit(&ma_wake_armed, 1, memory_order_relaxed);
                return;
        }
        if (held <= wm || !atomic_exchange(&ma_wake_armed, 0))
                return;
        if (!ma_opt.wake_path || !*ma_opt.wake_path)
                return;
        int saved = errno;
        int fd = atomic_load(&ma_wake_fd);
        if (fd < 0) {
                /* ENXIO: no reader yet; try again at the next crossing. */
                fd = open(ma_opt.wake_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                if (fd >= 0) {
                        int expected = -1;
                        if (!atomic_compare_exchange_strong(&ma_wake_fd, &expected, fd)) {
                                close(fd);
                                fd = expected;
                        }
                }
        }
        if (fd >= 0) {
                char b = 1;
                (void)!write(fd, &b, 1); /* EAGAIN: the supervisor has wake-ups pending already */
        }
        errno = saved;
}

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
                uint64_t now = ma_now_ns();
                atomic_store_explicit(&ma_coarse_ns, now, memory_order_relaxed);
                /* Objects parked in idle classes' transfer slots pin their spans as in use: hand
                 * them back first, or a program that freed everything (redis after FLUSHALL) keeps
                 * its pages until the next explicit trim. */
                ma_central_drain_idle(now > delay ? now - delay : 1);
                ma_ph_scavenge(now > delay ? now - delay : 1);
                /* Classes untouched for the whole delay: their partly used spans give back the
                 * pages that hold only free objects. */
                ma_central_release_pages(now > delay ? now - delay : 1);
                ma_control_poll(true);
        }
        return NULL;
}

void ma_maybe_start_background(void)
{
        if (!ma_opt.background || !ma_ctor_ran || atomic_load_explicit(&ma_bg_state, memory_order_relaxed))
                return;
        if (atomic_load_explicit(&ma_held, memory_order_relaxed) < ma_opt.background_min &&
            atomic_load(&ma_ctl_state) != 1)
                return;
        int expected = 0;
        if (!atomic_compare_exchange_strong(&ma_bg_state, &expected, 1))
                return;
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
        if (pthread_create(&t, &attr, ma_bg_main, NULL) != 0)
                atomic_store(&ma_bg_state, 2);
        errno = saved;
        pthread_attr_destroy(&attr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ma_control_fork_child(void)
{
        /* The scavenger thread did not survive the fork; it restarts lazily. */
        atomic_store(&ma_bg_state, 0);
        atomic_store(&ma_poll_busy, 0);
        /* The parent keeps publishing; this child may take over only once the parent is gone. */
        atomic_store(&ma_ctl_publisher, 0);
}

int ma_current_stage(void)
{
        if (atomic_load(&ma_ctl_state) != 1)
                return 0;
        struct oomless_control_sup sup;
        if (ma_ctl_read(&sup))
                return sup.stage > 1000 ? 1000 : (int)sup.stage;
        return atomic_load(&ma_stage_now);
}

static int ma_register(MaCallback *arr, _Atomic unsigned *n, void *fn, void *userdata)
{
        int r = 0;
        if (!fn)
                return -EINVAL;
        if (atomic_load(&ma_init_state) != 2)
                ma_init_slow();
        pthread_mutex_lock(&ma_cb_lock);
        unsigned i = atomic_load(n);
        if (i >= OOMLESS_CALLBACKS_MAX)
                r = -ENOSPC;
        else {
                arr[i].fn = fn;
                arr[i].userdata = userdata;
                atomic_store(n, i + 1); /* publishes the entry */
        }
        pthread_mutex_unlock(&ma_cb_lock);
        ma_maybe_start_background();
        return r;
}

MA_API int oomless_stage(void)
{
        return ma_current_stage();
}

MA_API int oomless_on_stage(oomless_stage_fn fn, void *userdata)
{
        return ma_register(ma_stage_cbs, &ma_nstage_cbs, (void *)fn, userdata);
}

MA_API int oomless_on_pressure(oomless_pressure_fn fn, void *userdata)
{
        return ma_register(ma_pressure_cbs, &ma_npressure_cbs, (void *)fn, userdata);
}

MA_API size_t oomless_scavenge(void)
{
        if (atomic_load(&ma_init_state) != 2)
                return 0;
        int saved = errno;
        size_t r = ma_scavenge_all(true);
        ma_control_poll(false);
        errno = saved;
        return r;
}

MA_API int oomless_stats(struct oomless_stats *st)
{
        struct oomless_stats s;
        if (!st || st->size < 2 * sizeof(uint32_t))
                return -EINVAL;
        if (atomic_load(&ma_init_state) != 2)
                ma_init_slow();
        memset(&s, 0, sizeof(s));
        s.size = st->size < sizeof(s) ? st->size : (uint32_t)sizeof(s);
        s.version = OOMLESS_STATS_VERSION;
        s.held = atomic_load(&ma_held);
        s.in_use = ma_in_use();
        s.returned = atomic_load(&ma_returned);
        s.cap = atomic_load(&ma_cap);
        s.limit = ma_opt.limit;
        s.cap_hits = atomic_load(&ma_cap_hits);
        s.scavenges = atomic_load(&ma_scavenges);
        s.stage = ma_current_stage();
        s.supervised = atomic_load(&ma_ctl_state) == 1;
        memcpy(st, &s, s.size);
        return 0;
}

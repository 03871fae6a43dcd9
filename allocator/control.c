/* SPDX-License-Identifier: MIT */
/*
 * The control page client: map the supervisor's page (include/oomless/control.h), read its half
 * under the seqlock (stage, cap, scavenge requests, wake watermark) and publish ours. The background
 * thread polls it every tick, slow paths at most every 10 ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ma.h"
#include "oomless/control.h"

static struct oomless_control *ma_ctl;
static _Atomic int ma_ctl_state; /* 0 not tried, 1 mapped, 2 standalone */
static _Atomic int ma_poll_busy;
static _Atomic uint64_t ma_last_poll_ns;
static _Atomic int ma_stage_now;  /* last stage read from the page */
static _Atomic int ma_stage_seen; /* last stage delivered to callbacks */
static uint64_t ma_scavenge_ack;
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
        __atomic_store_n(&a->heap_in_use, ma_heap_in_use(), __ATOMIC_RELAXED);
        __atomic_store_n(&a->heap_returned, atomic_load(&ma_returned), __ATOMIC_RELAXED);
        __atomic_store_n(&a->heap_cap, atomic_load(&ma_cap), __ATOMIC_RELAXED);
        __atomic_store_n(&a->cap_hits, atomic_load(&ma_cap_hits), __ATOMIC_RELAXED);
        __atomic_store_n(&a->scavenges, atomic_load(&ma_scavenges), __ATOMIC_RELAXED);
        __atomic_store_n(&a->scavenge_ack, ma_scavenge_ack, __ATOMIC_RELAXED);
        __atomic_store_n(&a->stage_seen, (uint64_t)atomic_load(&ma_stage_seen), __ATOMIC_RELAXED);
        __atomic_store_n(&a->updated_ns, ma_now_ns(), __ATOMIC_RELAXED);
        __atomic_store_n(&a->seq, seq + 2, __ATOMIC_RELEASE);
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
                ma_stats_set_wake_watermark(sup.wake_watermark);
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
        ma_stats_note_held(atomic_load(&ma_held));
}

bool ma_control_mapped(void)
{
        return atomic_load(&ma_ctl_state) == 1;
}

void ma_control_fork_child(void)
{
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

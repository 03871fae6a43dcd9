/* SPDX-License-Identifier: MIT */
/*
 * The control page client: map the supervisor's page (include/oomless/control.h), read its half
 * under the seqlock (stage, cap, scavenge requests, wake watermark, budget and weight) and publish
 * ours. The background
 * thread polls it every tick, slow paths at most every 10 ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ma.h"
#include "oomless/control.h"

static struct oomless_control *ma_ctl;
/* 0 not tried, 1 mapped, 2 standalone (never mapped, or detached), 3 pending: OOMLESS_CONTROL names a
 * file that does not exist yet (a sidecar supervisor may start after the app); retried by polls. */
static _Atomic int ma_ctl_state;
/* An open is under way (state 2 meanwhile): a child forked then would stay in state 2 for good, so
 * its fork handler makes it pending (3) again instead. */
static _Atomic bool ma_ctl_trying;
static _Atomic uint64_t ma_ctl_retry_ns; /* the last open tried while pending */
static _Atomic int ma_poll_busy;
static _Atomic bool ma_ctl_bg; /* the background thread runs (or is starting) and polls the page */
static _Atomic uint64_t ma_last_poll_ns;
static _Atomic int ma_stage_now;  /* last stage read from the page */
static _Atomic int ma_stage_seen; /* last stage delivered to callbacks */
/* Budget (permille, 0..1000), weight (0..100) and "not ready" packed in one word, so a reader never
 * sees the budget of one snapshot with the weight of another. */
#define MA_BW(budget, weight, not_ready) ((int)(budget) | (int)(weight) << 11 | (not_ready) << 18)
#define MA_BW_BUDGET(bw)                 ((bw)&0x7ff)
#define MA_BW_WEIGHT(bw)                 (((bw) >> 11) & 0x7f)
#define MA_BW_NOT_READY(bw)              (((bw) >> 18) & 1)
#define MA_BW_NORMAL                     MA_BW(OOMLESS_BUDGET_NORMAL, OOMLESS_WEIGHT_NORMAL, 0)
static _Atomic int ma_bw_now = MA_BW_NORMAL;  /* last read from the page */
static _Atomic int ma_bw_seen = MA_BW_NORMAL; /* last budget and weight delivered to callbacks */
static uint32_t ma_ctl_version;               /* the page's header version */
static uint64_t ma_scavenge_ack;
static _Atomic int ma_ctl_publisher; /* this process owns the allocator half */
static _Atomic int ma_ctl_attaching; /* the first read at attach: no claim (ma_control_try) */
static _Atomic int ma_ctl_claimed;   /* the first claim was tried (later ones: background only) */
static uint64_t ma_instance_id;      /* published with every snapshot; new per image and per fork */
static uint64_t ma_cap_refused;      /* the last too-small heap_cap from the page we reported */
/* The supervisor's cap when it is the one in force, 0 when ours (the default) is: one word, so a
 * default-cap refresh that races a poll can tell which value to put back (ma_cap_refresh). */
static _Atomic uint64_t ma_sup_cap;
/* ma_cap_refresh's rate limit and reentry guard, at file scope so the fork handler can reset them. */
static _Atomic uint64_t ma_refresh_last_ns;
static _Atomic int ma_refresh_busy;

/*
 * The SIGBUS guard, for a page that is a plain file. Anyone who can write the file can truncate it,
 * and then every access to the mapping raises SIGBUS (BUS_ADRERR). The handler maps private zero
 * pages over our mapping and returns, so the access is retried and reads zeros; the next poll sees
 * ma_ctl_lost (or the magic gone) and detaches. Any other SIGBUS goes to the handler that was there
 * before ours, or gets the default action, so the program's own SIGBUS behaviour does not change.
 * A sealed memfd cannot shrink, so it needs no guard. Limits: docs/control-page.md.
 */
static _Atomic uintptr_t ma_guard_lo; /* start of the guarded mapping, 0 when none */
static volatile sig_atomic_t ma_ctl_lost;
static struct sigaction ma_bus_prev;

static void ma_sigbus(int sig, siginfo_t *si, void *uc)
{
        uintptr_t lo = atomic_load_explicit(&ma_guard_lo, memory_order_acquire);
        uintptr_t a = (uintptr_t)si->si_addr;
        if (lo && si->si_code > 0 && a - lo < OOMLESS_CONTROL_SIZE &&
            ma_os_zero_fixed((void *)lo, OOMLESS_CONTROL_SIZE)) {
                ma_ctl_lost = 1;
                return;
        }
        const struct sigaction *p = &ma_bus_prev;
        if (p->sa_flags & SA_SIGINFO) {
                if (p->sa_sigaction) {
                        p->sa_sigaction(sig, si, uc);
                        return;
                }
        } else if (p->sa_handler == SIG_IGN) {
                if (si->si_code <= 0) /* sent by a process: ignored, as before */
                        return;
                /* a fault: the kernel would have forced the default action on an ignored SIGBUS */
        } else if (p->sa_handler != SIG_DFL) {
                p->sa_handler(sig);
                return;
        }
        /* The default action, as if we had never been here. A fault is retried on return and
         * faults again; a sent signal is raised again, pending until the handler returns. */
        int saved = errno;
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGBUS, &dfl, NULL);
        if (si->si_code <= 0)
                raise(SIGBUS);
        errno = saved;
}

static bool ma_guard_install(void *base)
{
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = ma_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        /* The previous action is read first and not rewritten while ours is live: a SIGBUS on
         * another thread may read it at any moment from then on. */
        struct sigaction cur;
        if (sigaction(SIGBUS, NULL, &cur) < 0)
                return false;
        /* Ours already (an open that a fork interrupted, retried in the child): the previous action
         * it recorded stays; recording ourselves would make a foreign SIGBUS loop. */
        if (!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction != ma_sigbus)
                ma_bus_prev = cur;
        atomic_store(&ma_guard_lo, (uintptr_t)base);
        if (sigaction(SIGBUS, &sa, NULL) == 0)
                return true;
        atomic_store(&ma_guard_lo, 0);
        return false;
}

static bool ma_guard_intact(void)
{
        struct sigaction cur;
        return sigaction(SIGBUS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
               cur.sa_sigaction == ma_sigbus;
}

static bool ma_guarded(void)
{
        return atomic_load_explicit(&ma_guard_lo, memory_order_relaxed) != 0;
}

/* A heap this much larger than the publisher's takes the allocator half over: twice as large, and
 * by at least 8 MiB, so that two processes of similar size never hand it back and forth. */
#define MA_CTL_TAKEOVER_MIN (8u << 20)

static bool ma_ctl_outgrows(uint64_t theirs)
{
        uint64_t mine = ma_heap_in_use();
        return mine >= MA_CTL_TAKEOVER_MIN && mine - MA_CTL_TAKEOVER_MIN >= theirs && mine / 2 >= theirs;
}

/* One process publishes into the allocator half: the first one to map the page, the next one after
 * it died, or one whose heap has outgrown the publisher's. The last is for wrappers that stay (a
 * Python launcher, `npm start`, a prefork master): the supervisor's heap conditions are about the
 * program holding the memory, not about the first process that mapped the page. Other processes
 * still follow the stage, the cap and scavenge requests, but do not overwrite the figures. */
static void ma_ctl_claim(void)
{
        int saved = errno;
        uint32_t me = (uint32_t)getpid();
        uint32_t cur = __atomic_load_n(&ma_ctl->alloc.pid, __ATOMIC_ACQUIRE);
        atomic_store(&ma_ctl_claimed, 1);
        if (cur == me)
                atomic_store(&ma_ctl_publisher, 1);
        else if (cur == 0 || (kill((pid_t)cur, 0) < 0 && errno == ESRCH) ||
                 ma_ctl_outgrows(__atomic_load_n(&ma_ctl->alloc.heap_in_use, __ATOMIC_RELAXED))) {
                if (__atomic_compare_exchange_n(&ma_ctl->alloc.pid, &cur, me, false, __ATOMIC_ACQ_REL,
                                                __ATOMIC_ACQUIRE))
                        atomic_store(&ma_ctl_publisher, 1);
        }
        errno = saved;
}

/* A decimal number at *s, advancing *s past it; -1 if there is none or it overflows an int. */
static int ma_parse_fd_prefix(const char **s)
{
        long v = 0;
        const char *p = *s;
        if (*p < '0' || *p > '9')
                return -1;
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (*p - '0');
                if (v > INT_MAX)
                        return -1;
        }
        *s = p;
        return (int)v;
}

/* OOMLESS_CONTROL_FD: a decimal fd number, nothing else. */
static int ma_parse_fd(const char *s)
{
        int v = ma_parse_fd_prefix(&s);
        return *s ? -1 : v;
}

/* Checks an open page and maps it; NULL and *why on failure. Reads the header with pread, never
 * through the mapping, so a page truncated meanwhile cannot fault here. */
static struct oomless_control *ma_ctl_map(int fd, bool need_seal, bool *sealed, const char **why)
{
        struct stat st;
        struct oomless_control hdr;
        if (fstat(fd, &st) < 0) {
                *why = need_seal ? "not an open file descriptor" : "cannot stat it";
                return NULL;
        }
        if (!S_ISREG(st.st_mode) || st.st_size < (off_t)OOMLESS_CONTROL_SIZE) {
                *why = "it is not a regular file (or memfd) of at least OOMLESS_CONTROL_SIZE bytes";
                return NULL;
        }
        int seals = fcntl(fd, F_GET_SEALS);
        *sealed = seals >= 0 && (seals & F_SEAL_SHRINK);
        if (need_seal && !*sealed) {
                *why = "it is not a memfd sealed against shrinking (F_SEAL_SHRINK)";
                return NULL;
        }
        if (pread(fd, &hdr, offsetof(struct oomless_control, sup), 0) !=
            (ssize_t)offsetof(struct oomless_control, sup))
                *why = "cannot read its header";
        else if (hdr.magic != OOMLESS_CONTROL_MAGIC)
                *why = "bad magic";
        else if (hdr.version < 1) /* any later version: the fields we know keep their meaning */
                *why = "unsupported version";
        else if (hdr.size < sizeof(struct oomless_control) || hdr.size > OOMLESS_CONTROL_SIZE)
                *why = "bad size field";
        if (*why)
                return NULL;
        void *p = mmap(NULL, OOMLESS_CONTROL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                *why = "cannot map it read-write";
                return NULL;
        }
        return p;
}

/* OOMLESS_CONTROL_REOPEN: exactly /proc/<pid>/fd/<n>, so that the variable can only name another
 * process's open fd, never an arbitrary file. */
static bool ma_reopen_path_ok(const char *s)
{
        static const char pre[] = "/proc/", mid[] = "/fd/";
        if (strncmp(s, pre, sizeof(pre) - 1))
                return false;
        s += sizeof(pre) - 1;
        if (ma_parse_fd_prefix(&s) < 0 || strncmp(s, mid, sizeof(mid) - 1))
                return false;
        s += sizeof(mid) - 1;
        return ma_parse_fd_prefix(&s) >= 0 && !*s;
}

/* Opens the sealed page again through the supervisor's fd, when a parent closed the inherited one or
 * its number now holds another file. It goes back at the inherited number when that is free, so that
 * this process's own children find it as the supervisor handed it over. NULL and *why on failure. */
static struct oomless_control *ma_ctl_reopen(int inherited, bool *sealed, const char **why)
{
        const char *path = ma_opt.control_reopen;
        if (!ma_reopen_path_ok(path)) {
                *why = OOMLESS_CONTROL_REOPEN_ENV " is not of the form /proc/<pid>/fd/<n>";
                return NULL;
        }
        /* O_PATH first: no open(2) side effects on whatever the link names (a device, a FIFO). No
         * O_NOFOLLOW: the /proc link is the way to the memfd. */
        int pfd = open(path, O_PATH | O_CLOEXEC);
        if (pfd < 0) {
                *why = errno == EACCES || errno == EPERM
                           ? "the supervisor's copy (" OOMLESS_CONTROL_REOPEN_ENV
                             ") cannot be opened: the workload runs as another user than oomless"
                       : errno == ENOENT ? "the supervisor's copy (" OOMLESS_CONTROL_REOPEN_ENV ") is gone"
                                         : "the supervisor's copy (" OOMLESS_CONTROL_REOPEN_ENV
                                           ") cannot be opened";
                return NULL;
        }
        struct stat st;
        if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(pfd);
                *why = OOMLESS_CONTROL_REOPEN_ENV " names something that is not a regular file (or memfd)";
                return NULL;
        }
        char self[40] = "/proc/self/fd/", num[24];
        const char *n = ma_u64_str((uint64_t)pfd, num);
        size_t at = strlen(self), len = strlen(n);
        memcpy(self + at, n, len + 1);
        int fd = open(self, O_RDWR | O_CLOEXEC | O_NOCTTY);
        close(pfd);
        if (fd < 0) {
                *why = "the supervisor's copy (" OOMLESS_CONTROL_REOPEN_ENV ") cannot be opened read-write";
                return NULL;
        }
        struct oomless_control *c = ma_ctl_map(fd, true, sealed, why);
        if (c && fcntl(inherited, F_GETFD) < 0 && errno == EBADF) {
                /* F_DUPFD takes the lowest free number from `inherited` on: never one in use. */
                int back = fcntl(fd, F_DUPFD, inherited);
                if (back >= 0 && back != inherited)
                        close(back);
        }
        close(fd);
        return c;
}

/* OOMLESS_CONTROL_FD wins over OOMLESS_CONTROL. A bad fd is not a reason to fall back to the path:
 * the supervisor chose the sealed page, and the path (if any) would be the truncatable one. */
/* Opens and maps the page; from_state is the state this attempt moves out of (0 at start, 3 when
 * retrying a page that was not there yet). */
static void ma_control_try(int from_state)
{
        int expected = from_state;
        const char *fdv = ma_opt.control_fd, *path = ma_opt.control_path;
        bool by_fd = fdv && *fdv;
        if (!by_fd && (!path || !*path))
                return;
        if (!atomic_compare_exchange_strong(&ma_ctl_state, &expected, 2))
                return;
        atomic_store(&ma_ctl_trying, true);
        int saved_errno = errno;
        const char *why = NULL;
        bool sealed = false;
        struct oomless_control *c = NULL;
        int fd = by_fd ? ma_parse_fd(fdv) : open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0 && !by_fd && errno == ENOENT) {
                /* Not there yet: the supervisor (a sidecar) creates it by an atomic rename, so a page
                 * that exists is always complete. Wait quietly; polls retry. */
                atomic_store(&ma_ctl_retry_ns, ma_now_ns());
                atomic_store(&ma_ctl_state, 3);
                atomic_store(&ma_ctl_trying, false);
                errno = saved_errno;
                return;
        }
        const char *why_reopen = NULL;
        if (fd < 0)
                why = by_fd ? "not a file descriptor number" : "cannot open it";
        else
                c = ma_ctl_map(fd, by_fd, &sealed, &why);
        /* The inherited fd closed by a parent (Python's subprocess closes every one it does not pass
         * on), or its number reused: the page is still open in the supervisor. */
        if (!c && by_fd && fd >= 0 && ma_opt.control_reopen && *ma_opt.control_reopen)
                c = ma_ctl_reopen(fd, &sealed, &why_reopen);
        /* The inherited fd stays open and inheritable: exec'd children find the page through it. */
        if (!by_fd && fd >= 0)
                close(fd);
        if (c && !sealed && !ma_guard_install(c)) {
                munmap(c, OOMLESS_CONTROL_SIZE);
                c = NULL;
                why = "cannot install the SIGBUS guard a plain file needs";
        }
        if (!c) {
                MaBuf m = { .n = 0 };
                mb_str(&m, "liboomless: ignoring ");
                mb_str(&m, by_fd ? OOMLESS_CONTROL_FD_ENV "=" : OOMLESS_CONTROL_ENV "=");
                mb_str(&m, by_fd ? fdv : path);
                mb_str(&m, ": ");
                mb_str(&m, why);
                if (why_reopen) {
                        mb_str(&m, "; and ");
                        mb_str(&m, why_reopen);
                } else if (by_fd && !strcmp(why, "not an open file descriptor"))
                        mb_str(&m, " (a parent process closed it: Python's subprocess does unless pass_fds "
                                   "names it)");
                mb_str(&m, "; running without a control page");
                if (!strncmp(why, "bad ", 4) || !strncmp(why, "unsupported ", 12))
                        mb_str(&m, " (the supervisor and liboomless versions must match)");
                mb_flush(&m);
                atomic_store(&ma_ctl_trying, false);
                errno = saved_errno;
                return;
        }
        ma_ctl_version = __atomic_load_n(&c->version, __ATOMIC_RELAXED);
        ma_ctl = c;
        ma_instance_id = ma_os_random_id();
        atomic_store(&ma_ctl_state, 1);
        atomic_store(&ma_ctl_trying, false);
        /* The supervisor's cap from the start, not from the first poll: a program whose first
         * allocation is its largest (one malloc of 90% of the limit) must not meet our own default.
         * This read does not claim the allocator half: a wrapper (sh -c, an init) maps the page
         * first and would publish its own tiny heap instead of the program it starts. */
        atomic_store(&ma_ctl_attaching, 1);
        ma_control_poll(false);
        atomic_store(&ma_ctl_attaching, 0);
        errno = saved_errno;
}

void ma_control_init(void)
{
        ma_control_try(0);
}

bool ma_control_pending(void)
{
        return atomic_load_explicit(&ma_ctl_state, memory_order_relaxed) == 3;
}

/* Stops using the page for good: zero pages replace the mapping (so a thread still reading it reads
 * zeros and can never fault), the cap and the wake watermark fall back to our own, and the stage
 * returns to 0. Called from a poll, with no lock held. */
static void ma_ctl_detach(const char *why)
{
        int expected = 1;
        if (!atomic_compare_exchange_strong(&ma_ctl_state, &expected, 2))
                return;
        (void)ma_os_zero_fixed(ma_ctl, OOMLESS_CONTROL_SIZE);
        atomic_store(&ma_ctl_publisher, 0);
        atomic_store(&ma_sup_cap, 0);
        atomic_store(&ma_cap, __atomic_load_n(&ma_opt.cap, __ATOMIC_RELAXED));
        ma_stats_set_wake_watermark(0);
        ma_stats_set_wake_below(0);
        MaBuf m = { .n = 0 };
        mb_str(&m, "liboomless: detaching from the control page: ");
        mb_str(&m, why);
        mb_str(&m, "; running without it");
        mb_flush(&m);
        atomic_store(&ma_stage_now, 0);
        int prev = atomic_exchange(&ma_stage_seen, 0);
        if (prev != 0)
                ma_run_stage_callbacks(0, prev);
        atomic_store(&ma_bw_now, MA_BW_NORMAL);
        if (atomic_exchange(&ma_bw_seen, MA_BW_NORMAL) != MA_BW_NORMAL)
                ma_run_budget_callbacks(OOMLESS_BUDGET_NORMAL, OOMLESS_WEIGHT_NORMAL);
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
                out->budget_permille = __atomic_load_n(&s->budget_permille, __ATOMIC_RELAXED);
                out->weight = __atomic_load_n(&s->weight, __ATOMIC_RELAXED);
                out->wake_below = __atomic_load_n(&s->wake_below, __ATOMIC_RELAXED);
                __atomic_thread_fence(__ATOMIC_ACQUIRE);
                if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == a)
                        return true;
        }
        return false;
}

/* Budget, weight and readiness of a snapshot, packed. A version 1 page, or a half that does not
 * (yet) publish them, reads as normal; values out of range are clamped. */
static int ma_ctl_bw(const struct oomless_control_sup *sup)
{
        if (ma_ctl_version < 2 || !(sup->flags & OOMLESS_SUP_F_BUDGET))
                return MA_BW_NORMAL;
        uint32_t b =
            sup->budget_permille < OOMLESS_BUDGET_NORMAL ? sup->budget_permille : OOMLESS_BUDGET_NORMAL;
        uint32_t w = sup->weight < OOMLESS_WEIGHT_NORMAL ? sup->weight : OOMLESS_WEIGHT_NORMAL;
        return MA_BW(b, w, (sup->flags & OOMLESS_SUP_F_NOT_READY) ? 1 : 0);
}

static void ma_ctl_publish(void)
{
        struct oomless_control_alloc *a = &ma_ctl->alloc;
        uint32_t me = (uint32_t)getpid();
        uint32_t seq = __atomic_load_n(&a->seq, __ATOMIC_RELAXED);
        /* Odd: a writer died mid-update (e.g. fork), so go on from the next even value. The odd value
         * is taken with a compare-and-swap: at a handover the process that lost the half may still
         * be writing, and two writers interleaving would leave a torn snapshot that reads as valid. */
        uint32_t base = seq & 1 ? seq + 1 : seq;
        if (!__atomic_compare_exchange_n(&a->seq, &seq, base + 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return; /* another writer is in: the next poll publishes */
        __atomic_thread_fence(__ATOMIC_RELEASE);
        uint32_t owner = __atomic_load_n(&a->pid, __ATOMIC_ACQUIRE);
        if (owner != 0 && owner != me) {
                /* Taken over by a larger heap (ma_ctl_claim): stop writing, and compete again from
                 * the next poll. 0 is a half the supervisor cleared for the next publisher. */
                __atomic_store_n(&a->seq, base + 2, __ATOMIC_RELEASE);
                atomic_store(&ma_ctl_publisher, 0);
                return;
        }
        if (owner == 0)
                __atomic_store_n(&a->pid, me, __ATOMIC_RELAXED);
        __atomic_store_n(&a->heap_held, atomic_load(&ma_held), __ATOMIC_RELAXED);
        __atomic_store_n(&a->heap_in_use, ma_heap_in_use(), __ATOMIC_RELAXED);
        __atomic_store_n(&a->heap_returned, atomic_load(&ma_returned), __ATOMIC_RELAXED);
        __atomic_store_n(&a->heap_cap, atomic_load(&ma_cap), __ATOMIC_RELAXED);
        __atomic_store_n(&a->cap_hits, atomic_load(&ma_cap_hits), __ATOMIC_RELAXED);
        __atomic_store_n(&a->scavenges, atomic_load(&ma_scavenges), __ATOMIC_RELAXED);
        __atomic_store_n(&a->scavenge_ack, ma_scavenge_ack, __ATOMIC_RELAXED);
        __atomic_store_n(&a->stage_seen, (uint64_t)atomic_load(&ma_stage_seen), __ATOMIC_RELAXED);
        __atomic_store_n(&a->updated_ns, ma_now_ns(), __ATOMIC_RELAXED);
        __atomic_store_n(&a->instance_id, ma_instance_id, __ATOMIC_RELAXED);
        __atomic_store_n(&a->seq, base + 2, __ATOMIC_RELEASE);
}

/* The supervisor's cap, unless it is under the floor: then ours, with one line per refused value. */
static uint64_t ma_ctl_cap(uint64_t published)
{
        atomic_store(&ma_sup_cap, published >= MA_CAP_FLOOR ? published : 0);
        if (!published)
                return __atomic_load_n(&ma_opt.cap, __ATOMIC_RELAXED);
        if (published >= MA_CAP_FLOOR)
                return published;
        if (published != ma_cap_refused) {
                char buf[24];
                MaBuf m = { .n = 0 };
                ma_cap_refused = published;
                mb_str(&m, "liboomless: ignoring heap_cap ");
                mb_str(&m, ma_u64_str(published, buf));
                mb_str(&m, " from the control page: under the floor of 4M; using ");
                if (ma_opt.cap) {
                        mb_str(&m, ma_u64_str(ma_opt.cap, buf));
                        mb_str(&m, " bytes");
                } else
                        mb_str(&m, "no cap");
                mb_flush(&m);
        }
        return ma_opt.cap;
}

/* Whether the page was lost since the last look: truncated (the guard fired) or no longer ours. */
static const char *ma_ctl_gone(void)
{
        if (ma_ctl_lost)
                return "the file was truncated";
        if (__atomic_load_n(&ma_ctl->magic, __ATOMIC_ACQUIRE) != OOMLESS_CONTROL_MAGIC)
                return "its magic was overwritten or the file was truncated";
        return NULL;
}

static void ma_control_poll_locked(bool from_background)
{
        const char *gone = NULL;
        if (!atomic_load_explicit(&ma_ctl_publisher, memory_order_relaxed) &&
            !atomic_load_explicit(&ma_ctl_attaching, memory_order_relaxed) &&
            (from_background || !atomic_load_explicit(&ma_ctl_claimed, memory_order_relaxed)))
                ma_ctl_claim();
        struct oomless_control_sup sup;
        bool ok = ma_ctl_read(&sup);
        if ((gone = ma_ctl_gone()))
                goto detach;
        if (ok) {
                atomic_store(&ma_cap, ma_ctl_cap(sup.heap_cap));
                ma_stats_set_wake_watermark(sup.wake_watermark);
                ma_stats_set_wake_below(sup.wake_below);
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
                int bw = ma_ctl_bw(&sup);
                atomic_store(&ma_bw_now, bw);
                int bw_budget = MA_BW_BUDGET(bw), bw_weight = MA_BW_WEIGHT(bw);
                int seen = atomic_load(&ma_bw_seen);
                if (MA_BW_BUDGET(seen) != bw_budget || MA_BW_WEIGHT(seen) != bw_weight) {
                        atomic_store(&ma_bw_seen, bw);
                        ma_run_budget_callbacks(bw_budget, bw_weight);
                }
        }
        if (atomic_load_explicit(&ma_ctl_publisher, memory_order_relaxed))
                ma_ctl_publish();
        if (!(gone = ma_ctl_gone()))
                return;
detach:
        ma_ctl_detach(gone);
}

/* A pending page is looked for at most every 200 ms: by the background thread, or by slow paths when
 * it is not running (OOMLESS_BACKGROUND=0, its pthread_create failed, or a fork child before it
 * restarts). Never from the fast path. */
#define MA_CTL_RETRY_NS 200000000u

void ma_control_poll(bool from_background)
{
        int state = atomic_load_explicit(&ma_ctl_state, memory_order_relaxed);
        if (state == 3) {
                uint64_t t = ma_now_ns();
                if ((from_background || !atomic_load_explicit(&ma_ctl_bg, memory_order_relaxed)) &&
                    t - atomic_load_explicit(&ma_ctl_retry_ns, memory_order_relaxed) >= MA_CTL_RETRY_NS) {
                        atomic_store(&ma_ctl_retry_ns, t);
                        ma_control_try(3);
                }
                if (atomic_load_explicit(&ma_ctl_state, memory_order_relaxed) != 1)
                        return;
        } else if (state != 1)
                return;
        uint64_t now = ma_now_ns();
        if (!from_background &&
            now - atomic_load_explicit(&ma_last_poll_ns, memory_order_relaxed) < 10000000)
                return;
        if (atomic_exchange(&ma_poll_busy, 1))
                return;
        atomic_store(&ma_last_poll_ns, now);

        sigset_t bus, old;
        bool unblocked = false, skip = false;
        if (ma_guarded()) {
                /* A fault in a thread that blocks SIGBUS is fatal whatever the handler (the kernel
                 * forces the default action), and a handler put in place of ours would not know
                 * the page. Our thread blocks everything, so it lets SIGBUS through for the poll;
                 * a program thread that blocks it leaves the page to the others. */
                sigemptyset(&bus);
                sigaddset(&bus, SIGBUS);
                if (!ma_guard_intact()) {
                        ma_ctl_detach("the program replaced liboomless's SIGBUS handler, which guards "
                                      "a control page that is a plain file");
                        skip = true;
                } else if (from_background)
                        unblocked = pthread_sigmask(SIG_UNBLOCK, &bus, &old) == 0;
                else
                        skip = pthread_sigmask(SIG_BLOCK, NULL, &old) != 0 || sigismember(&old, SIGBUS);
        }
        if (!skip)
                ma_control_poll_locked(from_background);
        if (unblocked)
                pthread_sigmask(SIG_SETMASK, &old, NULL);
        atomic_store(&ma_poll_busy, 0);
        ma_stats_note_held(atomic_load(&ma_held));
}

bool ma_cap_supervised(void)
{
        return atomic_load_explicit(&ma_sup_cap, memory_order_relaxed) != 0;
}

bool ma_cap_refresh(uint64_t min_interval_ns)
{
        bool raised = false;
        if (!ma_opt.cap_auto)
                return false;
        uint64_t now = ma_now_ns(), last = atomic_load_explicit(&ma_refresh_last_ns, memory_order_relaxed);
        if (last && now - last < min_interval_ns)
                return false;
        if (atomic_exchange(&ma_refresh_busy, 1))
                return false;
        atomic_store(&ma_refresh_last_ns, now);
        int saved = errno;
        uint64_t limit, old = __atomic_load_n(&ma_opt.cap, __ATOMIC_RELAXED);
        uint64_t cap = ma_default_cap(atomic_load(&ma_held), &limit);
        errno = saved;
        __atomic_store_n(&ma_opt.limit, limit, __ATOMIC_RELAXED);
        __atomic_store_n(&ma_opt.cap, cap, __ATOMIC_RELAXED);
        if (!atomic_load(&ma_sup_cap)) {
                raised = cap > old;
                atomic_store(&ma_cap, cap);
                /* A poll may have put the supervisor's cap in force between our check and our store,
                 * which then overwrote it. Polls store ma_sup_cap before ma_cap and these are seq_cst:
                 * if ma_sup_cap still reads 0 here, any poll not seen stores ma_cap after us; if not,
                 * put its value back, until the value we stored is the latest one a poll published. */
                for (uint64_t sup; (sup = atomic_load(&ma_sup_cap));) {
                        atomic_store(&ma_cap, sup);
                        raised = false;
                        if (atomic_load(&ma_sup_cap) == sup)
                                break;
                }
        }
        atomic_store(&ma_refresh_busy, 0);
        return raised;
}

void ma_control_note_background(bool running)
{
        atomic_store(&ma_ctl_bg, running);
}

bool ma_control_mapped(void)
{
        return atomic_load(&ma_ctl_state) == 1;
}

void ma_control_fork_child(void)
{
        /* Only the forking thread survives: a poll, a refresh or an open that another thread was in
         * the middle of will never finish, and their guards would shut this child out for good. */
        atomic_store(&ma_poll_busy, 0);
        atomic_store(&ma_refresh_busy, 0);
        atomic_store(&ma_refresh_last_ns, 0);
        atomic_store(&ma_ctl_attaching, 0);
        atomic_store(&ma_ctl_bg, false); /* the thread did not survive the fork */
        int trying = 2;
        if (atomic_exchange(&ma_ctl_trying, false) &&
            atomic_compare_exchange_strong(&ma_ctl_state, &trying, 3))
                atomic_store(&ma_ctl_retry_ns, 0); /* retried at the next poll */
        /* The parent keeps publishing; this child may take over once the parent is gone or its heap
         * has outgrown the parent's (ma_ctl_claim), and then as a new instance: its counters are not
         * the parent's. */
        atomic_store(&ma_ctl_publisher, 0);
        if (atomic_load(&ma_ctl_state) == 1)
                ma_instance_id = ma_os_random_id();
}

int ma_current_stage(void)
{
        if (atomic_load(&ma_ctl_state) != 1)
                return 0;
        /* A file page is read only by polls, which check the thread can take the guard's SIGBUS. */
        if (ma_guarded())
                return atomic_load(&ma_stage_now);
        struct oomless_control_sup sup;
        if (ma_ctl_read(&sup))
                return sup.stage > 1000 ? 1000 : (int)sup.stage;
        return atomic_load(&ma_stage_now);
}

/* Budget, weight and readiness, as the page says now (or as last polled, for a file page). */
static int ma_current_bw(void)
{
        if (atomic_load(&ma_ctl_state) != 1)
                return MA_BW_NORMAL;
        struct oomless_control_sup sup;
        if (!ma_guarded() && ma_ctl_read(&sup))
                return ma_ctl_bw(&sup);
        return atomic_load(&ma_bw_now);
}

int ma_current_budget(void)
{
        return MA_BW_BUDGET(ma_current_bw());
}

int ma_current_weight(void)
{
        return MA_BW_WEIGHT(ma_current_bw());
}

bool ma_current_ready(void)
{
        return !MA_BW_NOT_READY(ma_current_bw());
}

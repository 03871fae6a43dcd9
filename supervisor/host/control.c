/* SPDX-License-Identifier: MIT */
/* The supervisor's side of the control page: create, publish, scavenge requests, and validation of
 * the allocator's untrusted half. See control.h for the threading model and why nothing is mapped. */
#define _GNU_SOURCE
#include "control.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "oomless/control.h"
#include "strv.h"
#include "time-util.h"

/* One warning about a bad snapshot per this interval; the rest are counted and summarised. */
#define CONTROL_WARN_INTERVAL_USEC (10 * USEC_PER_SEC)

typedef enum {
        CONTROL_WARN_TORN,
        CONTROL_WARN_READ,
        CONTROL_WARN_INVALID,
        _CONTROL_WARN_MAX,
} ControlWarn;
/* The kernel's absolute ceiling for pid_max (PID_MAX_LIMIT on 64-bit). */
#define CONTROL_PID_LIMIT 4194304u

/* The counters of the allocator half that only grow while one allocator publishes. */
typedef struct ControlCounters {
        uint64_t returned, cap_hits, scavenges;
} ControlCounters;

typedef struct ControlPublisher {
        uint64_t instance_id;
        pid_t pid;
        ControlCounters n;
} ControlPublisher;

#define CONTROL_PUBLISHERS_MAX 8

struct Control {
        char *dir;
        char *path; /* NULL for a sealed memfd */
        char *wake_path;
        int dir_fd;
        int fd;
        int wake_fd;
        bool sealed;
        bool keep_file; /* a page at a path the user named (attach --control-page): never unlinked */
        sd_event_source *wake_source; /* io on wake_fd; off while the wake-ups rest */
        sd_event_source *wake_timer;  /* one-shot: turns wake_source back on */
        uint64_t wake_interval_usec;
        uint64_t wake_calls;
        control_wake_handler_t wake_handler;
        void *wake_userdata;

        /* Our half as we last published it; the file's copy is never trusted. */
        struct oomless_control_sup sup;
        uint32_t max_stage_count; /* the largest stage_count ever published (stage_seen bound) */

        uint64_t bytes_bound; /* 2x physical memory: no heap figure can honestly exceed it */
        uint32_t pid_max;

        /* The last accepted snapshot, for the monotonic checks (reset when the publisher changes:
         * see same_publisher()). */
        bool have_last;
        ControlAllocFigures last;
        /* Every publisher seen, with the highest counters it reported: the totals are their sum, so
         * that they never go back when the workload restarts or another process takes the half over
         * (a Prometheus counter that drops reads as a reset), and a publisher that comes back (A, B,
         * A) is counted once. When the table is full the oldest entry folds into `retired`. */
        ControlPublisher publishers[CONTROL_PUBLISHERS_MAX];
        size_t n_publishers;
        ControlCounters retired;
        bool seen_allocator;

        /* Rate limits per kind of problem, so that torn reads (a writer preempted mid-publish, common
         * on a loaded or emulated machine) cannot hide an invalid value behind their limit. */
        uint64_t last_warn_usec[_CONTROL_WARN_MAX];
        unsigned suppressed_warnings[_CONTROL_WARN_MAX];
};

static uint32_t read_pid_max(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
        unsigned long v;

        if (f && fscanf(f, "%lu", &v) == 1 && v > 0 && v <= CONTROL_PID_LIMIT)
                return (uint32_t)v;
        return CONTROL_PID_LIMIT;
}

static uint64_t physical_memory(void)
{
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

        if (pages <= 0 || size <= 0)
                return UINT64_C(1) << 40; /* unknown: a generous 1 TiB rather than no bound at all */
        return (uint64_t)pages * (uint64_t)size;
}

static int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
        ssize_t n = pwrite(fd, buf, len, off);
        if (n < 0)
                return negative_errno();
        if ((size_t)n != len)
                return -EIO;
        return 0;
}

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
        ssize_t n = pread(fd, buf, len, off);
        if (n < 0)
                return negative_errno();
        if ((size_t)n != len)
                return -EIO; /* truncated by the workload */
        return 0;
}

static int write_header(Control *c)
{
        struct oomless_control hdr = {
                .magic = OOMLESS_CONTROL_MAGIC,
                .version = OOMLESS_CONTROL_VERSION,
                .size = sizeof(struct oomless_control),
                .supervisor_pid = (uint32_t)getpid(),
        };
        int r;

        if (ftruncate(c->fd, OOMLESS_CONTROL_SIZE) < 0)
                return log_error_errno(errno, "Failed to size control page %s: %m", c->path);
        r = pwrite_full(c->fd, &hdr, sizeof(hdr), 0);
        if (r < 0)
                return log_error_errno(r, "Failed to write control page %s: %m", c->path);
        return 0;
}

/* A memfd, sized and with its header, then sealed: F_SEAL_SHRINK so that no one can truncate it under
 * a mapping, F_SEAL_GROW so its size is what both sides expect, and F_SEAL_SEAL so that the workload
 * cannot add F_SEAL_WRITE and block our publishes. */
static int create_memfd(Control *c)
{
        int r;

        /* MFD_NOEXEC_SEAL where the kernel knows it (6.3): the page is data, and vm.memfd_noexec=2
         * refuses executable memfds. Older kernels say EINVAL. */
#ifdef MFD_NOEXEC_SEAL
        c->fd = memfd_create("oomless-control", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
        if (c->fd < 0 && errno == EINVAL)
#endif
                c->fd = memfd_create("oomless-control", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (c->fd < 0)
                return negative_errno();
        r = write_header(c);
        if (r < 0)
                return r;
        if (fcntl(c->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return log_error_errno(errno, "Failed to seal control page %s: %m", c->path);
        return 0;
}

static int create_file(Control *c)
{

        for (int attempt = 0;; attempt++) {
                c->fd =
                    openat(c->dir_fd, "control", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (c->fd >= 0)
                        break;
                if (errno != EEXIST || attempt > 0)
                        return log_error_errno(errno, "Failed to create control page %s: %m", c->path);
                /* Left behind by an earlier supervisor that had our pid. */
                if (unlinkat(c->dir_fd, "control", 0) < 0)
                        return log_error_errno(errno, "Failed to remove stale control page %s: %m", c->path);
        }
        return write_header(c);
}

static int create_fifo(Control *c)
{
        for (int attempt = 0;; attempt++) {
                if (mkfifoat(c->dir_fd, "wake", 0600) >= 0)
                        break;
                if (errno != EEXIST || attempt > 0)
                        return log_error_errno(errno, "Failed to create wake FIFO %s: %m", c->wake_path);
                if (unlinkat(c->dir_fd, "wake", 0) < 0)
                        return log_error_errno(errno, "Failed to remove stale wake FIFO %s: %m",
                                               c->wake_path);
        }
        /* O_RDWR keeps a writer attached, so the fd never reports EOF/POLLHUP when the allocator
         * closes its end, and the allocator's O_WRONLY|O_NONBLOCK open never fails with ENXIO. */
        c->wake_fd = openat(c->dir_fd, "wake", O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (c->wake_fd < 0)
                return log_error_errno(errno, "Failed to open wake FIFO %s: %m", c->wake_path);
        return 0;
}

static int control_new(const char *dir, bool sealed, Control **ret)
{
        _cleanup_(control_freep) Control *c = NULL;
        int r;

        if (!dir || !*dir || !ret)
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->dir_fd = c->fd = c->wake_fd = -EBADF;
        c->sealed = sealed;
        c->dir = strdup(dir);
        /* A sealed page has no path; messages name it as the kernel does in /proc/PID/fd. */
        if (!c->dir ||
            (sealed ? !(c->path = strdup("memfd:oomless-control"))
                    : asprintf(&c->path, "%s/control", dir) < 0) ||
            asprintf(&c->wake_path, "%s/wake", dir) < 0)
                return -ENOMEM;
        c->bytes_bound = 2 * physical_memory();
        c->pid_max = read_pid_max();

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create runtime directory %s: %m", dir);
        c->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->dir_fd < 0)
                return log_error_errno(errno, "Failed to open runtime directory %s: %m", dir);

        r = sealed ? create_memfd(c) : create_file(c);
        if (r < 0)
                return r;
        r = create_fifo(c);
        if (r < 0)
                return r;
        r = control_publish(c, 0, 0, 0, 0, false, OOMLESS_BUDGET_NORMAL, OOMLESS_WEIGHT_NORMAL, false);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

static int publish_sup(Control *c);

/* An existing page at path that we may continue: a regular file of ours, of the right size, with our
 * magic and a version we write. Its supervisor half is continued (sequence, scavenge requests), so an
 * allocator still mapping it from before sees no step back. 1 when reused, 0 when not valid. */
static int reuse_page(Control *c, const char *path)
{
        struct oomless_control hdr;
        struct stat st;
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

        if (fd < 0)
                return errno == ENOENT ? 0
                                       : log_error_errno(errno, "Cannot open the control page %s: %m", path);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != OOMLESS_CONTROL_SIZE ||
            (st.st_uid != geteuid() && geteuid() != 0) || pread_full(fd, &hdr, sizeof(hdr), 0) < 0 ||
            hdr.magic != OOMLESS_CONTROL_MAGIC || hdr.version != OOMLESS_CONTROL_VERSION ||
            hdr.size != sizeof(struct oomless_control)) {
                log_notice("The file at %s is not a control page this oomless can continue; replacing it.",
                           path);
                return 0;
        }
        hdr.supervisor_pid = (uint32_t)getpid();
        if (pwrite_full(fd, &hdr.supervisor_pid, sizeof(hdr.supervisor_pid),
                        offsetof(struct oomless_control, supervisor_pid)) < 0)
                return log_error_errno(errno, "Cannot write the control page %s: %m", path);
        c->sup = hdr.sup;
        c->sup.seq &= ~1u;
        c->max_stage_count = MAX(hdr.sup.stage_count, hdr.sup.stage);
        /* An allocator may have acknowledged more than the half says, if the half was rewritten. */
        c->sup.scavenge_seq = MAX(c->sup.scavenge_seq, hdr.alloc.scavenge_ack);
        c->fd = TAKE_FD(fd);
        return 1;
}

/* The page's wake FIFO, PATH.wake, for OOMLESS_WAKE: one an earlier oomless left is continued (an
 * allocator may hold it open), anything else there is replaced. Without it the supervisor only reads
 * the page on its tick, so a failure is a warning. */
static void open_page_fifo(Control *c)
{
        _cleanup_free_ char *p = NULL;
        struct stat st;

        if (asprintf(&p, "%s.wake", c->path) < 0)
                return;
        for (int attempt = 0;; attempt++) {
                if (mkfifo(p, 0600) >= 0) {
                        /* The app writes it: it may run under another uid that shares our group. */
                        (void)chmod(p, 0660);
                        break;
                }
                if (errno == EEXIST && lstat(p, &st) == 0 && S_ISFIFO(st.st_mode) &&
                    (st.st_uid == geteuid() || geteuid() == 0))
                        break;
                if (errno != EEXIST || attempt > 0 || unlink(p) < 0) {
                        log_warning_errno(errno, "Cannot create the wake FIFO %s, relying on the tick: %m",
                                          p);
                        return;
                }
        }
        /* O_RDWR keeps a writer attached: no EOF when the allocator closes its end, no ENXIO for its
         * open. O_NOFOLLOW and the type check: a link or file planted since is never read. */
        c->wake_fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (c->wake_fd < 0 || fstat(c->wake_fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
                log_warning("Cannot open the wake FIFO %s, relying on the tick.", p);
                c->wake_fd = safe_close(c->wake_fd);
                return;
        }
        free(c->wake_path);
        c->wake_path = TAKE_PTR(p);
}

int control_open_page(const char *path, Control **ret)
{
        _cleanup_(control_freep) Control *c = NULL;
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        const char *slash;
        int r;

        if (!path || path[0] != '/' || !ret)
                return -EINVAL;
        slash = strrchr(path, '/');
        dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        c = calloc(1, sizeof(*c));
        if (!dir || !c)
                return -ENOMEM;
        c->dir_fd = c->fd = c->wake_fd = -EBADF;
        c->keep_file = true;
        c->path = strdup(path);
        c->wake_path = strdup("");
        if (!c->path || !c->wake_path)
                return -ENOMEM;
        c->bytes_bound = 2 * physical_memory();
        c->pid_max = read_pid_max();

        r = reuse_page(c, path);
        if (r < 0)
                return r;
        if (r > 0) {
                log_info("Continuing the control page %s (a valid page of an earlier oomless).", path);
                r = publish_sup(c);
                if (r < 0)
                        return r;
                open_page_fifo(c);
                *ret = TAKE_PTR(c);
                return 0;
        }

        /* Before the page appears: an allocator that finds the page may cross its watermark at once. */
        open_page_fifo(c);
        /* Built under a temporary name and renamed into place, so an allocator waiting for the path
         * (liboomless retries OOMLESS_CONTROL until it exists) never maps a half-written page. */
        if (asprintf(&tmp, "%s/.%s.%d.tmp", dir, slash + 1, (int)getpid()) < 0)
                return -ENOMEM;
        (void)unlink(tmp);
        c->fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        /* The app maps it read-write: it may run under another uid that shares our group (fsGroup). */
        if (c->fd >= 0)
                (void)fchmod(c->fd, 0660);
        if (c->fd < 0)
                return log_error_errno(errno,
                                       "Cannot create the control page %s: %m; --control-page needs a "
                                       "writable directory shared with the app (an emptyDir)",
                                       tmp);
        r = write_header(c);
        if (r >= 0)
                r = publish_sup(c);
        if (r >= 0 && rename(tmp, path) < 0)
                r = log_error_errno(errno, "Cannot move the control page into place at %s: %m", path);
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }
        log_info("Created the control page %s: start the app with LD_PRELOAD=liboomless.so, "
                 "OOMLESS_CONTROL=%s%s%s.",
                 path, path, *c->wake_path ? " and OOMLESS_WAKE=" : "", c->wake_path);
        *ret = TAKE_PTR(c);
        return 0;
}

void control_rebaseline(Control *c, pid_t gone)
{
        const off_t off = offsetof(struct oomless_control, alloc);
        struct oomless_control_alloc a;

        /* The half still holds the figures of the process that exited: clear them, so that they are
         * not read as the new process's and the new one claims the half at once. A new publisher
         * that got there first is left alone (its instance id resets the checks anyway). */
        if (pread_full(c->fd, &a, sizeof(a), off) >= 0 && (pid_t)a.pid == gone) {
                struct oomless_control_alloc zero = {};
                (void)pwrite_full(c->fd, &zero, sizeof(zero), off);
        }
}

int control_create(const char *dir, Control **ret)
{
        return control_new(dir, false, ret);
}

int control_create_sealed(const char *dir, Control **ret)
{
        return control_new(dir, true, ret);
}

int control_fd(const Control *c)
{
        return c->fd;
}

uint64_t control_published_heap_cap(const Control *c)
{
        return c->sup.heap_cap;
}

int control_chown(Control *c, uid_t uid, gid_t gid)
{
        if (fchown(c->fd, uid, gid) < 0)
                return log_error_errno(errno, "Failed to hand control page %s to uid %u: %m", c->path,
                                       (unsigned)uid);
        if (fchown(c->wake_fd, uid, gid) < 0)
                return log_error_errno(errno, "Failed to hand wake FIFO %s to uid %u: %m", c->wake_path,
                                       (unsigned)uid);
        return 0;
}

static int publish_sup(Control *c)
{
        const off_t off = offsetof(struct oomless_control, sup);
        const off_t seq_off = off + offsetof(struct oomless_control_sup, seq);
        int r;

        /* Seqlock writer: odd sequence first, then the body, then the even sequence. Each step is
         * its own pwrite so the allocator can never see the new body under the old even value. */
        c->sup.seq |= 1;
        struct oomless_control_sup body = c->sup;
        r = pwrite_full(c->fd, &c->sup.seq, sizeof(c->sup.seq), seq_off);
        if (r >= 0)
                r = pwrite_full(c->fd, &body, sizeof(body), off);
        c->sup.seq++;
        if (r >= 0)
                r = pwrite_full(c->fd, &c->sup.seq, sizeof(c->sup.seq), seq_off);
        if (r < 0)
                return log_error_errno(r, "Failed to publish to control page %s: %m", c->path);
        return 0;
}

int control_publish(Control *c, uint32_t stage, uint32_t stage_count, uint64_t heap_cap,
                    uint64_t wake_watermark, bool dry_run, uint32_t budget_permille, uint32_t weight,
                    bool not_ready)
{
        c->sup.stage = stage;
        c->sup.stage_count = stage_count;
        c->sup.heap_cap = heap_cap;
        c->sup.wake_watermark = wake_watermark;
        c->sup.flags = (dry_run ? OOMLESS_SUP_F_DRY_RUN : 0) | OOMLESS_SUP_F_BUDGET |
                       (not_ready ? OOMLESS_SUP_F_NOT_READY : 0);
        c->sup.budget_permille = MIN(budget_permille, OOMLESS_BUDGET_NORMAL);
        c->sup.weight = MIN(weight, OOMLESS_WEIGHT_NORMAL);
        c->max_stage_count = MAX(c->max_stage_count, MAX(stage_count, stage));
        return publish_sup(c);
}

int control_set_wake_below(Control *c, uint64_t wake_below)
{
        if (c->sup.wake_below == wake_below)
                return 0;
        c->sup.wake_below = wake_below;
        return publish_sup(c);
}

int64_t control_request_scavenge(Control *c)
{
        int r;

        c->sup.scavenge_seq++;
        r = publish_sup(c);
        if (r < 0)
                return r;
        return (int64_t)c->sup.scavenge_seq;
}

static _printf_(3, 4) void warn_bad(Control *c, ControlWarn kind, const char *fmt, ...)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        char msg[512];
        va_list ap;

        if (c->last_warn_usec[kind] != 0 && now - c->last_warn_usec[kind] < CONTROL_WARN_INTERVAL_USEC) {
                c->suppressed_warnings[kind]++;
                return;
        }
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (c->suppressed_warnings[kind] > 0)
                log_warning(
                    "Control page %s: %s; ignoring this snapshot of the allocator's figures (a torn or "
                    "invalid value from the workload); %u similar warning(s) suppressed.",
                    c->path, msg, c->suppressed_warnings[kind]);
        else
                log_warning(
                    "Control page %s: %s; ignoring this snapshot of the allocator's figures (a torn or "
                    "invalid value from the workload).",
                    c->path, msg);
        c->suppressed_warnings[kind] = 0;
        c->last_warn_usec[kind] = now;
}

/* Whether a snapshot comes from the publisher of the last accepted one, whose counters it must
 * continue. The instance id names the publishing image (docs/control-page.md): a new one (an exec
 * under the same pid, a fork child taking over) starts its counters from zero, so the baselines are
 * reset. While the id stays, a change of pid alone does not reset them: a legitimate new publisher
 * always brings a new id, so a workload flipping the pid on every publish is still held to the
 * monotonic checks. Only an allocator that predates the id (0) is keyed on its pid. */
static bool same_publisher(const Control *c, const struct oomless_control_alloc *a)
{
        if (!c->have_last || c->last.instance_id != a->instance_id)
                return false;
        return a->instance_id != 0 || c->last.pid == (pid_t)a->pid;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void counters_add(ControlCounters *t, const ControlCounters *n)
{
        t->returned = add_sat(t->returned, n->returned);
        t->cap_hits = add_sat(t->cap_hits, n->cap_hits);
        t->scavenges = add_sat(t->scavenges, n->scavenges);
}

/* Records an accepted snapshot's counters under its publisher (the same key as same_publisher()). */
static void note_publisher(Control *c, const struct oomless_control_alloc *a)
{
        ControlPublisher *p = NULL;

        for (size_t i = 0; i < c->n_publishers && !p; i++) {
                ControlPublisher *e = &c->publishers[i];
                if (e->instance_id == a->instance_id && (a->instance_id != 0 || e->pid == (pid_t)a->pid))
                        p = e;
        }
        if (!p) {
                if (c->n_publishers == CONTROL_PUBLISHERS_MAX) {
                        counters_add(&c->retired, &c->publishers[0].n);
                        memmove(c->publishers, c->publishers + 1,
                                sizeof(c->publishers[0]) * (CONTROL_PUBLISHERS_MAX - 1));
                        c->n_publishers--;
                }
                p = &c->publishers[c->n_publishers++];
                *p = (ControlPublisher){ .instance_id = a->instance_id, .pid = (pid_t)a->pid };
        }
        /* A publisher that returns after another is not checked against its own past (validate()
         * only knows the last one): its highest figures count, so the totals never go back. */
        p->n.returned = MAX(p->n.returned, a->heap_returned);
        p->n.cap_hits = MAX(p->n.cap_hits, a->cap_hits);
        p->n.scavenges = MAX(p->n.scavenges, a->scavenges);
}

/* Checks one snapshot against bounds and against the last accepted one. Returns the name of the
 * first bad field with a reason in *why, or NULL. */
static const char *validate(const Control *c, const struct oomless_control_alloc *a, char *why,
                            size_t whylen)
{
        const uint64_t bound = c->bytes_bound;
        bool same = same_publisher(c, a);

#define BAD(field, ...)                                                                                     \
        do {                                                                                                \
                snprintf(why, whylen, __VA_ARGS__);                                                         \
                return field;                                                                               \
        } while (0)

        if (a->pid == 0 || a->pid > c->pid_max)
                BAD("pid", "pid %u is not a plausible pid (1..%u)", a->pid, c->pid_max);
        if (a->heap_held > bound)
                BAD("heap_held", "heap_held %llu exceeds twice the machine's memory (%llu)",
                    (unsigned long long)a->heap_held, (unsigned long long)bound);
        if (a->heap_in_use > a->heap_held)
                BAD("heap_in_use", "heap_in_use %llu exceeds heap_held %llu",
                    (unsigned long long)a->heap_in_use, (unsigned long long)a->heap_held);
        if (a->heap_cap > bound)
                BAD("heap_cap", "heap_cap %llu exceeds twice the machine's memory (%llu)",
                    (unsigned long long)a->heap_cap, (unsigned long long)bound);
        if (a->scavenge_ack > c->sup.scavenge_seq)
                BAD("scavenge_ack", "scavenge_ack %llu is ahead of the last request %llu",
                    (unsigned long long)a->scavenge_ack, (unsigned long long)c->sup.scavenge_seq);
        if (a->stage_seen > c->max_stage_count)
                BAD("stage_seen", "stage_seen %llu is beyond the %u stage(s) ever published",
                    (unsigned long long)a->stage_seen, c->max_stage_count);
        if (a->updated_ns / 1000 > now_usec(CLOCK_MONOTONIC) + USEC_PER_SEC)
                BAD("updated_ns", "updated_ns %llu lies in the future", (unsigned long long)a->updated_ns);
        if (same) {
                /* Counters only grow while the same allocator publishes. */
                static const struct {
                        const char *name, *what;
                        size_t off, last_off;
                } counters[] = {
#define C(f, what) { #f, what, offsetof(struct oomless_control_alloc, f), offsetof(ControlAllocFigures, f) }
                        C(heap_returned, "counter heap_returned"),
                        C(cap_hits, "counter cap_hits"),
                        C(scavenges, "counter scavenges"),
                        C(scavenge_ack, "scavenge_ack"),
                        C(updated_ns, "updated_ns"),
#undef C
                };
                for (size_t i = 0; i < ELEMENTSOF(counters); i++) {
                        uint64_t cur, prev;
                        memcpy(&cur, (const char *)a + counters[i].off, sizeof(cur));
                        memcpy(&prev, (const char *)&c->last + counters[i].last_off, sizeof(prev));
                        if (cur < prev)
                                BAD(counters[i].name, "%s went backwards (%llu < %llu)", counters[i].what,
                                    (unsigned long long)cur, (unsigned long long)prev);
                }
        }
#undef BAD
        return NULL;
}

int control_read_alloc(Control *c, ControlAllocFigures *ret)
{
        const off_t off = offsetof(struct oomless_control, alloc);
        const off_t seq_off = off + offsetof(struct oomless_control_alloc, seq);
        struct oomless_control_alloc a;
        const char *field;
        char why[256];
        int r;

        for (unsigned i = 0;; i++) {
                uint32_t s1, s2;

                if (i >= CONTROL_READ_RETRIES) {
                        warn_bad(c, CONTROL_WARN_TORN, "field seq stayed odd or kept changing over %u reads",
                                 CONTROL_READ_RETRIES);
                        return -EAGAIN;
                }
                r = pread_full(c->fd, &s1, sizeof(s1), seq_off);
                if (r >= 0 && !(s1 & 1))
                        r = pread_full(c->fd, &a, sizeof(a), off);
                if (r >= 0 && !(s1 & 1))
                        r = pread_full(c->fd, &s2, sizeof(s2), seq_off);
                if (r < 0) {
                        warn_bad(c, CONTROL_WARN_READ, "cannot read the allocator's half: %s",
                                 r == -EIO ? "the file was truncated" : strerror(-r));
                        return r;
                }
                if ((s1 & 1) || s1 != s2 || a.seq != s1)
                        continue;
                break;
        }

        if (a.seq == 0 && a.pid == 0)
                return -ENODATA; /* no allocator has published yet */

        field = validate(c, &a, why, sizeof(why));
        if (field) {
                warn_bad(c, CONTROL_WARN_INVALID, "field %s: %s", field, why);
                return -EBADMSG;
        }

        note_publisher(c, &a);
        ControlAllocFigures f = {
                .pid = (pid_t)a.pid,
                .heap_held = a.heap_held,
                .heap_in_use = a.heap_in_use,
                .heap_returned = a.heap_returned,
                .heap_cap = a.heap_cap,
                .cap_hits = a.cap_hits,
                .scavenges = a.scavenges,
                .scavenge_ack = a.scavenge_ack,
                .stage_seen = a.stage_seen,
                .updated_ns = a.updated_ns,
                .instance_id = a.instance_id,
        };
        c->last = f;
        c->have_last = true;
        c->seen_allocator = true;
        if (ret)
                control_last_alloc(c, ret);
        return 0;
}

bool control_last_alloc(const Control *c, ControlAllocFigures *ret)
{
        if (!c->have_last)
                return false;
        ControlCounters t = c->retired;

        for (size_t i = 0; i < c->n_publishers; i++)
                counters_add(&t, &c->publishers[i].n);
        *ret = c->last;
        ret->heap_returned = t.returned;
        ret->cap_hits = t.cap_hits;
        ret->scavenges = t.scavenges;
        return true;
}

bool control_has_allocator(const Control *c)
{
        return c->seen_allocator;
}

int control_wake_fd(const Control *c)
{
        return c->wake_fd;
}

int control_wake_drain(Control *c)
{
        char buf[4096];
        int total = 0;

        /* Until the FIFO is empty, which takes one or two reads of a default 64 KiB pipe. Bounded at
         * 1 MiB (the unprivileged F_SETPIPE_SZ maximum, which the writer may have set), so a writer
         * that never pauses cannot keep us here; what is left only wakes us again. */
        for (int i = 0; i < 256; i++) {
                ssize_t n = read(c->wake_fd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                total += (int)n;
                if ((size_t)n < sizeof(buf))
                        break;
        }
        return total;
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Control *c = userdata;
        int r;

        (void)s;
        (void)fd;
        (void)revents;
        (void)control_wake_drain(c);
        /* Rest until the interval is over: epoll would report a FIFO that a workload keeps filling
         * on every iteration, and each report would cost a sample and a tick. */
        if (c->wake_timer) {
                r = sd_event_source_set_time_relative(c->wake_timer, c->wake_interval_usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->wake_timer, SD_EVENT_ONESHOT);
                if (r >= 0)
                        (void)sd_event_source_set_enabled(c->wake_source, SD_EVENT_OFF);
        }
        c->wake_calls++;
        if (c->wake_handler)
                c->wake_handler(c, c->wake_userdata);
        return 0;
}

static int on_wake_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Control *c = userdata;

        (void)s;
        (void)usec;
        /* Level-triggered: bytes written while we rested report at once. */
        (void)sd_event_source_set_enabled(c->wake_source, SD_EVENT_ON);
        return 0;
}

int control_add_wake_source(Control *c, sd_event *e, uint64_t min_interval_usec,
                            control_wake_handler_t handler, void *userdata)
{
        int r;

        if (c->wake_source)
                return -EBUSY;
        r = sd_event_add_io(e, &c->wake_source, c->wake_fd, EPOLLIN, on_wake, c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch wake FIFO %s: %m", c->wake_path);
        (void)sd_event_source_set_description(c->wake_source, "control-wake");
        if (min_interval_usec > 0) {
                /* Accuracy 1us: sd-event's default slack (250ms) would stretch the rest well past
                 * the interval and delay a crossing that arrives during it. */
                r = sd_event_add_time_relative(e, &c->wake_timer, CLOCK_MONOTONIC, min_interval_usec, 1,
                                               on_wake_timer, c);
                if (r < 0) {
                        c->wake_source = sd_event_source_disable_unref(c->wake_source);
                        return log_error_errno(r, "Failed to add the wake FIFO's timer: %m");
                }
                (void)sd_event_source_set_enabled(c->wake_timer, SD_EVENT_OFF);
                (void)sd_event_source_set_description(c->wake_timer, "control-wake-rest");
        }
        c->wake_interval_usec = min_interval_usec;
        c->wake_handler = handler;
        c->wake_userdata = userdata;
        return 0;
}

uint64_t control_wake_calls(const Control *c)
{
        return c->wake_calls;
}

const char *control_path(const Control *c)
{
        return c->sealed ? NULL : c->path;
}

const char *control_wake_path(const Control *c)
{
        return c->wake_path;
}

int control_env(const Control *c, char ***ret)
{
        _cleanup_strv_free_ char **l = calloc(4, sizeof(char *));
        int n;

        if (!l)
                return -ENOMEM;
        /* A sealed page has no path: the inherited fd is the way to it, and our own copy of it the
         * way back for a process whose parent closed the inherited one. */
        if (c->sealed)
                n = asprintf(&l[0], "%s=%d", OOMLESS_CONTROL_FD_ENV, c->fd);
        else
                n = asprintf(&l[0], "%s=%s", OOMLESS_CONTROL_ENV, c->path);
        if (n < 0) {
                l[0] = NULL;
                return -ENOMEM;
        }
        if (asprintf(&l[1], "%s=%s", OOMLESS_WAKE_ENV, c->wake_path) < 0) {
                l[1] = NULL;
                return -ENOMEM;
        }
        if (c->sealed &&
            asprintf(&l[2], "%s=/proc/%d/fd/%d", OOMLESS_CONTROL_REOPEN_ENV, (int)getpid(), c->fd) < 0) {
                l[2] = NULL;
                return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

Control *control_free(Control *c)
{
        if (!c)
                return NULL;
        c->wake_source = sd_event_source_disable_unref(c->wake_source);
        c->wake_timer = sd_event_source_disable_unref(c->wake_timer);
        if (c->dir_fd >= 0 && !c->keep_file) {
                if (c->fd >= 0 && !c->sealed)
                        (void)unlinkat(c->dir_fd, "control", 0);
                if (c->wake_fd >= 0)
                        (void)unlinkat(c->dir_fd, "wake", 0);
        }
        safe_close(c->fd);
        safe_close(c->wake_fd);
        safe_close(c->dir_fd);
        free(c->dir);
        free(c->path);
        free(c->wake_path);
        free(c);
        return NULL;
}

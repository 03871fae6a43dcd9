/* SPDX-License-Identifier: MIT */
/*
 * The control page, supervisor side, against the real file and FIFO: what the allocator sees after a
 * publish (read here through a MAP_SHARED mapping, as liboomless does), valid figures accepted,
 * garbage and torn values from a forked writer rejected without a crash, truncation survived, a byte
 * in the wake FIFO waking the sd-event loop; the sealed memfd refusing truncation, baselines keyed on
 * the instance id, and a flood of wake-ups coalesced (issue 14).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "control.h"
#include "helpers.h"
#include "log.h"
#include "oomless/control.h"
#include "macro.h"
#include "strv.h"

static char dir[64];

static void make_dir(void)
{
        snprintf(dir, sizeof(dir), "/tmp/oomless-control-XXXXXX");
        ASSERT_TRUE(mkdtemp(dir) != NULL);
}

static void remove_dir(void)
{
        ASSERT_OK(rmdir(dir));
}

static struct oomless_control *map_page(const char *path)
{
        int fd = open(path, O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        void *p = mmap(NULL, OOMLESS_CONTROL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ASSERT_TRUE(p != MAP_FAILED);
        close(fd);
        return p;
}

/* A sealed page in a fresh directory, mapped through the supervisor's fd as the allocator maps it. */
static struct oomless_control *sealed_page(Control **ret)
{
        char proc[64];

        make_dir();
        ASSERT_OK(control_create_sealed(dir, ret));
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", control_fd(*ret));
        return map_page(proc);
}

/* The allocator's seqlock writer. */
static void alloc_publish(struct oomless_control *c, const struct oomless_control_alloc *v)
{
        uint32_t seq = __atomic_load_n(&c->alloc.seq, __ATOMIC_RELAXED);
        __atomic_store_n(&c->alloc.seq, seq + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        c->alloc.pid = v->pid;
        c->alloc.heap_held = v->heap_held;
        c->alloc.heap_in_use = v->heap_in_use;
        c->alloc.heap_returned = v->heap_returned;
        c->alloc.heap_cap = v->heap_cap;
        c->alloc.cap_hits = v->cap_hits;
        c->alloc.scavenges = v->scavenges;
        c->alloc.scavenge_ack = v->scavenge_ack;
        c->alloc.stage_seen = v->stage_seen;
        c->alloc.updated_ns = v->updated_ns;
        c->alloc.instance_id = v->instance_id;
        __atomic_store_n(&c->alloc.seq, seq + 2, __ATOMIC_RELEASE);
}

/* The allocator's seqlock reader of the supervisor half. */
static struct oomless_control_sup sup_read(struct oomless_control *c)
{
        struct oomless_control_sup s;
        for (;;) {
                uint32_t s1 = __atomic_load_n(&c->sup.seq, __ATOMIC_ACQUIRE);
                memcpy(&s, (void *)&c->sup, sizeof(s));
                __atomic_thread_fence(__ATOMIC_ACQUIRE);
                if (!(s1 & 1) && s1 == __atomic_load_n(&c->sup.seq, __ATOMIC_RELAXED))
                        return s;
        }
}

static struct oomless_control_alloc good(void)
{
        return (struct oomless_control_alloc){
                .pid = (uint32_t)getpid(),
                .heap_held = 8 << 20,
                .heap_in_use = 6 << 20,
                .heap_returned = 1 << 20,
                .heap_cap = 64 << 20,
                .cap_hits = 2,
                .scavenges = 3,
                .updated_ns = t_now_usec() * 1000,
        };
}

TEST(create_publish_scavenge)
{
        _cleanup_(control_freep) Control *c = NULL;
        struct stat st;
        char **env = NULL;

        make_dir();
        ASSERT_OK(control_create(dir, &c));
        ASSERT_OK(stat(control_path(c), &st));
        ASSERT_TRUE(S_ISREG(st.st_mode));
        ASSERT_EQ(st.st_mode & 0777, 0600);
        ASSERT_EQ(st.st_size, OOMLESS_CONTROL_SIZE);
        ASSERT_OK(stat(control_wake_path(c), &st));
        ASSERT_TRUE(S_ISFIFO(st.st_mode));
        ASSERT_TRUE(fcntl(control_wake_fd(c), F_GETFD) & FD_CLOEXEC);

        ASSERT_OK(control_env(c, &env));
        char expect[256];
        snprintf(expect, sizeof(expect), "OOMLESS_CONTROL=%s/control", dir);
        ASSERT_STREQ(env[0], expect);
        snprintf(expect, sizeof(expect), "OOMLESS_WAKE=%s/wake", dir);
        ASSERT_STREQ(env[1], expect);
        ASSERT_TRUE(env[2] == NULL);
        strv_free(env);

        struct oomless_control *m = map_page(control_path(c));
        ASSERT_U64_EQ(m->magic, OOMLESS_CONTROL_MAGIC);
        ASSERT_EQ(m->version, OOMLESS_CONTROL_VERSION);
        ASSERT_EQ(m->supervisor_pid, getpid());

        ASSERT_OK(control_publish(c, 2, 3, 100 << 20, 90 << 20, true, OOMLESS_BUDGET_NORMAL,
                                  OOMLESS_WEIGHT_NORMAL, false));
        struct oomless_control_sup s = sup_read(m);
        ASSERT_TRUE(s.seq != 0 && !(s.seq & 1));
        ASSERT_EQ(s.stage, 2);
        ASSERT_EQ(s.stage_count, 3);
        ASSERT_U64_EQ(s.heap_cap, 100 << 20);
        ASSERT_U64_EQ(s.wake_watermark, 90 << 20);
        ASSERT_EQ(s.flags, OOMLESS_SUP_F_DRY_RUN | OOMLESS_SUP_F_BUDGET);
        ASSERT_EQ(s.budget_permille, OOMLESS_BUDGET_NORMAL);
        ASSERT_EQ(s.weight, OOMLESS_WEIGHT_NORMAL);
        ASSERT_U64_EQ(s.scavenge_seq, 0);

        uint32_t before = s.seq;
        ASSERT_EQ(control_request_scavenge(c), 1);
        ASSERT_EQ(control_request_scavenge(c), 2);
        s = sup_read(m);
        ASSERT_U64_EQ(s.scavenge_seq, 2);
        ASSERT_EQ(s.stage, 2);
        ASSERT_TRUE(s.seq > before);

        /* what the workload scribbles into our half is overwritten, never read back */
        m->sup.stage = 99;
        m->sup.scavenge_seq = 12345;
        ASSERT_OK(control_publish(c, 1, 3, 100 << 20, 0, false, OOMLESS_BUDGET_NORMAL, OOMLESS_WEIGHT_NORMAL,
                                  false));
        s = sup_read(m);
        ASSERT_EQ(s.stage, 1);
        ASSERT_U64_EQ(s.scavenge_seq, 2);

        /* budget and weight are always published with their flag; larger values are clamped */
        ASSERT_OK(control_publish(c, 1, 3, 100 << 20, 0, false, 400, 10, true));
        s = sup_read(m);
        ASSERT_EQ(s.budget_permille, 400);
        ASSERT_EQ(s.weight, 10);
        ASSERT_EQ(s.flags, OOMLESS_SUP_F_BUDGET | OOMLESS_SUP_F_NOT_READY);
        ASSERT_OK(control_publish(c, 1, 3, 100 << 20, 0, false, 5000, 500, false));
        s = sup_read(m);
        ASSERT_EQ(s.budget_permille, OOMLESS_BUDGET_NORMAL);
        ASSERT_EQ(s.weight, OOMLESS_WEIGHT_NORMAL);
        ASSERT_EQ(s.flags, OOMLESS_SUP_F_BUDGET);

        munmap(m, OOMLESS_CONTROL_SIZE);
        char path[128];
        snprintf(path, sizeof(path), "%s", control_path(c));
        c = control_free(c);
        ASSERT_TRUE(access(path, F_OK) < 0 && errno == ENOENT);
        remove_dir();
}

TEST(valid_figures_accepted)
{
        _cleanup_(control_freep) Control *c = NULL;
        ControlAllocFigures f;
        OomlessSample sample = {};

        make_dir();
        ASSERT_OK(control_create(dir, &c));
        ASSERT_ERROR(control_read_alloc(c, &f), ENODATA);
        ASSERT_TRUE(!control_has_allocator(c));

        struct oomless_control *m = map_page(control_path(c));
        struct oomless_control_alloc v = good();
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, &f));
        ASSERT_EQ(f.pid, getpid());
        ASSERT_U64_EQ(f.heap_held, 8 << 20);
        ASSERT_U64_EQ(f.heap_in_use, 6 << 20);
        ASSERT_U64_EQ(f.heap_cap, 64 << 20);
        ASSERT_U64_EQ(f.cap_hits, 2);
        ASSERT_TRUE(control_has_allocator(c));
        ASSERT_OK(control_fill_sample(c, &sample));
        ASSERT_TRUE(sample.heap_valid);
        ASSERT_U64_EQ(sample.heap_held, 8 << 20);
        ASSERT_U64_EQ(sample.heap_cap_hits, 2);

        /* the counters may only grow while the pid stays */
        v.cap_hits = 5;
        v.heap_returned += 4096;
        v.updated_ns += 1000;
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, &f));
        ASSERT_U64_EQ(f.cap_hits, 5);
        munmap(m, OOMLESS_CONTROL_SIZE);
        c = control_free(c);
        remove_dir();
}

TEST(invalid_figures_rejected)
{
        _cleanup_(control_freep) Control *c = NULL;
        ControlAllocFigures f = { .heap_held = 42 };
        OomlessSample sample = { .heap_valid = true };
        struct oomless_control_alloc v;

        make_dir();
        ASSERT_OK(control_create(dir, &c));
        struct oomless_control *m = map_page(control_path(c));
        v = good();
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, NULL));

#define REJECT(mutate)                                                                                      \
        do {                                                                                                \
                v = good();                                                                                 \
                v.cap_hits = 10;                                                                            \
                v.scavenges = 10;                                                                           \
                v.heap_returned = 10 << 20;                                                                 \
                mutate;                                                                                     \
                alloc_publish(m, &v);                                                                       \
                ASSERT_ERROR(control_read_alloc(c, &f), EBADMSG);                                           \
                ASSERT_U64_EQ(f.heap_held, 42); /* untouched */                                             \
        } while (0)
        REJECT(v.heap_in_use = v.heap_held + 1);
        REJECT(v.heap_held = UINT64_MAX);
        REJECT(v.heap_held = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) * 3);
        REJECT(v.heap_cap = UINT64_MAX / 2);
        REJECT(v.pid = 0);
        REJECT(v.pid = 0x7fffffff);
        REJECT(v.scavenge_ack = 1); /* no scavenge was ever requested */
        REJECT(v.stage_seen = 7);   /* no stage beyond 0 was ever published */
        REJECT(v.updated_ns = UINT64_MAX);

        /* a good snapshot with larger counters, then the counters going backwards */
        v = good();
        v.cap_hits = 10;
        v.scavenges = 10;
        v.heap_returned = 10 << 20;
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, NULL));
        REJECT(v.cap_hits = 9);
        REJECT(v.scavenges = 1);
        REJECT(v.heap_returned = 0);
        REJECT(v.updated_ns = 1);
        ASSERT_ERROR(control_fill_sample(c, &sample), EBADMSG);
        ASSERT_TRUE(!sample.heap_valid);

        /* a new process (restarted workload) starts its counters over */
        v = good();
        v.pid = (uint32_t)getppid();
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, NULL));

        /* a writer stopped in the middle of an update: seq stays odd */
        __atomic_store_n(&m->alloc.seq, m->alloc.seq | 1, __ATOMIC_RELEASE);
        ASSERT_ERROR(control_read_alloc(c, &f), EAGAIN);
        munmap(m, OOMLESS_CONTROL_SIZE);
        c = control_free(c);
        remove_dir();
}

/* A forked writer alternates between two consistent states under the seqlock while a third of the
 * time scribbling random bytes over the whole half (seq included). Every snapshot we accept must be
 * one of the consistent states: heap_in_use * 2 == heap_held. */
TEST(forked_writer_garbage_and_torn_values)
{
        _cleanup_(control_freep) Control *c = NULL;
        unsigned ok = 0, bad = 0, torn = 0, nodata = 0;
        pid_t pid;

        make_dir();
        ASSERT_OK(control_create(dir, &c));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                struct oomless_control *m = map_page(control_path(c));
                uint64_t x = 88172645463325252ull;
                for (uint64_t i = 0;; i++) { /* until the reader has seen enough and kills us */
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        if (i % 3 == 0) {
                                uint64_t *w = (uint64_t *)&m->alloc;
                                for (size_t k = 0; k < sizeof(m->alloc) / 8; k++)
                                        __atomic_store_n(&w[k], x * (k + 1), __ATOMIC_RELAXED);
                        } else {
                                struct oomless_control_alloc v = {
                                        .pid = (uint32_t)getpid(),
                                        .heap_held = (i & 1) ? (64u << 20) : (2u << 20),
                                        .updated_ns = t_now_usec() * 1000,
                                };
                                v.heap_in_use = v.heap_held / 2;
                                if (m->alloc.seq & 1)
                                        __atomic_store_n(&m->alloc.seq, m->alloc.seq + 1, __ATOMIC_RELAXED);
                                alloc_publish(m, &v);
                        }
                }
                _exit(0);
        }

        /* read until both kinds were seen plenty of times (bounded: a slow VM gets longer) */
        uint64_t end = t_now_usec() + t_slow(3000000);
        log_set_max_level(LOG_LEVEL_ERROR); /* the rate-limited warnings are expected here */
        while (t_now_usec() < end && (ok < 1000 || bad + torn < 1000)) {
                ControlAllocFigures f;
                int r = control_read_alloc(c, &f);
                if (r == 0) {
                        ASSERT_U64_EQ(f.heap_in_use * 2, f.heap_held);
                        ASSERT_TRUE(f.heap_held == 64u << 20 || f.heap_held == 2u << 20);
                        ok++;
                } else if (r == -EBADMSG)
                        bad++;
                else if (r == -EAGAIN)
                        torn++;
                else if (r == -ENODATA)
                        nodata++;
                else
                        TEST_FAIL("unexpected %d", r);
        }
        log_set_max_level(LOG_LEVEL_INFO);
        int st;
        ASSERT_OK(kill(pid, SIGKILL));
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL); /* the writer never crashed */
        printf("accepted %u, rejected %u, torn %u, empty %u\n", ok, bad, torn, nodata);
        ASSERT_TRUE(ok > 0);
        ASSERT_TRUE(bad + torn > 0);
        c = control_free(c);
        remove_dir();
}

TEST(truncated_page_is_an_error_not_a_crash)
{
        _cleanup_(control_freep) Control *c = NULL;
        ControlAllocFigures f;
        struct stat st;

        make_dir();
        ASSERT_OK(control_create(dir, &c));
        ASSERT_OK(truncate(control_path(c), 0));
        log_set_max_level(LOG_LEVEL_ERROR);
        ASSERT_ERROR(control_read_alloc(c, &f), EIO);
        log_set_max_level(LOG_LEVEL_INFO);
        /* publishing writes our half back (and regrows the file) */
        ASSERT_OK(
            control_publish(c, 1, 2, 0, 0, false, OOMLESS_BUDGET_NORMAL, OOMLESS_WEIGHT_NORMAL, false));
        ASSERT_OK(stat(control_path(c), &st));
        ASSERT_TRUE(st.st_size > 0);
        c = control_free(c);
        remove_dir();
}

static void on_wake(Control *c, void *userdata)
{
        *(bool *)userdata = true;
}

TEST(wake_fifo_wakes_the_loop)
{
        _cleanup_(control_freep) Control *c = NULL;
        sd_event *e = NULL;
        bool woke = false;
        pid_t pid;

        make_dir();
        ASSERT_OK(control_create(dir, &c));
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(control_add_wake_source(c, e, 0, on_wake, &woke));
        ASSERT_OK(sd_event_run(e, 100000));
        ASSERT_TRUE(!woke);

        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                /* as the allocator does: never wait */
                int fd = open(control_wake_path(c), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                _exit(fd >= 0 && write(fd, "!!!", 3) == 3 ? 0 : 1);
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_EQ(WEXITSTATUS(st), 0);
        uint64_t t0 = t_now_usec();
        ASSERT_TRUE(t_run_until(e, &woke, 2000000));
        ASSERT_TRUE(t_now_usec() - t0 < 1000000);
        /* drained: no second wake-up without a new byte */
        woke = false;
        ASSERT_OK(sd_event_run(e, 100000));
        ASSERT_TRUE(!woke);
        ASSERT_EQ(control_wake_drain(c), 0);
        c = control_free(c);
        sd_event_unref(e);
        remove_dir();
}

/* Where oomless starts the workload, the page is a memfd sealed against shrinking, growing and further
 * seals (issue 14, finding 2): the workload cannot truncate it (SIGBUS in every process mapping it),
 * and cannot add F_SEAL_WRITE to block our publishes. It has no path; the child finds the fd number
 * in OOMLESS_CONTROL_FD. */
TEST(sealed_page_cannot_be_truncated)
{
        _cleanup_(control_freep) Control *c = NULL;
        char **env = NULL, expect[160], proc[64];
        struct stat st;

        make_dir();
        ASSERT_OK(control_create_sealed(dir, &c));
        ASSERT_TRUE(control_path(c) == NULL);
        int fd = control_fd(c);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC); /* only the spawned child gets it */
        int seals = fcntl(fd, F_GET_SEALS);
        ASSERT_TRUE(seals >= 0);
        ASSERT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
                  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
        ASSERT_OK(fstat(fd, &st));
        ASSERT_EQ(st.st_size, OOMLESS_CONTROL_SIZE);

        ASSERT_OK(control_env(c, &env));
        snprintf(expect, sizeof(expect), "OOMLESS_CONTROL_FD=%d", fd);
        ASSERT_STREQ(env[0], expect);
        snprintf(expect, sizeof(expect), "OOMLESS_WAKE=%s/wake", dir);
        ASSERT_STREQ(env[1], expect);
        strv_free(env);

        /* What `truncate -s 0 /proc/self/fd/N` does in the workload: a new open file description of
         * the same memfd, then ftruncate. */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        int fd2 = open(proc, O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(fd2 >= 0);
        ASSERT_TRUE(ftruncate(fd2, 0) < 0 && errno == EPERM);
        ASSERT_TRUE(ftruncate(fd2, 2 * OOMLESS_CONTROL_SIZE) < 0 && errno == EPERM);
        ASSERT_TRUE(fcntl(fd2, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM);
        ASSERT_TRUE(truncate(proc, 0) < 0 && errno == EPERM);
        struct oomless_control *m = map_page(proc);
        close(fd2);
        ASSERT_U64_EQ(m->magic, OOMLESS_CONTROL_MAGIC);

        ASSERT_OK(control_publish(c, 1, 2, 64 << 20, 0, false, OOMLESS_BUDGET_NORMAL, OOMLESS_WEIGHT_NORMAL,
                                  false));
        struct oomless_control_sup sup = sup_read(m);
        ASSERT_EQ(sup.stage, 1);
        ASSERT_U64_EQ(sup.heap_cap, 64 << 20);
        ASSERT_U64_EQ(control_published_heap_cap(c), 64 << 20);
        struct oomless_control_alloc v = good();
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, NULL));
        munmap(m, OOMLESS_CONTROL_SIZE);

        /* Only the FIFO lives in the directory. */
        snprintf(expect, sizeof(expect), "%s/control", dir);
        ASSERT_TRUE(access(expect, F_OK) < 0 && errno == ENOENT);
        c = control_free(c);
        remove_dir();
}

/* Baselines follow the publishing image (issue 14, findings 4 and 7). An exec under the same pid
 * brings a new instance id and counters from zero: accepted, baselines reset, and the next snapshots
 * are checked against the new ones. A pid that changes under the same id is still the same image:
 * its counters may not go back. An id of 0 (an older allocator) is keyed on the pid. */
TEST(baselines_follow_the_instance_id)
{
        _cleanup_(control_freep) Control *c = NULL;
        ControlAllocFigures f;

        struct oomless_control *m = sealed_page(&c);

        struct oomless_control_alloc v = good();
        v.instance_id = 0x1111;
        v.cap_hits = 100;
        v.scavenges = 50;
        v.heap_returned = 64 << 20;
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, &f));
        ASSERT_U64_EQ(f.instance_id, 0x1111);
        ASSERT_TRUE(control_last_alloc(c, &f));
        ASSERT_U64_EQ(f.cap_hits, 100);

        /* exec: same pid, new image, counters from zero; the totals keep the old image's 100 */
        v = good();
        v.instance_id = 0x2222;
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, &f));
        ASSERT_U64_EQ(f.cap_hits, 102);
        /* and the new baselines hold */
        v.cap_hits = 1;
        alloc_publish(m, &v);
        log_set_max_level(LOG_LEVEL_ERROR);
        ASSERT_ERROR(control_read_alloc(c, &f), EBADMSG);

        /* a hostile publisher flipping its pid on every publish keeps its id: still checked */
        v = good();
        v.instance_id = 0x2222;
        v.cap_hits = 10;
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, NULL));
        for (uint32_t i = 0; i < 20; i++) {
                v.pid = 1000 + i;
                v.cap_hits = 9 - (i % 5);
                alloc_publish(m, &v);
                ASSERT_ERROR(control_read_alloc(c, &f), EBADMSG);
        }
        ASSERT_TRUE(control_last_alloc(c, &f));
        ASSERT_U64_EQ(f.cap_hits, 110);

        /* an allocator without an id: keyed on the pid as before */
        v = good();
        v.instance_id = 0;
        v.cap_hits = 7;
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, NULL)); /* a new publisher (the id changed) */
        v.cap_hits = 6;
        alloc_publish(m, &v);
        ASSERT_ERROR(control_read_alloc(c, NULL), EBADMSG);
        v.pid = (uint32_t)getppid();
        alloc_publish(m, &v);
        ASSERT_OK(control_read_alloc(c, NULL)); /* another process: counters start over */
        log_set_max_level(LOG_LEVEL_INFO);
        munmap(m, OOMLESS_CONTROL_SIZE);
        c = control_free(c);
        remove_dir();
}

/* The counters are totals over every publisher: a restart or a takeover (B after A) adds B's to A's
 * instead of dropping to B's (a Prometheus counter reset), and A's return (A, B, A) counts A once, at
 * the highest figure it reported. A table of 8 publishers folds the oldest into the totals. */
TEST(counters_are_totals_over_publishers)
{
        _cleanup_(control_freep) Control *c = NULL;
        ControlAllocFigures f;

        struct oomless_control *m = sealed_page(&c);

        struct oomless_control_alloc a = good(), b = good();
        a.instance_id = 0xa, a.cap_hits = 5, a.scavenges = 3, a.heap_returned = 1 << 20;
        b.instance_id = 0xb, b.cap_hits = 1, b.scavenges = 1, b.heap_returned = 4096;
        alloc_publish(m, &a);
        ASSERT_OK(control_read_alloc(c, &f));
        ASSERT_U64_EQ(f.cap_hits, 5);
        alloc_publish(m, &b); /* B takes over */
        ASSERT_OK(control_read_alloc(c, &f));
        ASSERT_U64_EQ(f.cap_hits, 6);
        ASSERT_U64_EQ(f.scavenges, 4);
        ASSERT_U64_EQ(f.heap_returned, (1 << 20) + 4096);
        a.cap_hits = 7; /* A back, with 2 more */
        alloc_publish(m, &a);
        ASSERT_OK(control_read_alloc(c, &f));
        ASSERT_U64_EQ(f.cap_hits, 8);
        a.cap_hits = 6; /* A back again after B, lower: not checked against its past, not counted down */
        alloc_publish(m, &b);
        ASSERT_OK(control_read_alloc(c, NULL));
        alloc_publish(m, &a);
        ASSERT_OK(control_read_alloc(c, &f));
        ASSERT_U64_EQ(f.cap_hits, 8);
        /* eight more publishers of 1 each: A and B fold into the totals, nothing is lost */
        for (uint64_t i = 0; i < 8; i++) {
                struct oomless_control_alloc n = good();
                n.instance_id = 0x100 + i, n.cap_hits = 1, n.scavenges = 0, n.heap_returned = 0;
                alloc_publish(m, &n);
                ASSERT_OK(control_read_alloc(c, &f));
        }
        ASSERT_U64_EQ(f.cap_hits, 16);
        ASSERT_U64_EQ(f.scavenges, 4);
        /* a counter at the top saturates instead of wrapping */
        b.cap_hits = UINT64_MAX;
        alloc_publish(m, &b);
        ASSERT_OK(control_read_alloc(c, &f));
        ASSERT_U64_EQ(f.cap_hits, UINT64_MAX);
        munmap(m, OOMLESS_CONTROL_SIZE);
        c = control_free(c);
        remove_dir();
}

static void count_wake(Control *c, void *userdata)
{
        (void)c;
        (*(unsigned *)userdata)++;
}

/* Wake-ups coalesce (issue 14, finding 5): a writer that fills the FIFO without pause gets at most
 * one handler call per interval, not one per byte; the bytes of its last burst are still handled
 * after the interval; and a lone byte after a quiet spell is handled at once. */
TEST(wake_fifo_spam_is_coalesced)
{
        _cleanup_(control_freep) Control *c = NULL;
        const uint64_t interval = 5000, spam = 1000000;
        sd_event *e = NULL;
        unsigned calls = 0;
        pid_t pid;

        make_dir();
        ASSERT_OK(control_create_sealed(dir, &c));
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(control_add_wake_source(c, e, interval, count_wake, &calls));

        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int fd = open(control_wake_path(c), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0)
                        _exit(1);
                uint64_t end = t_now_usec() + spam;
                while (t_now_usec() < end)
                        (void)!write(fd, "!", 1);
                _exit(0);
        }
        uint64_t t0 = t_now_usec();
        for (;;) {
                ASSERT_TRUE(sd_event_run(e, 100000) >= 0);
                int st;
                if (waitpid(pid, &st, WNOHANG) == pid) {
                        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
                        break;
                }
        }
        uint64_t took = t_now_usec() - t0;
        /* the last burst: still in the FIFO or just handled, it is handled within the interval */
        for (int i = 0; i < 5; i++)
                ASSERT_TRUE(sd_event_run(e, 2 * interval) >= 0);
        ASSERT_EQ(control_wake_drain(c), 0);
        printf("%u handler calls in %llu us of spam (%llu wake-ups per interval at most)\n", calls,
               (unsigned long long)took, (unsigned long long)(took / interval + 1));
        ASSERT_TRUE(calls >= 2);
        ASSERT_TRUE(calls <= took / interval + 3);
        ASSERT_U64_EQ(control_wake_calls(c), calls);

        /* a lone crossing after a quiet spell: at once */
        unsigned before = calls;
        int fd = open(control_wake_path(c), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, "!", 1), 1);
        close(fd);
        uint64_t t1 = t_now_usec();
        while (calls == before && t_now_usec() - t1 < t_slow(1000000))
                ASSERT_TRUE(sd_event_run(e, 100000) >= 0);
        ASSERT_EQ(calls, before + 1);
        printf("a lone wake-up handled after %llu us\n", (unsigned long long)(t_now_usec() - t1));
        ASSERT_TRUE(t_now_usec() - t1 < t_slow(200000));
        c = control_free(c);
        sd_event_unref(e);
        remove_dir();
}

TEST(stale_files_are_replaced)
{
        _cleanup_(control_freep) Control *c = NULL;
        char path[128];

        make_dir();
        snprintf(path, sizeof(path), "%s/control", dir);
        ASSERT_OK(close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)));
        snprintf(path, sizeof(path), "%s/wake", dir);
        ASSERT_OK(close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)));
        ASSERT_OK(control_create(dir, &c));
        struct stat st;
        ASSERT_OK(stat(control_wake_path(c), &st));
        ASSERT_TRUE(S_ISFIFO(st.st_mode));
        c = control_free(c);
        remove_dir();
}

TEST_MAIN()

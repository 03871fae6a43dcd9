/* SPDX-License-Identifier: MIT */
/* The supervisor's side of the control page for the allocator tests: create a page (a file, or a
 * sealed memfd), write the supervisor half under its seqlock, and read the allocator half. Include
 * after test.h. */
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "oomless/control.h"

static inline struct oomless_control *ap_fill(int fd, uint64_t magic)
{
        ASSERT_EQ(ftruncate(fd, OOMLESS_CONTROL_SIZE), 0);
        struct oomless_control *c =
            mmap(NULL, OOMLESS_CONTROL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ASSERT_TRUE(c != MAP_FAILED);
        c->version = OOMLESS_CONTROL_VERSION;
        c->size = sizeof(*c);
        c->supervisor_pid = (uint32_t)getpid();
        c->sup.budget_permille = OOMLESS_BUDGET_NORMAL;
        c->sup.weight = OOMLESS_WEIGHT_NORMAL;
        __atomic_store_n(&c->magic, magic, __ATOMIC_RELEASE);
        return c;
}

/* A page that is a plain file at path (the sidecar case). */
static inline struct oomless_control *ap_make_file(const char *path, uint64_t magic)
{
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_TRUE(fd >= 0);
        struct oomless_control *c = ap_fill(fd, magic);
        close(fd);
        return c;
}

/* A page in a memfd sealed as oomless seals it: no shrinking, no growing, no further seals. The fd
 * (O_CLOEXEC) goes to *fd_out. */
static inline struct oomless_control *ap_make_memfd(int *fd_out)
{
        int fd = memfd_create("oomless-control", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ASSERT_TRUE(fd >= 0);
        struct oomless_control *c = ap_fill(fd, OOMLESS_CONTROL_MAGIC);
        ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
        *fd_out = fd;
        return c;
}

static inline void ap_sup_write(struct oomless_control *c, uint32_t stage, uint64_t cap, uint64_t scav,
                                uint64_t wm)
{
        struct oomless_control_sup *s = &c->sup;
        uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
        __atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        __atomic_store_n(&s->stage, stage, __ATOMIC_RELAXED);
        __atomic_store_n(&s->stage_count, 3, __ATOMIC_RELAXED);
        __atomic_store_n(&s->heap_cap, cap, __ATOMIC_RELAXED);
        __atomic_store_n(&s->scavenge_seq, scav, __ATOMIC_RELAXED);
        __atomic_store_n(&s->wake_watermark, wm, __ATOMIC_RELAXED);
        __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

/* Version 2: budget and weight, with OOMLESS_SUP_F_BUDGET | extra_flags; the other fields stay. */
static inline void ap_sup_write_budget(struct oomless_control *c, uint32_t stage, uint32_t budget,
                                       uint32_t weight, uint32_t extra_flags)
{
        struct oomless_control_sup *s = &c->sup;
        uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
        __atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        __atomic_store_n(&s->stage, stage, __ATOMIC_RELAXED);
        __atomic_store_n(&s->flags, OOMLESS_SUP_F_BUDGET | extra_flags, __ATOMIC_RELAXED);
        __atomic_store_n(&s->budget_permille, budget, __ATOMIC_RELAXED);
        __atomic_store_n(&s->weight, weight, __ATOMIC_RELAXED);
        __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

/* A consistent copy of the allocator half; false when none was published or every try was torn. */
static inline bool ap_alloc_read(struct oomless_control *c, struct oomless_control_alloc *out)
{
        struct oomless_control_alloc *a = &c->alloc;
        for (int i = 0; i < 1000; i++) {
                uint32_t s1 = __atomic_load_n(&a->seq, __ATOMIC_ACQUIRE);
                if (s1 & 1)
                        continue;
                memcpy(out, (const void *)a, sizeof(*out));
                __atomic_thread_fence(__ATOMIC_ACQUIRE);
                if (__atomic_load_n(&a->seq, __ATOMIC_RELAXED) == s1)
                        return s1 != 0;
        }
        return false;
}

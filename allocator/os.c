/* SPDX-License-Identifier: MIT */
/*
 * The operating-system boundary: the only file that maps, remaps or releases memory, plus the few
 * helpers the allocator needs that must not allocate (environment lookup, clock, file reads into
 * caller buffers, write(2) messages, the lock's wait loop).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ma.h"

extern char **environ;

void *ma_os_map(size_t size, size_t align)
{
        size_t len = size + align;
        char *p =
            mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
                return NULL;
        uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
        size_t head = a - (uintptr_t)p, tail = len - head - size;
        if (head)
                munmap(p, head);
        if (tail)
                munmap((char *)a + size, tail);
        return (void *)a;
}

void ma_os_no_huge(void *p, size_t size)
{
        int saved = errno;
        /* With THP "always", a huge page of which only some 4 KiB pages were given back stays whole
         * and charged to the cgroup until the kernel's deferred split runs under pressure: RSS falls
         * but memory.current does not, so neither the cap nor the supervisor would see the return. */
        (void)madvise(p, size, MADV_NOHUGEPAGE);
        errno = saved;
}

void ma_os_release(void *p, size_t size)
{
        int saved = errno;
        /* DONTNEED rather than FREE: the cgroup charge and RSS must drop now, not under pressure. */
        (void)madvise(p, size, MADV_DONTNEED);
        errno = saved;
}

bool ma_os_move(void *from, size_t size, void *to, bool no_huge)
{
        int saved = errno;
        bool ok = false;
        /* Moving the page tables costs nothing per byte, unlike memcpy; the vacated range must be
         * mapped again at once, since the arena around it stays in use. */
        void *p = mremap(from, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
        if (p == to) {
                void *q = mmap(from, size, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
                if (q != from)
                        ma_fatal("cannot map the range vacated by mremap again", from);
                if (no_huge)
                        ma_os_no_huge(from, size);
                ok = true;
        }
        errno = saved;
        return ok;
}

bool ma_os_zero_fixed(void *p, size_t size)
{
        /* Async-signal-safe: the control page's SIGBUS guard calls it from the handler. MAP_FIXED
         * replaces the old mapping atomically, so a concurrent reader sees either page, never a hole. */
        int saved = errno;
        void *q = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        errno = saved;
        return q == p;
}

static uint64_t ma_mix64(uint64_t x)
{
        /* splitmix64's finaliser */
        x ^= x >> 30;
        x *= UINT64_C(0xbf58476d1ce4e5b9);
        x ^= x >> 27;
        x *= UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

uint64_t ma_os_random_id(void)
{
        int saved = errno;
        uint64_t v = 0;
        /* Never blocks, even before the kernel's pool is ready. AT_RANDOM is not used: glibc derives
         * the stack protector canary and the pointer guard from those bytes, and the control page is
         * readable by every process of the workload. The fallback only needs to be unique. */
        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
                struct timespec a, b;
                clock_gettime(CLOCK_REALTIME, &a);
                clock_gettime(CLOCK_MONOTONIC, &b);
                v = ma_mix64((uint64_t)a.tv_sec * 1000000000u + (uint64_t)a.tv_nsec) ^
                    ma_mix64(((uint64_t)getpid() << 32) ^ (uint64_t)b.tv_nsec ^ (uintptr_t)&a);
        }
        errno = saved;
        return v ? v : 1;
}

void ma_lock_slow(MaLock *l)
{
        for (unsigned spins = 0;; spins++) {
                if (!atomic_load_explicit(&l->v, memory_order_relaxed) &&
                    !atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
                        return;
                if (spins < 100) {
#if defined(__x86_64__) || defined(__i386__)
                        __builtin_ia32_pause();
#elif defined(__aarch64__)
                        __asm__ __volatile__("yield");
#endif
                } else
                        sched_yield();
        }
}

uint64_t ma_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *ma_getenv(const char *name)
{
        size_t n = strlen(name);
        if (!environ)
                return NULL;
        for (char **e = environ; *e; e++)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

void ma_write_err(const char *s)
{
        size_t n = strlen(s);
        while (n > 0) {
                ssize_t w = write(STDERR_FILENO, s, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                s += w;
                n -= (size_t)w;
        }
}

char *ma_u64_str(uint64_t v, char buf[static 24])
{
        char *p = buf + 23;
        *p = 0;
        do {
                *--p = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        return p;
}

void mb_str(MaBuf *m, const char *s)
{
        while (*s && m->n < sizeof(m->b) - 2)
                m->b[m->n++] = *s++;
        m->b[m->n] = 0;
}

void mb_u64(MaBuf *m, uint64_t v)
{
        char buf[24];
        mb_str(m, ma_u64_str(v, buf));
}

void mb_flush(MaBuf *m)
{
        mb_str(m, "\n");
        ma_write_err(m->b);
        m->n = 0;
}

void ma_fatal(const char *what, const void *p)
{
        MaBuf m = { .n = 0 };
        static const char hex[] = "0123456789abcdef";
        char buf[19] = "0x";
        uintptr_t a = (uintptr_t)p;
        for (int i = 0; i < 16; i++)
                buf[2 + i] = hex[(a >> (60 - 4 * i)) & 15];
        buf[18] = 0;
        mb_str(&m, "liboomless: ");
        mb_str(&m, what);
        mb_str(&m, " (pointer ");
        mb_str(&m, buf);
        mb_str(&m, "); aborting");
        mb_flush(&m);
        abort();
}

ssize_t ma_read_file(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t n = 0;
        if (fd < 0)
                return -errno;
        while (n + 1 < size) {
                ssize_t r = read(fd, buf + n, size - 1 - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                n += (size_t)r;
        }
        close(fd);
        buf[n] = 0;
        return (ssize_t)n;
}

/* SPDX-License-Identifier: MIT */
/* Workload: fragmentation and giving memory back. Allocates TOTAL_MIB of OBJ-byte objects, then frees
 * 90% of them in runs of one page worth of objects (in allocation order: nine runs freed, one kept).
 * Reports RSS at the peak, after IDLE_MS of idling with no allocator call, and after the allocator's
 * explicit release call (malloc_trim(0), or the peer's own API when it has no malloc_trim).
 * The bookkeeping is intrusive (each object links to the next), so the harness itself adds no memory.
 * Usage: bench-frag TOTAL_MIB OBJ IDLE_MS */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <string.h>

#include "bench-common.h"

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef void (*mi_collect_fn)(bool);
typedef void (*release_fn)(void);
typedef int (*trim_fn)(size_t);

/* The peers without malloc_trim are asked through their own API; looked up only after the idle figure
 * is taken, because dlsym may allocate. The preloaded library comes first in the lookup order, so a
 * malloc_trim found here belongs to it (or to glibc when nothing is preloaded). */
static const char *release_memory(void)
{
        void *sym;
        if ((sym = dlsym(RTLD_DEFAULT, "mallctl"))) {
                mallctl_fn ctl = (mallctl_fn)sym;
                ctl("thread.tcache.flush", NULL, NULL, NULL, 0);
                ctl("arena.4096.purge", NULL, NULL, NULL, 0);
                return "mallctl(arena.all.purge)";
        }
        if ((sym = dlsym(RTLD_DEFAULT, "mi_collect"))) {
                ((mi_collect_fn)sym)(true);
                return "mi_collect(true)";
        }
        if ((sym = dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory"))) {
                ((release_fn)sym)();
                return "MallocExtension_ReleaseFreeMemory()";
        }
        if ((sym = dlsym(RTLD_DEFAULT, "malloc_trim"))) {
                ((trim_fn)sym)(0);
                return "malloc_trim(0)";
        }
        return "none";
}

int main(int argc, char **argv)
{
        long total_mib = bench_arg(argc, argv, 1, 1024);
        long obj = bench_arg(argc, argv, 2, 64);
        long idle_ms = bench_arg(argc, argv, 3, 1000);
        long page = sysconf(_SC_PAGESIZE);
        long per_run = page / obj > 0 ? page / obj : 1;
        long count = (total_mib << 20) / obj;
        void *keep = NULL, *drop = NULL, **keep_tail = &keep, **drop_tail = &drop;
        long kept = 0;

        if (obj < (long)sizeof(void *)) {
                fprintf(stderr, "bench-frag: OBJ must be at least %zu\n", sizeof(void *));
                return 2;
        }
        long rss_base = bench_rss_bytes();
        double t0 = bench_now();
        for (long i = 0; i < count; i++) {
                void **p = malloc((size_t)obj);
                if (!p)
                        return 1;
                memset(p, (int)(i & 0xff), (size_t)obj);
                *p = NULL;
                if ((i / per_run) % 10 == 0) {
                        *keep_tail = p;
                        keep_tail = p;
                        kept++;
                } else {
                        *drop_tail = p;
                        drop_tail = p;
                }
        }
        long rss_peak = bench_rss_bytes();
        for (void *p = drop; p;) {
                void *next = *(void **)p;
                free(p);
                p = next;
        }
        double dt = bench_now() - t0;
        struct timespec idle = { idle_ms / 1000, (idle_ms % 1000) * 1000000L };
        while (nanosleep(&idle, &idle) < 0 && errno == EINTR)
                ;
        long rss_idle = bench_rss_bytes();
        const char *api = release_memory();
        long rss_trim = bench_rss_bytes();
        long live = kept * obj;

        printf("objects=%ld\nlive_bytes=%ld\nrss_base=%ld\nrss_peak=%ld\nrss_idle=%ld\nrss_trim=%ld\n"
               "idle_over_live=%.3f\ntrim_over_live=%.3f\nseconds=%.6f\ntrim_api=%s\n",
               count, live, rss_base, rss_peak, rss_idle, rss_trim, (double)rss_idle / (double)live,
               (double)rss_trim / (double)live, dt, api);
        return 0;
}

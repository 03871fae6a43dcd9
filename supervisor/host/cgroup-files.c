/* SPDX-License-Identifier: MIT */
/* The files a cgroup backend holds and how one sample reads them: one table of (flavour, file, key,
 * destination field, how) rows for v2 and v1, and the loops that open and sample by it. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-internal.h"

#define F(field) offsetof(CgFigures, field)
#define V2       CG_FILES_V2
#define V1       CG_FILES_V1
/* Keys of memory.stat and of v2's memory.events, several to a line: the table stays one screen. */
/* clang-format off */
#define STAT(flavour, key, field, how) { flavour, CG_FD_STAT, "memory.stat", key, F(field), how }
#define EVENT(key, field) { V2, CG_FD_EVENTS, "memory.events", key, F(field), CG_KEY_EVENTS }
/* clang-format on */

static const CgKey keys[] = {
        { V2, CG_FD_CURRENT, "memory.current", NULL, F(current), CG_KEY_REQUIRED },
        { V1, CG_FD_CURRENT, "memory.usage_in_bytes", NULL, F(current), CG_KEY_REQUIRED },
        { V2, CG_FD_PEAK, "memory.peak", NULL, F(peak), 0 },
        { V1, CG_FD_PEAK, "memory.max_usage_in_bytes", NULL, F(peak), 0 },
        /* clang-format off */
        STAT(V2, "anon", anon, 0), STAT(V2, "file", file, 0), STAT(V2, "shmem", shmem, 0),
        STAT(V2, "inactive_file", inactive_file, 0), STAT(V2, "active_file", active_file, 0),
        STAT(V2, "kernel", kernel, 0),
        STAT(V2, "kernel_stack", kernel_parts, CG_KEY_ADD), STAT(V2, "slab", kernel_parts, CG_KEY_ADD),
        STAT(V2, "percpu", kernel_parts, CG_KEY_ADD),
        STAT(V1, "total_rss", anon, 0), STAT(V1, "total_cache", file, 0), STAT(V1, "total_shmem", shmem, 0),
        STAT(V1, "total_inactive_file", inactive_file, 0), STAT(V1, "total_active_file", active_file, 0),
        STAT(V1, "total_swap", swap_current, 0),
        STAT(V1, "hierarchical_memory_limit", limit, CG_KEY_MIN),
        /* clang-format on */
        /* The limit row comes first of the held-limit rows: ancestors hold the same file. */
        { V2, CG_FD_MAX, "memory.max", NULL, F(limit), CG_KEY_MIN },
        { V1, CG_FD_MAX, "memory.limit_in_bytes", NULL, F(limit), CG_KEY_MIN },
        { V1, CG_FD_KMEM, "memory.kmem.usage_in_bytes", NULL, F(kernel), 0 },
        { V2, CG_FD_HIGH, "memory.high", NULL, F(high), 0 },
        { V1, CG_FD_HIGH, "memory.soft_limit_in_bytes", NULL, F(high), 0 },
        { V2, CG_FD_SWAP, "memory.swap.current", NULL, F(swap_current), 0 },
        /* Reading memory.events also re-arms its POLLPRI notification (cg_events_fd). */
        /* clang-format off */
        EVENT("low", ev_low), EVENT("high", ev_high), EVENT("max", ev_max), EVENT("oom", ev_oom),
        EVENT("oom_kill", ev_oom_kill), EVENT("oom_group_kill", ev_oom_group_kill),
        /* clang-format on */
        /* v1 has no memory.events: failcnt (+ memsw.failcnt, where a memory+swap limit makes the charge
         * fail instead) counts hits of the limit (~"max"); oom_control has the kill counter and whether
         * the group is stuck in OOM right now (ev_oom = oom_kill + under_oom). */
        { V1, CG_FD_FAILCNT, "memory.failcnt", NULL, F(ev_max), CG_KEY_EVENTS },
        { V1, CG_FD_MEMSW_FAILCNT, "memory.memsw.failcnt", NULL, F(ev_max), CG_KEY_ADD },
        { V1, CG_FD_OOM_CONTROL, "memory.oom_control", "oom_kill", F(ev_oom_kill), CG_KEY_EVENTS },
        { V1, CG_FD_OOM_CONTROL, "memory.oom_control", "oom_kill", F(ev_oom), CG_KEY_EVENTS | CG_KEY_ADD },
        { V1, CG_FD_OOM_CONTROL, "memory.oom_control", "under_oom", F(ev_oom), CG_KEY_EVENTS | CG_KEY_ADD },
        /* Held for cg_list_pids and nr_processes. No v1 row: v1 caches the pid list per open file for as
         * long as reads keep coming (dropped 1 s after the last one), so a held fd would show exited
         * pids forever; v1 re-opens cgroup.procs for each listing. */
        { V2, CG_FD_PROCS, "cgroup.procs", NULL, CG_KEY_HELD, 0 },
};

static const char *limit_file(CgFiles files)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (keys[i].files == files && keys[i].fd == CG_FD_MAX)
                        return keys[i].file;
        return NULL;
}

int cg_files_open(Cg *cg, CgFiles files, const char *dir, const char *mount)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const CgKey *k = &keys[i];
                if (k->files != files || cg->fd[k->fd] >= 0)
                        continue;
                cg->fd[k->fd] = cg_open_ro(dir, k->file);
                if (cg->fd[k->fd] < 0 && (k->flags & CG_KEY_REQUIRED))
                        return cg->fd[k->fd];
        }
        if (files == CG_FILES_V2)
                cg_files_open_unified(cg, dir);

        /* Every ancestor's limit, nearest first, up to the mount (the true root has none): a parent may
         * be lowered while we run, and v1's hierarchical_memory_limit only covers what this mount shows. */
        _cleanup_free_ char *cur = strdup(dir);
        const char *file = limit_file(files);
        size_t ml = strlen(mount);
        if (!cur)
                return -ENOMEM;
        while (strlen(cur) > ml) {
                char *slash = strrchr(cur, '/');
                if (!slash || slash == cur)
                        break;
                *slash = '\0';
                if (strlen(cur) < ml)
                        break;
                int fd = cg_open_ro(cur, file);
                if (fd < 0)
                        break;
                int *n = realloc(cg->anc_fds, (cg->n_anc + 1) * sizeof(int));
                if (!n) {
                        safe_close(fd);
                        return -ENOMEM;
                }
                cg->anc_fds = n;
                cg->anc_fds[cg->n_anc++] = fd;
        }
        return 0;
}

void cg_files_open_unified(Cg *cg, const char *dir)
{
        cg->fd[CG_FD_PRESSURE] = cg_open_ro(dir, "memory.pressure");
        cg->fd[CG_FD_CGEVENTS] = cg_open_ro(dir, "cgroup.events");
        if (cg->fd[CG_FD_PRESSURE] >= 0) {
                free(cg->pressure_path);
                cg->pressure_path = cg_path_join(dir, "memory.pressure");
        }
}

int cg_files_sample(Cg *cg, CgFiles files, CgFigures *f)
{
        char buf[16384];
        ssize_t len = -ENOENT;
        int last = -1;

        f->limit = cg->memtotal;
        f->high = OOMLESS_NO_LIMIT;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const CgKey *k = &keys[i];
                uint64_t v, *dest;
                int r;

                if (k->files != files || k->dest == CG_KEY_HELD)
                        continue;
                if ((int)k->fd != last) {
                        last = (int)k->fd;
                        len = cg_pread_fd(cg->fd[k->fd], buf, sizeof(buf));
                        if (len >= 0 && k->key && (k->flags & CG_KEY_EVENTS))
                                f->events_valid = true;
                }
                r = len < 0 ? (int)len : k->key ? cg_keyed_get(buf, k->key, &v) : cg_parse_limit(buf, &v);
                if (r < 0) {
                        if (k->flags & CG_KEY_REQUIRED)
                                return r;
                        continue;
                }
                dest = (uint64_t *)((char *)f + k->dest);
                if (k->flags & CG_KEY_MIN)
                        *dest = MIN(*dest, v);
                else if (k->flags & CG_KEY_ADD)
                        *dest += v;
                else
                        *dest = v;
                if (!k->key && (k->flags & CG_KEY_EVENTS))
                        f->events_valid = true;
        }
        for (size_t i = 0; i < cg->n_anc; i++) {
                uint64_t v;
                if (cg_read_limit_fd(cg->anc_fds[i], &v) >= 0)
                        f->limit = MIN(f->limit, v);
        }
        return 0;
}

int cg_files_get_limit(Cg *cg, bool high, uint64_t *ret)
{
        int fd = cg->fd[high ? CG_FD_HIGH : CG_FD_MAX];

        if (fd < 0)
                return -EOPNOTSUPP;
        return cg_read_limit_fd(fd, ret);
}

int cg_limit_above(CgFiles files, const char *dir, const char *mount, uint64_t memtotal, uint64_t *ret)
{
        _cleanup_free_ char *cur = strdup(dir);
        const char *file = limit_file(files);
        uint64_t lim = memtotal;

        if (!cur)
                return -ENOMEM;
        if (files == CG_FILES_V1) {
                _cleanup_free_ char *stat = NULL, *p = cg_path_join(dir, "memory.stat");
                uint64_t v;
                if (p && cg_read_file(p, &stat) >= 0 &&
                    cg_keyed_get(stat, "hierarchical_memory_limit", &v) >= 0)
                        lim = MIN(lim, v);
        }
        for (;;) {
                _cleanup_free_ char *p = cg_path_join(cur, file), *txt = NULL;
                uint64_t v;
                if (p && cg_read_file(p, &txt) >= 0 && cg_parse_limit(txt, &v) >= 0)
                        lim = MIN(lim, v);
                if (strlen(cur) <= strlen(mount))
                        break;
                char *slash = strrchr(cur, '/');
                if (!slash)
                        break;
                *slash = '\0';
        }
        *ret = lim;
        return 0;
}

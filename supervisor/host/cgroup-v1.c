/* SPDX-License-Identifier: MIT */
/* cgroup v1 memory controller (hybrid and legacy hosts): the child memory cgroup, its limits, the
 * matching unified-tree leaf for PSI, cgroup.events and cgroup.kill, and sampling of the v1 files. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "cgroup-internal.h"
#include "log.h"

int cg_v1_open_files(Cg *cg, const char *dir, const char *mount, char **reterr_msg)
{
        size_t depth = 0;

        cg->fd_current = cg_open_ro(dir, "memory.usage_in_bytes");
        if (cg->fd_current < 0) {
                int r = cg->fd_current;
                cg_set_msg(reterr_msg, "cannot open %s/memory.usage_in_bytes: %s; is %s a v1 memory cgroup?",
                           dir, strerror(-r), dir);
                return r;
        }
        cg->fd_peak = cg_open_ro(dir, "memory.max_usage_in_bytes");
        cg->fd_stat = cg_open_ro(dir, "memory.stat");
        cg->fd_max = cg_open_ro(dir, "memory.limit_in_bytes");
        cg->fd_high = cg_open_ro(dir, "memory.soft_limit_in_bytes");
        cg->fd_failcnt = cg_open_ro(dir, "memory.failcnt");
        cg->fd_oom_control = cg_open_ro(dir, "memory.oom_control");
        cg->fd_memsw_failcnt = cg_open_ro(dir, "memory.memsw.failcnt");
        /* No held cgroup.procs fd: v1 caches the pid list per open file for as long as reads keep
         * coming (it is dropped 1 s after the last one), so a held fd would show exited pids forever. */

        /* Ancestors' limits: a parent may be lowered while we run, and hierarchical_memory_limit only
         * covers the part of the tree this mount shows. */
        _cleanup_free_ char *cur = strdup(dir);
        if (!cur)
                return -ENOMEM;
        while (strlen(cur) > strlen(mount)) {
                char *slash = strrchr(cur, '/');
                if (!slash || slash == cur)
                        break;
                *slash = '\0';
                if (strlen(cur) < strlen(mount))
                        break;
                int fd = cg_open_ro(cur, "memory.limit_in_bytes");
                if (fd < 0)
                        break;
                int *n = realloc(cg->anc_fds, (depth + 1) * sizeof(int));
                if (!n) {
                        safe_close(fd);
                        return -ENOMEM;
                }
                cg->anc_fds = n;
                cg->anc_fds[depth++] = fd;
                cg->n_anc = depth;
        }
        return 0;
}

/* Opens the unified-tree twin's files (PSI, cgroup.events, cgroup.kill) on hybrid hosts. */
static void open_unified(Cg *cg, const char *udir)
{
        cg->fd_pressure = cg_open_ro(udir, "memory.pressure");
        cg->fd_cgevents = cg_open_ro(udir, "cgroup.events");
        if (cg->fd_pressure >= 0) {
                free(cg->pressure_path);
                cg->pressure_path = cg_path_join(udir, "memory.pressure");
        }
}

static int register_oom_eventfd(Cg *cg, const char *dir)
{
        _cleanup_close_ int efd = -EBADF;
        char buf[64];
        int r;

        if (cg->fd_oom_control < 0)
                return -ENOENT;
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return negative_errno();
        snprintf(buf, sizeof(buf), "%d %d", efd, cg->fd_oom_control);
        r = cg_write_file(dir, "cgroup.event_control", buf);
        if (r < 0)
                return r;
        cg->fd_eventfd = TAKE_FD(efd);
        return 0;
}

static char *fmt_v1(char *buf, size_t n, uint64_t v)
{
        if (v == UINT64_MAX)
                snprintf(buf, n, "-1");
        else
                snprintf(buf, n, "%" PRIu64, v);
        return buf;
}

int cg_v1_setup_run(Cg *cg, const CgOptions *opts, const CgHost *h, char **reterr_msg)
{
        char name[64], vmax[32], vsw[32], vhigh[32];
        CgSetting settings[3];
        size_t ns = 0;
        uint64_t above, max = UINT64_MAX, high = UINT64_MAX, swap = UINT64_MAX;
        int r;

        snprintf(name, sizeof(name), "oomless-%d", (int)getpid());
        cg->leaf = cg_path_join(h->v1_dir, name);
        cg->leaf_rel = cg_path_join(h->v1_path, name);
        if (!cg->leaf || !cg->leaf_rel)
                return -ENOMEM;

        r = cg_limit_above(CG_FILES_V1, h->v1_dir, h->v1_mount, h->memtotal, &above);
        if (r < 0)
                above = h->memtotal;
        if (opts->memory_max.set)
                max = units_size_spec_resolve(&opts->memory_max, above);
        if (opts->memory_high.set)
                high = units_size_spec_resolve(&opts->memory_high, above);
        if (opts->memory_swap_max.set)
                swap = units_size_spec_resolve(&opts->memory_swap_max, above);

        /* limit_in_bytes first: the kernel refuses a memsw limit below the memory limit. */
        if (max != UINT64_MAX)
                settings[ns++] = (CgSetting){ "memory.limit_in_bytes", fmt_v1(vmax, sizeof(vmax), max) };
        if (opts->memory_swap_max.set && swap != UINT64_MAX) {
                _cleanup_free_ char *memsw = cg_path_join(h->v1_dir, "memory.memsw.limit_in_bytes");
                if (!memsw || access(memsw, F_OK) < 0)
                        log_warning(
                            "--memory-swap-max: %s has no memory.memsw.limit_in_bytes (swap accounting "
                            "is off, boot with swapaccount=1); swap is not limited",
                            h->v1_dir);
                else if (max == UINT64_MAX)
                        log_warning(
                            "--memory-swap-max: cgroup v1 limits memory+swap together "
                            "(memory.memsw.limit_in_bytes), which needs --memory-max as well; swap is "
                            "not limited");
                else
                        settings[ns++] =
                            (CgSetting){ "memory.memsw.limit_in_bytes",
                                         fmt_v1(vsw, sizeof(vsw),
                                                max > UINT64_MAX - swap ? UINT64_MAX : max + swap) };
        }
        if (opts->memory_high.set) {
                log_warning(
                    "--memory-high: cgroup v1 has no memory.high; setting memory.soft_limit_in_bytes "
                    "instead, which only steers reclaim under global memory pressure and does not "
                    "throttle the workload");
                cg->warned_high_v1 = true;
                settings[ns++] =
                    (CgSetting){ "memory.soft_limit_in_bytes", fmt_v1(vhigh, sizeof(vhigh), high) };
        }
        if (opts->oom_group == 1)
                log_warning(
                    "--oom-group: cgroup v1 has no memory.oom.group; the kernel kills one process on "
                    "OOM and the rest of the workload keeps running");

        r = cg_lib_create("memory", cg->leaf_rel, settings, ns);
        if (access(cg->leaf, F_OK) >= 0)
                cg->leaf_created = true; /* libcgroup may fail after mkdir: cg_free removes it */
        if (r < 0) {
                if (IN_SET(-r, EROFS, EACCES, EPERM))
                        cg_set_msg(reterr_msg,
                                   "cannot create the cgroup %s: %s; use --cgroup-mode=observe, or give the "
                                   "container a writable cgroup",
                                   cg->leaf, strerror(-r));
                else if (r == -EBUSY || r == -EINVAL)
                        cg_set_msg(
                            reterr_msg,
                            "cannot apply the limits to %s (%s): the memory limit may be below what is "
                            "already charged, or above the memory+swap limit; check --memory-max and "
                            "--memory-swap-max",
                            cg->leaf, strerror(-r));
                else
                        cg_set_msg(reterr_msg, "cannot create the cgroup %s with libcgroup: %s", cg->leaf,
                                   strerror(-r));
                return r;
        }

        r = cg_v1_open_files(cg, cg->leaf, h->v1_mount, reterr_msg);
        if (r < 0)
                return r;
        r = register_oom_eventfd(cg, cg->leaf);
        if (r < 0)
                log_warning_errno(r,
                                  "cannot register an OOM eventfd on %s/memory.oom_control, OOM kills are "
                                  "seen at the next sample only: %m",
                                  cg->leaf);

        _cleanup_free_ char *procs = cg_path_join(cg->leaf, "cgroup.procs");
        if (!procs)
                return -ENOMEM;
        int n = 0;
        cg->join_fds[n] = open(procs, O_WRONLY | O_CLOEXEC);
        if (cg->join_fds[n] < 0) {
                r = negative_errno();
                cg_set_msg(reterr_msg, "cannot open %s for writing: %s", procs, strerror(-r));
                return r;
        }
        n++;

        /* The unified twin: libcgroup only addresses cgroups through a controller, and the unified tree
         * of a hybrid host has none, so it is made with mkdir. */
        if (h->v2_dir) {
                cg->uni_leaf = cg_path_join(h->v2_dir, name);
                if (!cg->uni_leaf)
                        return -ENOMEM;
                if (mkdir(cg->uni_leaf, 0755) < 0 && errno != EEXIST) {
                        log_warning_errno(
                            negative_errno(),
                            "cannot create %s, no per-cgroup PSI or cgroup.kill for the workload "
                            "(memory figures still come from %s): %m",
                            cg->uni_leaf, cg->leaf);
                        free(cg->uni_leaf);
                        cg->uni_leaf = NULL;
                } else {
                        cg->uni_created = true;
                        open_unified(cg, cg->uni_leaf);
                        _cleanup_free_ char *up = cg_path_join(cg->uni_leaf, "cgroup.procs");
                        if (!up)
                                return -ENOMEM;
                        cg->join_fds[n] = open(up, O_WRONLY | O_CLOEXEC);
                        if (cg->join_fds[n] >= 0)
                                n++;
                }
        }
        cg->join_fds[n] = -1;
        return 0;
}

/* v1 attach/observe: the cgroup exists; use the unified twin only when it is the same path, so that
 * PSI and kill never cover processes outside the watched cgroup. */
int cg_v1_attach_unified(Cg *cg, const CgHost *h)
{
        if (h->v2_dir && h->v1_path && h->v2_path && streq(h->v1_path, h->v2_path) &&
            !streq(h->v2_path, "/")) {
                cg->uni_leaf = strdup(h->v2_dir);
                if (!cg->uni_leaf)
                        return -ENOMEM;
                open_unified(cg, cg->uni_leaf);
        }
        return 0;
}

static void drain_eventfd(int fd)
{
        uint64_t v;
        if (fd >= 0)
                (void)!read(fd, &v, sizeof(v));
}

int cg_v1_sample(Cg *cg, OomlessSample *s)
{
        char buf[16384];
        uint64_t v, hl = UINT64_MAX;
        int r;

        r = cg_read_limit_fd(cg->fd_current, &s->current);
        if (r < 0)
                return r;
        if (cg_read_limit_fd(cg->fd_peak, &v) >= 0)
                s->peak = v;
        if (cg_pread_fd(cg->fd_stat, buf, sizeof(buf)) >= 0) {
                if (cg_keyed_get(buf, "total_rss", &v) >= 0)
                        s->anon = v;
                if (cg_keyed_get(buf, "total_cache", &v) >= 0)
                        s->file = v;
                if (cg_keyed_get(buf, "total_swap", &v) >= 0)
                        s->swap_current = v;
                if (cg_keyed_get(buf, "hierarchical_memory_limit", &v) >= 0)
                        hl = v;
        }
        s->limit = MIN(hl, cg->memtotal);
        if (cg_read_limit_fd(cg->fd_max, &v) >= 0)
                s->limit = MIN(s->limit, v);
        for (size_t i = 0; i < cg->n_anc; i++)
                if (cg_read_limit_fd(cg->anc_fds[i], &v) >= 0)
                        s->limit = MIN(s->limit, v);
        s->high = OOMLESS_NO_LIMIT;
        if (cg_read_limit_fd(cg->fd_high, &v) >= 0)
                s->high = v;

        /* v1 has no memory.events: failcnt (+ memsw.failcnt) counts hits of the limit (~"max"), oom_control
         * has the kill counter and whether the group is stuck in OOM right now. */
        drain_eventfd(cg->fd_eventfd);
        if (cg_read_limit_fd(cg->fd_failcnt, &v) >= 0) {
                s->ev_max = v;
                s->events_valid = true;
        }
        /* With a memory+swap limit the charge can fail on that counter instead. */
        if (cg_read_limit_fd(cg->fd_memsw_failcnt, &v) >= 0)
                s->ev_max += v;
        if (cg_pread_fd(cg->fd_oom_control, buf, sizeof(buf)) >= 0) {
                uint64_t under = 0;
                (void)cg_keyed_get(buf, "under_oom", &under);
                if (cg_keyed_get(buf, "oom_kill", &v) >= 0)
                        s->ev_oom_kill = v;
                s->ev_oom = s->ev_oom_kill + under;
                s->events_valid = true;
        }
        _cleanup_close_ int pfd = cg_open_ro(cg->leaf, "cgroup.procs");
        (void)cg_count_procs_fd(pfd, &s->nr_processes);
        cg_sample_psi(cg, s);
        return 0;
}

void cg_v1_teardown(Cg *cg)
{
        int r;

        if (cg->uni_created && cg->uni_leaf) {
                r = cg_rmdir_retry(cg->uni_leaf);
                if (r < 0)
                        log_warning_errno(r, "cannot remove %s: %m", cg->uni_leaf);
                cg->uni_created = false;
        }
        if (cg->leaf_created && cg->leaf) {
                r = cg_rmdir_retry(cg->leaf);
                if (r < 0)
                        log_warning_errno(r, "cannot remove %s: %m", cg->leaf);
                cg->leaf_created = false;
        }
}

/* SPDX-License-Identifier: MIT */
/* cgroup v2: the supervisor and workload leaves under our own cgroup, controller delegation in the
 * order the "no internal processes" rule demands, the limits, and sampling of the v2 files. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cgroup-internal.h"
#include "log.h"

int cg_v2_open_files(Cg *cg, const char *dir, const char *mount, char **reterr_msg)
{
        _cleanup_free_ char *cur = NULL;

        cg->fd_current = cg_open_ro(dir, "memory.current");
        if (cg->fd_current < 0) {
                int r = cg->fd_current;
                cg_set_msg(
                    reterr_msg,
                    "cannot open %s/memory.current: %s; the memory controller is not enabled for this "
                    "cgroup (see the parent's cgroup.subtree_control)",
                    dir, strerror(-r));
                return r;
        }
        cg->fd_peak = cg_open_ro(dir, "memory.peak");
        cg->fd_stat = cg_open_ro(dir, "memory.stat");
        cg->fd_events = cg_open_ro(dir, "memory.events");
        cg->fd_pressure = cg_open_ro(dir, "memory.pressure");
        cg->fd_high = cg_open_ro(dir, "memory.high");
        cg->fd_max = cg_open_ro(dir, "memory.max");
        cg->fd_swap = cg_open_ro(dir, "memory.swap.current");
        cg->fd_procs = cg_open_ro(dir, "cgroup.procs");
        cg->fd_cgevents = cg_open_ro(dir, "cgroup.events");
        if (cg->fd_pressure >= 0) {
                free(cg->pressure_path);
                cg->pressure_path = cg_path_join(dir, "memory.pressure");
        }

        /* Every ancestor's memory.max, nearest first, up to the mount; the true root has none. */
        cur = strdup(dir);
        if (!cur)
                return -ENOMEM;
        size_t ml = strlen(mount);
        while (strlen(cur) > ml) {
                char *slash = strrchr(cur, '/');
                if (!slash)
                        break;
                *slash = '\0';
                if (strlen(cur) < ml)
                        break;
                int fd = cg_open_ro(cur, "memory.max");
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

int cg_v2_sample(Cg *cg, OomlessSample *s)
{
        char buf[16384];
        uint64_t v;
        int r;

        r = cg_read_limit_fd(cg->fd_current, &s->current);
        if (r < 0)
                return r;
        if (cg_read_limit_fd(cg->fd_peak, &v) >= 0)
                s->peak = v;
        if (cg_pread_fd(cg->fd_stat, buf, sizeof(buf)) >= 0) {
                if (cg_keyed_get(buf, "anon", &v) >= 0)
                        s->anon = v;
                if (cg_keyed_get(buf, "file", &v) >= 0)
                        s->file = v;
        }
        s->limit = cg->memtotal;
        if (cg_read_limit_fd(cg->fd_max, &v) >= 0)
                s->limit = MIN(s->limit, v);
        for (size_t i = 0; i < cg->n_anc; i++)
                if (cg_read_limit_fd(cg->anc_fds[i], &v) >= 0)
                        s->limit = MIN(s->limit, v);
        s->high = OOMLESS_NO_LIMIT;
        if (cg_read_limit_fd(cg->fd_high, &v) >= 0)
                s->high = v;
        if (cg_read_limit_fd(cg->fd_swap, &v) >= 0)
                s->swap_current = v;
        /* Reading memory.events also re-arms its POLLPRI notification (cg_events_fd). */
        if (cg_pread_fd(cg->fd_events, buf, sizeof(buf)) >= 0) {
                (void)cg_keyed_get(buf, "low", &s->ev_low);
                (void)cg_keyed_get(buf, "high", &s->ev_high);
                (void)cg_keyed_get(buf, "max", &s->ev_max);
                (void)cg_keyed_get(buf, "oom", &s->ev_oom);
                (void)cg_keyed_get(buf, "oom_kill", &s->ev_oom_kill);
                (void)cg_keyed_get(buf, "oom_group_kill", &s->ev_oom_group_kill);
                s->events_valid = true;
        }
        (void)cg_count_procs_fd(cg->fd_procs, &s->nr_processes);
        cg_sample_psi(cg, s);
        return 0;
}

static char *fmt_v2(char *buf, size_t n, uint64_t v)
{
        if (v == UINT64_MAX)
                snprintf(buf, n, "max");
        else
                snprintf(buf, n, "%" PRIu64, v);
        return buf;
}

/* libcgroup's v2 create writes "+memory" into cgroup.subtree_control of every ancestor from the
 * mount down; that only works (and only stays within what we may touch) when each of those files
 * is writable to us and already has the controller, which is the case for root or a fully
 * delegated tree. */
static bool libcgroup_can_create(const char *mount, const char *own)
{
        _cleanup_free_ char *cur = strdup(own);
        if (!cur)
                return false;
        for (;;) {
                _cleanup_free_ char *sc = cg_path_join(cur, "cgroup.subtree_control");
                if (!sc || access(sc, W_OK) < 0)
                        return false;
                if (strlen(cur) <= strlen(mount))
                        return true;
                char *slash = strrchr(cur, '/');
                if (!slash)
                        return false;
                *slash = '\0';
        }
}

static int enable_controllers(Cg *cg, const char *own, bool want_cpu, char **reterr_msg)
{
        _cleanup_free_ char *avail = NULL, *enabled = NULL, *p1 = NULL, *p2 = NULL;
        const char *want[] = { "memory", "pids", want_cpu ? "cpu" : NULL };
        int r;

        p1 = cg_path_join(own, "cgroup.controllers");
        p2 = cg_path_join(own, "cgroup.subtree_control");
        if (!p1 || !p2)
                return -ENOMEM;
        r = cg_read_file(p1, &avail);
        if (r >= 0)
                r = cg_read_file(p2, &enabled);
        if (r < 0) {
                cg_set_msg(reterr_msg, "cannot read %s: %s", p2, strerror(-r));
                return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                char cmd[32];
                if (!want[i] || !cg_controller_listed(avail, want[i]) ||
                    cg_controller_listed(enabled, want[i]))
                        continue;
                snprintf(cmd, sizeof(cmd), "+%s", want[i]);
                r = cg_write_file(own, "cgroup.subtree_control", cmd);
                if (r < 0 && i == 0) {
                        if (r == -EBUSY)
                                cg_set_msg(
                                    reterr_msg,
                                    "cannot enable +memory in %s: %s: cgroup v2 lets a non-root cgroup "
                                    "either hold processes or hand controllers to children, and %s still "
                                    "holds processes oomless did not start (see its cgroup.procs); run "
                                    "oomless as the only process of its cgroup (e.g. systemd-run --scope "
                                    "-p Delegate=yes, or as the container's init), or use "
                                    "--cgroup-mode=observe",
                                    p2, strerror(-r), own);
                        else
                                cg_set_msg(
                                    reterr_msg,
                                    "cannot enable +memory in %s: %s; use --cgroup-mode=observe, or give "
                                    "oomless a delegated cgroup",
                                    p2, strerror(-r));
                        return r;
                }
                if (r < 0) {
                        log_warning_errno(r, "cannot enable +%s in %s, continuing without it: %m", want[i],
                                          p2);
                        continue;
                }
                size_t l = strlen(cg->enabled_ctrls);
                snprintf(cg->enabled_ctrls + l, sizeof(cg->enabled_ctrls) - l, "%s%s", l ? " " : "",
                         want[i]);
        }
        return 0;
}

int cg_v2_setup_run(Cg *cg, const CgOptions *opts, const CgHost *h, char **reterr_msg)
{
        char sup_name[64], wl_name[64], vmax[32], vhigh[32], vswap[32];
        const char *own = h->v2_dir;
        uint64_t above;
        CgSetting settings[4];
        size_t ns = 0;
        int r;

        snprintf(sup_name, sizeof(sup_name), "oomless-%d-supervisor", (int)getpid());
        snprintf(wl_name, sizeof(wl_name), "oomless-%d-workload", (int)getpid());
        cg->sup_leaf = cg_path_join(own, sup_name);
        cg->leaf = cg_path_join(own, wl_name);
        cg->leaf_rel = cg_path_join(h->v2_path, wl_name);
        cg->orig_dir = strdup(own);
        if (!cg->sup_leaf || !cg->leaf || !cg->leaf_rel || !cg->orig_dir)
                return -ENOMEM;

        r = cg_limit_above(CG_FILES_V2, own, h->v2_mount, h->memtotal, &above);
        if (r < 0)
                above = h->memtotal;

        /* The supervisor leaf needs no controller and must exist before +memory can be enabled, so it
         * is made with mkdir: libcgroup would enable controllers while we still sit in the parent. */
        if (mkdir(cg->sup_leaf, 0755) < 0) {
                r = negative_errno();
                if (IN_SET(-r, EROFS, EACCES, EPERM))
                        cg_set_msg(
                            reterr_msg,
                            "cannot create cgroups under %s: %s; use --cgroup-mode=observe, or give the "
                            "container a writable/delegated cgroup",
                            own, strerror(-r));
                else
                        cg_set_msg(reterr_msg, "cannot create %s: %s", cg->sup_leaf, strerror(-r));
                return r;
        }
        cg->sup_created = true;
        r = cg_write_file(cg->sup_leaf, "cgroup.procs", "0");
        if (r < 0) {
                cg_set_msg(reterr_msg, "cannot move oomless into %s: %s; use --cgroup-mode=observe",
                           cg->sup_leaf, strerror(-r));
                return r;
        }
        cg->moved_self = true;

        r = enable_controllers(cg, own, opts->want_cpu, reterr_msg);
        if (r < 0)
                return r;

        if (opts->memory_max.set)
                settings[ns++] =
                    (CgSetting){ "memory.max", fmt_v2(vmax, sizeof(vmax),
                                                      units_size_spec_resolve(&opts->memory_max, above)) };
        if (opts->memory_high.set)
                settings[ns++] =
                    (CgSetting){ "memory.high", fmt_v2(vhigh, sizeof(vhigh),
                                                       units_size_spec_resolve(&opts->memory_high, above)) };
        if (opts->memory_swap_max.set)
                settings[ns++] =
                    (CgSetting){ "memory.swap.max",
                                 fmt_v2(vswap, sizeof(vswap),
                                        units_size_spec_resolve(&opts->memory_swap_max, above)) };
        if (opts->oom_group >= 0)
                settings[ns++] = (CgSetting){ "memory.oom.group", opts->oom_group ? "1" : "0" };

        if (libcgroup_can_create(h->v2_mount, own)) {
                r = cg_lib_create("memory", cg->leaf_rel, settings, ns);
                if (access(cg->leaf, F_OK) >= 0)
                        cg->leaf_created = true;
        } else {
                log_debug(
                    "creating %s with mkdir: the ancestors' cgroup.subtree_control are not ours to write",
                    cg->leaf);
                r = mkdir(cg->leaf, 0755) < 0 ? negative_errno() : 0;
                if (r >= 0)
                        cg->leaf_created = true;
                for (size_t i = 0; r >= 0 && i < ns; i++)
                        r = cg_write_file(cg->leaf, settings[i].key, settings[i].value);
        }
        if (r < 0) {
                if (IN_SET(-r, EROFS, EACCES, EPERM))
                        cg_set_msg(reterr_msg,
                                   "cannot create the cgroup %s: %s; use --cgroup-mode=observe, or give the "
                                   "container a writable/delegated cgroup",
                                   cg->leaf, strerror(-r));
                else
                        cg_set_msg(
                            reterr_msg,
                            "cannot create %s or apply its limits: %s; check --memory-max, "
                            "--memory-high, --memory-swap-max (memory.swap.max needs swap accounting)",
                            cg->leaf, strerror(-r));
                return r;
        }

        r = cg_v2_open_files(cg, cg->leaf, h->v2_mount, reterr_msg);
        if (r < 0)
                return r;
        cg->leaf_dirfd = open(cg->leaf, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cg->leaf_dirfd < 0) {
                r = negative_errno();
                cg_set_msg(reterr_msg, "cannot open %s: %s", cg->leaf, strerror(-r));
                return r;
        }
        _cleanup_free_ char *procs = cg_path_join(cg->leaf, "cgroup.procs");
        if (!procs)
                return -ENOMEM;
        cg->join_fds[0] = open(procs, O_WRONLY | O_CLOEXEC);
        if (cg->join_fds[0] < 0) {
                r = negative_errno();
                cg_set_msg(reterr_msg, "cannot open %s for writing: %s", procs, strerror(-r));
                return r;
        }
        cg->join_fds[1] = -1;
        cg->uni_leaf = strdup(cg->leaf);
        return cg->uni_leaf ? 0 : -ENOMEM;
}

/* Whether dir has child cgroups other than `except`. */
static bool has_other_children(const char *dir, const char *except)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        const char *ex = strrchr(except, '/');

        ex = ex ? ex + 1 : except;
        if (!d)
                return true;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    !streq(de->d_name, ex))
                        return true;
        return false;
}

void cg_v2_teardown(Cg *cg)
{
        int r;

        if (cg->leaf_created && cg->leaf) {
                r = cg_rmdir_retry(cg->leaf);
                if (r < 0)
                        log_warning_errno(r, "cannot remove %s: %m", cg->leaf);
                cg->leaf_created = false;
        }
        if (cg->moved_self && cg->orig_dir) {
                r = cg_write_file(cg->orig_dir, "cgroup.procs", "0");
                if (r == -EBUSY && cg->enabled_ctrls[0] && !has_other_children(cg->orig_dir, cg->sup_leaf)) {
                        /* A non-root cgroup with controllers handed down cannot take processes: give back
                         * what we enabled (nobody else uses it), then return home. */
                        char *save = NULL;
                        for (char *c = strtok_r(cg->enabled_ctrls, " ", &save); c;
                             c = strtok_r(NULL, " ", &save)) {
                                char cmd[32];
                                snprintf(cmd, sizeof(cmd), "-%s", c);
                                (void)cg_write_file(cg->orig_dir, "cgroup.subtree_control", cmd);
                        }
                        cg->enabled_ctrls[0] = '\0';
                        r = cg_write_file(cg->orig_dir, "cgroup.procs", "0");
                }
                if (r < 0)
                        log_warning_errno(r, "cannot move oomless back to %s, leaving %s in place: %m",
                                          cg->orig_dir, cg->sup_leaf);
                else
                        cg->moved_self = false;
        }
        if (cg->enabled_ctrls[0] && cg->orig_dir && !has_other_children(cg->orig_dir, cg->sup_leaf)) {
                char *save = NULL;
                for (char *c = strtok_r(cg->enabled_ctrls, " ", &save); c; c = strtok_r(NULL, " ", &save)) {
                        char cmd[32];
                        snprintf(cmd, sizeof(cmd), "-%s", c);
                        (void)cg_write_file(cg->orig_dir, "cgroup.subtree_control", cmd);
                }
                cg->enabled_ctrls[0] = '\0';
        }
        if (cg->sup_created && cg->sup_leaf && !cg->moved_self) {
                r = cg_rmdir_retry(cg->sup_leaf);
                if (r < 0)
                        log_warning_errno(r, "cannot remove %s: %m", cg->sup_leaf);
                cg->sup_created = false;
        }
}

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
#include "instance.h"
#include "log.h"

static int v1_open_files(Cg *cg, const char *dir, const char *mount, char **reterr_msg)
{
        int r = cg_files_open(cg, CG_FILES_V1, dir, mount);
        if (r < 0 && cg->fd[CG_FD_CURRENT] < 0)
                cg_set_msg(reterr_msg, "cannot open %s/memory.usage_in_bytes: %s; is %s a v1 memory cgroup?",
                           dir, strerror(-r), dir);
        return r;
}

static int register_oom_eventfd(Cg *cg, const char *dir)
{
        _cleanup_close_ int efd = -EBADF;
        char buf[64];
        int r;

        if (cg->fd[CG_FD_OOM_CONTROL] < 0)
                return -ENOENT;
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return negative_errno();
        snprintf(buf, sizeof(buf), "%d %d", efd, cg->fd[CG_FD_OOM_CONTROL]);
        r = cg_write_file(dir, "cgroup.event_control", buf);
        if (r < 0)
                return r;
        cg->fd[CG_FD_EVENTFD] = TAKE_FD(efd);
        return 0;
}

static int v1_setup_run(Cg *cg, const CgOptions *opts, const CgHost *h, char **reterr_msg)
{
        char name[64], vmax[32], vsw[32], vhigh[32];
        CgSetting settings[3];
        size_t ns = 0;
        uint64_t above, max = UINT64_MAX, high = UINT64_MAX, swap = UINT64_MAX;
        int r;

        /* Before ours exist: what killed instances left in both parents. */
        cg_sweep_leftovers(h->v1_dir);
        cg_sweep_leftovers(h->v2_dir);
        /* A leaf of our own, never one that exists: mkdir fails on EEXIST and a fresh nonce is tried.
         * libcgroup then applies the limits to the directory we made. */
        for (int tries = 0;; tries++) {
                InstanceId id;

                instance_id_new(&id);
                r = instance_leaf_name(name, sizeof(name), &id, NULL);
                if (r < 0)
                        return r;
                free(cg->leaf);
                cg->leaf = cg_path_join(h->v1_dir, name);
                if (!cg->leaf)
                        return -ENOMEM;
                if (mkdir(cg->leaf, 0755) >= 0) {
                        cg->leaf_created = true;
                        break;
                }
                if (errno != EEXIST)
                        break; /* libcgroup below reports it with the reason */
                if (tries + 1 >= INSTANCE_NAME_TRIES) {
                        cg_set_msg(reterr_msg, "cannot find a free cgroup name under %s (%d tries)",
                                   h->v1_dir, INSTANCE_NAME_TRIES);
                        return -EEXIST;
                }
                log_debug("%s exists already: trying another name", cg->leaf);
        }
        cg->leaf_rel = cg_path_join(h->v1_path, name);
        if (!cg->leaf_rel)
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
                settings[ns++] =
                    (CgSetting){ "memory.limit_in_bytes", cg_format_v1_limit(vmax, sizeof(vmax), max) };
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
                        settings[ns++] = (CgSetting){
                                "memory.memsw.limit_in_bytes",
                                cg_format_v1_limit(vsw, sizeof(vsw),
                                                   max > UINT64_MAX - swap ? UINT64_MAX : max + swap)
                        };
        }
        if (opts->memory_high.set) {
                log_warning(
                    "--memory-high: cgroup v1 has no memory.high; setting memory.soft_limit_in_bytes "
                    "instead, which only steers reclaim under global memory pressure and does not "
                    "throttle the workload");
                cg->warned_high_v1 = true;
                settings[ns++] = (CgSetting){ "memory.soft_limit_in_bytes",
                                              cg_format_v1_limit(vhigh, sizeof(vhigh), high) };
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

        r = cg_lock_leaf(cg, CG_FD_LOCK_LEAF, cg->leaf);
        if (r < 0)
                log_warning_errno(r, "Cannot lock %s, a later oomless may take it for a leftover: %m",
                                  cg->leaf);
        r = v1_open_files(cg, cg->leaf, h->v1_mount, reterr_msg);
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
                        (void)cg_lock_leaf(cg, CG_FD_LOCK_UNI, cg->uni_leaf);
                        cg_files_open_unified(cg, cg->uni_leaf);
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
static int attach_unified(Cg *cg, const CgHost *h)
{
        if (h->v2_dir && h->v1_path && h->v2_path && streq(h->v1_path, h->v2_path) &&
            !streq(h->v2_path, "/")) {
                cg->uni_leaf = strdup(h->v2_dir);
                if (!cg->uni_leaf)
                        return -ENOMEM;
                cg_files_open_unified(cg, cg->uni_leaf);
        }
        return 0;
}

static int v1_sample(Cg *cg, CgFigures *f)
{
        uint64_t v;
        int r;

        /* The OOM eventfd's counter is consumed here, so that cg_events_fd() stops reporting it. */
        if (cg->fd[CG_FD_EVENTFD] >= 0)
                (void)!read(cg->fd[CG_FD_EVENTFD], &v, sizeof(v));
        r = cg_files_sample(cg, CG_FILES_V1, f);
        if (r < 0)
                return r;
        _cleanup_close_ int pfd = cg_open_ro(cg->leaf, "cgroup.procs");
        (void)cg_count_procs_fd(pfd, &f->nr_processes);
        return 0;
}

static void v1_teardown(Cg *cg)
{
        cg_remove_created(cg->uni_leaf, &cg->uni_created);
        cg_remove_created(cg->leaf, &cg->leaf_created);
}

/* An existing cgroup: attach, and observe of our own. */
static int v1_setup_attach(Cg *cg, const CgHost *h, pid_t pid, const char *cgroup_path, char **reterr_msg)
{
        int r;

        cg->leaf = strdup(h->v1_dir);
        cg->leaf_rel = strdup(h->v1_path);
        if (!cg->leaf || !cg->leaf_rel)
                return -ENOMEM;
        r = v1_open_files(cg, cg->leaf, h->v1_mount, reterr_msg);
        if (r < 0)
                return r;
        return attach_unified(cg, h);
}

/* v1 keeps memory.memsw.limit_in_bytes >= memory.limit_in_bytes: when a swap limit is in force,
 * move it along so the swap allowance stays, raising memsw first and lowering it last. */
static int set_limit_v1_max(Cg *cg, uint64_t bytes, const char *value)
{
        _cleanup_free_ char *p = cg_path_join(cg->leaf, "memory.memsw.limit_in_bytes"), *txt = NULL;
        uint64_t old_max, old_sw;
        char swbuf[32];
        int r;

        if (!p)
                return -ENOMEM;
        if (cg_read_limit_fd(cg->fd[CG_FD_MAX], &old_max) < 0 || cg_read_file(p, &txt) < 0 ||
            cg_parse_limit(txt, &old_sw) < 0 || old_sw == UINT64_MAX)
                return cg_lib_set("memory", cg->leaf_rel, "memory.limit_in_bytes", value);
        uint64_t allowance = old_max == UINT64_MAX || old_sw < old_max ? 0 : old_sw - old_max;
        uint64_t sw = bytes == UINT64_MAX || bytes > UINT64_MAX - allowance ? UINT64_MAX : bytes + allowance;
        cg_format_v1_limit(swbuf, sizeof(swbuf), sw);
        if (bytes > old_max) {
                r = cg_lib_set("memory", cg->leaf_rel, "memory.memsw.limit_in_bytes", swbuf);
                if (r >= 0)
                        r = cg_lib_set("memory", cg->leaf_rel, "memory.limit_in_bytes", value);
        } else {
                r = cg_lib_set("memory", cg->leaf_rel, "memory.limit_in_bytes", value);
                if (r >= 0)
                        r = cg_lib_set("memory", cg->leaf_rel, "memory.memsw.limit_in_bytes", swbuf);
        }
        return r;
}

static int v1_set_limit(Cg *cg, bool high, uint64_t bytes)
{
        char buf[32];

        cg_format_v1_limit(buf, sizeof(buf), bytes);
        if (!high)
                return set_limit_v1_max(cg, bytes, buf);
        if (!cg->warned_high_v1) {
                log_warning("cgroup v1 has no memory.high; %s/memory.soft_limit_in_bytes is set instead, "
                            "which does not throttle",
                            cg->leaf);
                cg->warned_high_v1 = true;
        }
        return cg_lib_set("memory", cg->leaf_rel, "memory.soft_limit_in_bytes", buf);
}

static int v1_attach_pid(Cg *cg, pid_t pid)
{
        char buf[32];
        /* libcgroup writes the tid to v1 "tasks" (one thread): fine for the freshly started,
         * single-threaded children this is meant for. */
        int r = cg_lib_attach("memory", cg->leaf_rel, pid);
        if (r < 0 || !cg->uni_leaf)
                return r;
        /* The unified twin has no controller for libcgroup to name. */
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        return cg_write_file(cg->uni_leaf, "cgroup.procs", buf);
}

/* A fresh open each time: v1 caches the pid list per open file (see cgroup-files.c). */
static int v1_list_pids(Cg *cg, pid_t **ret, size_t *ret_n)
{
        _cleanup_close_ int fd = cg_open_ro(cg->leaf, "cgroup.procs");
        return cg_list_procs_fd(fd, ret, ret_n);
}

#define V1_READERS                                                                                          \
        .files = CG_FILES_V1, .setup_attach = v1_setup_attach, .open_files = v1_open_files,                 \
        .sample = v1_sample, .get_limit = cg_files_get_limit, .kill_all = cg_kill_members,                  \
        .list_pids = v1_list_pids

/* PSI and cgroup.kill come from the unified twin when there is one (setup drops them otherwise). */
const CgOps cg_v1_ops = {
        .name = "v1",
        .caps = CG_CAP_LEAVES | CG_CAP_MAX | CG_CAP_SOFT_LIMIT | CG_CAP_PSI | CG_CAP_PSI_TRIGGER |
                CG_CAP_KILL | CG_CAP_EVENTS | CG_CAP_SWAP,
        .populated = CG_POPULATED_EVENTS_ZERO,
        .setup_run = v1_setup_run,
        .set_limit = v1_set_limit,
        .attach_pid = v1_attach_pid,
        .teardown = v1_teardown,
        V1_READERS,
};

/* Read-only v1 cgroupfs: our own memory cgroup through the v1 readers, no writers. */
const CgOps cg_v1_observe_ops = { CG_OBSERVE_OPS, V1_READERS };

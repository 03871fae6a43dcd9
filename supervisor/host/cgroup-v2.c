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
#include "instance.h"
#include "log.h"

static int v2_open_files(Cg *cg, const char *dir, const char *mount, char **reterr_msg)
{
        int r = cg_files_open(cg, CG_FILES_V2, dir, mount);
        if (r < 0 && cg->fd[CG_FD_CURRENT] < 0)
                cg_set_msg(reterr_msg,
                           "cannot open %s/memory.current: %s; the memory controller is not enabled for "
                           "this cgroup (see the parent's cgroup.subtree_control)",
                           dir, strerror(-r));
        return r;
}

static int v2_sample(Cg *cg, CgFigures *f)
{
        int r = cg_files_sample(cg, CG_FILES_V2, f);
        if (r < 0)
                return r;
        (void)cg_count_procs_fd(cg->fd[CG_FD_PROCS], &f->nr_processes);
        return 0;
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

static int v2_setup_run(Cg *cg, const CgOptions *opts, const CgHost *h, char **reterr_msg)
{
        char sup_name[64], wl_name[64], vmax[32], vhigh[32], vswap[32];
        const char *own = h->v2_dir;
        uint64_t above;
        CgSetting settings[4];
        size_t ns = 0;
        int r;

        /* Before ours exist: what killed instances left next to where ours go. */
        cg_sweep_leftovers(own);
        cg->orig_dir = strdup(own);
        if (!cg->orig_dir)
                return -ENOMEM;
        /* Leaves of our own, never ones that exist: the supervisor leaf's mkdir fails on EEXIST and a
         * fresh nonce is tried; the workload leaf's name shares it. */
        for (int tries = 0;; tries++) {
                InstanceId id;

                instance_id_new(&id);
                r = instance_leaf_name(sup_name, sizeof(sup_name), &id, "supervisor");
                if (r >= 0)
                        r = instance_leaf_name(wl_name, sizeof(wl_name), &id, "workload");
                if (r < 0)
                        return r;
                free(cg->sup_leaf);
                free(cg->leaf);
                cg->sup_leaf = cg_path_join(own, sup_name);
                cg->leaf = cg_path_join(own, wl_name);
                if (!cg->sup_leaf || !cg->leaf)
                        return -ENOMEM;
                if (tries + 1 >= INSTANCE_NAME_TRIES ||
                    (faccessat(AT_FDCWD, cg->sup_leaf, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
                     faccessat(AT_FDCWD, cg->leaf, F_OK, AT_SYMLINK_NOFOLLOW) < 0))
                        break; /* a name that still exists fails at mkdir below */
                log_debug("%s exists already: trying another name", cg->sup_leaf);
        }
        cg->leaf_rel = cg_path_join(h->v2_path, wl_name);
        if (!cg->leaf_rel)
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
        (void)cg_lock_leaf(cg, CG_FD_LOCK_SUP, cg->sup_leaf);
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

        const struct {
                const char *key;
                const SizeSpec *spec;
                char *buf;
        } sizes[] = {
                { "memory.max", &opts->memory_max, vmax },
                { "memory.high", &opts->memory_high, vhigh },
                { "memory.swap.max", &opts->memory_swap_max, vswap },
        };
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                if (sizes[i].spec->set)
                        settings[ns++] =
                            (CgSetting){ sizes[i].key,
                                         units_format_limit(sizes[i].buf, sizeof(vmax),
                                                            units_size_spec_resolve(sizes[i].spec, above)) };
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

        (void)cg_lock_leaf(cg, CG_FD_LOCK_LEAF, cg->leaf);
        r = v2_open_files(cg, cg->leaf, h->v2_mount, reterr_msg);
        if (r < 0)
                return r;
        cg->fd[CG_FD_LEAF_DIR] = open(cg->leaf, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cg->fd[CG_FD_LEAF_DIR] < 0) {
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

/* Switches off the controllers we enabled in orig_dir, when no other child needs them. */
static void give_back_controllers(Cg *cg)
{
        char *save = NULL;

        if (!cg->enabled_ctrls[0] || !cg->orig_dir || has_other_children(cg->orig_dir, cg->sup_leaf))
                return;
        for (char *c = strtok_r(cg->enabled_ctrls, " ", &save); c; c = strtok_r(NULL, " ", &save)) {
                char cmd[32];
                snprintf(cmd, sizeof(cmd), "-%s", c);
                (void)cg_write_file(cg->orig_dir, "cgroup.subtree_control", cmd);
        }
        cg->enabled_ctrls[0] = '\0';
}

static void v2_teardown(Cg *cg)
{
        int r;

        cg_remove_created(cg->leaf, &cg->leaf_created);
        if (cg->moved_self && cg->orig_dir) {
                r = cg_write_file(cg->orig_dir, "cgroup.procs", "0");
                if (r == -EBUSY && cg->enabled_ctrls[0] && !has_other_children(cg->orig_dir, cg->sup_leaf)) {
                        /* A non-root cgroup with controllers handed down cannot take processes: give back
                         * what we enabled (nobody else uses it), then return home. */
                        give_back_controllers(cg);
                        r = cg_write_file(cg->orig_dir, "cgroup.procs", "0");
                }
                if (r < 0)
                        log_warning_errno(r, "cannot move oomless back to %s, leaving %s in place: %m",
                                          cg->orig_dir, cg->sup_leaf);
                else
                        cg->moved_self = false;
        }
        give_back_controllers(cg);
        if (!cg->moved_self)
                cg_remove_created(cg->sup_leaf, &cg->sup_created);
}

/* An existing cgroup: attach, and observe of our own. */
static int v2_setup_attach(Cg *cg, const CgHost *h, pid_t pid, const char *cgroup_path, char **reterr_msg)
{
        int r;

        cg->leaf = strdup(h->v2_dir);
        cg->leaf_rel = strdup(h->v2_path);
        if (!cg->leaf || !cg->leaf_rel)
                return -ENOMEM;
        r = v2_open_files(cg, cg->leaf, h->v2_mount, reterr_msg);
        if (r < 0)
                return r;
        cg->uni_leaf = strdup(cg->leaf);
        return cg->uni_leaf ? 0 : -ENOMEM;
}

static int v2_set_limit(Cg *cg, bool high, uint64_t bytes)
{
        char buf[32];
        return cg_lib_set("memory", cg->leaf_rel, high ? "memory.high" : "memory.max",
                          units_format_limit(buf, sizeof(buf), bytes));
}

static int v2_reclaim(Cg *cg, uint64_t bytes)
{
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
        /* Written directly: memory.reclaim is an action, not a setting libcgroup can model, and EAGAIN
         * (reclaimed less than asked) must reach the caller as is. */
        return cg_write_file(cg->leaf, "memory.reclaim", buf);
}

static int v2_attach_pid(Cg *cg, pid_t pid)
{
        return cg_lib_attach("memory", cg->leaf_rel, pid);
}

static int v2_list_pids(Cg *cg, pid_t **ret, size_t *ret_n)
{
        return cg_list_procs_fd(cg->fd[CG_FD_PROCS], ret, ret_n);
}

#define V2_READERS                                                                                          \
        .files = CG_FILES_V2, .setup_attach = v2_setup_attach, .open_files = v2_open_files,                 \
        .sample = v2_sample, .get_limit = cg_files_get_limit, .kill_all = cg_kill_members,                  \
        .list_pids = v2_list_pids

const CgOps cg_v2_ops = {
        .name = "v2",
        .caps = CG_CAP_LEAVES | CG_CAP_MAX | CG_CAP_HIGH | CG_CAP_RECLAIM | CG_CAP_PSI | CG_CAP_PSI_TRIGGER |
                CG_CAP_KILL | CG_CAP_EVENTS | CG_CAP_SWAP,
        .populated = CG_POPULATED_EVENTS,
        .setup_run = v2_setup_run,
        .set_limit = v2_set_limit,
        .attach_pid = v2_attach_pid,
        .reclaim = v2_reclaim,
        .teardown = v2_teardown,
        V2_READERS,
};

/* Read-only cgroupfs: our own cgroup through the v2 readers, no writers; the supervisor is a member
 * of what it samples. */
const CgOps cg_v2_observe_ops = { CG_OBSERVE_OPS, V2_READERS };

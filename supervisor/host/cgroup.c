/* SPDX-License-Identifier: MIT */
/* The tier-agnostic face of the cgroup module: setup for run and attach, the dispatch of sampling,
 * limits, events and kills to the tier's files, and teardown. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "log.h"
#include "psi.h"

Cg *cg_new(void)
{
        Cg *cg = calloc(1, sizeof(Cg));
        if (!cg)
                return NULL;
        int *fds[] = { &cg->leaf_dirfd, &cg->fd_current,       &cg->fd_peak,     &cg->fd_stat,
                       &cg->fd_events,  &cg->fd_pressure,      &cg->fd_high,     &cg->fd_max,
                       &cg->fd_swap,    &cg->fd_procs,         &cg->fd_cgevents, &cg->fd_oom_control,
                       &cg->fd_failcnt, &cg->fd_memsw_failcnt, &cg->fd_kill,     &cg->fd_eventfd };
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                *fds[i] = -EBADF;
        for (size_t i = 0; i <= CG_JOIN_MAX; i++)
                cg->join_fds[i] = -1;
        cg->tree_limit = UINT64_MAX;
        cg->memtotal = UINT64_MAX;
        return cg;
}

static void close_all(Cg *cg)
{
        int *fds[] = { &cg->leaf_dirfd, &cg->fd_current,       &cg->fd_peak,     &cg->fd_stat,
                       &cg->fd_events,  &cg->fd_pressure,      &cg->fd_high,     &cg->fd_max,
                       &cg->fd_swap,    &cg->fd_procs,         &cg->fd_cgevents, &cg->fd_oom_control,
                       &cg->fd_failcnt, &cg->fd_memsw_failcnt, &cg->fd_kill,     &cg->fd_eventfd };
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                *fds[i] = safe_close(*fds[i]);
        for (size_t i = 0; i <= CG_JOIN_MAX; i++)
                if (cg->join_fds[i] >= 0) {
                        safe_close(cg->join_fds[i]);
                        cg->join_fds[i] = -1;
                }
        for (size_t i = 0; i < cg->n_anc; i++)
                safe_close(cg->anc_fds[i]);
        free(cg->anc_fds);
        cg->anc_fds = NULL;
        cg->n_anc = 0;
}

Cg *cg_free(Cg *cg)
{
        if (!cg)
                return NULL;
        close_all(cg);
        if (cg->run_mode) {
                if (cg->tier == CG_TIER_V2)
                        cg_v2_teardown(cg);
                else if (cg->tier == CG_TIER_V1)
                        cg_v1_teardown(cg);
        }
        free(cg->describe);
        free(cg->why);
        free(cg->sysroot);
        free(cg->leaf);
        free(cg->leaf_rel);
        free(cg->uni_leaf);
        free(cg->sup_leaf);
        free(cg->orig_dir);
        free(cg->pressure_path);
        free(cg);
        return NULL;
}

int cg_limit_above(CgFiles files, const char *dir, const char *mount, uint64_t memtotal, uint64_t *ret)
{
        _cleanup_free_ char *cur = strdup(dir);
        const char *file = files == CG_FILES_V2 ? "memory.max" : "memory.limit_in_bytes";
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

static int finish_describe(Cg *cg)
{
        cg->describe = cg_strdup_printf("cgroup tier %s: %s; leaf %s", cg_tier_to_string(cg->tier), cg->why,
                                        cg->leaf ? cg->leaf : "(none: process tree)");
        return cg->describe ? 0 : -ENOMEM;
}

/* Reads our own (or the target's) existing cgroup, for observe and attach. */
static int setup_existing(Cg *cg, const CgHost *h, bool use_v2, char **reterr_msg)
{
        int r;

        if (use_v2) {
                cg->files = CG_FILES_V2;
                cg->leaf = strdup(h->v2_dir);
                cg->leaf_rel = strdup(h->v2_path);
                if (!cg->leaf || !cg->leaf_rel)
                        return -ENOMEM;
                r = cg_v2_open_files(cg, cg->leaf, h->v2_mount, reterr_msg);
                if (r < 0)
                        return r;
                cg->uni_leaf = strdup(cg->leaf);
                return cg->uni_leaf ? 0 : -ENOMEM;
        }
        cg->files = CG_FILES_V1;
        cg->leaf = strdup(h->v1_dir);
        cg->leaf_rel = strdup(h->v1_path);
        if (!cg->leaf || !cg->leaf_rel)
                return -ENOMEM;
        r = cg_v1_open_files(cg, cg->leaf, h->v1_mount, reterr_msg);
        if (r < 0)
                return r;
        return cg_v1_attach_unified(cg, h);
}

static bool v2_memory_readable(const CgHost *h)
{
        _cleanup_free_ char *p = h->v2_dir ? cg_path_join(h->v2_dir, "memory.current") : NULL;
        return p && access(p, R_OK) >= 0;
}

int cg_setup_run(const CgOptions *opts, Cg **ret, char **reterr_msg)
{
        _cleanup_(cg_freep) Cg *cg = NULL;
        CgHost h = {};
        CgVerdict v = {};
        int r;

        r = cg_host_load(opts->root, 0, &h);
        if (r < 0) {
                cg_set_msg(reterr_msg, "cannot read %s/proc/self/mountinfo or /proc/self/cgroup: %s",
                           opts->root ? opts->root : "", strerror(-r));
                return r;
        }
        r = cg_decide(opts, &h, &v, reterr_msg);
        if (r < 0)
                goto out;
        cg = cg_new();
        if (!cg) {
                r = -ENOMEM;
                goto out;
        }
        cg->tier = v.tier;
        cg->why = TAKE_PTR(v.why);
        cg->memtotal = h.memtotal;
        cg->sysroot = strdup(h.sysroot);
        cg->run_mode = true;
        cg->tree_limit = opts->tree_limit ? opts->tree_limit : UINT64_MAX;

        switch (cg->tier) {
        case CG_TIER_V2:
                cg->files = CG_FILES_V2;
                r = cg_v2_setup_run(cg, opts, &h, reterr_msg);
                break;
        case CG_TIER_V1:
                cg->files = CG_FILES_V1;
                r = cg_v1_setup_run(cg, opts, &h, reterr_msg);
                break;
        case CG_TIER_OBSERVE:
                r = setup_existing(cg, &h, v2_memory_readable(&h), reterr_msg);
                break;
        default:
                cg->files = CG_FILES_PROC;
                cg->tree_root = getpid();
                cg->tree_include_root = false;
                r = 0;
                break;
        }
        if (r >= 0)
                r = finish_describe(cg);
        if (r >= 0)
                *ret = TAKE_PTR(cg);
out:
        free(v.why);
        cg_host_done(&h);
        return r;
}

int cg_setup_attach(const CgOptions *opts, pid_t pid, const char *cgroup_path, Cg **ret, char **reterr_msg)
{
        _cleanup_(cg_freep) Cg *cg = NULL;
        CgHost h = {};
        CgVerdict v = {};
        int r;

        if ((pid > 0) == !!cgroup_path) {
                cg_set_msg(reterr_msg, "attach needs exactly one of --pid and --cgroup");
                return -EINVAL;
        }
        r = cg_host_load(opts->root, pid, &h);
        if (r < 0) {
                if (pid > 0)
                        cg_set_msg(reterr_msg,
                                   "cannot read %s/proc/%d/cgroup: %s; is the process running and "
                                   "visible (shareProcessNamespace in Kubernetes)?",
                                   opts->root ? opts->root : "", (int)pid, strerror(-r));
                else
                        cg_set_msg(reterr_msg, "cannot read %s/proc/self/mountinfo: %s",
                                   opts->root ? opts->root : "", strerror(-r));
                return r;
        }
        if (cgroup_path) {
                /* Point the host description at the given cgroup instead of our own. */
                const char *mnt = NULL, *rel = cgroup_path;
                bool v2 = true;
                if (cgroup_path[0] == '/' && h.v2_mount &&
                    strncmp(cgroup_path, h.v2_mount, strlen(h.v2_mount)) == 0 &&
                    IN_SET(cgroup_path[strlen(h.v2_mount)], '/', '\0')) {
                        mnt = h.v2_mount;
                        rel = cgroup_path + strlen(h.v2_mount);
                } else if (cgroup_path[0] == '/' && h.v1_mount &&
                           strncmp(cgroup_path, h.v1_mount, strlen(h.v1_mount)) == 0 &&
                           IN_SET(cgroup_path[strlen(h.v1_mount)], '/', '\0')) {
                        mnt = h.v1_mount;
                        rel = cgroup_path + strlen(h.v1_mount);
                        v2 = false;
                } else {
                        /* Relative to the mount that carries memory: v1 on hybrid hosts. */
                        v2 = !h.v1_mount;
                        mnt = v2 ? h.v2_mount : h.v1_mount;
                }
                if (!mnt) {
                        cg_set_msg(reterr_msg,
                                   "--cgroup %s: no cgroup file system with the memory controller is "
                                   "mounted",
                                   cgroup_path);
                        r = -ENOENT;
                        goto out;
                }
                _cleanup_free_ char *dir = cg_path_join(mnt, rel);
                _cleanup_free_ char *relp = cg_strdup_printf("/%s", rel + strspn(rel, "/"));
                if (!dir || !relp) {
                        r = -ENOMEM;
                        goto out;
                }
                if (access(dir, F_OK) < 0) {
                        r = negative_errno();
                        cg_set_msg(reterr_msg,
                                   "--cgroup %s: %s does not exist: %s; give a path relative to %s or "
                                   "absolute",
                                   cgroup_path, dir, strerror(-r), mnt);
                        goto out;
                }
                char **hd = v2 ? &h.v2_dir : &h.v1_dir, **hp = v2 ? &h.v2_path : &h.v1_path;
                free(*hd);
                free(*hp);
                *hd = TAKE_PTR(dir);
                *hp = TAKE_PTR(relp);
                if (v2) {
                        /* The unified twin on hybrid must not be mistaken for the v1 target. */
                        free(h.v1_dir);
                        h.v1_dir = NULL;
                } else {
                        free(h.v2_dir);
                        h.v2_dir = NULL;
                }
        }
        r = cg_decide(opts, &h, &v, reterr_msg);
        if (r < 0)
                goto out;
        cg = cg_new();
        if (!cg) {
                r = -ENOMEM;
                goto out;
        }
        cg->tier = v.tier;
        cg->why = TAKE_PTR(v.why);
        cg->memtotal = h.memtotal;
        cg->sysroot = strdup(h.sysroot);
        cg->tree_limit = opts->tree_limit ? opts->tree_limit : UINT64_MAX;
        switch (cg->tier) {
        case CG_TIER_V2:
                r = setup_existing(cg, &h, true, reterr_msg);
                break;
        case CG_TIER_V1:
                r = setup_existing(cg, &h, false, reterr_msg);
                break;
        case CG_TIER_OBSERVE:
                r = setup_existing(cg, &h, v2_memory_readable(&h), reterr_msg);
                break;
        default:
                if (pid <= 0) {
                        cg_set_msg(reterr_msg,
                                   "--cgroup %s: no memory controller is visible; attach with --pid "
                                   "to watch the process tree instead",
                                   cgroup_path);
                        r = -EOPNOTSUPP;
                        break;
                }
                cg->files = CG_FILES_PROC;
                cg->tree_root = pid;
                cg->tree_include_root = true;
                r = 0;
        }
        if (r >= 0)
                r = finish_describe(cg);
        if (r >= 0)
                *ret = TAKE_PTR(cg);
out:
        free(v.why);
        cg_host_done(&h);
        return r;
}

int cg_spawn_fds(Cg *cg, int *ret_dirfd, const int **ret_join_fds)
{
        if (ret_dirfd)
                *ret_dirfd = cg->tier == CG_TIER_V2 && cg->run_mode ? cg->leaf_dirfd : -1;
        if (ret_join_fds)
                *ret_join_fds = cg->join_fds;
        return 0;
}

int cg_attach_pid(Cg *cg, pid_t pid)
{
        char buf[32];
        int r = 0;

        if (pid <= 0 || pid == getpid())
                return -EINVAL;
        if (!cg->run_mode || IN_SET(cg->tier, CG_TIER_OBSERVE, CG_TIER_NONE)) {
                /* Nothing to move into: the pid becomes the root of what we watch on tier none. */
                if (cg->tier == CG_TIER_NONE && cg->run_mode)
                        cg->tree_root = getpid();
                return 0;
        }
        /* libcgroup writes the tid to v1 "tasks" (one thread): fine for the freshly started,
         * single-threaded children this is meant for. */
        r = cg_lib_attach("memory", cg->leaf_rel, pid);
        if (r < 0)
                return log_debug_errno(r, "cannot move %d into %s: %m", (int)pid, cg->leaf), r;
        if (cg->tier == CG_TIER_V1 && cg->uni_leaf) {
                /* The unified twin has no controller for libcgroup to name. */
                snprintf(buf, sizeof(buf), "%d", (int)pid);
                r = cg_write_file(cg->uni_leaf, "cgroup.procs", buf);
        }
        return r;
}

void cg_sample_psi(Cg *cg, OomlessSample *s)
{
        char buf[512];
        bool has_full;
        ssize_t n = cg_pread_fd(cg->fd_pressure, buf, sizeof(buf));

        if (n < 0)
                return;
        if (psi_parse(buf, (size_t)n, &s->psi_some, &s->psi_full, &has_full) >= 0)
                s->psi_valid = true;
}

int cg_sample(Cg *cg, OomlessSample *ret)
{
        OomlessSample s = {};
        int r;

        s.timestamp_usec = cg_now_usec();
        switch (cg->files) {
        case CG_FILES_V2:
                r = cg_v2_sample(cg, &s);
                break;
        case CG_FILES_V1:
                r = cg_v1_sample(cg, &s);
                break;
        default:
                r = cg_proc_sample(cg, &s);
                break;
        }
        if (r < 0)
                return r;
        /* The kernel does not count the supervisor out in observe mode: it sits in the cgroup. */
        if (cg->tier == CG_TIER_OBSERVE && s.nr_processes > 0)
                s.nr_processes--;
        /* Copy field by field so the heap/trigger fields the caller owns stay as they were. */
        ret->timestamp_usec = s.timestamp_usec;
        ret->current = s.current;
        ret->peak = s.peak;
        ret->limit = s.limit;
        ret->high = s.high;
        ret->anon = s.anon;
        ret->file = s.file;
        ret->swap_current = s.swap_current;
        ret->events_valid = s.events_valid;
        ret->ev_low = s.ev_low;
        ret->ev_high = s.ev_high;
        ret->ev_max = s.ev_max;
        ret->ev_oom = s.ev_oom;
        ret->ev_oom_kill = s.ev_oom_kill;
        ret->ev_oom_group_kill = s.ev_oom_group_kill;
        ret->psi_valid = s.psi_valid;
        ret->psi_some = s.psi_some;
        ret->psi_full = s.psi_full;
        ret->nr_processes = s.nr_processes;
        return 0;
}

/* CAP_SYS_RESOURCE (bit 24) from CapEff, without depending on libcap. */
static bool have_cap_sys_resource(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        unsigned long long eff;

        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "CapEff: %llx", &eff) == 1)
                        return eff & (1ULL << 24);
        return false;
}

int cg_psi_trigger_open_msg(Cg *cg, const char *trigger, char **reterr_msg)
{
        _cleanup_close_ int fd = -EBADF;
        PsiTrigger t;
        int r;

        if (!cg->pressure_path) {
                cg_set_msg(reterr_msg, "no per-cgroup memory.pressure on tier %s (%s)",
                           cg_tier_to_string(cg->tier), cg->leaf ? cg->leaf : "process tree");
                return -EOPNOTSUPP;
        }
        r = psi_trigger_parse(trigger, &t);
        if (r < 0) {
                cg_set_msg(
                    reterr_msg,
                    "invalid PSI trigger \"%s\": expected \"some|full <stall usec> <window usec>\" with a "
                    "window of 500000..10000000 and 0 < stall <= window",
                    trigger);
                return -EINVAL;
        }
        fd = open(cg->pressure_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                r = negative_errno();
                if (r == -EROFS)
                        cg_set_msg(
                            reterr_msg,
                            "cannot arm a PSI trigger on %s: read-only file system (a trigger is written "
                            "into the file); memory.pressure is still sampled every tick",
                            cg->pressure_path);
                else
                        cg_set_msg(reterr_msg, "cannot open %s for a PSI trigger: %s", cg->pressure_path,
                                   strerror(-r));
                return r;
        }
        /* Include the NUL: the /proc/pressure files overwrite the last byte written with one. */
        if (write(fd, trigger, strlen(trigger) + 1) < 0) {
                r = negative_errno();
                if (r == -EINVAL && t.window_usec % PSI_WINDOW_UNPRIV_USEC != 0 && !have_cap_sys_resource())
                        cg_set_msg(
                            reterr_msg,
                            "PSI trigger \"%s\" refused by %s: without CAP_SYS_RESOURCE the kernel only "
                            "accepts windows that are a multiple of 2s (2000000 usec); use a 2s, 4s, ... "
                            "window or grant CAP_SYS_RESOURCE",
                            trigger, cg->pressure_path);
                else
                        cg_set_msg(reterr_msg, "cannot arm PSI trigger \"%s\" on %s: %s", trigger,
                                   cg->pressure_path, strerror(-r));
                return r;
        }
        return TAKE_FD(fd);
}

int cg_psi_trigger_open(Cg *cg, const char *trigger)
{
        _cleanup_free_ char *msg = NULL;
        int r = cg_psi_trigger_open_msg(cg, trigger, &msg);
        if (r < 0 && msg)
                log_debug("%s", msg);
        return r;
}

int cg_events_fd(Cg *cg)
{
        if (cg->files == CG_FILES_V2)
                return cg->fd_events;
        if (cg->files == CG_FILES_V1)
                return cg->fd_eventfd;
        return -1;
}

int cg_populated_fd(Cg *cg)
{
        return cg->fd_cgevents >= 0 ? cg->fd_cgevents : -1;
}

int cg_list_pids(Cg *cg, pid_t **ret, size_t *ret_n)
{
        if (cg->files == CG_FILES_PROC)
                return cg_proc_list(cg, ret, ret_n);
        if (cg->files == CG_FILES_V1) {
                /* Fresh open each time: see cg_v1_open_files() on v1's cached pid lists. */
                _cleanup_close_ int fd = cg_open_ro(cg->leaf, "cgroup.procs");
                return cg_list_procs_fd(fd, ret, ret_n);
        }
        return cg_list_procs_fd(cg->fd_procs, ret, ret_n);
}

/* Members other than ourselves. */
static int count_others(Cg *cg, size_t *ret)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, others = 0;
        pid_t self = getpid();
        int r = cg_list_pids(cg, &pids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                others += pids[i] != self;
        *ret = others;
        return 0;
}

int cg_is_populated(Cg *cg)
{
        size_t n;
        int r;

        if (cg->fd_cgevents >= 0 && cg->tier != CG_TIER_OBSERVE) {
                char buf[256];
                uint64_t v;
                /* Reading re-arms the POLLPRI notification of cg_populated_fd(). */
                if (cg_pread_fd(cg->fd_cgevents, buf, sizeof(buf)) >= 0 &&
                    cg_keyed_get(buf, "populated", &v) >= 0) {
                        if (cg->files != CG_FILES_V1 || v == 0)
                                return v > 0;
                }
        }
        r = count_others(cg, &n);
        if (r < 0)
                return r;
        return n > 0;
}

static bool self_in_leaf(Cg *cg)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (cg_list_pids(cg, &pids, &n) < 0)
                return true; /* unknown: be safe, never use cgroup.kill */
        for (size_t i = 0; i < n; i++)
                if (pids[i] == getpid())
                        return true;
        return false;
}

/* A zombie has released its memory and cannot be killed again; v1 cgroup.procs still lists it until
 * it is reaped (by us as subreaper, or by init for orphans). */
static bool is_zombie(const char *sysroot, pid_t pid)
{
        char path[128], buf[512];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof(path), "%s/proc/%d/stat", sysroot, (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return true; /* gone */
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return true;
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        return p && (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

int cg_kill_all(Cg *cg, int sig)
{
        int signalled = 0;
        pid_t self = getpid();

        /* The pids of a fixture tree (CgOptions.root) are not processes of this system. */
        if (cg->sysroot && cg->sysroot[0])
                return -EPERM;

        if (sig == SIGKILL && cg->uni_leaf && cg->files != CG_FILES_PROC && !self_in_leaf(cg)) {
                int r = cg_write_file(cg->uni_leaf, "cgroup.kill", "1");
                if (r < 0 && r != -ENOENT)
                        log_debug_errno(r, "cgroup.kill in %s failed, signalling members one by one: %m",
                                        cg->uni_leaf);
        }

        /* Signal members pass by pass: a child forked just before its parent got the signal shows up
         * in the next pass. Each pid is signalled once; the loop ends when a pass finds nobody new.
         * Killed processes may stay listed while the kernel frees their memory (long for big heaps):
         * waiting for that is the caller's business (cg_populated_fd / cg_is_populated). */
        _cleanup_free_ pid_t *done = NULL;
        size_t ndone = 0;
        for (int pass = 0; pass < CG_KILL_PASSES; pass++) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0, fresh = 0;
                int r = cg_list_pids(cg, &pids, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        if (pids[i] == self || pids[i] <= 0 || is_zombie(cg->sysroot, pids[i]))
                                continue;
                        bool seen = false;
                        for (size_t j = 0; j < ndone && !seen; j++)
                                seen = done[j] == pids[i];
                        if (seen)
                                continue;
                        if (kill(pids[i], sig) >= 0)
                                signalled++;
                        fresh++;
                        pid_t *nd = realloc(done, (ndone + 1) * sizeof(pid_t));
                        if (!nd)
                                return -ENOMEM;
                        done = nd;
                        done[ndone++] = pids[i];
                }
                if (fresh == 0)
                        return signalled;
                struct timespec ts = { 0, 2 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        return signalled;
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
        if (cg_read_limit_fd(cg->fd_max, &old_max) < 0 || cg_read_file(p, &txt) < 0 ||
            cg_parse_limit(txt, &old_sw) < 0 || old_sw == UINT64_MAX)
                return cg_lib_set("memory", cg->leaf_rel, "memory.limit_in_bytes", value);
        uint64_t allowance = old_max == UINT64_MAX || old_sw < old_max ? 0 : old_sw - old_max;
        uint64_t sw = bytes == UINT64_MAX || bytes > UINT64_MAX - allowance ? UINT64_MAX : bytes + allowance;
        if (sw == UINT64_MAX)
                snprintf(swbuf, sizeof(swbuf), "-1");
        else
                snprintf(swbuf, sizeof(swbuf), "%" PRIu64, sw);
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

static int set_limit(Cg *cg, bool high, uint64_t bytes)
{
        char buf[32];
        const char *key;

        if (!cg->leaf || !IN_SET(cg->tier, CG_TIER_V2, CG_TIER_V1))
                return -EOPNOTSUPP;
        if (cg->files == CG_FILES_V2) {
                key = high ? "memory.high" : "memory.max";
                if (bytes == UINT64_MAX)
                        snprintf(buf, sizeof(buf), "max");
                else
                        snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
        } else {
                key = high ? "memory.soft_limit_in_bytes" : "memory.limit_in_bytes";
                if (high && !cg->warned_high_v1) {
                        log_warning(
                            "cgroup v1 has no memory.high; %s/memory.soft_limit_in_bytes is set instead, "
                            "which does not throttle",
                            cg->leaf);
                        cg->warned_high_v1 = true;
                }
                if (bytes == UINT64_MAX)
                        snprintf(buf, sizeof(buf), "-1");
                else
                        snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
        }
        if (cg->files == CG_FILES_V1 && !high)
                return set_limit_v1_max(cg, bytes, buf);
        return cg_lib_set("memory", cg->leaf_rel, key, buf);
}

int cg_set_memory_high(Cg *cg, uint64_t bytes)
{
        return set_limit(cg, true, bytes);
}

int cg_set_memory_max(Cg *cg, uint64_t bytes)
{
        return set_limit(cg, false, bytes);
}

int cg_get_memory_high(Cg *cg, uint64_t *ret)
{
        if (cg->fd_high < 0)
                return -EOPNOTSUPP;
        return cg_read_limit_fd(cg->fd_high, ret);
}

int cg_get_memory_max(Cg *cg, uint64_t *ret)
{
        if (cg->fd_max < 0)
                return -EOPNOTSUPP;
        return cg_read_limit_fd(cg->fd_max, ret);
}

int cg_reclaim(Cg *cg, uint64_t bytes)
{
        char buf[32];

        if (cg->files != CG_FILES_V2 || cg->tier == CG_TIER_OBSERVE)
                return -EOPNOTSUPP;
        snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
        /* Written directly: memory.reclaim is an action, not a setting libcgroup can model, and EAGAIN
         * (reclaimed less than asked) must reach the caller as is. */
        return cg_write_file(cg->leaf, "memory.reclaim", buf);
}

CgTier cg_tier(const Cg *cg)
{
        return cg->tier;
}

const char *cg_leaf_path(const Cg *cg)
{
        return cg->leaf;
}

const char *cg_pressure_path(const Cg *cg)
{
        return cg->pressure_path;
}

const char *cg_describe(const Cg *cg)
{
        return cg->describe;
}

const char *cg_unified_leaf_path(const Cg *cg)
{
        return cg->uni_leaf;
}

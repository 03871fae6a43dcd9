/* SPDX-License-Identifier: MIT */
/* The tier-agnostic face of the cgroup module: turns the detection verdict into a Cg with its
 * backend (CgOps) and capability mask, and dispatches sampling, limits, events and kills through
 * them. Nothing here compares tiers: it asks the backend table and the mask. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "log.h"
#include "psi.h"

Cg *cg_new(void)
{
        Cg *cg = calloc(1, sizeof(Cg));
        if (!cg)
                return NULL;
        for (size_t i = 0; i < _CG_FD_MAX; i++)
                cg->fd[i] = -EBADF;
        for (size_t i = 0; i <= CG_JOIN_MAX; i++)
                cg->join_fds[i] = -1;
        cg->tree_limit = UINT64_MAX;
        cg->memtotal = UINT64_MAX;
        return cg;
}

static void close_all(Cg *cg)
{
        for (size_t i = 0; i < _CG_FD_MAX; i++)
                cg->fd[i] = safe_close(cg->fd[i]);
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
        if (cg->run_mode && cg->ops && cg->ops->teardown)
                cg->ops->teardown(cg);
        char *strs[] = { cg->describe, cg->why,      cg->sysroot,  cg->leaf,          cg->leaf_rel,
                         cg->uni_leaf, cg->sup_leaf, cg->orig_dir, cg->pressure_path, cg->memcg_path };
        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                free(strs[i]);
        free(cg);
        return NULL;
}

static bool v2_memory_readable(const CgHost *h)
{
        _cleanup_free_ char *p = h->v2_dir ? cg_path_join(h->v2_dir, "memory.current") : NULL;
        return p && access(p, R_OK) >= 0;
}

/* The backend, chosen once: observe reads with the v2 files when our v2 cgroup's memory.current is
 * readable, else with the v1 ones. */
static const CgOps *ops_for(CgTier tier, const CgHost *h)
{
        switch (tier) {
        case CG_TIER_V2:
                return &cg_v2_ops;
        case CG_TIER_V1:
                return &cg_v1_ops;
        case CG_TIER_OBSERVE:
                return v2_memory_readable(h) ? &cg_v2_observe_ops : &cg_v1_observe_ops;
        default:
                return &cg_proc_ops;
        }
}

/* What the backend offers, less what this Cg's mode and files leave out. */
static unsigned caps_after_setup(const Cg *cg)
{
        unsigned caps = cg->ops->caps;

        if (!cg->run_mode)
                caps &= ~CG_CAP_LEAVES;
        if (!cg->pressure_path)
                caps &= ~(CG_CAP_PSI | CG_CAP_PSI_TRIGGER);
        if (!cg->uni_leaf)
                caps &= ~CG_CAP_KILL;
        if (cg->fd[CG_FD_EVENTS] < 0 && cg->fd[CG_FD_EVENTFD] < 0)
                caps &= ~CG_CAP_EVENTS;
        if (cg->fd[CG_FD_SWAP] < 0 && cg->fd[CG_FD_MEMSW_FAILCNT] < 0)
                caps &= ~CG_CAP_SWAP;
        return caps;
}

/* The steps cg_setup_run and cg_setup_attach share: decide, pick the backend, let it set up (create
 * for run, open for attach), fix the capabilities and the describe line. */
static int cg_from_verdict(const CgOptions *opts, const CgHost *h, bool run_mode, pid_t pid,
                           const char *cgroup_path, Cg **ret, char **reterr_msg)
{
        _cleanup_(cg_freep) Cg *cg = NULL;
        CgVerdict v = {};
        int r;

        r = cg_decide(opts, h, &v, reterr_msg);
        if (r < 0)
                return r;
        cg = cg_new();
        if (!cg) {
                free(v.why);
                return -ENOMEM;
        }
        cg->tier = v.tier;
        cg->why = TAKE_PTR(v.why);
        cg->ops = ops_for(cg->tier, h);
        cg->run_mode = run_mode;
        cg->memtotal = h->memtotal;
        cg->sysroot = strdup(h->sysroot);
        cg->tree_limit = opts->tree_limit ? opts->tree_limit : UINT64_MAX;
        if (!cg->sysroot)
                return -ENOMEM;

        r = run_mode ? cg->ops->setup_run(cg, opts, h, reterr_msg)
                     : cg->ops->setup_attach(cg, h, pid, cgroup_path, reterr_msg);
        if (r < 0)
                return r;
        cg->caps = caps_after_setup(cg);
        cg->describe = cg_strdup_printf("cgroup tier %s: %s; leaf %s", cg_tier_to_string(cg->tier), cg->why,
                                        cg->leaf ? cg->leaf : "(none: process tree)");
        if (!cg->describe)
                return -ENOMEM;
        *ret = TAKE_PTR(cg);
        return 0;
}

int cg_setup_run(const CgOptions *opts, Cg **ret, char **reterr_msg)
{
        CgHost h = {};
        int r;

        r = cg_host_load(opts->root, 0, &h);
        if (r < 0) {
                cg_set_msg(reterr_msg, "cannot read %s/proc/self/mountinfo or /proc/self/cgroup: %s",
                           opts->root ? opts->root : "", strerror(-r));
                return r;
        }
        r = cg_from_verdict(opts, &h, true, 0, NULL, ret, reterr_msg);
        cg_host_done(&h);
        return r;
}

/* Points the host description at the given cgroup (attach --cgroup) instead of our own. */
static int point_host_at(CgHost *h, const char *cgroup_path, char **reterr_msg)
{
        const char *mnt = NULL, *rel = cgroup_path;
        bool v2 = true;
        if (cgroup_path[0] == '/' && h->v2_mount &&
            strncmp(cgroup_path, h->v2_mount, strlen(h->v2_mount)) == 0 &&
            IN_SET(cgroup_path[strlen(h->v2_mount)], '/', '\0')) {
                mnt = h->v2_mount;
                rel = cgroup_path + strlen(h->v2_mount);
        } else if (cgroup_path[0] == '/' && h->v1_mount &&
                   strncmp(cgroup_path, h->v1_mount, strlen(h->v1_mount)) == 0 &&
                   IN_SET(cgroup_path[strlen(h->v1_mount)], '/', '\0')) {
                mnt = h->v1_mount;
                rel = cgroup_path + strlen(h->v1_mount);
                v2 = false;
        } else {
                /* Relative to the mount that carries memory: v1 on hybrid hosts. */
                v2 = !h->v1_mount;
                mnt = v2 ? h->v2_mount : h->v1_mount;
        }
        if (!mnt) {
                cg_set_msg(reterr_msg,
                           "--cgroup %s: no cgroup file system with the memory controller is "
                           "mounted",
                           cgroup_path);
                return -ENOENT;
        }
        _cleanup_free_ char *dir = cg_path_join(mnt, rel);
        _cleanup_free_ char *relp = cg_strdup_printf("/%s", rel + strspn(rel, "/"));
        if (!dir || !relp)
                return -ENOMEM;
        if (access(dir, F_OK) < 0) {
                int r = negative_errno();
                cg_set_msg(reterr_msg,
                           "--cgroup %s: %s does not exist: %s; give a path relative to %s or "
                           "absolute",
                           cgroup_path, dir, strerror(-r), mnt);
                return r;
        }
        char **hd = v2 ? &h->v2_dir : &h->v1_dir, **hp = v2 ? &h->v2_path : &h->v1_path;
        free(*hd);
        free(*hp);
        *hd = TAKE_PTR(dir);
        *hp = TAKE_PTR(relp);
        if (v2) {
                /* The unified twin on hybrid must not be mistaken for the v1 target. */
                free(h->v1_dir);
                h->v1_dir = NULL;
        } else {
                free(h->v2_dir);
                h->v2_dir = NULL;
        }
        return 0;
}

int cg_setup_attach(const CgOptions *opts, pid_t pid, const char *cgroup_path, Cg **ret, char **reterr_msg)
{
        CgHost h = {};
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
                r = point_host_at(&h, cgroup_path, reterr_msg);
                if (r < 0)
                        goto out;
        }
        r = cg_from_verdict(opts, &h, false, pid, cgroup_path, ret, reterr_msg);
        if (r >= 0)
                (*ret)->memcg_path = TAKE_PTR(h.memcg_path);
out:
        cg_host_done(&h);
        return r;
}

bool cg_has(const Cg *cg, unsigned caps)
{
        return cg_caps_have(cg, caps);
}

unsigned cg_caps(const Cg *cg)
{
        return cg->caps;
}

int cg_spawn_fds(Cg *cg, int *ret_dirfd, const int **ret_join_fds)
{
        if (ret_dirfd)
                *ret_dirfd = cg->fd[CG_FD_LEAF_DIR] >= 0 ? cg->fd[CG_FD_LEAF_DIR] : -1;
        if (ret_join_fds)
                *ret_join_fds = cg->join_fds;
        return 0;
}

int cg_attach_pid(Cg *cg, pid_t pid)
{
        int r;

        if (pid <= 0 || pid == getpid())
                return -EINVAL;
        /* Nothing to move into on observe/none; the tree of tier none is ours already. */
        if (!cg_has(cg, CG_CAP_LEAVES) || !cg->ops->attach_pid)
                return 0;
        r = cg->ops->attach_pid(cg, pid);
        if (r < 0)
                log_debug_errno(r, "cannot move %d into %s: %m", (int)pid, cg->leaf);
        return r;
}

int cg_read_figures(Cg *cg, CgFigures *ret)
{
        CgFigures f = {};
        char buf[512];
        bool has_full;
        ssize_t n;
        int r;

        r = cg->ops->sample(cg, &f);
        if (r < 0)
                return r;
        n = cg_pread_fd(cg->fd[CG_FD_PRESSURE], buf, sizeof(buf));
        if (n >= 0 && psi_parse(buf, (size_t)n, &f.psi_some, &f.psi_full, &has_full) >= 0)
                f.psi_valid = true;
        /* The kernel does not count the supervisor out in observe mode: it sits in the cgroup. */
        if (cg->ops->self_inside && f.nr_processes > 0)
                f.nr_processes--;
        *ret = f;
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
        if (!cg_has(cg, CG_CAP_EVENTS))
                return -1;
        return cg->fd[CG_FD_EVENTS] >= 0 ? cg->fd[CG_FD_EVENTS] : cg->fd[CG_FD_EVENTFD];
}

int cg_populated_fd(Cg *cg)
{
        return cg->fd[CG_FD_CGEVENTS] >= 0 ? cg->fd[CG_FD_CGEVENTS] : -1;
}

int cg_list_pids(Cg *cg, pid_t **ret, size_t *ret_n)
{
        return cg->ops->list_pids(cg, ret, ret_n);
}

int cg_is_populated(Cg *cg)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, others = 0;
        pid_t self = getpid();
        int r;

        if (cg->fd[CG_FD_CGEVENTS] >= 0 && cg->ops->populated != CG_POPULATED_COUNT) {
                char buf[256];
                uint64_t v;
                /* Reading re-arms the POLLPRI notification of cg_populated_fd(). */
                if (cg_pread_fd(cg->fd[CG_FD_CGEVENTS], buf, sizeof(buf)) >= 0 &&
                    cg_keyed_get(buf, "populated", &v) >= 0 &&
                    (cg->ops->populated == CG_POPULATED_EVENTS || v == 0))
                        return v > 0;
        }
        /* Members other than ourselves. */
        r = cg_list_pids(cg, &pids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                others += pids[i] != self;
        return others > 0;
}

int cg_kill_all(Cg *cg, int sig)
{
        return cg->ops->kill_all(cg, sig);
}

int cg_set_memory_high(Cg *cg, uint64_t bytes)
{
        if (!(cg->caps & (CG_CAP_HIGH | CG_CAP_SOFT_LIMIT)) || !cg->ops->set_limit)
                return -EOPNOTSUPP;
        return cg->ops->set_limit(cg, true, bytes);
}

int cg_set_memory_max(Cg *cg, uint64_t bytes)
{
        if (!cg_has(cg, CG_CAP_MAX) || !cg->ops->set_limit)
                return -EOPNOTSUPP;
        return cg->ops->set_limit(cg, false, bytes);
}

int cg_get_memory_high(Cg *cg, uint64_t *ret)
{
        return cg->ops->get_limit ? cg->ops->get_limit(cg, true, ret) : -EOPNOTSUPP;
}

int cg_get_memory_max(Cg *cg, uint64_t *ret)
{
        return cg->ops->get_limit ? cg->ops->get_limit(cg, false, ret) : -EOPNOTSUPP;
}

int cg_reclaim(Cg *cg, uint64_t bytes)
{
        if (!cg_has(cg, CG_CAP_RECLAIM) || !cg->ops->reclaim)
                return -EOPNOTSUPP;
        return cg->ops->reclaim(cg, bytes);
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

/* SPDX-License-Identifier: MIT */
/* An attach target's cgroup seen from elsewhere: when the target's cgroup (from /proc/PID/cgroup) is
 * not visible in our own cgroupfs mount (cgroup v2 namespaces: a sibling container reads "/../x"; or
 * the directory does not exist here), its files are read through the target's own mount,
 * /proc/PID/root/sys/fs/cgroup, whose root is the target's cgroup (v2) or which holds the memory
 * hierarchy (v1: .../memory). Such a cgroup is treated as read-only: containers mount it so, and
 * nsdelegate refuses writes to a namespace root's knobs anyway. And the rebind of a Cg to the new
 * process of a restarted target (attach --follow). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "log.h"

static bool dir_has(const char *dir, const char *file)
{
        _cleanup_free_ char *p = cg_path_join(dir, file);
        return p && access(p, R_OK) >= 0;
}

static bool visible(const char *dir)
{
        return dir && access(dir, F_OK) >= 0;
}

/* One hierarchy of h becomes root (taken), mounted read-only at "/" of itself; cg_path, the target's
 * cgroup as /proc/PID/cgroup names it, is kept for the kernel log. Nothing changes when memory runs
 * out: the target's cgroup stays unread, as before this call. */
static void read_through(CgHost *h, char **dir, char **path, char **mount, bool *mount_ro, char *root,
                         const char *cg_path)
{
        _cleanup_free_ char *r = root, *m = NULL, *p = NULL, *name = NULL;

        if (!r)
                return;
        m = strdup(r);
        p = strdup("/");
        name = strdup(cg_path);
        if (!m || !p || !name) {
                log_error_errno(-ENOMEM, "Out of memory reading the target's cgroup through %s.", r);
                return;
        }
        free(*dir);
        free(*path);
        free(*mount);
        *dir = TAKE_PTR(r);
        *mount = TAKE_PTR(m);
        *path = TAKE_PTR(p);
        *mount_ro = true;
        free(h->memcg_path);
        h->memcg_path = TAKE_PTR(name);
        h->proc_root = true;
}

void cg_host_via_proc_root(CgHost *h, pid_t pid, const char *v2_cg, const char *v1_cg)
{
        _cleanup_free_ char *base = NULL, *v1 = NULL;
        bool v2_named = v2_cg, v1_named = v1_cg;

        if (pid <= 0)
                return;
        base = cg_strdup_printf("%s/proc/%d/root/sys/fs/cgroup", h->sysroot, (int)pid);
        if (!base)
                return;
        if (v2_named && h->v2_mount && !visible(h->v2_dir) && dir_has(base, "memory.current")) {
                log_info("The cgroup of pid %d is not visible under %s (another cgroup namespace); "
                         "reading it through %s, read-only.",
                         (int)pid, h->v2_mount, base);
                read_through(h, &h->v2_dir, &h->v2_path, &h->v2_mount, &h->v2_mount_ro, strdup(base), v2_cg);
                return;
        }
        v1 = cg_path_join(base, "memory");
        if (v1_named && h->v1_mount && !visible(h->v1_dir) && v1 && dir_has(v1, "memory.usage_in_bytes")) {
                log_info("The memory cgroup of pid %d is not visible under %s; reading it through %s, "
                         "read-only.",
                         (int)pid, h->v1_mount, v1);
                read_through(h, &h->v1_dir, &h->v1_path, &h->v1_mount, &h->v1_mount_ro, TAKE_PTR(v1), v1_cg);
                if (!h->proc_root)
                        return;
                /* The unified tree of a hybrid host would be our own view of it: not the target's. */
                free(h->v2_dir);
                h->v2_dir = NULL;
        }
}

const char *cg_memcg_path(const Cg *cg)
{
        return cg->memcg_path;
}

int cg_rebind_attach(Cg *cg, const CgOptions *opts, pid_t pid, char **reterr_msg)
{
        _cleanup_(cg_freep) Cg *fresh = NULL;
        Cg tmp;
        int r;

        r = cg_setup_attach(opts, pid, NULL, &fresh, reterr_msg);
        if (r < 0)
                return r;
        /* Swap the contents, so that every holder of cg (the sampler, the actuator, the stop) reads the
         * new cgroup; the old fds go with fresh. */
        tmp = *cg;
        *cg = *fresh;
        *fresh = tmp;
        return 0;
}

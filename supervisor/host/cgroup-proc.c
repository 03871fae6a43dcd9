/* SPDX-License-Identifier: MIT */
/* Tier none: no memory controller is visible, so the workload is its process tree in /proc. The
 * figure is the sum of RSS (statm resident pages), not PSS: PSS needs smaps_rollup, a page-table walk
 * per process per sample, while RSS overstates only pages shared between workload processes. */
#define _GNU_SOURCE 1
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-internal.h"

typedef struct ProcEnt {
        pid_t pid, ppid;
} ProcEnt;

static int read_ppid(const char *sysroot, pid_t pid, pid_t *ret)
{
        char buf[1024];
        const char *p = cg_proc_stat(sysroot, pid, buf, sizeof(buf));
        int ppid;

        if (!p)
                return -ESRCH;
        if (sscanf(p, " %*c %d", &ppid) != 1)
                return -EINVAL;
        *ret = ppid;
        return 0;
}

/* The tree below cg->tree_root (and the root itself when tree_include_root), never ourselves. */
int cg_proc_list(Cg *cg, pid_t **ret, size_t *ret_n)
{
        _cleanup_free_ char *procdir = cg_strdup_printf("%s/proc", cg->sysroot);
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ ProcEnt *all = NULL;
        _cleanup_free_ pid_t *out = NULL;
        size_t n = 0, cap = 0, nout = 0;
        struct dirent *de;
        pid_t self = getpid();

        if (!procdir)
                return -ENOMEM;
        d = opendir(procdir);
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                if (!isdigit((unsigned char)de->d_name[0]))
                        continue;
                pid_t pid = (pid_t)atoi(de->d_name), ppid;
                if (read_ppid(cg->sysroot, pid, &ppid) < 0)
                        continue;
                ProcEnt *na = cg_grow(all, &cap, n + 1, sizeof(ProcEnt), 256);
                if (!na)
                        return -ENOMEM;
                all = na;
                all[n++] = (ProcEnt){ pid, ppid };
        }
        out = calloc(n + 1, sizeof(pid_t));
        if (!out)
                return -ENOMEM;
        if (cg->tree_include_root && cg->tree_root > 0 && cg->tree_root != self) {
                for (size_t i = 0; i < n; i++)
                        if (all[i].pid == cg->tree_root)
                                out[nout++] = cg->tree_root;
        }
        /* Breadth-first over parent links; the frontier is the part of out[] not yet expanded, with the
         * root handled as a virtual first element. */
        size_t next = 0;
        pid_t parent = cg->tree_root;
        for (;;) {
                for (size_t i = 0; i < n; i++)
                        if (all[i].ppid == parent && all[i].pid != self && nout < n)
                                out[nout++] = all[i].pid;
                while (next < nout && out[next] == cg->tree_root)
                        next++;
                if (next >= nout)
                        break;
                parent = out[next++];
        }
        *ret = TAKE_PTR(out);
        *ret_n = nout;
        return 0;
}

static int proc_sample(Cg *cg, CgFigures *s)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        long page = sysconf(_SC_PAGESIZE);
        int r;

        r = cg_proc_list(cg, &pids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                char path[128], buf[256];
                unsigned long long size, resident, shared;
                snprintf(path, sizeof(path), "%s/proc/%d/statm", cg->sysroot, (int)pids[i]);
                if (cg_read_small(path, buf, sizeof(buf)) < 0)
                        continue; /* exited meanwhile */
                if (sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3)
                        continue;
                s->current += resident * (uint64_t)page;
                s->file += shared * (uint64_t)page;
                s->anon += (resident > shared ? resident - shared : 0) * (uint64_t)page;
        }
        s->nr_processes = (uint32_t)n;
        s->limit = MIN(cg->tree_limit, cg->memtotal);
        s->high = OOMLESS_NO_LIMIT;
        return 0;
}

static int proc_setup_run(Cg *cg, const CgOptions *opts, const CgHost *h, char **reterr_msg)
{
        cg->tree_root = getpid();
        cg->tree_include_root = false;
        return 0;
}

static int proc_setup_attach(Cg *cg, const CgHost *h, pid_t pid, const char *cgroup_path, char **reterr_msg)
{
        if (pid <= 0) {
                cg_set_msg(reterr_msg,
                           "--cgroup %s: no memory controller is visible; attach with --pid to watch the "
                           "process tree instead",
                           cgroup_path);
                return -EOPNOTSUPP;
        }
        cg->tree_root = pid;
        cg->tree_include_root = true;
        return 0;
}

const CgOps cg_proc_ops = {
        .name = "none",
        .files = CG_FILES_PROC,
        .caps = 0,
        .populated = CG_POPULATED_COUNT,
        .setup_run = proc_setup_run,
        .setup_attach = proc_setup_attach,
        .sample = proc_sample,
        .kill_all = cg_kill_members,
        .list_pids = cg_proc_list,
};

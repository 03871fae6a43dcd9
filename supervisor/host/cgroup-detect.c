/* SPDX-License-Identifier: MIT */
/* Tier detection: reads mountinfo and /proc/<pid>/cgroup (under an injectable root so fixture trees
 * can stand in for a host), probes writability without creating anything, and decides which tier
 * to use or why a forced one is impossible. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statvfs.h>

#include "cgroup-internal.h"

static const char *const tier_names[_CG_TIER_MAX] = {
        [CG_TIER_V2] = "v2",
        [CG_TIER_V1] = "v1",
        [CG_TIER_OBSERVE] = "observe",
        [CG_TIER_NONE] = "none",
};

const char *cg_tier_to_string(CgTier t)
{
        if (t == CG_TIER_AUTO)
                return "auto";
        if (t < 0 || t >= _CG_TIER_MAX)
                return NULL;
        return tier_names[t];
}

CgTier cg_tier_from_string(const char *s)
{
        if (!s)
                return _CG_TIER_INVALID;
        if (streq(s, "auto"))
                return CG_TIER_AUTO;
        for (int i = 0; i < _CG_TIER_MAX; i++)
                if (streq(s, tier_names[i]))
                        return (CgTier)i;
        return _CG_TIER_INVALID;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
        char *w = s;
        for (char *r = s; *r;) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 4;
                } else
                        *w++ = *r++;
        }
        *w = '\0';
}

static bool opts_have(const char *opts, const char *word)
{
        size_t wl = strlen(word);
        for (const char *p = opts; p && *p;) {
                size_t l = strcspn(p, ",");
                if (l == wl && strncmp(p, word, wl) == 0)
                        return true;
                p += l;
                if (*p == ',')
                        p++;
        }
        return false;
}

/* The directory of cgroup `path` inside a mount of `root` at `mnt`; NULL when the cgroup is outside
 * what this mount shows (e.g. a container that sees only its own subtree). */
static char *dir_in_mount(const char *mnt, const char *root, const char *path, char **ret_rel)
{
        size_t rl = strlen(root);
        const char *rel;

        if (streq(root, "/"))
                rel = path;
        else if (strncmp(path, root, rl) == 0 && (path[rl] == '/' || path[rl] == '\0'))
                rel = path + rl;
        else
                return NULL;
        if (strstr(rel, "/..") || strstr(rel, " (deleted)"))
                return NULL;
        if (ret_rel) {
                *ret_rel = strdup(*rel ? rel : "/");
                if (!*ret_rel)
                        return NULL;
        }
        return cg_path_join(mnt, rel);
}

void cg_host_done(CgHost *h)
{
        char *strs[] = {
                h->sysroot,  h->v2_mount, h->v2_dir,  h->v2_path,
                h->v1_mount, h->v1_dir,   h->v1_path, h->memcg_path,
        };
        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                free(strs[i]);
        *h = (CgHost){};
}

int cg_host_load(const char *sysroot, pid_t pid, CgHost *ret)
{
        _cleanup_free_ char *mi_path = NULL, *cg_path = NULL, *mi = NULL, *cgf = NULL;
        _cleanup_free_ char *v2_root = NULL, *v1_root = NULL, *v2_cg = NULL, *v1_cg = NULL;
        CgHost h = { .memtotal = UINT64_MAX };
        int r;

        h.sysroot = strdup(sysroot ? sysroot : "");
        if (!h.sysroot)
                return -ENOMEM;
        mi_path = cg_strdup_printf("%s/proc/self/mountinfo", h.sysroot);
        if (pid > 0)
                cg_path = cg_strdup_printf("%s/proc/%d/cgroup", h.sysroot, (int)pid);
        else
                cg_path = cg_strdup_printf("%s/proc/self/cgroup", h.sysroot);
        if (!mi_path || !cg_path) {
                cg_host_done(&h);
                return -ENOMEM;
        }
        r = cg_read_file(mi_path, &mi);
        if (r >= 0)
                r = cg_read_file(cg_path, &cgf);
        if (r < 0) {
                cg_host_done(&h);
                return r;
        }

        /* Later lines win for the same mount point: a read-only bind mount over /sys/fs/cgroup hides
         * the writable mount below it. */
        char *save = NULL;
        for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *f[6] = {}, *sep, *p = line;
                for (int i = 0; i < 6; i++) {
                        f[i] = strsep(&p, " ");
                        if (!f[i])
                                break;
                }
                if (!f[5] || !p)
                        continue;
                sep = strstr(p, "- ");
                if (!sep)
                        continue;
                sep += 2;
                char *fstype = strsep(&sep, " ");
                char *source = sep ? strsep(&sep, " ") : NULL;
                char *superopts = sep;
                if (!fstype || !source || !superopts)
                        continue;
                unescape_octal(f[3]);
                unescape_octal(f[4]);
                bool ro = opts_have(f[5], "ro") || opts_have(superopts, "ro");
                bool v2 = streq(fstype, "cgroup2");
                bool v1mem = streq(fstype, "cgroup") && opts_have(superopts, "memory");
                if (!v2 && !v1mem)
                        continue;
                char **mnt = v2 ? &h.v2_mount : &h.v1_mount;
                char **root = v2 ? &v2_root : &v1_root;
                _cleanup_free_ char *full = cg_strdup_printf("%s%s", h.sysroot, f[4]);
                if (!full) {
                        cg_host_done(&h);
                        return -ENOMEM;
                }
                if (*mnt && !streq(*mnt, full))
                        continue; /* keep the first hierarchy mount point we met */
                free(*mnt);
                *mnt = TAKE_PTR(full);
                free(*root);
                *root = strdup(f[3]);
                if (v2)
                        h.v2_mount_ro = ro;
                else
                        h.v1_mount_ro = ro;
        }

        save = NULL;
        for (char *line = strtok_r(cgf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *id = strsep(&line, ":");
                char *ctrls = line ? strsep(&line, ":") : NULL;
                if (!id || !ctrls || !line)
                        continue;
                if (streq(id, "0") && ctrls[0] == '\0') {
                        free(v2_cg);
                        v2_cg = strdup(line);
                } else if (opts_have(ctrls, "memory")) {
                        free(v1_cg);
                        v1_cg = strdup(line);
                }
        }

        if (h.v2_mount && v2_root && v2_cg)
                h.v2_dir = dir_in_mount(h.v2_mount, v2_root, v2_cg, &h.v2_path);
        if (h.v1_mount && v1_root && v1_cg)
                h.v1_dir = dir_in_mount(h.v1_mount, v1_root, v1_cg, &h.v1_path);
        if (pid > 0)
                cg_host_via_proc_root(&h, pid, v2_cg, v1_cg);
        h.memtotal = cg_read_memtotal(h.sysroot);
        *ret = h;
        return 0;
}

/* Whether we could create a child of dir and move processes into it, without creating anything. */
static bool probe_writable(const char *dir, bool mount_ro, const char **ret_reason)
{
        _cleanup_free_ char *procs = cg_path_join(dir, "cgroup.procs");
        struct statvfs sv;

        if (mount_ro || (statvfs(dir, &sv) >= 0 && (sv.f_flag & ST_RDONLY))) {
                *ret_reason = "read-only file system";
                return false;
        }
        if (!procs || access(dir, W_OK) < 0 || access(procs, W_OK) < 0) {
                *ret_reason = errno == EROFS ? "read-only file system" : "permission denied";
                return false;
        }
        return true;
}

static bool file_exists(const char *dir, const char *file)
{
        _cleanup_free_ char *p = cg_path_join(dir, file);
        return p && access(p, F_OK) >= 0;
}

/* A forced writable tier whose cgroup is not writable. */
static int refuse_unwritable(char **reterr_msg, const char *mode, const char *dir, const char *reason,
                             const char *kind)
{
        cg_set_msg(reterr_msg,
                   "--cgroup-mode=%s: cannot create cgroups under %s: %s; use --cgroup-mode=observe, or "
                   "give the container a %s cgroup",
                   mode, dir, reason, kind);
        return reason[0] == 'r' ? -EROFS : -EACCES;
}

int cg_decide(const CgOptions *opts, const CgHost *h, CgVerdict *ret, char **reterr_msg)
{
        _cleanup_free_ char *controllers = NULL, *ctrl_path = NULL;
        const char *v2_reason = NULL, *v1_reason = NULL;
        bool v2_mem = false, v2_w = false, v2_read = false, v1_ok = false, v1_w = false;
        CgTier want = opts ? opts->requested : CG_TIER_AUTO;
        CgVerdict v = {};

        if (h->v2_dir) {
                ctrl_path = cg_path_join(h->v2_dir, "cgroup.controllers");
                if (ctrl_path && cg_read_file(ctrl_path, &controllers) >= 0)
                        v2_mem = cg_controller_listed(controllers, "memory");
                if (v2_mem) {
                        v2_w = probe_writable(h->v2_dir, h->v2_mount_ro, &v2_reason);
                        v2_read = file_exists(h->v2_dir, "memory.current");
                }
        }
        if (h->v1_dir) {
                v1_ok = file_exists(h->v1_dir, "memory.usage_in_bytes");
                if (v1_ok)
                        v1_w = probe_writable(h->v1_dir, h->v1_mount_ro, &v1_reason);
        }

        switch (want) {
        case CG_TIER_AUTO:
                if (v2_mem && v2_w)
                        v.tier = CG_TIER_V2;
                else if (v1_ok && v1_w)
                        v.tier = CG_TIER_V1;
                else if (v2_read || v1_ok)
                        v.tier = CG_TIER_OBSERVE;
                else
                        v.tier = CG_TIER_NONE;
                break;
        case CG_TIER_V2:
                if (!h->v2_mount) {
                        cg_set_msg(
                            reterr_msg,
                            "--cgroup-mode=v2: no cgroup2 file system is mounted (%s/proc/self/mountinfo "
                            "lists none)%s; use --cgroup-mode=auto",
                            h->sysroot, h->v1_mount ? ", memory is on cgroup v1" : "");
                        return -EOPNOTSUPP;
                }
                if (!h->v2_dir) {
                        cg_set_msg(reterr_msg,
                                   "--cgroup-mode=v2: our cgroup is not visible under the cgroup2 mount %s; "
                                   "use --cgroup-mode=auto",
                                   h->v2_mount);
                        return -EOPNOTSUPP;
                }
                if (!v2_mem) {
                        cg_set_msg(
                            reterr_msg,
                            "--cgroup-mode=v2: the memory controller is not available in "
                            "%s/cgroup.controllers"
                            "%s; use --cgroup-mode=auto%s, or have the parent cgroup delegate +memory",
                            h->v2_dir, h->v1_dir ? " (this host keeps memory on cgroup v1)" : "",
                            h->v1_dir ? " or --cgroup-mode=v1" : "");
                        return -EOPNOTSUPP;
                }
                if (!v2_w)
                        return refuse_unwritable(reterr_msg, "v2", h->v2_dir, v2_reason,
                                                 "writable/delegated");
                v.tier = CG_TIER_V2;
                break;
        case CG_TIER_V1:
                if (!h->v1_mount || !h->v1_dir || !v1_ok) {
                        cg_set_msg(reterr_msg,
                                   "--cgroup-mode=v1: no cgroup v1 hierarchy with the memory controller is "
                                   "mounted%s%s; use --cgroup-mode=auto",
                                   h->v1_mount ? " where our cgroup is visible: " : "",
                                   h->v1_mount ? h->v1_mount : "");
                        return -EOPNOTSUPP;
                }
                if (!v1_w)
                        return refuse_unwritable(reterr_msg, "v1", h->v1_dir, v1_reason, "writable");
                v.tier = CG_TIER_V1;
                break;
        case CG_TIER_OBSERVE:
                if (!v2_read && !v1_ok) {
                        cg_set_msg(
                            reterr_msg,
                            "--cgroup-mode=observe: no memory figures of our own cgroup are readable "
                            "(%s%s); use --cgroup-mode=none with --memory-max for a /proc based limit",
                            h->v2_dir ? h->v2_dir : "no cgroup2 memory.current",
                            h->v1_dir ? ", no v1 memory cgroup" : "");
                        return -EOPNOTSUPP;
                }
                v.tier = CG_TIER_OBSERVE;
                break;
        case CG_TIER_NONE:
                v.tier = CG_TIER_NONE;
                break;
        default:
                cg_set_msg(reterr_msg, "invalid cgroup mode %d; use auto, v2, v1, observe or none",
                           (int)want);
                return -EINVAL;
        }

        switch (v.tier) {
        case CG_TIER_V2:
                v.why = cg_strdup_printf("cgroup2 at %s with the memory controller, writable", h->v2_mount);
                break;
        case CG_TIER_V1:
                v.why = cg_strdup_printf("memory controller on cgroup v1 at %s%s%s%s", h->v1_mount,
                                         h->v2_dir ? " (PSI and events from the unified tree at " : "",
                                         h->v2_dir ? h->v2_mount : "", h->v2_dir ? ")" : "");
                break;
        case CG_TIER_OBSERVE:
                if (want == CG_TIER_OBSERVE)
                        v.why = cg_strdup_printf("observe requested: reading %s",
                                                 v2_read ? h->v2_dir : h->v1_dir);
                else
                        v.why = cg_strdup_printf("cgroupfs not writable (%s): reading %s, creating nothing",
                                                 v2_read ? v2_reason : v1_reason,
                                                 v2_read ? h->v2_dir : h->v1_dir);
                break;
        default:
                v.why = strdup(want == CG_TIER_NONE
                                   ? "none requested: process-tree RSS from /proc"
                                   : "no memory controller visible: process-tree RSS from /proc");
                break;
        }
        if (!v.why)
                return -ENOMEM;
        *ret = v;
        return 0;
}

int cg_detect(const CgOptions *opts, CgTier *ret_tier, char **reterr_msg)
{
        CgHost h = {};
        CgVerdict v = {};
        int r;

        r = cg_host_load(opts ? opts->root : NULL, 0, &h);
        if (r < 0) {
                cg_set_msg(reterr_msg, "cannot read %s/proc/self/mountinfo or /proc/self/cgroup: %s",
                           opts && opts->root ? opts->root : "", strerror(-r));
                return r;
        }
        r = cg_decide(opts, &h, &v, reterr_msg);
        cg_host_done(&h);
        if (r < 0)
                return r;
        free(v.why);
        if (ret_tier)
                *ret_tier = v.tier;
        return 0;
}

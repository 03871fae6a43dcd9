/* SPDX-License-Identifier: MIT */
/* Shared between the cgroup*.c files only: the Cg object, the backend interface (CgOps), the sampling
 * table, what detection learnt about the host, and the small cgroupfs/proc helpers. Nothing outside
 * supervisor/cgroup*.c includes this. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"

#define CG_JOIN_MAX 4
/* v1 prints "no limit" as PAGE_COUNTER_MAX pages: 9223372036854771712 with 4K pages. Anything at or
 * above this reads as unlimited whatever the page size. */
#define CG_V1_UNLIMITED UINT64_C(9223372036854771712)
#define CG_KILL_PASSES  16

/* What /proc/<pid>/cgroup and /proc/self/mountinfo say about one process. All paths are absolute
 * and carry the sysroot prefix (empty outside fixture tests). */
typedef struct CgHost {
        char *sysroot;

        char *v2_mount; /* cgroup2 mount point, NULL when none is mounted */
        char *v2_dir;   /* the process's v2 cgroup directory, NULL when not visible */
        char *v2_path;  /* that cgroup relative to the mount, "/a/b" ("/" for the mount root) */
        bool v2_mount_ro;

        char *v1_mount; /* v1 hierarchy carrying the memory controller, NULL when none */
        char *v1_dir;
        char *v1_path;
        bool v1_mount_ro;

        uint64_t memtotal; /* bytes, from meminfo; UINT64_MAX when unreadable */
        bool proc_root;    /* the target's cgroup is read through /proc/PID/root (cgroup-target.c) */
        char *memcg_path;  /* then its memory cgroup as /proc/PID/cgroup names it (the kernel log's) */
} CgHost;

int cg_host_load(const char *sysroot, pid_t pid, CgHost *ret);
/* When pid's cgroup, named in its /proc/PID/cgroup (v2_cg, v1_cg: NULL when not named), is not
 * visible in our mount: points h at /proc/PID/root/sys/fs/cgroup instead, read-only, with one log
 * line, and keeps the name in h->memcg_path (cgroup-target.c). */
void cg_host_via_proc_root(CgHost *h, pid_t pid, const char *v2_cg, const char *v1_cg);
void cg_host_done(CgHost *h);

/* Outcome of detection: the tier, one phrase of why (for cg_describe), and for a refused forced
 * tier the user-facing message. */
typedef struct CgVerdict {
        CgTier tier;
        char *why;
} CgVerdict;
int cg_decide(const CgOptions *opts, const CgHost *h, CgVerdict *ret, char **reterr_msg);

/* Which flavour of memory files a Cg reads. */
typedef enum CgFiles {
        CG_FILES_V2,
        CG_FILES_V1,
        CG_FILES_PROC,
} CgFiles;

/* The fds a Cg holds, by role. -EBADF when the file does not exist (or the role does not apply). */
typedef enum CgFd {
        CG_FD_CURRENT,
        CG_FD_PEAK,
        CG_FD_STAT,
        CG_FD_EVENTS,
        CG_FD_HIGH,
        CG_FD_MAX,
        CG_FD_SWAP,
        CG_FD_FAILCNT,
        CG_FD_MEMSW_FAILCNT,
        CG_FD_OOM_CONTROL,
        CG_FD_KMEM,      /* v1 memory.kmem.usage_in_bytes */
        CG_FD_PROCS,     /* v2 only: see cg_v1_ops on v1's cached pid lists */
        CG_FD_PRESSURE,  /* memory.pressure of the leaf or of the unified twin */
        CG_FD_CGEVENTS,  /* cgroup.events, likewise */
        CG_FD_EVENTFD,   /* v1: eventfd registered on memory.oom_control */
        CG_FD_LEAF_DIR,  /* v2 run: O_PATH of the workload leaf for clone3(CLONE_INTO_CGROUP) */
        CG_FD_LOCK_LEAF, /* run: the instance lock (instance.h) on each leaf we created */
        CG_FD_LOCK_UNI,
        CG_FD_LOCK_SUP,
        _CG_FD_MAX,
} CgFd;

/* One row of the sampling table (cgroup-files.c): which file a flavour holds and which key of it
 * lands in which CgFigures field. Rows of one file stand together, so that it is read once. */
enum {
        CG_KEY_REQUIRED = 1u << 0, /* the Cg cannot work without it: open and sample fail */
        CG_KEY_MIN = 1u << 1,      /* a limit: the field keeps the smallest value seen */
        CG_KEY_ADD = 1u << 2,      /* added to the field instead of stored */
        CG_KEY_EVENTS = 1u << 3,   /* reading it makes the events valid */
};
#define CG_KEY_HELD SIZE_MAX /* dest of a row for a file that is only held, not sampled */
typedef struct CgKey {
        CgFiles files;
        CgFd fd;
        const char *file;
        const char *key; /* flat-keyed "key value" line; NULL: the whole file is one value */
        size_t dest;     /* offsetof(CgFigures, field), or CG_KEY_HELD */
        unsigned flags;
} CgKey;

/* How cg_is_populated() may use cgroup.events. */
typedef enum CgPopulated {
        CG_POPULATED_COUNT,       /* never: count the members (observe: we sit in the cgroup) */
        CG_POPULATED_EVENTS,      /* "populated" of the watched cgroup itself */
        CG_POPULATED_EVENTS_ZERO, /* only its 0: the hybrid twin may hold what the v1 leaf does not */
} CgPopulated;

/* A backend: one per tier (observe reuses the v2 or v1 readers without the writers). Chosen once,
 * after detection, by cg_from_verdict(). A NULL writer means -EOPNOTSUPP. Backends call only down,
 * into cgroup-files.c, cgroup-util.c and cgroup-lib.c, never into cgroup.c. */
typedef struct CgOps {
        const char *name;
        CgFiles files;
        unsigned caps; /* CgCap the backend can offer; setup drops what the files lack */
        CgPopulated populated;
        bool self_inside; /* the supervisor is a member of what is sampled (observe) */
        int (*setup_run)(Cg *cg, const CgOptions *opts, const CgHost *h, char **reterr_msg);
        int (*setup_attach)(Cg *cg, const CgHost *h, pid_t pid, const char *cgroup_path, char **reterr_msg);
        int (*open_files)(Cg *cg, const char *dir, const char *mount, char **reterr_msg);
        int (*sample)(Cg *cg, CgFigures *f);
        int (*set_limit)(Cg *cg, bool high, uint64_t bytes);
        int (*get_limit)(Cg *cg, bool high, uint64_t *ret);
        int (*attach_pid)(Cg *cg, pid_t pid);
        int (*kill_all)(Cg *cg, int sig);
        int (*list_pids)(Cg *cg, pid_t **ret, size_t *ret_n);
        int (*reclaim)(Cg *cg, uint64_t bytes);
        void (*teardown)(Cg *cg);
} CgOps;

extern const CgOps cg_v2_ops, cg_v2_observe_ops, cg_v1_ops, cg_v1_observe_ops, cg_proc_ops;

struct Cg {
        const CgOps *ops;
        unsigned caps; /* CgCap */
        CgTier tier;
        bool run_mode; /* cg_setup_run (may create) rather than attach */
        char *describe;
        char *why;
        char *sysroot;
        uint64_t memtotal;

        char *leaf;          /* directory of the workload's memory cgroup; NULL on tier none */
        char *leaf_rel;      /* the same relative to its mount, for libcgroup */
        char *uni_leaf;      /* unified-tree directory used for PSI/events/kill (== leaf's twin) */
        char *sup_leaf;      /* v2 run: the supervisor's own leaf */
        char *orig_dir;      /* v2 run: the cgroup the supervisor came from (the leaves' parent) */
        char *pressure_path; /* memory.pressure of leaf or uni_leaf */
        char *memcg_path;    /* CgHost.memcg_path: the leaf's name in the kernel log when leaf's is not */
        bool leaf_created, uni_created, sup_created, moved_self;
        char enabled_ctrls[64]; /* v2: controllers we switched on in orig_dir (space separated) */

        int fd[_CG_FD_MAX]; /* hot-path fds held from setup */
        int join_fds[CG_JOIN_MAX + 1];
        int *anc_fds; /* limit files of the ancestors of the leaf (nearest first) */
        size_t n_anc;

        /* tier none */
        pid_t tree_root;
        bool tree_include_root;
        uint64_t tree_limit;

        bool warned_high_v1;
};

static inline bool cg_caps_have(const Cg *cg, unsigned caps)
{
        return (cg->caps & caps) == caps;
}

Cg *cg_new(void);

/* cgroupfs and proc helpers (cgroup-util.c). */
char *cg_path_join(const char *a, const char *b);
int cg_open_ro(const char *dir, const char *file);
int cg_open_at_ro(int dirfd, const char *file);
int cg_write_file(const char *dir, const char *file, const char *value);
int cg_read_file(const char *path, char **ret);
/* pread at offset 0 into buf (NUL-terminated); returns the length. */
ssize_t cg_pread_fd(int fd, char *buf, size_t size);
/* Unsigned decimal or "max" (UINT64_MAX); the v1 unlimited value also maps to UINT64_MAX. */
int cg_parse_limit(const char *s, uint64_t *ret);
int cg_read_limit_fd(int fd, uint64_t *ret);
/* Finds "key value\n" in a flat-keyed file's text. */
int cg_keyed_get(const char *text, const char *key, uint64_t *ret);
uint64_t cg_read_memtotal(const char *sysroot);
/* Counts lines of a cgroup.procs fd without allocating. */
int cg_count_procs_fd(int fd, uint32_t *ret);
int cg_list_procs_fd(int fd, pid_t **ret, size_t *ret_n);
bool cg_controller_listed(const char *list, const char *name);
int cg_rmdir_retry(const char *dir);
/* realloc to hold need elements of size, doubling (first: the initial count); NULL on ENOMEM, p kept. */
void *cg_grow(void *p, size_t *cap, size_t need, size_t size, size_t first);
/* read() of a small file into buf (NUL-terminated); returns the length. */
int cg_read_small(const char *path, char *buf, size_t size);
/* /proc/<pid>/stat under sysroot; returns what follows the comm's last ')' (" S ppid ..."), or NULL. */
const char *cg_proc_stat(const char *sysroot, pid_t pid, char *buf, size_t size);
char *cg_strdup_printf(const char *fmt, ...) _printf_(1, 2);
void cg_set_msg(char **reterr_msg, const char *fmt, ...) _printf_(2, 3);

/* Leftovers of dead instances (cgroup-leftover.c). cg_lock_leaf() takes the instance lock on dir, a
 * leaf we just created, and keeps its fd in cg->fd[slot] (dropped with the other fds at cg_free).
 * cg_sweep_leftovers() removes, with one log line each, the empty "oomless-<pid>..." leaves in parent
 * whose instance is gone; a populated one is logged and left, a live instance's never touched. */
int cg_lock_leaf(Cg *cg, CgFd slot, const char *dir);
void cg_sweep_leftovers(const char *parent);

/* libcgroup wrappers (cgroup-lib.c). name is relative to the controller's mount ("/a/b"). */
typedef struct CgSetting {
        const char *key;
        const char *value;
} CgSetting;
int cg_lib_init(void);
int cg_lib_create(const char *controller, const char *name, const CgSetting *settings, size_t n);
int cg_lib_set(const char *controller, const char *name, const char *key, const char *value);
int cg_lib_attach(const char *controller, const char *name, pid_t pid);
const char *cg_lib_strerror(int r);

/* The sampling table and what it drives (cgroup-files.c). */
/* Opens the flavour's files in dir and every ancestor's limit file up to mount; fails only when a
 * required file cannot be opened. */
int cg_files_open(Cg *cg, CgFiles files, const char *dir, const char *mount);
/* Opens the unified-tree files (memory.pressure, cgroup.events) of dir. */
void cg_files_open_unified(Cg *cg, const char *dir);
/* Fills f from the held fds following the flavour's rows of the table, then the ancestors' limits. */
int cg_files_sample(Cg *cg, CgFiles files, CgFigures *f);
/* The held memory.high/memory.max (or their v1 stand-ins). */
int cg_files_get_limit(Cg *cg, bool high, uint64_t *ret);
/* Effective limit above a directory: min of the limit files in it and every ancestor up to mount. */
int cg_limit_above(CgFiles files, const char *dir, const char *mount, uint64_t memtotal, uint64_t *ret);

/* Shared by the backends (cgroup-util.c). */
/* Members of the Cg with sig, cgroup.kill first when CG_CAP_KILL (see cg_kill_all). */
int cg_kill_members(Cg *cg, int sig);
/* Removes a directory we created, logging a failure. */
void cg_remove_created(char *dir, bool *created);
/* Writes "pid\n"-style values: "max" or decimal (v2), "-1" or decimal (v1). */
char *cg_format_v1_limit(char *buf, size_t n, uint64_t v);

/* Observe in run mode: our own cgroup, opened as attach would (the backend's setup_attach). */
int cg_observe_setup_run(Cg *cg, const CgOptions *opts, const CgHost *h, char **reterr_msg);
/* The observe half of a backend table: the readers come from the v2 or v1 backend. */
#define CG_OBSERVE_OPS                                                                                      \
        .name = "observe", .caps = CG_CAP_PSI | CG_CAP_KILL | CG_CAP_EVENTS | CG_CAP_SWAP,                  \
        .populated = CG_POPULATED_COUNT, .self_inside = true, .setup_run = cg_observe_setup_run

/* Per-flavour code. */
int cg_proc_list(Cg *cg, pid_t **ret, size_t *ret_n);

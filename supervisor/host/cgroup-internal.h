/* SPDX-License-Identifier: MIT */
/* Shared between the cgroup*.c files only: the Cg object, what detection learnt about the host, and
 * the small cgroupfs/proc helpers. Nothing outside supervisor/cgroup*.c includes this. */
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
} CgHost;

int cg_host_load(const char *sysroot, pid_t pid, CgHost *ret);
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

struct Cg {
        CgTier tier;
        CgFiles files;
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
        bool leaf_created, uni_created, sup_created, moved_self;
        char enabled_ctrls[64]; /* v2: controllers we switched on in orig_dir (space separated) */

        int leaf_dirfd;
        int join_fds[CG_JOIN_MAX + 1];

        /* Hot-path fds held from setup; -EBADF when the file does not exist. */
        int fd_current, fd_peak, fd_stat, fd_events, fd_pressure, fd_high, fd_max, fd_swap;
        int fd_procs, fd_cgevents, fd_oom_control, fd_failcnt, fd_memsw_failcnt, fd_kill;
        int fd_eventfd; /* v1: eventfd registered on memory.oom_control */
        int *anc_fds;   /* limit files of the ancestors of the leaf (nearest first) */
        size_t n_anc;

        /* tier none */
        pid_t tree_root;
        bool tree_include_root;
        uint64_t tree_limit;

        bool warned_high_v1;
};

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
char *cg_strdup_printf(const char *fmt, ...) _printf_(1, 2);
void cg_set_msg(char **reterr_msg, const char *fmt, ...) _printf_(2, 3);
uint64_t cg_now_usec(void);

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

/* Per-flavour code. */
int cg_v2_setup_run(Cg *cg, const CgOptions *opts, const CgHost *h, char **reterr_msg);
int cg_v1_setup_run(Cg *cg, const CgOptions *opts, const CgHost *h, char **reterr_msg);
int cg_v2_open_files(Cg *cg, const char *dir, const char *mount, char **reterr_msg);
int cg_v1_open_files(Cg *cg, const char *dir, const char *mount, char **reterr_msg);
int cg_v2_sample(Cg *cg, OomlessSample *s);
int cg_v1_sample(Cg *cg, OomlessSample *s);
int cg_v1_attach_unified(Cg *cg, const CgHost *h);
void cg_v2_teardown(Cg *cg);
void cg_v1_teardown(Cg *cg);
int cg_proc_sample(Cg *cg, OomlessSample *s);
int cg_proc_list(Cg *cg, pid_t **ret, size_t *ret_n);
/* Effective limit above a directory: min of the limit files in it and every ancestor up to mount. */
int cg_limit_above(CgFiles files, const char *dir, const char *mount, uint64_t memtotal, uint64_t *ret);
void cg_sample_psi(Cg *cg, OomlessSample *s);

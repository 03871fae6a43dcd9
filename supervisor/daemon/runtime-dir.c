/* SPDX-License-Identifier: MIT */
/* The runtime directory: checks it, creates and removes one instance's directory under it, and removes
 * those of instances that are gone. Only *at() calls relative to fds opened with O_NOFOLLOW, so a
 * symlink is removed as a link and never followed, and nothing on another file system is entered. */
#define _GNU_SOURCE 1
#include "runtime-dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance.h"
#include "log.h"

/* Deeper than anything oomless creates (nothing: its directory holds files only); what a workload
 * nests deeper is left, and the rmdir of its parent then fails and is logged. */
#define REMOVE_DEPTH_MAX 8

static int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

/* Removes every entry of the directory dir_fd, without following links: a symlink goes as a link,
 * a subdirectory is entered through an O_NOFOLLOW fd and only when it is on the same file system
 * (a mount point inside is left alone). Returns the first error, going on past it. */
static int remove_contents(int dir_fd, int depth)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct stat top;
        int fd, r = 0;

        if (fstat(dir_fd, &top) < 0)
                return negative_errno();
        /* fdopendir() takes the fd; a fresh one leaves the caller's alone. */
        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                struct stat st;
                int k = 0;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* gone meanwhile */
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = -EBADF;
                        if (st.st_dev != top.st_dev || depth >= REMOVE_DEPTH_MAX)
                                k = -EXDEV;
                        else {
                                sub = openat(dir_fd, de->d_name,
                                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                k = sub < 0 ? negative_errno() : remove_contents(sub, depth + 1);
                        }
                        if (k >= 0 && unlinkat(dir_fd, de->d_name, AT_REMOVEDIR) < 0)
                                k = negative_errno();
                } else if (unlinkat(dir_fd, de->d_name, 0) < 0)
                        k = negative_errno();
                if (k < 0 && k != -ENOENT && r == 0)
                        r = k;
        }
        return r;
}

/* Our rule for the runtime directory, the one systemd applies to runtime directories: nobody but us
 * (or root, who can do anything anyway) may replace the names in it. */
static int check_base(int fd, const char *path)
{
        struct stat st;
        uid_t me = geteuid();

        if (fstat(fd, &st) < 0)
                return log_error_errno(negative_errno(), "Cannot stat the runtime directory %s: %m", path);
        if (st.st_uid != me && st.st_uid != 0)
                return log_error_errno(
                    -EPERM,
                    "Refusing the runtime directory %s: it belongs to uid %u, not to us (uid %u) or root, "
                    "so "
                    "its owner could plant links where oomless removes files. Use a directory of your own "
                    "(--runtime-dir or $OOMLESS_RUNTIME_DIR, e.g. $XDG_RUNTIME_DIR/oomless).",
                    path, (unsigned)st.st_uid, (unsigned)me);
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
                return log_error_errno(
                    -EPERM,
                    "Refusing the runtime directory %s: its mode %04o lets group or others replace the "
                    "entries in it, and it has no sticky bit. Run 'chmod go-w %s' (or 'chmod +t'), or use "
                    "another --runtime-dir.",
                    path, (unsigned)(st.st_mode & 07777), path);
        return 0;
}

/* Removes <base>/<name>, a directory of ours whose instance is gone, through dir_fd. */
static int remove_instance_dir(int base_fd, const char *name, int dir_fd)
{
        int r = remove_contents(dir_fd, 0);
        if (unlinkat(base_fd, name, AT_REMOVEDIR) < 0)
                return negative_errno();
        return r;
}

/* The runtime directories of instances that are gone: ours (by owner), named by a pid, a directory
 * (a symlink under such a name is left: we never made one), not locked. */
static void sweep_leftovers(RuntimeDir *rd, const char *base)
{
        _cleanup_closedir_ DIR *d = NULL;
        int fd;

        fd = openat(rd->base_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
                safe_close(fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_close_ int dfd = -EBADF;
                struct stat st;
                pid_t pid;
                int r;

                if (instance_rundir_name_parse(de->d_name, &pid) < 0 || streq(de->d_name, rd->name))
                        continue;
                if (fstatat(rd->base_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    st.st_uid != geteuid())
                        continue;
                dfd = openat(rd->base_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dfd < 0 || instance_may_be_alive(dfd, pid))
                        continue;
                r = remove_instance_dir(rd->base_fd, de->d_name, dfd);
                if (r < 0)
                        log_warning_errno(
                            r, "Cannot remove %s/%s, left behind by oomless %d, which is gone: %m", base,
                            de->d_name, (int)pid);
                else
                        log_info("Removed %s/%s, left behind by oomless %d, which is gone.", base,
                                 de->d_name, (int)pid);
        }
}

int runtime_dir_create(const char *runtime_dir, RuntimeDir **ret)
{
        _cleanup_(runtime_dir_freep) RuntimeDir *rd = NULL;
        struct stat st;
        int r;

        r = mkdir_p(runtime_dir, 0755);
        if (r < 0)
                return log_error_errno(
                    r,
                    "Cannot create the runtime directory %s: %m (pass --runtime-dir or set "
                    "$OOMLESS_RUNTIME_DIR to a writable directory)",
                    runtime_dir);
        rd = calloc(1, sizeof(*rd));
        if (!rd)
                return log_error_errno(-ENOMEM, "Out of memory");
        rd->fd = -EBADF;
        /* The path the user named is followed; what it leads to is checked, and used through the fd. */
        rd->base_fd = open(runtime_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rd->base_fd < 0)
                return log_error_errno(negative_errno(), "Cannot open the runtime directory %s: %m",
                                       runtime_dir);
        r = check_base(rd->base_fd, runtime_dir);
        if (r < 0)
                return r;
        /* Before ours exists: what killed instances left (ours has a fresh name, never among them). */
        sweep_leftovers(rd, runtime_dir);
        /* A directory of our own, never one that exists (another instance with our pid in another pid
         * namespace, or something planted): mkdirat fails on EEXIST and a fresh nonce is tried. */
        for (int tries = 0;; tries++) {
                InstanceId id;

                instance_id_new(&id);
                r = instance_rundir_name(rd->name, sizeof(rd->name), &id);
                if (r < 0)
                        return log_error_errno(r, "Cannot name the instance directory: %m");
                free(rd->path);
                if (asprintf(&rd->path, "%s/%s", runtime_dir, rd->name) < 0) {
                        rd->path = NULL;
                        return log_error_errno(-ENOMEM, "Out of memory");
                }
                if (mkdirat(rd->base_fd, rd->name, 0755) >= 0)
                        break;
                if (errno != EEXIST || tries + 1 >= INSTANCE_NAME_TRIES)
                        return log_error_errno(negative_errno(), "Cannot create %s: %m", rd->path);
                log_debug("%s exists already: trying another name", rd->path);
        }
        rd->fd = openat(rd->base_fd, rd->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rd->fd < 0 || fstat(rd->fd, &st) < 0)
                return log_error_errno(negative_errno(), "Cannot open %s: %m", rd->path);
        rd->dev = st.st_dev;
        rd->ino = st.st_ino;
        r = instance_lock(rd->fd);
        if (r < 0)
                return log_error_errno(r, "Cannot lock %s: %m", rd->path);
        *ret = TAKE_PTR(rd);
        return 0;
}

RuntimeDir *runtime_dir_free(RuntimeDir *rd)
{
        struct stat st;

        if (!rd)
                return NULL;
        if (rd->fd >= 0) {
                /* Through the fd: our directory wherever the workload may have moved it. */
                int r = remove_contents(rd->fd, 0);
                if (r < 0)
                        log_warning_errno(r, "Cannot empty %s: %m", rd->path);
                if (fstatat(rd->base_fd, rd->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        log_warning(
                            "%s is gone: it was moved away while oomless ran; its files are removed.",
                            rd->path);
                else if (st.st_dev != rd->dev || st.st_ino != rd->ino)
                        log_warning("%s was replaced while oomless ran (%s); left alone. Our own directory "
                                    "was moved away and is emptied.",
                                    rd->path, S_ISLNK(st.st_mode) ? "by a symlink" : "by something else");
                else if (unlinkat(rd->base_fd, rd->name, AT_REMOVEDIR) < 0)
                        log_warning_errno(negative_errno(), "Cannot remove %s: %m", rd->path);
        }
        safe_close(rd->fd);
        safe_close(rd->base_fd);
        free(rd->path);
        free(rd);
        return NULL;
}

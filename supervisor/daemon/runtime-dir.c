/* SPDX-License-Identifier: MIT */
/* The runtime directory: creates and removes one instance's directory under the runtime dir. */
#define _GNU_SOURCE 1
#include "runtime-dir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"

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

/* The socket, the control page and the FIFO: files only. */
void runtime_dir_remove(const char *dir)
{
        _cleanup_closedir_ DIR *d = NULL;

        if (!dir)
                return;
        d = opendir(dir);
        if (d)
                for (struct dirent *de; (de = readdir(d));) {
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        (void)unlinkat(dirfd(d), de->d_name, 0);
                }
        (void)rmdir(dir);
}

int runtime_dir_create(const char *runtime_dir, char **ret_instance_dir)
{
        char buf[PATH_MAX];
        int r;

        r = mkdir_p(runtime_dir, 0755);
        if (r < 0)
                return log_error_errno(
                    r,
                    "Cannot create the runtime directory %s: %m (pass --runtime-dir or set "
                    "$OOMLESS_RUNTIME_DIR to a writable directory)",
                    runtime_dir);
        snprintf(buf, sizeof(buf), "%s/%d", runtime_dir, (int)getpid());
        /* A directory with our pid is a leftover of a dead instance: ours now. */
        runtime_dir_remove(buf);
        if (mkdir(buf, 0755) < 0)
                return log_error_errno(negative_errno(), "Cannot create %s: %m", buf);
        *ret_instance_dir = strdup(buf);
        if (!*ret_instance_dir)
                return log_error_errno(-ENOMEM, "Out of memory");
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* The runtime directory: <runtime>/<pid>/ holds one instance's status socket, control page and wake
 * FIFO. Everything is done through directory fds: a name the workload (or another user) replaced by
 * a symlink is never followed, and what is removed is only ever inside our own directory. */
#pragma once

#include <sys/stat.h>

#include "macro.h"

typedef struct RuntimeDir {
        int base_fd; /* the runtime directory, checked (runtime_dir_create) */
        int fd;      /* our instance directory, holding the instance lock (instance.h) */
        dev_t dev;   /* ... and its identity, to tell it from whatever may later take its name */
        ino_t ino;
        char name[32]; /* "<pid>-<nonce>" (instance.h) */
        char *path;    /* <runtime>/<pid>, for the files others create in it before the workload starts */
} RuntimeDir;

/* Creates runtime_dir (and its parents) and checks it: a directory owned by us or root, not writable
 * by group or others unless sticky (see docs/design.md, "Trust boundaries"). Removes the runtime
 * directories of instances that are gone (one log line each), takes over a leftover of a dead
 * instance with our pid, removes a symlink (never its target) planted under our name, and creates
 * <runtime_dir>/<our pid>. Refusals and errors are logged with the path, the reason and the way out;
 * the caller exits 125. */
int runtime_dir_create(const char *runtime_dir, RuntimeDir **ret);

/* Empties our instance directory through its fd, removes its name when it still names our directory
 * (logged when it no longer does), closes, frees. NULL-safe, returns NULL. */
RuntimeDir *runtime_dir_free(RuntimeDir *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(RuntimeDir *, runtime_dir_free)

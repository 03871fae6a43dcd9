/* SPDX-License-Identifier: MIT */
/* What one oomless instance leaves on the system and how a later instance tells a live one's from a
 * dead one's: the one place that builds and parses the names (cgroup leaves "oomless-<pid>" and
 * "oomless-<pid>-<role>", runtime directories "<pid>"), and the lock a live instance holds on each
 * directory it created. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define INSTANCE_LEAF_PREFIX "oomless-"

/* "oomless-<pid>" (role NULL) or "oomless-<pid>-<role>" into buf. -ENAMETOOLONG when it does not fit. */
int instance_leaf_name(char *buf, size_t size, pid_t pid, const char *role);
/* The pid a leaf name carries: 0, or -EINVAL when the name is not one instance_leaf_name() makes. */
int instance_leaf_name_parse(const char *name, pid_t *ret_pid);
/* The runtime directory's "<pid>": 0, or -EINVAL. */
int instance_rundir_name_parse(const char *name, pid_t *ret_pid);

/* Takes the instance lock on a directory fd (flock LOCK_EX, not waiting). A live instance holds it on
 * every directory it created, until it exits or is killed: the kernel drops it with the last fd, so
 * it tells a dead instance from a live one even when the pid was reused or belongs to another pid
 * namespace. 0, -EWOULDBLOCK when another open file holds it, or another negative errno. */
int instance_lock(int dir_fd);

/* Whether the instance that created dir_fd (named by pid) may still be alive: another process holds
 * the lock, or pid is alive and started before the directory was made (an instance between creating
 * it and locking it). A pid that started later was reused. When it returns false, the caller holds the
 * lock through dir_fd. */
bool instance_may_be_alive(int dir_fd, pid_t pid);

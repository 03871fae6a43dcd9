/* SPDX-License-Identifier: MIT */
/* What one oomless instance leaves on the system and how a later instance tells a live one's from a
 * dead one's: the one place that builds and parses the names, and the lock a live instance holds on
 * each directory it created. An instance is named by its pid and a random 32-bit nonce, because two
 * instances may share a pid (each PID 1 of its own container) and a cgroup parent or a runtime
 * directory: cgroup leaves "oomless-<pid>-<8 hex>" and "oomless-<pid>-<8 hex>-<role>", runtime
 * directories "<pid>-<8 hex>". The names of older versions ("oomless-<pid>", "oomless-<pid>-<role>",
 * "<pid>") are still parsed, so their leftovers are swept too. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define INSTANCE_LEAF_PREFIX "oomless-"
/* How many fresh nonces a creator tries when a name exists already (never reused). */
#define INSTANCE_NAME_TRIES 8

typedef struct InstanceId {
        pid_t pid;
        uint32_t nonce;
} InstanceId;

/* Our pid and a fresh random nonce (getrandom, never blocking; the clock when it has no entropy yet). */
void instance_id_new(InstanceId *ret);

/* "oomless-<pid>-<nonce>" (role NULL) or "oomless-<pid>-<nonce>-<role>" into buf. -ENAMETOOLONG when it
 * does not fit. */
int instance_leaf_name(char *buf, size_t size, const InstanceId *id, const char *role);
/* The pid a leaf name carries (new or old form): 0, or -EINVAL when the name is not ours. */
int instance_leaf_name_parse(const char *name, pid_t *ret_pid);
/* The runtime directory's "<pid>-<nonce>" into buf; -ENAMETOOLONG. */
int instance_rundir_name(char *buf, size_t size, const InstanceId *id);
/* The pid a runtime directory name carries ("<pid>-<nonce>" or the old "<pid>"): 0, or -EINVAL. */
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

/* Reads /proc/PID/NAME (a small file: what fits in size - 1 bytes) into buf, NUL-terminated. Returns
 * its length, -EIO where it is empty, or a negative errno. */
int instance_read_proc_file(pid_t pid, const char *name, char *buf, size_t size);

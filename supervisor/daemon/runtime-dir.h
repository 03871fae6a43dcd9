/* SPDX-License-Identifier: MIT */
/* The runtime directory: <runtime>/<pid>/ holds one instance's status socket, control page and wake
 * FIFO. */
#pragma once

/* Creates runtime_dir (and its parents) and <runtime_dir>/<our pid>, taking over a leftover of a dead
 * instance with our pid. Errors are logged. */
int runtime_dir_create(const char *runtime_dir, char **ret_instance_dir);
/* Removes what we put in the instance directory and the directory. NULL-safe. */
void runtime_dir_remove(const char *instance_dir);

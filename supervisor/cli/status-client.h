/* SPDX-License-Identifier: MIT */
/* `oomless status`, the command line's half: reads a running instance's status socket and prints it. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* `oomless status [--pid PID] [--json]`: returns the process exit status (0, 1 when nothing
 * answers, 2 when the instance is ambiguous). */
int status_client(const char *runtime_dir, pid_t pid, bool json);

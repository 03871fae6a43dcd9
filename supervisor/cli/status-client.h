/* SPDX-License-Identifier: MIT */
/* `oomless status`, the command line's half: reads a running instance's status socket and prints it. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

/* `oomless status [--pid PID] [--json]`: returns the process exit status (0, 1 when nothing
 * answers). Without a pid: the only instance, or all of them (a list; with json an array). */
int status_client(const char *runtime_dir, pid_t pid, bool json);
/* The human form of one status document, which may hold anything: values of the wrong type or out
 * of range print as "-", strings lose their control characters. */
void status_print_human(FILE *f, const cJSON *root);

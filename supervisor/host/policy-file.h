/* SPDX-License-Identifier: MIT */
/* Loading a policy from a file: the only place that does I/O for the policy engine. */
#pragma once

#include <stdio.h>

#include "policy.h"

/* Reads path (a regular file of at most POLICY_FILE_SIZE_MAX bytes, UTF-8) and parses it. Returns 0
 * with *ret_policy, -EINVAL with *diags filled when the file or the policy is invalid (file-level
 * problems such as "is a directory" or "No such file" are diagnostics too, so callers print one
 * list), or another negative errno on OOM. diags must be zero-initialized. Does not log. */
int policy_load_file(const char *path, Policy **ret_policy, PolicyDiags *diags);

/* Writes every diagnostic to f, one line each, prefixed with filename (may be NULL), plus a line
 * saying how many were dropped if any. */
void policy_diags_print(FILE *f, const char *filename, const PolicyDiags *diags);

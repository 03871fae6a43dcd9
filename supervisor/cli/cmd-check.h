/* SPDX-License-Identifier: MIT */
/* `oomless check`: validate a policy file, print it normalized, or print the built-in default. */
#pragma once

/* argv[0] is "check". Returns the process exit status: 0 valid, 2 invalid or usage error, 1 on
 * internal failure (OOM, write error). */
int cmd_check(int argc, char **argv);

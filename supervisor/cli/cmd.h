/* SPDX-License-Identifier: MIT */
/* The subcommands of the oomless binary and their shared option parsing. Each cmd_* returns the
 * process exit status. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "manager.h"

/* Usage errors: `run`/`attach` exit 125 (the workload's statuses keep 1..124 free), the others 2. */
#define CMD_EXIT_USAGE_SUPERVISE 125
#define CMD_EXIT_USAGE           2

int cmd_status(int argc, char **argv);

void cmd_help_main(FILE *f);
void cmd_help_run(FILE *f);
void cmd_help_attach(FILE *f);
void cmd_help_status(FILE *f);
/* The option lines run and attach share (cmd-common.c): the cgroup ones, then the rest. */
void cmd_help_cgroup_options(FILE *f);
void cmd_help_common_options(FILE *f);

/* Parses the options shared by run and attach into *cfg; returns the index of the first operand,
 * -1 for a usage error (already reported), or -2 after printing --help. */
int cmd_parse_supervise(int argc, char **argv, ManagerMode mode, ManagerConfig *cfg);
/* `oomless run` and `oomless attach`: parses the options, becomes the subreaper (run), runs the
 * manager to the end and returns the exit status. */
int cmd_supervise_main(int argc, char **argv, ManagerMode mode);
/* $OOMLESS_RUNTIME_DIR or the default. */
const char *cmd_default_runtime_dir(void);

/* SPDX-License-Identifier: MIT */
/* `oomless status [--pid PID] [--json] [--runtime-dir DIR]`: print a running instance's state. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>

#include "cmd.h"
#include "status-client.h"

void cmd_help_status(FILE *f)
{
        fputs("Usage: oomless status [--pid PID] [--json] [--runtime-dir DIR]\n"
              "Print the live state of a running oomless: command, tier, leaf, limits, memory, PSI,\n"
              "events, child, policy stage. Without --pid: the only running instance in full, or, when\n"
              "several run, each one's stage, command line and leaf (with --json, an array).\n"
              "\n"
              "  --pid=PID          the supervisor's pid (the directory name under the runtime dir)\n"
              "  --json             one JSON object (an array of them for several instances)\n"
              "  --runtime-dir=DIR  default $OOMLESS_RUNTIME_DIR or /run/oomless\n"
              "  -h, --help         this text\n"
              "\n"
              "Exit status: 0, 1 when no instance answers, 2 on misuse.\n",
              f);
}

int cmd_status(int argc, char **argv)
{
        static const struct option opts[] = {
                { "help", no_argument, NULL, 'h' },
                { "pid", required_argument, NULL, 'p' },
                { "json", no_argument, NULL, 'j' },
                { "runtime-dir", required_argument, NULL, 'r' },
                {},
        };
        const char *runtime_dir = cmd_default_runtime_dir();
        bool json = false;
        pid_t pid = 0;
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        cmd_help_status(stdout);
                        return 0;
                case 'p': {
                        char *end;
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || *end || end == optarg || v <= 0 || v > INT32_MAX) {
                                fprintf(stderr,
                                        "oomless status: --pid: invalid value '%s' (expected a process id, "
                                        "a positive integer)\n",
                                        optarg);
                                return CMD_EXIT_USAGE;
                        }
                        pid = (pid_t)v;
                        break;
                }
                case 'j':
                        json = true;
                        break;
                case 'r':
                        if (optarg[0] != '/') {
                                fprintf(stderr,
                                        "oomless status: --runtime-dir: invalid value '%s' (expected an "
                                        "absolute directory path)\n",
                                        optarg);
                                return CMD_EXIT_USAGE;
                        }
                        runtime_dir = optarg;
                        break;
                default:
                        fprintf(stderr,
                                "oomless status: option %s is unknown or needs a value (see oomless status "
                                "--help)\n",
                                argv[optind - 1]);
                        return CMD_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "oomless status: unexpected argument '%s'\n", argv[optind]);
                return CMD_EXIT_USAGE;
        }
        return status_client(runtime_dir, pid, json);
}

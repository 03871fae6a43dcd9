/* SPDX-License-Identifier: MIT */
/* The oomless binary: picks the subcommand and sets up what every one of them needs. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "reaper.h"
#include "cmd-check.h"

void cmd_help_main(FILE *f)
{
        fputs("Usage: oomless COMMAND [OPTIONS]\n"
              "Supervise a workload's memory: staged degrade, scavenge and restart before the kernel "
              "OOM-kills it.\n"
              "\n"
              "Commands:\n"
              "  run [OPTIONS] -- CMD [ARGS...]   start CMD in its own cgroup leaf and supervise it\n"
              "  attach (--pid PID | --cgroup PATH) [OPTIONS]\n"
              "                                   supervise a workload oomless did not start\n"
              "  status [--pid PID] [--json]      show a running instance's live state\n"
              "  check [OPTIONS] FILE             validate a policy file\n"
              "  help [COMMAND]                   show help\n"
              "\n"
              "  -h, --help      this text\n"
              "  --version       print the version\n"
              "\n"
              "See oomless(1) and `oomless help COMMAND`.\n",
              f);
}

static int help(const char *what)
{
        if (!what)
                cmd_help_main(stdout);
        else if (streq(what, "run"))
                cmd_help_run(stdout);
        else if (streq(what, "attach"))
                cmd_help_attach(stdout);
        else if (streq(what, "status"))
                cmd_help_status(stdout);
        else if (streq(what, "check")) {
                char *av[] = { (char *)"check", (char *)"--help", NULL };
                return cmd_check(2, av);
        } else {
                fprintf(stderr, "oomless help: unknown command '%s' (one of run, attach, status, check)\n",
                        what);
                return CMD_EXIT_USAGE;
        }
        return 0;
}

/* $name's value through parse, or negative where it is unset, empty or (said on stderr, before any
 * log is set up) invalid: a bad variable is ignored, not fatal. */
static int env_choice(const char *name, int (*parse)(const char *s), const char *expected)
{
        const char *v = getenv(name);
        int r;

        if (!v || !*v)
                return -ENOENT;
        r = parse(v);
        if (r < 0)
                fprintf(stderr, "oomless: $%s: invalid value '%s' (expected %s), ignoring\n", name, v,
                        expected);
        return r;
}

int main(int argc, char **argv)
{
        int level, format;
        const char *cmd;

        /* Before anything else: signals arrive through sd-event only, never asynchronously. */
        if (reaper_block_signals() < 0)
                return WORKLOAD_EXIT_FAILURE;
        level =
            env_choice("OOMLESS_LOG_LEVEL", log_level_from_string, "debug, info, notice, warning or error");
        if (level >= 0)
                log_set_max_level((LogLevel)level);
        format = env_choice("OOMLESS_LOG_FORMAT", log_format_from_string, "text or json");
        if (format >= 0)
                log_set_format((LogFormat)format);

        if (argc < 2) {
                cmd_help_main(stderr);
                return CMD_EXIT_USAGE;
        }
        cmd = argv[1];
        if (streq(cmd, "-h") || streq(cmd, "--help")) {
                cmd_help_main(stdout);
                return 0;
        }
        if (streq(cmd, "--version") || streq(cmd, "version")) {
                printf("oomless %s\n", OOMLESS_VERSION);
                return 0;
        }
        if (streq(cmd, "help"))
                return help(argc > 2 ? argv[2] : NULL);
        if (streq(cmd, "run"))
                return cmd_supervise_main(argc - 1, argv + 1, MANAGER_RUN);
        if (streq(cmd, "attach"))
                return cmd_supervise_main(argc - 1, argv + 1, MANAGER_ATTACH);
        if (streq(cmd, "status"))
                return cmd_status(argc - 1, argv + 1);
        if (streq(cmd, "check"))
                return cmd_check(argc - 1, argv + 1);
        fprintf(
            stderr,
            "oomless: unknown command '%s' (one of run, attach, status, check, help; see oomless --help)\n",
            cmd);
        return CMD_EXIT_USAGE;
}

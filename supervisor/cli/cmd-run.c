/* SPDX-License-Identifier: MIT */
/* `oomless run [OPTIONS] -- CMD [ARGS...]`: supervise a command started in its own cgroup leaf. Its
 * help; the options are parsed and the manager run in cmd-common.c. */
#define _GNU_SOURCE 1
#include "cmd.h"

void cmd_help_run(FILE *f)
{
        fputs(
            "Usage: oomless run [OPTIONS] [--] CMD [ARGS...]\n"
            "Start CMD in its own cgroup leaf and supervise its memory.\n"
            "\n"
            "  --memory-max=SIZE       hard limit: 512M, 80% of the effective limit, or max\n"
            "  --memory-high=SIZE      throttling limit (v2; same forms)\n"
            "  --memory-swap-max=SIZE  swap limit (same forms)\n"
            "  --oom-group             the kernel OOM killer kills the whole leaf (v2)\n"
            "  --stop-timeout=DUR      grace after SIGTERM/SIGINT before SIGKILL (default 10s)\n"
            "  --stop-delay=DUR        on SIGTERM/SIGINT, answer /readyz 503 at once and pass the signal "
            "on\n"
            "                          after DUR (load balancers drain first; a second signal: at once)\n"
            "  --forward-hup           forward SIGHUP to CMD instead of reloading the policy\n"
            "  --success-exit=CODE[,CODE...]  exit 0 when CMD exits with one of these statuses\n"
            "                          (e.g. 143: CMD ends by its SIGTERM; repeatable)\n"
            "  --keep-on-supervisor-death  let CMD live on if oomless is killed (default: it gets SIGKILL)\n"
            "  --no-preload            do not LD_PRELOAD liboomless.so into CMD\n",
            f);
        cmd_help_cgroup_options(f);
        cmd_help_common_options(f);
        fputs(
            "\n"
            "Exit status: CMD's own, 128+N when CMD died of signal N, 124 when the restart policy gave up,\n"
            "125 when oomless failed or was misused, 126 when CMD is not executable, 127 when not found.\n"
            "See oomless(1).\n",
            f);
}

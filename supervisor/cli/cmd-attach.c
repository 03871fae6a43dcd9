/* SPDX-License-Identifier: MIT */
/* `oomless attach (--pid PID | --cgroup PATH | --wait SPEC) [OPTIONS]`: supervise a workload oomless
 * did not start. Its help; the options are parsed and the manager run in cmd-common.c. */
#define _GNU_SOURCE 1
#include "cmd.h"

void cmd_help_attach(FILE *f)
{
        fputs("Usage: oomless attach (--pid PID | --cgroup PATH | --wait SPEC) [OPTIONS]\n"
              "Supervise a running workload: the cgroup of PID (from /proc/PID/cgroup), or PATH.\n"
              "Nothing is created or moved; oomless ends when the target exits or its cgroup empties,\n"
              "unless --follow. A cgroup not visible here (another cgroup namespace) is read through\n"
              "/proc/PID/root/sys/fs/cgroup, read-only.\n"
              "\n"
              "  --pid=PID               the process to follow; ends when it exits\n"
              "  --cgroup=PATH           the cgroup, absolute or relative to the cgroupfs mount\n"
              "  --wait=SPEC             wait for the target to appear: comm:NAME (exact /proc/PID/comm),\n"
              "                          cmdline:TEXT (in the command line), pidfile:PATH, or\n"
              "                          control:PATH (the pid an allocator published in that page);\n"
              "                          the status socket and --listen are up meanwhile (/readyz: 503)\n"
              "  --wait-timeout=DUR      give up waiting after DUR (default: wait forever)\n"
              "  --follow                when the target exits, find its successor by --wait's SPEC and go\n"
              "                          on, keeping the policy state, counters and endpoints\n"
              "  --control-page=PATH     create (or continue) the control page as a file at PATH, for an\n"
              "                          app started with LD_PRELOAD=liboomless.so OOMLESS_CONTROL=PATH\n"
              "                          (and OOMLESS_WAKE=PATH.wake, the FIFO created next to it)\n",
              f);
        cmd_help_cgroup_options(f);
        cmd_help_common_options(f);
        fputs("\n"
              "A restart action sends the stop signal to the target, SIGKILL after its grace, and lets the\n"
              "container runtime start it again; it needs --follow, else it is skipped (said at start).\n"
              "Exit status: 0 when the target ended or oomless was told to stop, 125 on failure or misuse.\n"
              "See oomless(1).\n",
              f);
}

/* SPDX-License-Identifier: MIT */
/* `oomless attach (--pid PID | --cgroup PATH) [OPTIONS]`: supervise a workload oomless did not start.
 * Its help; the options are parsed and the manager run in cmd-common.c. */
#define _GNU_SOURCE 1
#include "cmd.h"

void cmd_help_attach(FILE *f)
{
        fputs(
            "Usage: oomless attach (--pid PID | --cgroup PATH) [OPTIONS]\n"
            "Supervise a running workload: the cgroup of PID (from /proc/PID/cgroup), or PATH.\n"
            "Nothing is created or moved; oomless ends when the target exits or its cgroup empties.\n"
            "\n"
            "  --pid=PID               the process to follow; ends when it exits\n"
            "  --cgroup=PATH           the cgroup, absolute or relative to the cgroupfs mount\n"
            "  --cgroup-mode=MODE      auto (default), v2, v1, observe or none\n"
            "  --memory-limit=SIZE     the limit to supervise against on tier none\n"
            "  --policy=FILE           JSON policy (default: the built-in one)\n"
            "  --dry-run               evaluate the policy, log what would be done, do nothing\n"
            "  --interval=DUR          sampling interval (default: the policy's, else 1s)\n"
            "  --runtime-dir=DIR       where the status socket lives\n"
            "  --cgroup-root=DIR       cgroupfs mount root (default /sys/fs/cgroup)\n"
            "  --listen=ADDR:PORT      serve /metrics, /livez, /readyz, /status over HTTP (loopback)\n"
            "  --listen-public         allow a --listen address other hosts can reach\n"
            "  --k8s-events            post Kubernetes Events about the pod (docs/kubernetes-events.md)\n"
            "  --k8s-condition         keep the pod condition oomless.dev/MemoryHealthy up to date\n"
            "  --log-level=LEVEL       debug, info (default), notice, warning, error\n"
            "  --log-format=FORMAT     text (default) or json: one object per line on stderr\n"
            "  -h, --help              this text\n"
            "\n"
            "Exit status: 0 when the target ended or oomless was told to stop, 125 on failure or misuse.\n",
            f);
}

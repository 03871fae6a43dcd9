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
            "  --cgroup-mode=MODE      auto (default), v2, v1, observe or none\n"
            "  --memory-max=SIZE       hard limit: 512M, 80% of the effective limit, or max\n"
            "  --memory-high=SIZE      throttling limit (v2; same forms)\n"
            "  --memory-swap-max=SIZE  swap limit (same forms)\n"
            "  --oom-group             the kernel OOM killer kills the whole leaf (v2)\n"
            "  --memory-limit=SIZE     the limit to supervise against on tier none\n"
            "  --heap-cap=SIZE         heap cap published to liboomless (default auto: from live figures; "
            "none)\n"
            "  --stop-timeout=DUR      grace after SIGTERM/SIGINT before SIGKILL (default 10s)\n"
            "  --forward-hup           forward SIGHUP to CMD instead of reloading the policy\n"
            "  --keep-on-supervisor-death  let CMD live on if oomless is killed (default: it gets SIGKILL)\n"
            "  --policy=FILE           JSON policy (default: the built-in one)\n"
            "  --dry-run               evaluate the policy, log what would be done, do nothing\n"
            "  --no-preload            do not LD_PRELOAD liboomless.so into CMD\n"
            "  --interval=DUR          sampling interval (default: the policy's, else 1s)\n"
            "  --runtime-dir=DIR       where the status socket lives (default $OOMLESS_RUNTIME_DIR or "
            "/run/oomless)\n"
            "  --cgroup-root=DIR       cgroupfs mount root (default /sys/fs/cgroup)\n"
            "  --listen=ADDR:PORT      serve /metrics, /livez, /readyz, /status over HTTP (loopback)\n"
            "  --listen-public         allow a --listen address other hosts can reach\n"
            "  --log-level=LEVEL       debug, info (default), notice, warning, error\n"
            "  --log-format=FORMAT     text (default) or json: one object per line on stderr\n"
            "  -h, --help              this text\n"
            "\n"
            "Exit status: CMD's own, 128+N when CMD died of signal N, 124 when the restart policy gave up,\n"
            "125 when oomless failed or was misused, 126 when CMD is not executable, 127 when not found.\n"
            "See oomless(1).\n",
            f);
}

/* SPDX-License-Identifier: MIT */
/* Option parsing shared by `oomless run` and `oomless attach`, and the run-to-the-end wrapper around
 * the manager. Every bad argument gets one line naming the option, the value and the accepted form. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "oomless/control.h"
#include "reaper.h"
#include "target.h"
#include "units.h"

enum {
        OPT_CGROUP_MODE = 0x100,
        OPT_MEMORY_MAX,
        OPT_MEMORY_HIGH,
        OPT_MEMORY_SWAP_MAX,
        OPT_OOM_GROUP,
        OPT_STOP_TIMEOUT,
        OPT_FORWARD_HUP,
        OPT_SUCCESS_EXIT,
        OPT_STOP_DELAY,
        OPT_POLICY,
        OPT_DRY_RUN,
        OPT_TICK_ONLY,
        OPT_NO_PRELOAD,
        OPT_LOG_LEVEL,
        OPT_RUNTIME_DIR,
        OPT_INTERVAL,
        OPT_MEMORY_LIMIT,
        OPT_PID,
        OPT_CGROUP,
        OPT_CGROUP_ROOT,
        OPT_HEAP_CAP,
        OPT_KEEP_ON_SUPERVISOR_DEATH,
        OPT_LISTEN,
        OPT_LISTEN_PUBLIC,
        OPT_LOG_FORMAT,
        OPT_WAIT,
        OPT_WAIT_TIMEOUT,
        OPT_FOLLOW,
        OPT_CONTROL_PAGE,
        OPT_K8S_EVENTS = 0x200, /* apart from the others, so new options above merge cleanly */
        OPT_K8S_CONDITION,
};

void cmd_help_cgroup_options(FILE *f)
{
        fputs("  --cgroup-mode=MODE      auto (default), v2, v1, observe or none\n"
              "  --memory-limit=SIZE     the limit to supervise against on tier none\n"
              "  --heap-cap=SIZE         heap cap published to liboomless (default auto: from live figures; "
              "none)\n",
              f);
}

void cmd_help_common_options(FILE *f)
{
        fputs("  --policy=FILE           JSON policy (default: the built-in one)\n"
              "  --dry-run               evaluate the policy, log what would be done, do nothing\n"
              "  --tick-only             decide at the sampling tick only: no threshold events, no\n"
              "                          adaptive interval (for comparison, see bench/reaction)\n"
              "  --interval=DUR          sampling interval (default: the policy's, else 1s)\n"
              "  --runtime-dir=DIR       where the status socket lives (default $OOMLESS_RUNTIME_DIR or "
              "/run/oomless)\n"
              "  --cgroup-root=DIR       cgroupfs mount root (default /sys/fs/cgroup)\n"
              "  --listen=ADDR:PORT      serve /metrics, /livez, /readyz, /status over HTTP (loopback)\n"
              "  --listen-public         allow a --listen address other hosts can reach\n"
              "  --k8s-events            post Kubernetes Events about the pod (docs/kubernetes-events.md)\n"
              "  --k8s-condition         keep the pod condition oomless.dev/MemoryHealthy up to date\n"
              "  --log-level=LEVEL       debug, info (default), notice, warning, error\n"
              "  --log-format=FORMAT     text (default) or json: one object per line on stderr\n"
              "  -h, --help              this text\n",
              f);
}

const char *cmd_default_runtime_dir(void)
{
        const char *e = getenv("OOMLESS_RUNTIME_DIR");
        return e && *e ? e : MANAGER_DEFAULT_RUNTIME_DIR;
}

static int bad(const char *cmd, const char *opt, const char *value, const char *form)
{
        fprintf(stderr, "oomless %s: %s: invalid value '%s' (expected %s)\n", cmd, opt, value, form);
        return -1;
}

static int parse_size_spec_opt(const char *cmd, const char *opt, const char *v, SizeSpec *ret)
{
        if (units_parse_size_spec(v, ret) < 0)
                return bad(cmd, opt, v,
                           "a size like 512M or 1.5G, a percent of the effective limit like 80%, or max");
        return 0;
}

/* --memory-max and --memory-high below this leave no room for the supervisor's own sampling, a shell or
 * the dynamic loader: the workload would be killed or throttled at once. */
#define CLI_LIMIT_FLOOR (UINT64_C(4) << 20)

static int parse_limit_opt(const char *cmd, const char *opt, const char *v, SizeSpec *ret)
{
        if (parse_size_spec_opt(cmd, opt, v, ret) < 0)
                return -1;
        if (!ret->percent && ret->bytes < CLI_LIMIT_FLOOR) {
                fprintf(stderr,
                        "oomless %s: %s: %s is below the 4M minimum: the workload would be killed or "
                        "throttled at once; give at least 4M (sizes take a K, M, G suffix)\n",
                        cmd, opt, v);
                return -1;
        }
        return 0;
}

static int parse_duration_opt(const char *cmd, const char *opt, const char *v, bool allow_zero,
                              uint64_t *ret)
{
        if (units_parse_duration(v, ret) < 0 || (!allow_zero && *ret == 0))
                return bad(cmd, opt, v,
                           allow_zero ? "a duration like 10s, 500ms or 2m"
                                      : "a positive duration like 1s or 250ms");
        return 0;
}

/* --success-exit=CODE[,CODE...]: statuses 1-255 (0 is success already). */
static int parse_success_exit(const char *cmd, const char *v, uint64_t set[4])
{
        const char *p = v;

        for (;;) {
                char *end;
                errno = 0;
                long code = strtol(p, &end, 10);
                if (errno || end == p || !(*p >= '0' && *p <= '9') || code < 1 || code > 255 ||
                    (*end && *end != ','))
                        return bad(cmd, "--success-exit", v,
                                   "exit statuses from 1 to 255, separated by commas (e.g. 143 for a "
                                   "workload that exits by its SIGTERM)");
                set[code / 64] |= UINT64_C(1) << (code % 64);
                if (!*end)
                        return 0;
                p = end + 1;
        }
}

int cmd_parse_supervise(int argc, char **argv, ManagerMode mode, ManagerConfig *cfg)
{
        /* Which options run and attach take: one table, so a shared option is spelled once. */
        enum { RUN = 1 << MANAGER_RUN, ATTACH = 1 << MANAGER_ATTACH, BOTH = RUN | ATTACH };
        static const struct {
                struct option opt;
                unsigned modes;
        } table[] = {
                { { "help", no_argument, NULL, 'h' }, BOTH },
                { { "pid", required_argument, NULL, OPT_PID }, ATTACH },
                { { "cgroup", required_argument, NULL, OPT_CGROUP }, ATTACH },
                { { "cgroup-mode", required_argument, NULL, OPT_CGROUP_MODE }, BOTH },
                { { "memory-max", required_argument, NULL, OPT_MEMORY_MAX }, RUN },
                { { "memory-high", required_argument, NULL, OPT_MEMORY_HIGH }, RUN },
                { { "memory-swap-max", required_argument, NULL, OPT_MEMORY_SWAP_MAX }, RUN },
                { { "oom-group", no_argument, NULL, OPT_OOM_GROUP }, RUN },
                { { "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT }, RUN },
                { { "forward-hup", no_argument, NULL, OPT_FORWARD_HUP }, RUN },
                { { "success-exit", required_argument, NULL, OPT_SUCCESS_EXIT }, RUN },
                { { "stop-delay", required_argument, NULL, OPT_STOP_DELAY }, RUN },
                { { "policy", required_argument, NULL, OPT_POLICY }, BOTH },
                { { "dry-run", no_argument, NULL, OPT_DRY_RUN }, BOTH },
                { { "tick-only", no_argument, NULL, OPT_TICK_ONLY }, BOTH },
                { { "no-preload", no_argument, NULL, OPT_NO_PRELOAD }, RUN },
                { { "log-level", required_argument, NULL, OPT_LOG_LEVEL }, BOTH },
                { { "log-format", required_argument, NULL, OPT_LOG_FORMAT }, BOTH },
                { { "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR }, BOTH },
                { { "interval", required_argument, NULL, OPT_INTERVAL }, BOTH },
                { { "memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT }, BOTH },
                { { "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT }, BOTH },
                { { "heap-cap", required_argument, NULL, OPT_HEAP_CAP }, BOTH },
                { { "wait", required_argument, NULL, OPT_WAIT }, ATTACH },
                { { "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT }, ATTACH },
                { { "follow", no_argument, NULL, OPT_FOLLOW }, ATTACH },
                { { "control-page", required_argument, NULL, OPT_CONTROL_PAGE }, ATTACH },
                { { "keep-on-supervisor-death", no_argument, NULL, OPT_KEEP_ON_SUPERVISOR_DEATH }, RUN },
                { { "listen", required_argument, NULL, OPT_LISTEN }, BOTH },
                { { "listen-public", no_argument, NULL, OPT_LISTEN_PUBLIC }, BOTH },
                { { "k8s-events", no_argument, NULL, OPT_K8S_EVENTS }, BOTH },
                { { "k8s-condition", no_argument, NULL, OPT_K8S_CONDITION }, BOTH },
        };
        struct option opts[ELEMENTSOF(table) + 1] = {};
        size_t n_opts = 0;
        const char *cmd = mode == MANAGER_RUN ? "run" : "attach";
        bool listen_public = false;
        int c;

        *cfg = (ManagerConfig){
                .mode = mode,
                .cg = { .requested = CG_TIER_AUTO,
                        .oom_group = -1,
                        .want_cpu = true,
                        .tree_limit = UINT64_MAX },
                .stop_timeout_usec = MANAGER_DEFAULT_STOP_TIMEOUT_USEC,
                .preload = mode == MANAGER_RUN,
                /* Computed from the live figures (supervise_heap_cap()): the cap is the backstop that
                 * turns a kernel kill into ENOMEM, so it leaves the heap everything the kernel would. */
                .heap_cap_auto = true,
                .runtime_dir = cmd_default_runtime_dir(),
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].modes & (1u << mode))
                        opts[n_opts++] = table[i].opt;

        optind = 0;
        opterr = 0;
        /* '+': the command's own options after the first operand are its, not ours. */
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        if (mode == MANAGER_RUN)
                                cmd_help_run(stdout);
                        else
                                cmd_help_attach(stdout);
                        return -2;
                case OPT_CGROUP_MODE: {
                        CgTier t = cg_tier_from_string(optarg);
                        if (t < 0)
                                return bad(cmd, "--cgroup-mode", optarg,
                                           "one of auto, v2, v1, observe, none");
                        cfg->cg.requested = t;
                        break;
                }
                case OPT_MEMORY_MAX:
                        if (parse_limit_opt(cmd, "--memory-max", optarg, &cfg->cg.memory_max) < 0)
                                return -1;
                        break;
                case OPT_MEMORY_HIGH:
                        if (parse_limit_opt(cmd, "--memory-high", optarg, &cfg->cg.memory_high) < 0)
                                return -1;
                        break;
                case OPT_MEMORY_SWAP_MAX:
                        if (parse_size_spec_opt(cmd, "--memory-swap-max", optarg, &cfg->cg.memory_swap_max) <
                            0)
                                return -1;
                        break;
                case OPT_OOM_GROUP:
                        cfg->cg.oom_group = 1;
                        break;
                case OPT_STOP_TIMEOUT:
                        if (parse_duration_opt(cmd, "--stop-timeout", optarg, true,
                                               &cfg->stop_timeout_usec) < 0)
                                return -1;
                        break;
                case OPT_FORWARD_HUP:
                        cfg->forward_hup = true;
                        break;
                case OPT_STOP_DELAY:
                        if (parse_duration_opt(cmd, "--stop-delay", optarg, true, &cfg->stop_delay_usec) < 0)
                                return -1;
                        if (cfg->stop_delay_usec > 3600 * USEC_PER_SEC)
                                return bad(cmd, "--stop-delay", optarg, "a duration of at most 1h");
                        break;
                case OPT_SUCCESS_EXIT:
                        if (parse_success_exit(cmd, optarg, cfg->success_exit) < 0)
                                return -1;
                        break;
                case OPT_POLICY:
                        if (!*optarg)
                                return bad(cmd, "--policy", optarg, "the path of a policy JSON file");
                        cfg->policy_path = optarg;
                        break;
                case OPT_DRY_RUN:
                        cfg->dry_run = true;
                        break;
                case OPT_TICK_ONLY:
                        cfg->tick_only = true;
                        break;
                case OPT_NO_PRELOAD:
                        cfg->preload = false;
                        break;
                case OPT_LOG_LEVEL: {
                        int l = log_level_from_string(optarg);
                        if (l < 0)
                                return bad(cmd, "--log-level", optarg,
                                           "one of debug, info, notice, warning, error");
                        log_set_max_level((LogLevel)l);
                        break;
                }
                case OPT_LOG_FORMAT: {
                        int f = log_format_from_string(optarg);
                        if (f < 0)
                                return bad(cmd, "--log-format", optarg, "text or json");
                        log_set_format((LogFormat)f);
                        break;
                }
                case OPT_RUNTIME_DIR:
                        if (optarg[0] != '/')
                                return bad(cmd, "--runtime-dir", optarg, "an absolute directory path");
                        cfg->runtime_dir = optarg;
                        break;
                case OPT_INTERVAL:
                        if (parse_duration_opt(cmd, "--interval", optarg, false, &cfg->interval_usec) < 0)
                                return -1;
                        if (cfg->interval_usec < 10 * USEC_PER_MSEC ||
                            cfg->interval_usec > 3600 * USEC_PER_SEC)
                                return bad(cmd, "--interval", optarg, "a duration between 10ms and 1h");
                        break;
                case OPT_MEMORY_LIMIT: {
                        uint64_t v;
                        if (units_parse_size(optarg, &v) < 0 || v == 0)
                                return bad(cmd, "--memory-limit", optarg, "a positive size like 512M");
                        cfg->cg.tree_limit = v;
                        break;
                }
                case OPT_HEAP_CAP:
                        cfg->heap_cap = (SizeSpec){ 0 };
                        cfg->heap_cap_auto = streq(optarg, "auto");
                        if (streq(optarg, "none") || cfg->heap_cap_auto)
                                break;
                        if (units_parse_size_spec(optarg, &cfg->heap_cap) < 0)
                                return bad(cmd, "--heap-cap", optarg,
                                           "a size like 512M, a percent like 95%, auto or none "
                                           "(the allocator's own OOMLESS_HEAP_CAP)");
                        /* The allocator refuses a cap under its floor (every allocation would fail);
                         * a percent is checked against the limit once it is known. */
                        if (!cfg->heap_cap.percent && cfg->heap_cap.bytes < OOMLESS_CONTROL_HEAP_CAP_MIN) {
                                fprintf(stderr,
                                        "oomless %s: --heap-cap: '%s' is under the allocator's floor of "
                                        "4M, below which every allocation would fail\n",
                                        cmd, optarg);
                                return -1;
                        }
                        break;
                case OPT_KEEP_ON_SUPERVISOR_DEATH:
                        cfg->keep_on_supervisor_death = true;
                        break;
                case OPT_LISTEN:
                        if (listen_addr_parse(optarg, &cfg->listen) < 0)
                                return bad(cmd, "--listen", optarg, LISTEN_ADDR_FORM);
                        cfg->listen_set = true;
                        break;
                case OPT_LISTEN_PUBLIC:
                        listen_public = true;
                        break;
                case OPT_K8S_EVENTS:
                        cfg->k8s_events = true;
                        break;
                case OPT_K8S_CONDITION:
                        cfg->k8s_condition = true;
                        break;
                case OPT_CGROUP_ROOT:
                        if (optarg[0] != '/')
                                return bad(cmd, "--cgroup-root", optarg,
                                           "an absolute path of a cgroupfs mount root");
                        cfg->cg.root = optarg;
                        break;
                case OPT_PID: {
                        char *end;
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || *end || end == optarg || v <= 0 || v > INT32_MAX)
                                return bad(cmd, "--pid", optarg, "a process id, a positive integer");
                        cfg->attach_pid = (pid_t)v;
                        break;
                }
                case OPT_WAIT:
                        if (target_spec_parse(optarg, &cfg->wait) < 0)
                                return bad(cmd, "--wait", optarg,
                                           TARGET_SPEC_FORM
                                           " (paths absolute, a comm at most 15 characters)");
                        cfg->wait_set = true;
                        break;
                case OPT_WAIT_TIMEOUT:
                        if (parse_duration_opt(cmd, "--wait-timeout", optarg, false,
                                               &cfg->wait_timeout_usec) < 0)
                                return -1;
                        break;
                case OPT_FOLLOW:
                        cfg->follow = true;
                        break;
                case OPT_CONTROL_PAGE:
                        if (optarg[0] != '/' || optarg[strlen(optarg) - 1] == '/')
                                return bad(cmd, "--control-page", optarg,
                                           "an absolute file path, in a directory shared with the app");
                        cfg->control_page = optarg;
                        break;
                case OPT_CGROUP:
                        if (!*optarg)
                                return bad(
                                    cmd, "--cgroup", optarg,
                                    "a cgroup path, absolute (/sys/fs/cgroup/...) or relative to the mount");
                        cfg->attach_cgroup = optarg;
                        break;
                case '?':
                default:
                        if (optopt)
                                fprintf(stderr,
                                        "oomless %s: option -%c is unknown or needs a value (see oomless %s "
                                        "--help)\n",
                                        cmd, optopt, cmd);
                        else
                                fprintf(stderr,
                                        "oomless %s: option %s is unknown or needs a value (see oomless %s "
                                        "--help)\n",
                                        cmd, argv[optind - 1], cmd);
                        return -1;
                }
        }

        /* After the loop, so the order of --listen and --listen-public does not matter. */
        if (cfg->listen_set && !cfg->listen.loopback && !listen_public) {
                fprintf(stderr,
                        "oomless %s: --listen %s: not a loopback address, so other hosts could read the "
                        "metrics and status; add --listen-public to allow it, or listen on 127.0.0.1\n",
                        cmd, cfg->listen.text);
                return -1;
        }

        if (mode == MANAGER_RUN) {
                if (optind >= argc) {
                        fprintf(stderr, "oomless run: no command given (usage: oomless run [OPTIONS] -- CMD "
                                        "[ARGS...])\n");
                        return -1;
                }
                cfg->argv = argv + optind;
        } else {
                if (optind < argc) {
                        fprintf(stderr,
                                "oomless attach: unexpected argument '%s' (attach takes no command; see "
                                "oomless attach --help)\n",
                                argv[optind]);
                        return -1;
                }
                if ((cfg->attach_pid > 0) + (cfg->attach_cgroup != NULL) + cfg->wait_set != 1) {
                        fprintf(stderr, "oomless attach: give exactly one of --pid PID, --cgroup PATH or "
                                        "--wait SPEC (they are alternatives)\n");
                        return -1;
                }
                if (cfg->follow && !cfg->wait_set) {
                        fprintf(stderr, "oomless attach: --follow needs --wait=SPEC, which finds the "
                                        "restarted process (e.g. --wait=comm:myapp --follow)\n");
                        return -1;
                }
                if (cfg->wait_timeout_usec && !cfg->wait_set) {
                        fprintf(stderr, "oomless attach: --wait-timeout needs --wait=SPEC\n");
                        return -1;
                }
        }
        return optind;
}

int cmd_supervise_main(int argc, char **argv, ManagerMode mode)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        ManagerConfig cfg;
        int r;

        r = cmd_parse_supervise(argc, argv, mode, &cfg);
        if (r == -2)
                return 0;
        if (r < 0)
                return CMD_EXIT_USAGE_SUPERVISE;
        if (mode == MANAGER_RUN && reaper_become_subreaper() < 0)
                return WORKLOAD_EXIT_FAILURE;
        r = manager_new(&cfg, &m);
        if (r < 0)
                return WORKLOAD_EXIT_FAILURE;
        return manager_run(m);
}

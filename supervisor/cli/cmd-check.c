/* SPDX-License-Identifier: MIT */
/* `oomless check FILE [--print] [--json]` and `oomless check --print-default`: validate a policy the
 * way `oomless run` would load it, and show it normalized. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cgroup.h"
#include "cmd-check.h"
#include "mode-caps.h"
#include "strv.h"
#include "macro.h"
#include "policy-file.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

static void usage(FILE *f)
{
        fputs("Usage: oomless check FILE [--print] [--json] [--mode=run|attach]\n"
              "       oomless check --print-default\n"
              "\n"
              "Validates a policy file. Exit status 0 if it is valid, 2 if not (or on a usage error).\n"
              "  --print          write the normalized policy, every default filled in, to stdout\n"
              "  --json           write the result as JSON to stdout (with --print: including the policy)\n"
              "  --print-default  write the built-in policy, normalized, to stdout\n"
              "  --mode=MODE      run (default) or attach: also list, one line each, the actions that\n"
              "                   mode cannot carry out (run: on this host's cgroup tier)\n",
              f);
}

static void summary(FILE *f, const char *file, const Policy *p)
{
        const PolicyRestart *r = policy_restart(p);
        char b1[32], b2[32];

        policy_format_duration(b1, sizeof(b1), policy_sampling_interval_usec(p));
        fprintf(f, "%s: valid policy \"%s\": %u stage%s (", file, policy_name(p), policy_stage_count(p),
                policy_stage_count(p) == 1 ? "" : "s");
        for (unsigned i = 1; i <= policy_stage_count(p); i++)
                fprintf(f, "%s%s", i > 1 ? ", " : "", policy_stage_name(p, i));
        fprintf(f, "), sampling every %s", b1);
        if (policy_psi_trigger_count(p) > 0)
                fprintf(f, ", %zu PSI trigger%s", policy_psi_trigger_count(p),
                        policy_psi_trigger_count(p) == 1 ? "" : "s");
        policy_format_duration(b2, sizeof(b2), r->window_usec);
        if (r->mode == POLICY_RESTART_NEVER)
                fprintf(f, ", restarts only when a restart action asks");
        else if (r->max_restarts > 0)
                fprintf(f, ", restart %s (at most %u within %s)", policy_restart_mode_to_string(r->mode),
                        r->max_restarts, b2);
        else
                fprintf(f, ", restart %s (no limit)", policy_restart_mode_to_string(r->mode));
        fprintf(f, "%s\n", policy_dry_run(p) ? ", dry run" : "");
}

static int print_json_report(const char *file, const Policy *p, const PolicyDiags *diags, bool with_policy)
{
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        _cleanup_free_ char *text = NULL;
        cJSON *errs;

        if (!root || !cJSON_AddStringToObject(root, "file", file) ||
            !cJSON_AddBoolToObject(root, "valid", !!p))
                return -ENOMEM;
        errs = cJSON_AddArrayToObject(root, "errors");
        if (!errs)
                return -ENOMEM;
        for (size_t i = 0; i < diags->n; i++) {
                const PolicyDiag *d = &diags->items[i];
                _cleanup_free_ char *line = policy_diag_format(d, file);
                cJSON *e = cJSON_CreateObject();

                if (!e || !line || !cJSON_AddItemToArray(errs, e))
                        return cJSON_Delete(e), -ENOMEM;
                if (d->line > 0) {
                        if (!cJSON_AddNumberToObject(e, "line", d->line) ||
                            !cJSON_AddNumberToObject(e, "column", d->column))
                                return -ENOMEM;
                } else if (!cJSON_AddStringToObject(e, "path", d->path ?: ""))
                        return -ENOMEM;
                if (!cJSON_AddStringToObject(e, "message", d->message) ||
                    (d->hint && !cJSON_AddStringToObject(e, "hint", d->hint)) ||
                    !cJSON_AddStringToObject(e, "text", line))
                        return -ENOMEM;
        }
        if (p && with_policy) {
                _cleanup_free_ char *pj = NULL;
                cJSON *pol;
                int r = policy_to_json(p, &pj);
                if (r < 0)
                        return r;
                pol = cJSON_Parse(pj);
                if (!pol || !cJSON_AddItemToObject(root, "policy", pol))
                        return cJSON_Delete(pol), -ENOMEM;
        }
        text = cJSON_Print(root);
        if (!text)
                return -ENOMEM;
        printf("%s\n", text);
        return 0;
}

/* The actions the mode cannot carry out, one line each: run on this host's tier; attach as a sidecar
 * usually finds it (a read-only cgroup), with the options that lift each limit. */
static void print_mode_lines(FILE *f, const char *file, const Policy *p, bool attach)
{
        _cleanup_strv_free_ char **lines = NULL;
        ModeCaps mc = { .attach = attach };
        CgTier tier = CG_TIER_NONE;

        if (attach) {
                mc.no_high = mc.no_reclaim = mc.no_max =
                    "needs the app's cgroup writable, which a sidecar's usually is not (oomless attach says "
                    "at start)";
                mc.no_restart = "needs --wait=SPEC --follow, so that the process the container runtime "
                                "starts again is found; without them it is skipped";
                mc.no_control =
                    "needs --control-page=PATH and the app started with LD_PRELOAD=liboomless.so "
                    "OOMLESS_CONTROL=PATH";
        } else if (cg_detect(&(CgOptions){ .requested = CG_TIER_AUTO }, &tier, NULL) >= 0 &&
                   tier != CG_TIER_V2) {
                const char *why =
                    tier == CG_TIER_V1 ? NULL : "this host's cgroup is not writable (tier observe or none)";
                mc.no_high = why;
                mc.no_reclaim =
                    tier == CG_TIER_V1 ? "memory.reclaim is cgroup v2 only (this host: v1)" : why;
                mc.no_max = why;
        }
        if (mode_caps_unsupported(p, &mc, &lines) < 0)
                return;
        for (char **l = lines; *l; l++)
                fprintf(f, "%s: mode %s: %s\n", file, attach ? "attach" : "run", *l);
}

int cmd_check(int argc, char **argv)
{
        _cleanup_(policy_freep) Policy *p = NULL;
        PolicyDiags diags = { 0 };
        bool print = false, json = false, print_default = false, dashdash = false, attach = false;
        const char *file = NULL;
        int r, ret;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (!dashdash && streq(a, "--print"))
                        print = true;
                else if (!dashdash && streq(a, "--json"))
                        json = true;
                else if (!dashdash && streq(a, "--print-default"))
                        print_default = true;
                else if (!dashdash && (strncmp(a, "--mode=", 7) == 0 || streq(a, "--mode"))) {
                        const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : "");
                        if (!streq(v, "run") && !streq(v, "attach")) {
                                fprintf(stderr,
                                        "oomless check: --mode: invalid value '%s' (expected run or "
                                        "attach)\n",
                                        v);
                                return 2;
                        }
                        attach = streq(v, "attach");
                } else if (!dashdash && (streq(a, "--help") || streq(a, "-h"))) {
                        usage(stdout);
                        return 0;
                } else if (!dashdash && streq(a, "--"))
                        dashdash = true;
                else if (!dashdash && a[0] == '-' && a[1] != '\0') {
                        fprintf(stderr, "oomless check: unknown option %s\n", a);
                        usage(stderr);
                        return 2;
                } else if (file) {
                        fprintf(stderr,
                                "oomless check: more than one file given (%s, %s); check one at a time\n",
                                file, a);
                        return 2;
                } else
                        file = a;
        }

        if (print_default) {
                _cleanup_free_ char *text = NULL;
                if (file || print) {
                        fprintf(stderr, "oomless check: --print-default takes no file and no --print\n");
                        return 2;
                }
                p = policy_default();
                if (!p || policy_to_json(p, &text) < 0) {
                        fprintf(stderr, "oomless check: out of memory\n");
                        return 1;
                }
                fputs(text, stdout);
                return fflush(stdout) == 0 ? 0 : 1;
        }
        if (!file) {
                fprintf(stderr, "oomless check: no policy file given\n");
                usage(stderr);
                return 2;
        }

        r = policy_load_file(file, &p, &diags);
        if (r < 0 && r != -EINVAL) {
                fprintf(stderr, "oomless check: %s: %s\n", file, strerror(-r));
                policy_diags_done(&diags);
                return 1;
        }
        if (!json)
                policy_diags_print(stderr, file, &diags);
        ret = p ? 0 : 2;

        if (json) {
                if (print_json_report(file, p, &diags, print) < 0) {
                        fprintf(stderr, "oomless check: out of memory\n");
                        ret = 1;
                }
        } else if (p && print) {
                _cleanup_free_ char *text = NULL;
                if (policy_to_json(p, &text) < 0) {
                        fprintf(stderr, "oomless check: out of memory\n");
                        ret = 1;
                } else
                        fputs(text, stdout);
        } else if (p) {
                summary(stdout, file, p);
                print_mode_lines(stdout, file, p, attach);
        }
        policy_diags_done(&diags);
        if (fflush(stdout) != 0)
                ret = 1;
        return ret;
}

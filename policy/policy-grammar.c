/* SPDX-License-Identifier: MIT */
/*
 * The grammar of the document and its stages: top-level keys, the restart section, and each stage's
 * conditions, timers and action lists (read by policy-grammar-cond.c and policy-grammar-action.c).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listen-addr.h"
#include "macro.h"
#include "policy-grammar.h"
#include "policy-validate.h"
#include "strv.h"

/* max_dwell and what happens when it elapses: escalate ("next", the default below the last stage) or
 * run a list of actions. */
static bool parse_max_dwell(Parser *ps, const cJSON *j, const char *path, bool last, PolicyStage *st)
{
        const cJSON *x = json_get(j, "max_dwell"), *on = json_get(j, "on_max_dwell");
        char p[PATH_LEN], op[PATH_LEN];
        bool ok = true;

        if (x && !json_get_sampled_duration(ps, x, json_subpath(p, path, "max_dwell"), ps->p->interval_usec,
                                            false, &st->max_dwell_usec))
                ok = false;
        json_subpath(op, path, "on_max_dwell");
        if (on && !x) {
                json_error(ps, op, "add \"max_dwell\": \"5m\"", "on_max_dwell without max_dwell");
                return false;
        }
        if (on && cJSON_IsString(on)) {
                if (!streq(on->valuestring, "next")) {
                        json_error(ps, op, "use \"next\" or a list of actions",
                                   "invalid on_max_dwell \"%s\"", on->valuestring);
                        return false;
                }
                if (last) {
                        json_error(ps, op, "give a list of actions, e.g. [ {\"action\": \"restart\"} ]",
                                   "the last stage has no next stage to escalate to");
                        return false;
                }
                st->dwell_next = true;
                return ok;
        }
        if (on) {
                if (!grammar_action_list(ps, on, op, POLICY_WHEN_DWELL, &st->on_max_dwell))
                        return false;
                if (st->on_max_dwell.n == 0) {
                        json_error(ps, op, "use \"next\" or name at least one action", "empty on_max_dwell");
                        return false;
                }
                return ok;
        }
        if (st->max_dwell_usec == 0)
                return ok;
        if (last) {
                json_error(ps, json_subpath(p, path, "max_dwell"),
                           "add \"on_max_dwell\": [ {\"action\": \"restart\"} ] or similar",
                           "max_dwell on the last stage needs on_max_dwell actions");
                return false;
        }
        st->dwell_next = true;
        return ok;
}

static bool parse_stage(Parser *ps, const cJSON *j, const char *path, unsigned level, bool last,
                        PolicyStage *st)
{
        static const char *const keys[] = { "name",         "description", "enter",  "exit",     "max_dwell",
                                            "on_max_dwell", "cooldown",    "repeat", "on_enter", "while",
                                            "on_exit",      "ready",       NULL };
        char p[PATH_LEN];
        const cJSON *x;
        const char *s;
        bool ok = true;

        st->ready = true;
        if (!json_check_object(ps, j, path, "a stage", keys, NULL))
                return false;

        if ((x = json_get(j, "name"))) {
                if (!json_get_name(ps, x, json_subpath(p, path, "name"), &st->name))
                        ok = false;
                else if (streq(st->name, "normal")) {
                        json_error(ps, p, "level 0 is called \"normal\"; pick another name",
                                   "stage name \"normal\" is reserved");
                        ok = false;
                }
        }
        if (!st->name && asprintf(&st->name, "stage%u", level) < 0) {
                st->name = NULL;
                ps->oom = -ENOMEM;
                return false;
        }
        if ((x = json_get(j, "description")) &&
            (!json_get_string(ps, x, json_subpath(p, path, "description"), &s) ||
             !json_dup_string(ps, s, &st->description)))
                ok = false;

        if (!(x = json_get(j, "enter"))) {
                json_error(ps, path, "add \"enter\": {\"all\": [ {\"memory\": \">= 80%\"} ]}",
                           "stage needs \"enter\"");
                ok = false;
        } else if (!grammar_condition(ps, x, json_subpath(p, path, "enter"), &st->enter))
                ok = false;
        if (!(x = json_get(j, "exit"))) {
                json_error(ps, path,
                           "add \"exit\" with lower thresholds, e.g. {\"all\": [ {\"memory\": \"< 70%\"} ], "
                           "\"for\": \"5s\"}",
                           "stage needs \"exit\"");
                ok = false;
        } else if (!grammar_condition(ps, x, json_subpath(p, path, "exit"), &st->exit))
                ok = false;

        if ((x = json_get(j, "ready")) && !json_get_bool(ps, x, json_subpath(p, path, "ready"), &st->ready))
                ok = false;
        if ((x = json_get(j, "cooldown")) &&
            !json_get_sampled_duration(ps, x, json_subpath(p, path, "cooldown"), ps->p->interval_usec, true,
                                       &st->cooldown_usec))
                ok = false;
        if ((x = json_get(j, "repeat")) &&
            !json_get_sampled_duration(ps, x, json_subpath(p, path, "repeat"), ps->p->interval_usec, true,
                                       &st->repeat_usec))
                ok = false;
        if ((x = json_get(j, "on_enter")) &&
            !grammar_action_list(ps, x, json_subpath(p, path, "on_enter"), POLICY_WHEN_ENTER, &st->on_enter))
                ok = false;
        if ((x = json_get(j, "while")) &&
            !grammar_action_list(ps, x, json_subpath(p, path, "while"), POLICY_WHEN_WHILE, &st->while_))
                ok = false;
        if ((x = json_get(j, "on_exit")) &&
            !grammar_action_list(ps, x, json_subpath(p, path, "on_exit"), POLICY_WHEN_EXIT, &st->on_exit))
                ok = false;
        if (!validate_stage_repeat(ps, path, st))
                ok = false;

        if (!parse_max_dwell(ps, j, path, last, st))
                ok = false;
        return ok;
}

/* "http": {"listen": "127.0.0.1:9464", "public": false}. The address is checked here, without I/O,
 * so `oomless check` reports a bad one; binding it is the daemon's. */
static void parse_http(Parser *ps, const cJSON *j, const char *path)
{
        static const char *const keys[] = { "listen", "public", NULL };
        char p[PATH_LEN];
        const cJSON *x;
        const char *s;
        ListenAddr a;

        if (!json_check_object(ps, j, path, "http", keys, NULL))
                return;
        if ((x = json_get(j, "public")))
                (void)json_get_bool(ps, x, json_subpath(p, path, "public"), &ps->p->http_public);
        if (!(x = json_get(j, "listen"))) {
                json_error(ps, path, "add \"listen\": \"127.0.0.1:9464\"", "http needs \"listen\"");
                return;
        }
        if (!json_get_string(ps, x, json_subpath(p, path, "listen"), &s))
                return;
        if (listen_addr_parse(s, &a) < 0) {
                json_error(ps, p, "write " LISTEN_ADDR_FORM, "invalid listen address \"%s\"", s);
                return;
        }
        if (!a.loopback && !ps->p->http_public) {
                json_error(ps, p, "listen on 127.0.0.1, or add \"public\": true to serve other hosts",
                           "%s is not a loopback address", a.text);
                return;
        }
        (void)json_dup_string(ps, a.text, &ps->p->http_listen);
}

static void parse_restart(Parser *ps, const cJSON *j, const char *path)
{
        static const char *const keys[] = { "mode",         "initial_delay", "max_delay", "reset_after",
                                            "max_restarts", "window",        NULL };
        static const char *const modes[] = { "never", "on-failure", "always", NULL };
        PolicyRestart *r = &ps->p->restart;
        char p[PATH_LEN];
        const cJSON *x;
        uint64_t u;
        int v;

        if (!json_check_object(ps, j, path, "restart", keys, NULL))
                return;
        if ((x = json_get(j, "mode")) &&
            json_get_enum(ps, x, json_subpath(p, path, "mode"), "restart mode", modes, &v))
                r->mode = v;
        if ((x = json_get(j, "initial_delay")))
                (void)json_get_duration(ps, x, json_subpath(p, path, "initial_delay"), 0,
                                        &r->initial_delay_usec);
        if ((x = json_get(j, "max_delay")))
                (void)json_get_duration(ps, x, json_subpath(p, path, "max_delay"), 0, &r->max_delay_usec);
        if ((x = json_get(j, "reset_after")))
                (void)json_get_duration(ps, x, json_subpath(p, path, "reset_after"), USEC_PER_SEC,
                                        &r->reset_after_usec);
        if ((x = json_get(j, "window")))
                (void)json_get_duration(ps, x, json_subpath(p, path, "window"), USEC_PER_SEC,
                                        &r->window_usec);
        if ((x = json_get(j, "max_restarts")) &&
            json_get_uint(ps, x, json_subpath(p, path, "max_restarts"), 0, POLICY_RESTART_HISTORY, &u))
                r->max_restarts = (unsigned)u;
        validate_restart(ps, path);
}

bool grammar_document(Parser *ps, const cJSON *root, bool stage_ok[static POLICY_STAGES_MAX])
{
        static const char *const keys[] = { "version", "name", "description", "sampling_interval",
                                            "dry_run", "http", "recovery",    "restart",
                                            "stages",  NULL };
        static const char *const recoveries[] = { "stepwise", "direct", NULL };
        Policy *p = ps->p;
        const cJSON *x;
        const char *s;
        char path[PATH_LEN];
        uint64_t u;

        if (!json_expect(ps, root, "", cJSON_IsObject,
                         "a policy is a JSON object: {\"version\": 1, \"stages\": [ ... ]}",
                         "the policy must be a JSON object"))
                return false;
        json_check_object(ps, root, "", "the policy", keys, NULL);

        if (!(x = json_get(root, "version")))
                json_error(ps, "", "add \"version\": 1", "missing \"version\"");
        else if (!cJSON_IsNumber(x))
                json_error(ps, "version", "write \"version\": 1 (a number)", "expected a number, got %s",
                           json_type(x));
        else if (x->valuedouble != 1.0)
                json_error(ps, "version", "this oomless understands \"version\": 1",
                           "unsupported version %g", x->valuedouble);
        if ((x = json_get(root, "name")))
                (void)json_get_name(ps, x, "name", &p->name);
        if ((x = json_get(root, "description")) && json_get_string(ps, x, "description", &s))
                (void)json_dup_string(ps, s, &p->description);
        if ((x = json_get(root, "sampling_interval")) &&
            json_get_duration(ps, x, "sampling_interval", 10 * USEC_PER_MSEC, &u)) {
                if (u > 10 * USEC_PER_SEC)
                        json_error(ps, "sampling_interval", "sample at least every 10s",
                                   "sampling_interval too long");
                else
                        p->interval_usec = u;
        }
        if ((x = json_get(root, "dry_run")))
                (void)json_get_bool(ps, x, "dry_run", &p->dry_run);
        if ((x = json_get(root, "http")))
                parse_http(ps, x, "http");
        if ((x = json_get(root, "recovery"))) {
                int v;
                if (json_get_enum(ps, x, "recovery", "recovery", recoveries, &v))
                        p->recovery_direct = v == 1;
        }
        /* restart before stages: restart actions are checked against the mode. */
        if ((x = json_get(root, "restart")))
                parse_restart(ps, x, "restart");

        x = json_get(root, "stages");
        if (!x) {
                json_error(ps, "",
                           "add \"stages\": [ {\"name\": \"pressure\", \"enter\": ..., \"exit\": ...} ]",
                           "missing \"stages\"");
                return false;
        }
        if (!json_expect(ps, x, "stages", cJSON_IsArray, NULL, "expected an array of stages"))
                return false;
        int n = cJSON_GetArraySize(x);
        if (n == 0 || n > POLICY_STAGES_MAX) {
                json_error(ps, "stages", NULL, "a policy needs 1..%d stages, got %d", POLICY_STAGES_MAX, n);
                return false;
        }
        p->n_stages = (unsigned)n;
        unsigned i = 0;
        for (const cJSON *c = x->child; c; c = c->next, i++)
                stage_ok[i] = parse_stage(ps, c, json_subindex(path, "stages", i), i + 1,
                                          i + 1 == (unsigned)n, &p->stages[i]);
        return true;
}

/* SPDX-License-Identifier: MIT */
/* Policy -> normalized JSON text with every default written out, in a fixed key order, so that
 * printing what was parsed from the output yields the same bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "macro.h"
#include "policy-internal.h"
#include "strbuf.h"

static void cjson_deletep(cJSON **j)
{
        if (*j)
                cJSON_Delete(*j);
}

/* Every cJSON_Add* failure is an allocation failure; it is checked once, through ok. */
typedef struct Printer {
        bool ok;
} Printer;

static cJSON *add_obj(Printer *pr, cJSON *parent, const char *key)
{
        cJSON *o = cJSON_CreateObject();
        if (!o) {
                pr->ok = false;
                return NULL;
        }
        if (key ? !cJSON_AddItemToObject(parent, key, o) : !cJSON_AddItemToArray(parent, o)) {
                cJSON_Delete(o);
                pr->ok = false;
                return NULL;
        }
        return o;
}

static cJSON *add_arr(Printer *pr, cJSON *parent, const char *key)
{
        cJSON *a;
        if (!parent)
                return NULL;
        a = cJSON_AddArrayToObject(parent, key);
        if (!a)
                pr->ok = false;
        return a;
}

static void add_str(Printer *pr, cJSON *o, const char *key, const char *v)
{
        if (!o || !cJSON_AddStringToObject(o, key, v))
                pr->ok = false;
}

static void add_num(Printer *pr, cJSON *o, const char *key, double v)
{
        if (!o || !cJSON_AddNumberToObject(o, key, v))
                pr->ok = false;
}

static void add_bool(Printer *pr, cJSON *o, const char *key, bool v)
{
        if (!o || !cJSON_AddBoolToObject(o, key, v))
                pr->ok = false;
}

static void add_dur(Printer *pr, cJSON *o, const char *key, uint64_t usec)
{
        char b[32];
        add_str(pr, o, key, policy_format_duration(b, sizeof(b), usec));
}

static void add_sig(Printer *pr, cJSON *o, const char *key, int sig)
{
        char b[16];
        add_str(pr, o, key, policy_format_signal(b, sizeof(b), sig));
}

static void print_cond_list(Printer *pr, const Policy *p, cJSON *parent, const char *key,
                            const PolicyCond *items, size_t n);

static void print_cond_node(Printer *pr, const Policy *p, cJSON *arr, const PolicyCond *c)
{
        cJSON *o = add_obj(pr, arr, NULL);
        const PolicyCmp *m = &c->cmp;
        char v[96], b[48];

        if (!o)
                return;
        if (c->group) {
                if (c->has_all)
                        print_cond_list(pr, p, o, "all", c->all, c->n_all);
                if (c->has_any)
                        print_cond_list(pr, p, o, "any", c->any, c->n_any);
                return;
        }
        switch (m->signal) {
        POLICY_SIZE_SIGNAL_CASES:
                snprintf(v, sizeof(v), "%s %s", policy_op_to_string(m->op),
                         policy_format_size_spec(b, sizeof(b), &m->size));
                break;
        case POLICY_SIGNAL_SOME10:
        case POLICY_SIGNAL_SOME60:
        case POLICY_SIGNAL_FULL10:
        case POLICY_SIGNAL_FULL60:
                snprintf(v, sizeof(v), "%s %s", policy_op_to_string(m->op),
                         policy_format_centi(b, sizeof(b), m->centi));
                break;
        POLICY_RATE_SIGNAL_CASES:
                snprintf(v, sizeof(v), "%s %s/s", policy_op_to_string(m->op),
                         policy_format_size_spec(b, sizeof(b), &m->size));
                break;
        POLICY_COUNT_SIGNAL_CASES:
                snprintf(v, sizeof(v), "%s %llu", policy_op_to_string(m->op), (unsigned long long)m->count);
                break;
        case POLICY_SIGNAL_STAGE_TIME:
                snprintf(v, sizeof(v), "%s %s", policy_op_to_string(m->op),
                         policy_format_duration(b, sizeof(b), m->usec));
                break;
        case POLICY_SIGNAL_PSI_TRIGGER:
                snprintf(v, sizeof(v), "%s", p->triggers[m->trigger].text);
                break;
        default:
                pr->ok = false;
                return;
        }
        add_str(pr, o, policy_signal_to_string(m->signal), v);
        if (policy_signal_windowed(m->signal))
                add_dur(pr, o, "within", m->within_usec);
}

static void print_cond_list(Printer *pr, const Policy *p, cJSON *parent, const char *key,
                            const PolicyCond *items, size_t n)
{
        cJSON *a = add_arr(pr, parent, key);
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                print_cond_node(pr, p, a, &items[i]);
}

static void print_condition(Printer *pr, const Policy *p, cJSON *parent, const char *key,
                            const PolicyCondition *c)
{
        cJSON *o = add_obj(pr, parent, key);
        if (!o)
                return;
        if (c->root.has_all)
                print_cond_list(pr, p, o, "all", c->root.all, c->root.n_all);
        if (c->root.has_any)
                print_cond_list(pr, p, o, "any", c->root.any, c->root.n_any);
        add_dur(pr, o, "for", c->for_usec);
}

/* Permille as the percent the parser reads back: 400 -> "40%", 425 -> "42.5%". */
static char *format_permille(char *buf, size_t len, uint32_t permille)
{
        if (permille % 10 == 0)
                snprintf(buf, len, "%u%%", permille / 10);
        else
                snprintf(buf, len, "%u.%u%%", permille / 10, permille % 10);
        return buf;
}

static void print_action(Printer *pr, cJSON *arr, const PolicyAction *a)
{
        cJSON *o = add_obj(pr, arr, NULL), *v;
        char b[48];

        if (!o)
                return;
        add_str(pr, o, "action", policy_action_kind_to_string(a->kind));
        switch (a->kind) {
        case POLICY_ACTION_SIGNAL:
                add_sig(pr, o, "signal", a->signal);
                add_str(pr, o, "target", policy_signal_target_to_string(a->target));
                break;
        case POLICY_ACTION_EXEC:
        case POLICY_ACTION_DUMP:
                v = cJSON_CreateStringArray((const char *const *)a->argv, (int)({
                                                    size_t n = 0;
                                                    while (a->argv[n])
                                                            n++;
                                                    n;
                                            }));
                if (!v || !cJSON_AddItemToObject(o, "argv", v)) {
                        cJSON_Delete(v);
                        pr->ok = false;
                }
                if (a->kind == POLICY_ACTION_DUMP) {
                        SizeSpec s = { .set = true, .bytes = a->headroom };
                        add_str(pr, o, "headroom", policy_format_size_spec(b, sizeof(b), &s));
                }
                break;
        case POLICY_ACTION_WEBHOOK:
                add_str(pr, o, "url", a->url);
                add_num(pr, o, "retries", a->retries);
                add_dur(pr, o, "backoff", a->backoff_usec);
                add_bool(pr, o, "tls_verify", a->tls_verify);
                if (a->headers) {
                        cJSON *h = add_obj(pr, o, "headers");
                        for (size_t i = 0; h && a->headers[i]; i++) {
                                /* "Name: value" as parsed: the name ends at the first ": ". */
                                const char *sep = strstr(a->headers[i], ": ");
                                char name[65];
                                snprintf(name, sizeof(name), "%.*s", (int)(sep - a->headers[i]),
                                         a->headers[i]);
                                add_str(pr, h, name, sep + 2);
                        }
                }
                if (a->bearer_token_file)
                        add_str(pr, o, "bearer_token_file", a->bearer_token_file);
                break;
        case POLICY_ACTION_RECLAIM:
                add_str(pr, o, "amount", policy_format_size_spec(b, sizeof(b), &a->amount));
                break;
        case POLICY_ACTION_THROTTLE:
                add_str(pr, o, "memory_high", policy_format_size_spec(b, sizeof(b), &a->memory_high));
                break;
        case POLICY_ACTION_RESTART:
                add_sig(pr, o, "stop_signal", a->stop_signal);
                add_dur(pr, o, "grace", a->grace_usec);
                break;
        case POLICY_ACTION_KILL:
                add_str(pr, o, "scope", policy_kill_scope_to_string(a->kill_scope));
                add_sig(pr, o, "signal", a->kill_signal);
                break;
        case POLICY_ACTION_SHED:
                add_str(pr, o, "to", format_permille(b, sizeof(b), a->shed_permille));
                add_str(pr, o, "step", format_permille(b, sizeof(b), a->step_permille));
                add_dur(pr, o, "recover_every", a->recover_every_usec);
                break;
        case POLICY_ACTION_WEIGHT:
                add_num(pr, o, "to", a->weight);
                break;
        default:
                break;
        }
        add_dur(pr, o, "timeout", a->timeout_usec);
}

static void print_actions(Printer *pr, cJSON *parent, const char *key, const PolicyActionList *l)
{
        cJSON *a = add_arr(pr, parent, key);
        if (!a)
                return;
        for (size_t i = 0; i < l->n; i++)
                print_action(pr, a, &l->items[i]);
}

/* ---- pretty printing: cJSON_Print() puts tabs after colons and glues "[{" together, which reads
 * poorly; this prints two-space indentation and keeps small scalar-only objects on one line. ---- */

typedef StrBuf Buf;

static void buf_add(Buf *b, const char *s, size_t n)
{
        strbuf_put(b, s, n);
}

static void buf_str(Buf *b, const char *s)
{
        buf_add(b, s, strlen(s));
}

static void buf_indent(Buf *b, unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                buf_add(b, "  ", 2);
}

static void emit_scalar(Buf *b, const cJSON *j)
{
        char *t = cJSON_PrintUnformatted(j);
        if (!t) {
                b->oom = true;
                return;
        }
        buf_str(b, t);
        cJSON_free(t);
}

static void emit_key(Buf *b, const char *key)
{
        /* A string node on the stack: printing it escapes the key exactly as a value, without allocating
         * a node. cJSON only reads .type and .valuestring of it. */
        const cJSON k = { .type = cJSON_String, .valuestring = (char *)key };

        emit_scalar(b, &k);
        buf_add(b, ": ", 2);
}

/* Objects and arrays of scalars ({"memory": ">= 80%"}, actions, argv) stay on one line if short. */
static bool is_inline(const cJSON *j)
{
        for (const cJSON *c = j->child; c; c = c->next)
                if (cJSON_IsObject(c) || cJSON_IsArray(c))
                        return false;
        return true;
}

static void emit_inline(Buf *b, const cJSON *j)
{
        bool obj = cJSON_IsObject(j);

        buf_str(b, obj ? "{ " : "[ ");
        for (const cJSON *c = j->child; c; c = c->next) {
                if (obj)
                        emit_key(b, c->string);
                emit_scalar(b, c);
                if (c->next)
                        buf_add(b, ", ", 2);
        }
        buf_str(b, obj ? " }" : " ]");
}

static void emit_value(Buf *b, const cJSON *j, unsigned indent)
{
        bool obj = cJSON_IsObject(j);

        if (!obj && !cJSON_IsArray(j)) {
                emit_scalar(b, j);
                return;
        }
        if (!j->child) {
                buf_str(b, obj ? "{}" : "[]");
                return;
        }
        if (is_inline(j)) {
                Buf t = { 0 };
                emit_inline(&t, j);
                if (!t.oom && indent * 2 + t.len <= 96) {
                        buf_add(b, t.s, t.len);
                        free(t.s);
                        return;
                }
                b->oom |= t.oom;
                free(t.s);
        }
        buf_str(b, obj ? "{\n" : "[\n");
        for (const cJSON *c = j->child; c; c = c->next) {
                buf_indent(b, indent + 1);
                if (obj)
                        emit_key(b, c->string);
                emit_value(b, c, indent + 1);
                buf_str(b, c->next ? ",\n" : "\n");
        }
        buf_indent(b, indent);
        buf_str(b, obj ? "}" : "]");
}

int policy_to_json(const Policy *p, char **ret_json)
{
        _cleanup_(cjson_deletep) cJSON *root = cJSON_CreateObject();
        Printer pr = { .ok = !!root };
        cJSON *r, *stages;
        char *out;

        if (!root)
                return -ENOMEM;
        add_num(&pr, root, "version", 1);
        add_str(&pr, root, "name", p->name);
        if (p->description)
                add_str(&pr, root, "description", p->description);
        add_dur(&pr, root, "sampling_interval", p->interval_usec);
        add_bool(&pr, root, "dry_run", p->dry_run);
        if (p->http_listen) {
                cJSON *h = add_obj(&pr, root, "http");
                add_str(&pr, h, "listen", p->http_listen);
                add_bool(&pr, h, "public", p->http_public);
        }
        add_str(&pr, root, "recovery", p->recovery_direct ? "direct" : "stepwise");

        r = add_obj(&pr, root, "restart");
        add_str(&pr, r, "mode", policy_restart_mode_to_string(p->restart.mode));
        add_dur(&pr, r, "initial_delay", p->restart.initial_delay_usec);
        add_dur(&pr, r, "max_delay", p->restart.max_delay_usec);
        add_dur(&pr, r, "reset_after", p->restart.reset_after_usec);
        add_num(&pr, r, "max_restarts", p->restart.max_restarts);
        add_dur(&pr, r, "window", p->restart.window_usec);

        stages = add_arr(&pr, root, "stages");
        for (unsigned i = 0; stages && i < p->n_stages; i++) {
                const PolicyStage *st = &p->stages[i];
                cJSON *o = add_obj(&pr, stages, NULL);

                if (!o)
                        break;
                add_str(&pr, o, "name", st->name);
                if (st->description)
                        add_str(&pr, o, "description", st->description);
                print_condition(&pr, p, o, "enter", &st->enter);
                print_condition(&pr, p, o, "exit", &st->exit);
                add_dur(&pr, o, "cooldown", st->cooldown_usec);
                add_dur(&pr, o, "repeat", st->repeat_usec);
                add_bool(&pr, o, "ready", st->ready);
                if (st->max_dwell_usec > 0) {
                        add_dur(&pr, o, "max_dwell", st->max_dwell_usec);
                        if (st->dwell_next)
                                add_str(&pr, o, "on_max_dwell", "next");
                        else
                                print_actions(&pr, o, "on_max_dwell", &st->on_max_dwell);
                }
                print_actions(&pr, o, "on_enter", &st->on_enter);
                print_actions(&pr, o, "while", &st->while_);
                print_actions(&pr, o, "on_exit", &st->on_exit);
        }
        if (!pr.ok)
                return -ENOMEM;

        Buf b = { 0 };
        emit_value(&b, root, 0);
        buf_add(&b, "\n", 1);
        if (b.oom) {
                free(b.s);
                return -ENOMEM;
        }
        out = b.s;
        *ret_json = out;
        return 0;
}

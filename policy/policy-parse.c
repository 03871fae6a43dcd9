/* SPDX-License-Identifier: MIT */
/*
 * JSON text -> validated Policy. The bytes are checked first (policy-json.c) so that cJSON only ever
 * sees sane input; then the grammar walks the document collecting every problem it finds, each with a
 * JSON path and, where possible, a hint; then the cross-stage checks run over what parsed. Only a
 * document without any problem becomes a Policy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy-grammar.h"
#include "policy-validate.h"

static Policy *policy_new(void)
{
        Policy *p = calloc(1, sizeof(Policy));

        if (!p)
                return NULL;
        p->interval_usec = POLICY_DEFAULT_INTERVAL_USEC;
        p->restart = (PolicyRestart){
                .mode = POLICY_RESTART_ON_FAILURE,
                .initial_delay_usec = USEC_PER_SEC,
                .max_delay_usec = 60 * USEC_PER_SEC,
                .reset_after_usec = 300 * USEC_PER_SEC,
                .max_restarts = 5,
                .window_usec = 600 * USEC_PER_SEC,
        };
        return p;
}

int policy_parse(const char *buf, size_t len, const char *filename, Policy **ret_policy, PolicyDiags *diags)
{
        bool stage_ok[POLICY_STAGES_MAX];
        cJSON *root = NULL;
        Policy *p;
        int r;

        r = json_parse_document(buf, len, diags, &root);
        if (r < 0)
                return r;

        p = policy_new();
        if (!p) {
                cJSON_Delete(root);
                return -ENOMEM;
        }
        Parser ps = { .diags = diags, .p = p };
        if (grammar_document(&ps, root, stage_ok))
                validate_stages(&ps, stage_ok);
        cJSON_Delete(root);

        if (!ps.oom && !p->name)
                ps.oom = (p->name = strdup("policy")) ? 0 : -ENOMEM;
        if (!ps.oom && !(p->source = strdup(filename ?: "(built-in)")))
                ps.oom = -ENOMEM;
        if (ps.oom) {
                policy_free(p);
                return ps.oom;
        }
        if (ps.errors > 0) {
                policy_free(p);
                return -EINVAL;
        }
        *ret_policy = p;
        return 0;
}

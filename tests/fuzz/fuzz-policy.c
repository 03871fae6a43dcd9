/* SPDX-License-Identifier: MIT */
/* Fuzz target for the policy engine: parse -> print -> parse -> print must give identical text, every
 * diagnostic must format, and a parsed policy must survive evaluation of samples derived from the
 * input. Built as a libFuzzer target with clang, and always as a replay binary (fuzz-main.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *a, const char *b)
{
        fprintf(stderr, "fuzz-policy: %s\n--- first ---\n%s\n--- second ---\n%s\n", what, a ? a : "",
                b ? b : "");
        abort();
}

static uint64_t mix(uint64_t *x)
{
        /* splitmix64: deterministic per input, so a crash reproduces from the file alone */
        uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
}

static void exercise(const Policy *p, const uint8_t *data, size_t size)
{
        PolicyDecisions d;
        PolicyTransition t;
        PolicyRestartState rs = { 0 };
        uint64_t seed = size, now = 1000000, limit = 256 << 20;
        PolicyState *s, *s2;

        for (size_t i = 0; i < size && i < 64; i++)
                seed = seed * 131 + data[i];
        s = policy_state_new(p, now);
        if (!s)
                abort();
        for (int i = 0; i < 200; i++) {
                OomlessSample x = { 0 };
                uint64_t r = mix(&seed);

                now += policy_sampling_interval_usec(p) * (1 + r % 3);
                x.limit = (r & 1) ? limit : OOMLESS_NO_LIMIT;
                x.current = mix(&seed) % (limit + 1);
                x.events_valid = r & 2;
                x.ev_high = (uint64_t)i * (r % 4);
                x.ev_max = (uint64_t)i / 3;
                x.ev_oom_kill = (r & 8) ? (uint64_t)i : 0;
                x.psi_valid = r & 16;
                x.psi_full.avg10 = (double)(r % 10001) / 100.0;
                x.psi_some.avg60 = (double)(r % 9001) / 100.0;
                x.heap_valid = r & 32;
                x.heap_cap = (r & 64) ? limit / 2 : 0;
                x.heap_held = mix(&seed) % limit;
                x.psi_trigger_count = (uint32_t)policy_psi_trigger_count(p);
                for (int k = 0; k < 8; k++)
                        x.psi_trigger_fired[k] = (uint64_t)i * ((r >> k) & 1);
                policy_evaluate(p, s, &x, now, &d, &t);
                for (size_t k = 0; k < d.n; k++)
                        if (!d.items[k].action || d.items[k].stage == 0 ||
                            d.items[k].stage > policy_stage_count(p))
                                abort();
                if (policy_state_stage(s) > policy_stage_count(p))
                        abort();
                if (i == 100) {
                        policy_state_reset(p, s, now, &d, &t);
                        if (policy_state_stage(s) != 0)
                                abort();
                }
        }
        s2 = policy_state_carry_over(p, s);
        if (!s2)
                abort();
        policy_state_free(s2);
        policy_state_free(s);

        for (int i = 0; i < 20; i++) {
                PolicyExit e = { .code = (int)(mix(&seed) % 3), .started_usec = now };
                uint64_t delay = 0;
                now += mix(&seed) % (120 * 1000000ULL);
                (void)policy_restart_decide(p, &rs, &e, now, &delay);
                if (delay > policy_restart(p)->max_delay_usec)
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        PolicyDiags d1 = { 0 }, d2 = { 0 };
        Policy *p = NULL, *q = NULL;
        char *a = NULL, *b = NULL;
        int r;

        if (size > POLICY_FILE_SIZE_MAX + 16)
                return 0;
        r = policy_parse((const char *)data, size, "fuzz.json", &p, &d1);
        for (size_t i = 0; i < d1.n; i++) {
                char *line = policy_diag_format(&d1.items[i], "fuzz.json");
                if (!line)
                        abort();
                free(line);
        }
        if (r < 0) {
                if (p || d1.n == 0)
                        fail("failure without diagnostics, or with a policy", NULL, NULL);
                policy_diags_done(&d1);
                return 0;
        }
        if (d1.n != 0)
                fail("success with diagnostics", d1.items[0].message, NULL);
        if (policy_to_json(p, &a) < 0)
                abort();
        if (policy_parse(a, strlen(a), "fuzz.json", &q, &d2) < 0)
                fail(d2.n ? d2.items[0].message : "reparse failed", a,
                     d2.n && d2.items[0].path ? d2.items[0].path : "");
        if (policy_to_json(q, &b) < 0)
                abort();
        if (strcmp(a, b) != 0)
                fail("print -> parse -> print changed the text", a, b);
        exercise(p, data, size);

        free(a);
        free(b);
        policy_free(p);
        policy_free(q);
        policy_diags_done(&d1);
        policy_diags_done(&d2);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* Shared by the policy trace tests: limits are 1000 bytes so that "memory = 700" reads as 70%, and
 * policies are written with single quotes so that they fit in C strings. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy.h"
#include "test.h"

#define MS 1000ULL

/* Parses a policy written with ' for ", failing the test with every diagnostic under name. */
static inline Policy *policy_test_load(const char *json_sq, const char *name)
{
        char *json = strdup(json_sq);
        PolicyDiags d = { 0 };
        Policy *p = NULL;

        ASSERT_TRUE(json);
        for (char *c = json; *c; c++)
                if (*c == '\'')
                        *c = '"';
        if (policy_parse(json, strlen(json), name, &p, &d) < 0) {
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "%s\n", policy_diag_format(&d.items[i], name));
                TEST_FAIL("policy does not parse");
        }
        free(json);
        return p;
}

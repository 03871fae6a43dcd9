/* SPDX-License-Identifier: MIT */
/* Test helper: `policy-print FILE` loads a policy exactly as oomless does (policy_load_file) and
 * prints its normalized JSON, or the diagnostics and exit 2; `policy-print --default` prints the
 * built-in policy. Lets the schema test run without the oomless binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-file.h"

int main(int argc, char **argv)
{
        PolicyDiags d = { 0 };
        Policy *p = NULL;
        char *text = NULL;

        if (argc != 2) {
                fprintf(stderr, "usage: policy-print FILE | --default\n");
                return 2;
        }
        if (strcmp(argv[1], "--default") == 0)
                p = policy_default();
        else if (policy_load_file(argv[1], &p, &d) < 0) {
                policy_diags_print(stderr, argv[1], &d);
                policy_diags_done(&d);
                return 2;
        }
        if (!p || policy_to_json(p, &text) < 0)
                return 1;
        fputs(text, stdout);
        free(text);
        policy_free(p);
        return 0;
}

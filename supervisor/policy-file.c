/* SPDX-License-Identifier: MIT */
/* Loads a policy file: bounded regular UTF-8 file -> policy_parse(). */
#include <errno.h>

#include "policy-file.h"

int policy_load_file(const char *path, Policy **ret_policy, PolicyDiags *diags)
{
        return -EOPNOTSUPP;
}

void policy_diags_print(FILE *f, const char *filename, const PolicyDiags *diags)
{
}

/* SPDX-License-Identifier: MIT */
/* `oomless check FILE [--print] [--json]` and `oomless check --print-default`. */
#include "cmd-check.h"

int cmd_check(int argc, char **argv)
{
        return 2;
}

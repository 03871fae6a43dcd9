/* SPDX-License-Identifier: MIT */
/*
 * Checks of the IR that look across values (policy-validate.c). The grammar calls the per-item ones
 * right after reading the item, so messages keep document order; policy_parse() runs the cross-stage
 * ones last. Each reports through the Parser; the bool ones return false when they reported.
 */
#pragma once

#include "policy-json.h"

/* An action that parsed: grace below timeout (restart), and whether it may stand in the list when. */
bool validate_action(Parser *ps, const char *path, PolicyWhen when, const PolicyAction *a);
/* A stage with "while" actions needs a "repeat" interval. */
bool validate_stage_repeat(Parser *ps, const char *path, const PolicyStage *st);
/* initial_delay at most max_delay; path is the restart object's. */
void validate_restart(Parser *ps, const char *path);
/* Duplicate stage names, hysteresis between each stage's enter and exit, and stage ordering. */
void validate_stages(Parser *ps, const bool *stage_ok);

/* SPDX-License-Identifier: MIT */
/*
 * The policy grammar: JSON tree -> IR (policy-internal.h), one file per part of the document
 * (policy-grammar-cond.c, policy-grammar-action.c, policy-grammar.c). Reads values through the JSON layer
 * and applies the per-item checks of policy-validate.h as it goes, so that problems are reported in
 * document order. Each function returns false after reporting; it keeps going where it can.
 */
#pragma once

#include "policy-json.h"

bool grammar_condition(Parser *ps, const cJSON *j, const char *path, PolicyCondition *ret);
bool grammar_action_list(Parser *ps, const cJSON *j, const char *path, PolicyWhen when, PolicyActionList *l);

/* Fills ps->p from the document. Returns true when the stages were walked, with stage_ok[i] telling
 * which of them parsed completely, so that the cross-stage checks can run over those. */
bool grammar_document(Parser *ps, const cJSON *root, bool stage_ok[static POLICY_STAGES_MAX]);

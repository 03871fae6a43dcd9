/* SPDX-License-Identifier: MIT */
/* Temporary stubs so that other modules link against the API while the engine is written. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "policy.h"

void policy_diags_done(PolicyDiags *d) { (void)d; }
int policy_diags_add(PolicyDiags *d, unsigned line, unsigned column, const char *path, const char *hint,
                     const char *fmt, ...) { return -EOPNOTSUPP; }
char *policy_diag_format(const PolicyDiag *diag, const char *filename) { return NULL; }
int policy_parse(const char *buf, size_t len, const char *filename, Policy **ret_policy, PolicyDiags *diags) { return -EOPNOTSUPP; }
Policy *policy_default(void) { return NULL; }
const char *policy_default_json(void) { return "{}"; }
int policy_to_json(const Policy *p, char **ret_json) { return -EOPNOTSUPP; }
Policy *policy_free(Policy *p) { return NULL; }
const char *policy_signal_to_string(PolicySignal s) { return NULL; }
const char *policy_action_kind_to_string(PolicyActionKind k) { return NULL; }
const char *policy_signal_target_to_string(PolicySignalTarget t) { return NULL; }
const char *policy_kill_scope_to_string(PolicyKillScope s) { return NULL; }
const char *policy_name(const Policy *p) { return NULL; }
const char *policy_source(const Policy *p) { return NULL; }
uint64_t policy_sampling_interval_usec(const Policy *p) { return 250000; }
bool policy_dry_run(const Policy *p) { return false; }
size_t policy_psi_trigger_count(const Policy *p) { return 0; }
const PolicyPsiTrigger *policy_psi_trigger(const Policy *p, size_t i) { return NULL; }
unsigned policy_stage_count(const Policy *p) { return 0; }
const char *policy_stage_name(const Policy *p, unsigned level) { return level == 0 ? "normal" : NULL; }
const PolicyRestart *policy_restart(const Policy *p) { return NULL; }
const char *policy_restart_mode_to_string(PolicyRestartMode m) { return NULL; }
const char *policy_when_to_string(PolicyWhen w) { return NULL; }
const char *policy_reason_to_string(PolicyReason r) { return NULL; }
PolicyState *policy_state_new(const Policy *p, uint64_t now_usec) { return NULL; }
PolicyState *policy_state_free(PolicyState *s) { return NULL; }
PolicyState *policy_state_carry_over(const Policy *new_policy, const PolicyState *old_state) { return NULL; }
unsigned policy_state_stage(const PolicyState *s) { return 0; }
uint64_t policy_state_stage_since_usec(const PolicyState *s) { return 0; }
void policy_evaluate(const Policy *p, PolicyState *s, const OomlessSample *sample, uint64_t now_usec,
                     PolicyDecisions *ret_decisions, PolicyTransition *ret_transition) {}
void policy_state_reset(const Policy *p, PolicyState *s, uint64_t now_usec, PolicyDecisions *ret_decisions,
                        PolicyTransition *ret_transition) {}
const char *policy_restart_verdict_to_string(PolicyRestartVerdict v) { return NULL; }
PolicyRestartVerdict policy_restart_decide(const Policy *p, PolicyRestartState *st, const PolicyExit *exit,
                                           uint64_t now_usec, uint64_t *ret_delay_usec) { return POLICY_RESTART_VERDICT_STOP; }
void policy_restart_note_oom_kill(const Policy *p, PolicyRestartState *st, uint64_t now_usec) {}

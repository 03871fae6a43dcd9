/* SPDX-License-Identifier: MIT */
/* The manager's policy driving: loads the policy, evaluates it on each sample, hands decisions to the
 * action runner, logs stage transitions, reloads on SIGHUP and decides restarts. (Placeholder until
 * the policy engine and the actions land: no stages, no restarts.) */
#define _GNU_SOURCE 1
#include "manager.h"

#include "log.h"

int manager_policy_load(Manager *m)
{
        if (m->cfg.policy_path)
                return log_error_errno(-EOPNOTSUPP, "--policy %s: this build has no policy engine yet",
                                       m->cfg.policy_path);
        return 0;
}

void manager_policy_reload(Manager *m)
{
        (void)m;
        log_info("No policy engine in this build; nothing to reload.");
}

void manager_policy_tick(Manager *m)
{
        (void)m;
}

uint64_t manager_policy_interval(Manager *m)
{
        (void)m;
        return 0;
}

size_t manager_policy_psi_triggers(Manager *m, const char **ret, size_t max)
{
        (void)m;
        (void)ret;
        (void)max;
        return 0;
}

int manager_policy_child_env(Manager *m, char ***env)
{
        (void)m;
        (void)env;
        return 0;
}

int manager_policy_setup(Manager *m)
{
        (void)m;
        return 0;
}

int manager_policy_child_exited(Manager *m, int status, bool oom_killed, uint64_t *ret_delay_usec)
{
        (void)m;
        (void)status;
        (void)oom_killed;
        (void)ret_delay_usec;
        return 0;
}

void manager_policy_status(Manager *m, StatusInfo *info)
{
        (void)m;
        info->policy_name = "none";
}

ManagerPolicy *manager_policy_free(ManagerPolicy *p)
{
        (void)p;
        return NULL;
}

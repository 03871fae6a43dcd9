/* SPDX-License-Identifier: MIT */
/*
 * The built-in policy, used without --policy. Sized for the case the project promises to handle: a
 * workload leaking ~20 MB/s under a 256M limit goes from 70% to 100% in ~4 s and from 90% to 100% in
 * ~1.3 s. Sampling every 100ms sees each percent of that ramp; stage 3 restarts once 90% has held for
 * 300ms (so one sample at the limit during a burst, which the kernel resolves within milliseconds, does
 * not decide alone), with a 500ms grace: the leaf is killed at ~97% at the latest, before the kernel
 * OOM killer would act. On v2 the stage-2 throttle (memory.high at 96%) slows the last stretch further.
 * The restart mode is "never": an exit nobody asked for ends oomless with the workload's status, as an
 * init should; only the restarts this policy asks for start the workload again.
 */
#include "policy-internal.h"

static const char default_json[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"name\": \"default\",\n"
    "  \"description\": \"Built-in policy: warn at 70%, degrade at 85% (scavenge, throttle), restart "
    "gracefully at 90% of the effective limit, before the kernel OOM killer acts.\",\n"
    "  \"sampling_interval\": \"100ms\",\n"
    "  \"restart\": { \"mode\": \"never\", \"initial_delay\": \"1s\", \"max_delay\": \"1m\",\n"
    "               \"reset_after\": \"5m\", \"max_restarts\": 5, \"window\": \"10m\" },\n"
    "  \"stages\": [\n"
    "    {\n"
    "      \"name\": \"warn\",\n"
    "      \"description\": \"Tell the workload memory is getting tight.\",\n"
    "      \"enter\": { \"any\": [ { \"memory\": \">= 70%\" },\n"
    "                          { \"all\": [ { \"psi.full.avg10\": \">= 20%\" }, { \"memory\": \">= 50%\" } "
    "] } ],\n"
    "                 \"for\": \"200ms\" },\n"
    "      \"exit\": { \"all\": [ { \"memory\": \"< 60%\" }, { \"psi.full.avg10\": \"< 10%\" } ], \"for\": "
    "\"2s\" },\n"
    "      \"max_dwell\": \"10m\",\n"
    "      \"on_enter\": [ { \"action\": \"notify\" } ]\n"
    "    },\n"
    "    {\n"
    "      \"name\": \"degrade\",\n"
    "      \"description\": \"Ask the allocator to return memory, and slow allocations near the limit.\",\n"
    "      \"enter\": { \"any\": [ { \"memory\": \">= 85%\" },\n"
    "                          { \"all\": [ { \"psi.full.avg10\": \">= 40%\" }, { \"memory\": \">= 70%\" } "
    "] } ] },\n"
    "      \"exit\": { \"all\": [ { \"memory\": \"< 75%\" }, { \"psi.full.avg10\": \"< 20%\" } ], \"for\": "
    "\"2s\" },\n"
    "      \"cooldown\": \"1s\",\n"
    "      \"repeat\": \"2s\",\n"
    "      \"max_dwell\": \"2m\",\n"
    "      \"on_enter\": [ { \"action\": \"notify\" }, { \"action\": \"scavenge\" },\n"
    "                    { \"action\": \"throttle\", \"memory_high\": \"96%\" } ],\n"
    "      \"while\": [ { \"action\": \"scavenge\" } ]\n"
    "    },\n"
    "    {\n"
    "      \"name\": \"restart\",\n"
    "      \"description\": \"Stop the workload gracefully before the kernel OOM-kills it, then restart "
    "it.\",\n"
    "      \"enter\": { \"any\": [ { \"memory\": \">= 90%\" },\n"
    "                          { \"all\": [ { \"events.max\": \">= 1\", \"within\": \"2s\" }, { \"memory\": "
    "\">= 85%\" } ] } ],\n"
    "                 \"for\": \"300ms\" },\n"
    "      \"exit\": { \"all\": [ { \"memory\": \"< 50%\" } ], \"for\": \"500ms\" },\n"
    "      \"cooldown\": \"2s\",\n"
    "      \"max_dwell\": \"30s\",\n"
    "      \"on_max_dwell\": [ { \"action\": \"kill\", \"scope\": \"leaf\" } ],\n"
    "      \"on_enter\": [ { \"action\": \"notify\" },\n"
    "                    { \"action\": \"restart\", \"stop_signal\": \"TERM\", \"grace\": \"500ms\" } ]\n"
    "    }\n"
    "  ]\n"
    "}\n";

const char *policy_default_json(void)
{
        return default_json;
}

Policy *policy_default(void)
{
        PolicyDiags diags = { 0 };
        Policy *p = NULL;

        /* The text is fixed and covered by tests, so the only possible failure is OOM. */
        (void)policy_parse(default_json, sizeof(default_json) - 1, NULL, &p, &diags);
        policy_diags_done(&diags);
        return p;
}

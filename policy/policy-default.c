/* SPDX-License-Identifier: MIT */
/*
 * The built-in policy, used without --policy. It decides on evidence of trouble, never on the level of
 * memory.current alone, because a cgroup that reads files sits at its limit by design (the kernel
 * reclaims that page cache on demand), and a service may hold a steady working set near its limit for
 * as long as it likes. Everything is measured on the working set (memory.current minus inactive file
 * cache, the kubelet's figure); the evidence is:
 *  - growth: working_set_rate, the working set's growth over 500ms. A leak of 100 MB/s under 256M goes
 *    from 50% to the heap cap (~97%) in ~1.2 s; the restart asks after 700ms held plus one sample, so
 *    the leaker gets its SIGTERM at ~83%. A slower leak (8 MB/s and up) is caught past 75%: at 20 MB/s
 *    that leaves ~2 s. A burst to a steady level (one big malloc, or 1 MiB steps at memory speed) stays
 *    in the rate's window for 500ms at most, shorter than the 700ms hold: steady is not growth. The
 *    price: a ramp slower than ~350 MB/s from below half the limit to above it reads as a leak.
 *  - reclaim failing: PSI full (stalls of every task), memory.events max (v1 failcnt) with the working
 *    set at 95%, or oom (the kernel found nothing to reclaim);
 *  - the allocator's cap refusing allocations (heap.cap_hits) with the working set near the limit:
 *    the program is about to fail (Redis panics on it), so it gets a graceful stop.
 * The stop grace is 10s, docker's and systemd's default, so a real service can drain or finish a panic
 * report; a leaker that dies of SIGTERM is gone at once. A steady service gets "warn" at most.
 * The restart mode is "never": an exit nobody asked for ends oomless with the workload's status, as an
 * init should; only the restarts this policy asks for start the workload again.
 */
#include "policy-internal.h"

static const char default_json[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"name\": \"default\",\n"
    "  \"description\": \"Built-in policy: warn when the working set passes 80%; degrade when reclaim "
    "fails (PSI full, limit hits at 95%); restart gracefully when the working set keeps growing toward the "
    "limit or the heap cap refuses allocations. Page cache and a steady working set are left alone.\",\n"
    "  \"sampling_interval\": \"100ms\",\n"
    "  \"restart\": { \"mode\": \"never\", \"initial_delay\": \"1s\", \"max_delay\": \"1m\",\n"
    "               \"reset_after\": \"5m\", \"max_restarts\": 5, \"window\": \"10m\" },\n"
    "  \"stages\": [\n"
    "    {\n"
    "      \"name\": \"warn\",\n"
    "      \"description\": \"Tell the workload its working set is getting close to the limit.\",\n"
    "      \"enter\": { \"any\": [ { \"working_set\": \">= 80%\" },\n"
    "                          { \"all\": [ { \"psi.full.avg10\": \">= 10%\" }, { \"working_set\": \">= 50%\" "
    "} ] } ],\n"
    "                 \"for\": \"500ms\" },\n"
    "      \"exit\": { \"all\": [ { \"working_set\": \"< 70%\" }, { \"psi.full.avg10\": \"< 5%\" } ], "
    "\"for\": \"2s\" },\n"
    "      \"on_enter\": [ { \"action\": \"notify\" } ]\n"
    "    },\n"
    "    {\n"
    "      \"name\": \"degrade\",\n"
    "      \"description\": \"Reclaim is failing: ask the allocator to return memory, slow growth above the "
    "working set.\",\n"
    "      \"enter\": { \"any\": [ { \"all\": [ { \"psi.full.avg10\": \">= 20%\" }, { \"working_set\": \">= "
    "85%\" } ] },\n"
    "                          { \"all\": [ { \"events.max\": \">= 1\", \"within\": \"2s\" }, { "
    "\"working_set\": \">= 95%\" } ] } ],\n"
    "                 \"for\": \"500ms\" },\n"
    "      \"exit\": { \"all\": [ { \"psi.full.avg10\": \"< 10%\" } ],\n"
    "                \"any\": [ { \"working_set\": \"< 90%\" }, { \"events.max\": \"< 1\", \"within\": "
    "\"5s\" } ],\n"
    "                \"for\": \"2s\" },\n"
    "      \"cooldown\": \"1s\",\n"
    "      \"repeat\": \"2s\",\n"
    "      \"max_dwell\": \"2m\",\n"
    "      \"on_enter\": [ { \"action\": \"notify\" }, { \"action\": \"scavenge\" },\n"
    "                    { \"action\": \"throttle\", \"memory_high\": \"96%\" } ],\n"
    "      \"while\": [ { \"action\": \"scavenge\" } ]\n"
    "    },\n"
    "    {\n"
    "      \"name\": \"restart\",\n"
    "      \"description\": \"Stop the workload gracefully before the kernel OOM-kills it or its allocations "
    "fail, then restart it.\",\n"
    "      \"enter\": { \"any\": [\n"
    "                   { \"all\": [ { \"working_set\": \">= 50%\" }, { \"working_set_rate\": \">= 50M/s\", "
    "\"within\": \"500ms\" } ] },\n"
    "                   { \"all\": [ { \"working_set\": \">= 75%\" }, { \"working_set_rate\": \">= 8M/s\", "
    "\"within\": \"500ms\" } ] },\n"
    "                   { \"all\": [ { \"working_set\": \">= 90%\" }, { \"psi.full.avg10\": \">= 40%\" } ] },\n"
    "                   { \"all\": [ { \"working_set\": \">= 85%\" }, { \"events.oom\": \">= 1\", \"within\": "
    "\"5s\" } ] },\n"
    "                   { \"all\": [ { \"working_set\": \">= 80%\" }, { \"heap.cap_hits\": \">= 1\", "
    "\"within\": \"5s\" } ] } ],\n"
    "                 \"for\": \"700ms\" },\n"
    "      \"exit\": { \"all\": [ { \"working_set\": \"< 50%\" } ], \"for\": \"500ms\" },\n"
    "      \"cooldown\": \"2s\",\n"
    "      \"max_dwell\": \"30s\",\n"
    "      \"on_max_dwell\": [ { \"action\": \"kill\", \"scope\": \"leaf\" } ],\n"
    "      \"on_enter\": [ { \"action\": \"notify\" },\n"
    "                    { \"action\": \"restart\", \"stop_signal\": \"TERM\", \"grace\": \"10s\" } ]\n"
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

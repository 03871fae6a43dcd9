/* SPDX-License-Identifier: MIT */
/*
 * The built-in policy, used without --policy. It decides on evidence of trouble, never on the level of
 * memory.current alone, because a cgroup that reads files sits at its limit by design (the kernel
 * reclaims that page cache on demand), and a service may hold a steady working set near its limit for
 * as long as it likes. Two measures: the working set (memory.current minus inactive file cache, the
 * kubelet's figure) for warnings, and nonfile (memory.current minus all file cache: anon, shmem,
 * kernel) for everything that acts, since only non-file memory ends in an OOM kill: a job that
 * thrashes its file cache stalls (PSI) but is never killed, and a restart would not help it. The working set
 * counts active file cache, and a build that reads its output twice holds a working set at its limit that
 * reclaim shrinks on demand (measured: 254M of 256M, with 64M of anon); its nonfile stays at 25%. The
 * evidence is:
 *  - growth near the limit: nonfile past 94% that still grows (nonfile_rate over 500ms). A steady
 *    service at 92% never gets there, however fast it got to 92% (one malloc, 1 MiB steps, a slow
 *    machine): only the level and the trend together decide, with no hold, because a leak of 100 MB/s
 *    crosses the last 6% of 256M in 150ms. The supervisor publishes the allocator's wake watermark
 *    just past this level (supervise_heap_cap()), so a malloc leak is sampled the moment it crosses,
 *    and stopped ~8 MiB below the heap cap; other memory (tmpfs, mmap) is sampled every 100ms, ~15 MiB
 *    below the kernel's limit.
 *  - reclaim failing: PSI full (stalls of every task) with nonfile at 85-90%, memory.events max (v1
 *    failcnt, which also counts every page-cache reclaim at the limit) with nonfile at 95%, or oom
 *    (the kernel found nothing to reclaim);
 *  - the allocator's cap refusing allocations (heap.cap_hits) with nonfile near the limit: the program
 *    is about to fail (Redis panics on it), so it gets a graceful stop.
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
    "fails with non-file memory (anon, shmem, kernel) near the limit (PSI full, limit hits); restart "
    "gracefully when non-file memory keeps growing toward the limit or the heap cap refuses "
    "allocations. Page cache and a steady working set are left alone.\",\n"
    "  \"sampling_interval\": \"100ms\",\n"
    "  \"restart\": { \"mode\": \"never\", \"initial_delay\": \"1s\", \"max_delay\": \"1m\",\n"
    "               \"reset_after\": \"5m\", \"max_restarts\": 5, \"window\": \"10m\" },\n"
    "  \"stages\": [\n"
    "    {\n"
    "      \"name\": \"warn\",\n"
    "      \"description\": \"Tell the workload its working set is getting close to the limit.\",\n"
    "      \"enter\": { \"any\": [ { \"working_set\": \">= 80%\" },\n"
    "                          { \"all\": [ { \"psi.full.avg10\": \">= 10%\" }, { \"working_set\": \">= "
    "50%\" "
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
    "      \"enter\": { \"any\": [ { \"all\": [ { \"psi.full.avg10\": \">= 20%\" }, { \"nonfile\": \">= "
    "85%\" } ] },\n"
    "                          { \"all\": [ { \"events.max\": \">= 1\", \"within\": \"2s\" }, { "
    "\"nonfile\": \">= 95%\" } ] } ],\n"
    "                 \"for\": \"500ms\" },\n"
    "      \"exit\": { \"all\": [ { \"psi.full.avg10\": \"< 10%\" } ],\n"
    "                \"any\": [ { \"nonfile\": \"< 90%\" }, { \"events.max\": \"< 1\", \"within\": "
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
    "      \"description\": \"Stop the workload gracefully before the kernel OOM-kills it or its "
    "allocations "
    "fail, then restart it.\",\n"
    "      \"enter\": { \"any\": [\n"
    "                   { \"all\": [ { \"nonfile\": \">= 94%\" }, { \"nonfile_rate\": \">= 1M/s\", "
    "\"within\": \"500ms\" } ] },\n"
    "                   { \"all\": [ { \"nonfile\": \">= 90%\" }, { \"psi.full.avg10\": \">= 40%\" } ] "
    "},\n"
    "                   { \"all\": [ { \"nonfile\": \">= 85%\" }, { \"events.oom\": \">= 1\", "
    "\"within\": "
    "\"5s\" } ] },\n"
    "                   { \"all\": [ { \"nonfile\": \">= 80%\" }, { \"heap.cap_hits\": \">= 1\", "
    "\"within\": \"5s\" } ] } ] },\n"
    "      \"exit\": { \"all\": [ { \"nonfile\": \"< 50%\" } ], \"for\": \"500ms\" },\n"
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

/* SPDX-License-Identifier: MIT */
/* The manager's HTTP endpoint: where its address comes from (--listen, else the policy's "http"), and
 * the figures each route is answered with. The server is http.c, the metrics document metrics.c. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "manager-internal.h"
#include "time-util.h"

/* The supervisor's own resident set, from /proc/self/statm; 0 when unknown. */
static uint64_t self_rss_bytes(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/statm", "re");
        unsigned long size, resident;

        if (!f || fscanf(f, "%lu %lu", &size, &resident) != 2)
                return 0;
        return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t self_cpu_usec(void)
{
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return 0;
        return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * USEC_PER_SEC +
               (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* From the loop's own sample, the one the policy decided on: the stage and the memory figures of one
 * scrape then agree with each other. */
static char *render_metrics(void *userdata, MetricsFormat fmt, size_t *ret_len)
{
        Manager *m = userdata;
        const Policy *p = supervise_policy(m->supervise);
        SuperviseStats st;
        MetricsFigures *f;
        char *text;

        f = calloc(1, sizeof(*f)); /* ~3 KiB: off the stack */
        if (!f)
                return NULL;
        supervise_stats(m->supervise, now_usec(CLOCK_MONOTONIC), &st);
        *f = (MetricsFigures){
                .version = OOMLESS_VERSION,
                .policy_name = policy_name(p),
                .dry_run = supervise_dry_run(m->supervise),
                .ready = st.ready && !manager_stop_requested(m),
                .workload_running =
                    m->cfg.mode == MANAGER_RUN ? m->child_running : !m->stopping && !m->target.waiting,
                .attach = m->cfg.mode == MANAGER_ATTACH,
                .target_up = m->cfg.mode == MANAGER_ATTACH && !m->target.waiting && !m->stopping,
                .samples = m->samples,
                .sample_valid = m->have_sample,
                .sample = m->last,
                .stage = st.stage,
                .n_stages = MIN(policy_stage_count(p), (unsigned)POLICY_STAGES_MAX),
                .transitions = st.transitions,
                .budget_permille = st.budget.budget,
                .budget_step_permille = st.budget.step,
                .budget_failed_permille = st.budget.failed,
                .budget_steps = st.budget.steps,
                .budget_sheds = st.budget.sheds,
                .weight = st.weight,
                .restarts = m->restarts,
                .oom_kills = st.oom_kills,
                .self_rss_bytes = self_rss_bytes(),
                .self_cpu_usec = self_cpu_usec(),
        };
        for (unsigned i = 0; i <= f->n_stages; i++) {
                f->stage_names[i] = policy_stage_name(p, i);
                f->stage_usec[i] = st.stage_usec[i];
        }
        for (PolicyActionKind k = 0; k < _POLICY_ACTION_KIND_MAX; k++)
                for (ActionOutcome o = 0; o < _ACTION_OUTCOME_MAX; o++)
                        f->actions[k][o] = actions_count(m->runner, k, o);
        text = metrics_render(f, fmt, ret_len);
        free(f);
        return text;
}

static char *render_status(void *userdata)
{
        return manager_status_document(userdata);
}

static bool is_ready(void *userdata, char *why, size_t size)
{
        Manager *m = userdata;
        SuperviseStats st;

        /* A sidecar started before its app: alive (/livez), but not supervising anything yet. */
        if (m->target.waiting) {
                snprintf(why, size, "not ready: waiting for the target (--wait=%s)\n", m->cfg.wait.text);
                return false;
        }
        if (manager_stop_requested(m)) {
                snprintf(why, size, "not ready: oomless is stopping the workload\n");
                return false;
        }
        supervise_stats(m->supervise, now_usec(CLOCK_MONOTONIC), &st);
        if (!st.ready)
                snprintf(why, size, "not ready: stage %s declares \"ready\": false\n",
                         policy_stage_name(supervise_policy(m->supervise), st.stage) ?: "?");
        return st.ready;
}

int manager_setup_http(Manager *m)
{
        const char *pl = policy_http_listen(supervise_policy(m->supervise));
        ListenAddr a;
        const char *origin;
        int r;

        if (m->cfg.listen_set) {
                a = m->cfg.listen;
                origin = "--listen";
        } else if (pl) {
                /* checked by the policy parser already, loopback or "public": true included */
                r = listen_addr_parse(pl, &a);
                if (r < 0)
                        return log_error_errno(r, "The policy's http.listen \"%s\" is invalid.", pl);
                origin = "the policy's http.listen";
        } else
                return 0; /* off: nothing bound, libmicrohttpd not even loaded */

        return http_server_new(
            m->event, &a, origin,
            &(HttpCallbacks){
                .metrics = render_metrics, .status = render_status, .ready = is_ready, .userdata = m },
            &m->http);
}

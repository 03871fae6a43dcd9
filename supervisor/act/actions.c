/* SPDX-License-Identifier: MIT */
/* Executes policy decisions without blocking the loop and records their outcomes. See actions.h. */
#define _GNU_SOURCE
#include "actions.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "log.h"
#include "reclaim.h"
#include "webhook.h"
#include "strv.h"
#include "units.h"

typedef struct Pending Pending;

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

/* An action that started and reports later (hook, webhook, reclaim, dump). */
struct Pending {
        Pending *next;
        ActionRunner *runner;
        PolicyActionKind kind;
        unsigned stage;
        PolicyWhen when;
        Hook *hook;
        char label[80];         /* "exec /bin/sh", "webhook http://...", for the exit drain's log */
        uint64_t deadline_usec; /* CLOCK_MONOTONIC end through its own timeouts, USEC_INFINITY: none */
        bool cancelled;         /* given up on at exit; the outcome says so */
        /* dump: memory.max to restore; restore_max false when nothing was raised */
        bool restore_max;
        uint64_t old_max;
};

typedef struct QueuedDecision {
        PolicyDecision d;
        OomlessSample s;
} QueuedDecision;

struct ActionRunner {
        sd_event *event;
        Cg *cg;
        Control *control;
        const Policy *policy;
        bool dry_run;
        size_t webhook_queue_max;
        ActionCallbacks cb;

        Webhook *webhook;
        Reclaimer *reclaimer;
        sd_event_source *resume_source;
        Pending *pending;

        /* Decisions behind a running dump, oldest first (a ring). */
        bool barrier;
        QueuedDecision queue[ACTIONS_QUEUE_MAX];
        size_t queue_head, queue_len;

        /* Stage bookkeeping from the last transition. */
        unsigned stage, prev_stage;

        /* The control page's supervisor half as we last published it. */
        unsigned published_stage;
        uint64_t heap_cap, wake_watermark;
        bool said_no_allocator;

        /* throttle: memory.high before the stage set it, per level */
        bool high_saved[POLICY_STAGES_MAX + 1];
        uint64_t high_before[POLICY_STAGES_MAX + 1];

        ActionRecord ring[ACTIONS_RING_SIZE];
        size_t ring_next, ring_len;
};

static const char *const outcome_names[_ACTION_OUTCOME_MAX] = {
        [ACTION_OUTCOME_OK] = "ok",
        [ACTION_OUTCOME_FAILED] = "failed",
        [ACTION_OUTCOME_SKIPPED] = "skipped",
        [ACTION_OUTCOME_WOULD] = "would",
};

const char *action_outcome_to_string(ActionOutcome o)
{
        return o >= 0 && o < _ACTION_OUTCOME_MAX ? outcome_names[o] : NULL;
}

static uint64_t realtime_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static uint64_t monotonic_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

static const char *kind_name(PolicyActionKind k)
{
        return policy_action_kind_to_string(k) ?: "?";
}

static const char *when_name(PolicyWhen w)
{
        return policy_when_to_string(w) ?: "?";
}

static const char *stage_name(const ActionRunner *r, unsigned level)
{
        const char *n = r->policy ? policy_stage_name(r->policy, level) : NULL;
        return n ?: (level == 0 ? "normal" : "?");
}

static _printf_(5, 6) void record(ActionRunner *r, PolicyActionKind kind, unsigned stage, PolicyWhen when,
                                  const char *fmt, ...);

/* Records one outcome: fmt starts with the outcome word ("ok", "failed", "skipped", "would"), then
 * ": detail". One log line each. */
static void record_outcome(ActionRunner *r, PolicyActionKind kind, unsigned stage, PolicyWhen when,
                           ActionOutcome outcome, const char *detail)
{
        ActionRecord *rec = &r->ring[r->ring_next];
        LogLevel level = outcome == ACTION_OUTCOME_FAILED ? LOG_LEVEL_WARNING : LOG_LEVEL_NOTICE;

        *rec = (ActionRecord){
                .kind = kind,
                .stage = stage,
                .when = when,
                .outcome = outcome,
                .realtime_usec = realtime_usec(),
        };
        snprintf(rec->detail, sizeof(rec->detail), "%s", detail);
        r->ring_next = (r->ring_next + 1) % ACTIONS_RING_SIZE;
        r->ring_len = MIN(r->ring_len + 1, (size_t)ACTIONS_RING_SIZE);

        log_full_errno(level, 0, "Action %s of stage %u%s%s%s on %s: %s: %s", kind_name(kind), stage,
                       r->policy ? " (" : "", r->policy ? stage_name(r, stage) : "", r->policy ? ")" : "",
                       when_name(when), outcome_names[outcome], detail);
}

static void record(ActionRunner *r, PolicyActionKind kind, unsigned stage, PolicyWhen when, const char *fmt,
                   ...)
{
        char buf[ACTIONS_DETAIL_MAX + 16];
        static const struct {
                const char *prefix;
                ActionOutcome o;
        } map[] = {
                { "ok: ", ACTION_OUTCOME_OK },
                { "failed: ", ACTION_OUTCOME_FAILED },
                { "skipped: ", ACTION_OUTCOME_SKIPPED },
                { "would: ", ACTION_OUTCOME_WOULD },
        };
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strncmp(buf, map[i].prefix, strlen(map[i].prefix)) == 0) {
                        record_outcome(r, kind, stage, when, map[i].o, buf + strlen(map[i].prefix));
                        return;
                }
        record_outcome(r, kind, stage, when, ACTION_OUTCOME_FAILED, buf);
}

#define RECORD(r, d, ...) record((r), (d)->action->kind, (d)->stage, (d)->when, __VA_ARGS__)

/* How long an action may run through its own timeouts, with a little slack so that an outcome it
 * reaches by itself wins over the exit drain's cancel. */
static uint64_t action_bound(const PolicyAction *a)
{
        const uint64_t slack = 500 * USEC_PER_MSEC;
        uint64_t t, backoff, total;

        switch (a->kind) {
        case POLICY_ACTION_EXEC:
        case POLICY_ACTION_DUMP:
                if (a->timeout_usec == 0)
                        return USEC_INFINITY;
                return add_sat(add_sat(a->timeout_usec, HOOK_KILL_GRACE_DEFAULT), slack);
        case POLICY_ACTION_WEBHOOK:
                t = a->timeout_usec ?: WEBHOOK_TIMEOUT_DEFAULT;
                backoff = a->backoff_usec ?: WEBHOOK_BACKOFF_DEFAULT;
                total = t;
                for (unsigned i = 0; i < a->retries; i++) {
                        total = add_sat(total, add_sat(MIN(backoff, WEBHOOK_BACKOFF_MAX_DEFAULT), t));
                        backoff = add_sat(backoff, backoff);
                }
                return add_sat(total, slack);
        case POLICY_ACTION_RECLAIM:
                return a->timeout_usec == 0 ? USEC_INFINITY : add_sat(a->timeout_usec, slack);
        default:
                return USEC_INFINITY;
        }
}

static Pending *pending_new(ActionRunner *r, const PolicyDecision *d)
{
        const PolicyAction *a = d->action;
        Pending *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->runner = r;
        p->kind = a->kind;
        if (IN_SET(a->kind, POLICY_ACTION_EXEC, POLICY_ACTION_DUMP) && a->argv && a->argv[0])
                snprintf(p->label, sizeof(p->label), "%s %s", kind_name(a->kind), a->argv[0]);
        else if (a->kind == POLICY_ACTION_WEBHOOK && a->url)
                snprintf(p->label, sizeof(p->label), "%s %s", kind_name(a->kind), a->url);
        else
                snprintf(p->label, sizeof(p->label), "%s", kind_name(a->kind));
        p->deadline_usec = add_sat(monotonic_usec(), action_bound(a));
        p->stage = d->stage;
        p->when = d->when;
        p->next = r->pending;
        r->pending = p;
        return p;
}

static void pending_free(Pending *p)
{
        ActionRunner *r = p->runner;
        for (Pending **i = &r->pending; *i; i = &(*i)->next)
                if (*i == p) {
                        *i = p->next;
                        break;
                }
        free(p);
}

/* After an asynchronous outcome: tell the manager when nothing is left running. */
static void maybe_idle(ActionRunner *r)
{
        if (!actions_busy(r) && r->cb.idle)
                r->cb.idle(r->cb.userdata);
}

/* ---- notify ------------------------------------------------------------------------------------ */

static int publish(ActionRunner *r)
{
        unsigned count = r->policy ? policy_stage_count(r->policy) : 0;

        if (!r->control)
                return 0;
        return control_publish(r->control, r->published_stage, MAX(count, r->published_stage), r->heap_cap,
                               r->wake_watermark, r->dry_run);
}

static void do_notify(ActionRunner *r, const PolicyDecision *d)
{
        unsigned stage = r->stage, prev = r->prev_stage;
        int q;

        if (r->dry_run) {
                /* The page still carries the stage with the dry-run flag, which tells the app that the
                 * policy only observes; the manager's watchers are left alone. */
                r->published_stage = stage;
                (void)publish(r);
                RECORD(r, d, "would: would notify the workload of stage %u (%s)", stage,
                       stage_name(r, stage));
                return;
        }
        r->published_stage = stage;
        q = publish(r);
        if (r->cb.stage_notified)
                r->cb.stage_notified(r->cb.userdata, stage, prev);
        if (q < 0)
                RECORD(r, d, "failed: stage %u not published to the control page: %s", stage, strerror(-q));
        else
                RECORD(r, d, "ok: stage %u (%s) published%s", stage, stage_name(r, stage),
                       r->control ? " to the control page" : " (no control page)");
}

/* ---- signal, kill ------------------------------------------------------------------------------- */

static int pidfd_signal(pid_t pid, int sig)
{
        _cleanup_close_ int fd = (int)syscall(SYS_pidfd_open, pid, 0);

        if (fd < 0)
                return negative_errno();
        if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
                return negative_errno();
        return 0;
}

static pid_t main_pid(ActionRunner *r)
{
        return r->cb.get_main_pid ? r->cb.get_main_pid(r->cb.userdata) : 0;
}

/* The main process's group, refusing our own: signalling it would hit the supervisor. */
static int main_pgid(ActionRunner *r, pid_t *ret)
{
        pid_t pid = main_pid(r), pgid;

        if (pid <= 0)
                return -ESRCH;
        pgid = getpgid(pid);
        if (pgid < 0)
                return negative_errno();
        if (pgid == getpgrp())
                return -EPERM;
        *ret = pgid;
        return 0;
}

static int signal_leaf_once(ActionRunner *r, int sig, unsigned *ret_n)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        unsigned sent = 0;
        int q;

        if (!r->cg)
                return -EOPNOTSUPP;
        q = cg_list_pids(r->cg, &pids, &n);
        if (q < 0)
                return q;
        for (size_t i = 0; i < n; i++) {
                if (pids[i] == getpid())
                        continue;
                if (pidfd_signal(pids[i], sig) >= 0)
                        sent++;
        }
        *ret_n = sent;
        return 0;
}

static void do_signal(ActionRunner *r, const PolicyDecision *d)
{
        const PolicyAction *a = d->action;
        const char *sig = units_signal_to_string(a->signal) ?: "?";
        const char *target = policy_signal_target_to_string(a->target) ?: "?";
        unsigned n = 0;
        pid_t pid;
        int q;

        if (r->dry_run) {
                RECORD(r, d, "would: would send %s to %s", sig, target);
                return;
        }
        switch (a->target) {
        case POLICY_TARGET_MAIN:
                pid = main_pid(r);
                if (pid <= 0) {
                        RECORD(r, d, "skipped: no main process runs");
                        return;
                }
                q = pidfd_signal(pid, a->signal);
                if (q < 0)
                        RECORD(r, d, "failed: %s to pid %d: %s", sig, (int)pid, strerror(-q));
                else
                        RECORD(r, d, "ok: sent %s to pid %d", sig, (int)pid);
                return;
        case POLICY_TARGET_GROUP:
                q = main_pgid(r, &pid);
                if (q == -EPERM)
                        RECORD(r, d,
                               "failed: the main process shares oomless's process group; use target "
                               "\"main\" or \"leaf\"");
                else if (q < 0)
                        RECORD(r, d, "skipped: no main process group: %s", strerror(-q));
                else if (kill(-pid, a->signal) < 0)
                        RECORD(r, d, "failed: %s to process group %d: %m", sig, (int)pid);
                else
                        RECORD(r, d, "ok: sent %s to process group %d", sig, (int)pid);
                return;
        case POLICY_TARGET_LEAF:
                q = signal_leaf_once(r, a->signal, &n);
                if (q == -EOPNOTSUPP)
                        RECORD(r, d, "skipped: no cgroup to list processes from");
                else if (q < 0)
                        RECORD(r, d, "failed: listing the leaf's processes: %s", strerror(-q));
                else
                        RECORD(r, d, "ok: sent %s to %u process(es) in the leaf", sig, n);
                return;
        default:
                RECORD(r, d, "failed: unknown signal target %d", (int)a->target);
        }
}

static int read_statm_rss(pid_t pid, uint64_t *ret)
{
        char path[64], buf[128];
        unsigned long long size, resident;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return n < 0 ? negative_errno() : -EIO;
        buf[n] = 0;
        if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
                return -EIO;
        *ret = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
        return 0;
}

int actions_largest_rss(const pid_t *pids, size_t n, pid_t *ret_pid, uint64_t *ret_rss)
{
        pid_t best = 0;
        uint64_t best_rss = 0;

        for (size_t i = 0; i < n; i++) {
                uint64_t rss;
                if (pids[i] <= 0 || pids[i] == getpid())
                        continue;
                if (read_statm_rss(pids[i], &rss) < 0)
                        continue; /* gone meanwhile, or a kernel thread without statm figures */
                if (best == 0 || rss > best_rss) {
                        best = pids[i];
                        best_rss = rss;
                }
        }
        if (best == 0)
                return -ESRCH;
        *ret_pid = best;
        if (ret_rss)
                *ret_rss = best_rss;
        return 0;
}

static void do_kill(ActionRunner *r, const PolicyDecision *d)
{
        const PolicyAction *a = d->action;
        const char *sig = units_signal_to_string(a->kill_signal) ?: "?";
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        uint64_t rss = 0;
        pid_t pid;
        int q;

        switch (a->kill_scope) {
        case POLICY_KILL_PROCESS:
                if (!r->cg) {
                        RECORD(r, d, "skipped: no cgroup to list processes from");
                        return;
                }
                q = cg_list_pids(r->cg, &pids, &n);
                if (q < 0) {
                        RECORD(r, d, "failed: listing the leaf's processes: %s", strerror(-q));
                        return;
                }
                q = actions_largest_rss(pids, n, &pid, &rss);
                if (q < 0) {
                        RECORD(r, d, "skipped: no process in the leaf");
                        return;
                }
                if (r->dry_run) {
                        RECORD(r, d,
                               "would: would send %s to pid %d, the largest RSS in the leaf (%" PRIu64
                               " bytes)",
                               sig, (int)pid, rss);
                        return;
                }
                q = pidfd_signal(pid, a->kill_signal);
                if (q < 0)
                        RECORD(r, d, "failed: %s to pid %d: %s", sig, (int)pid, strerror(-q));
                else
                        RECORD(r, d,
                               "ok: sent %s to pid %d, the largest RSS in the leaf (%" PRIu64 " bytes)", sig,
                               (int)pid, rss);
                return;
        case POLICY_KILL_GROUP:
                q = main_pgid(r, &pid);
                if (q == -EPERM)
                        RECORD(r, d,
                               "failed: the main process shares oomless's process group; use scope "
                               "\"process\" or \"leaf\"");
                else if (q < 0)
                        RECORD(r, d, "skipped: no main process group: %s", strerror(-q));
                else if (r->dry_run)
                        RECORD(r, d, "would: would send %s to process group %d", sig, (int)pid);
                else if (kill(-pid, a->kill_signal) < 0)
                        RECORD(r, d, "failed: %s to process group %d: %m", sig, (int)pid);
                else
                        RECORD(r, d, "ok: sent %s to process group %d", sig, (int)pid);
                return;
        case POLICY_KILL_LEAF:
                if (!r->cg) {
                        RECORD(r, d, "skipped: no cgroup");
                        return;
                }
                if (r->dry_run) {
                        RECORD(r, d, "would: would send %s to every process in %s", sig,
                               cg_leaf_path(r->cg));
                        return;
                }
                q = cg_kill_all(r->cg, a->kill_signal);
                if (q < 0)
                        RECORD(r, d, "failed: killing the leaf %s: %s", cg_leaf_path(r->cg), strerror(-q));
                else
                        RECORD(r, d, "ok: sent %s to every process in %s", sig, cg_leaf_path(r->cg));
                return;
        default:
                RECORD(r, d, "failed: unknown kill scope %d", (int)a->kill_scope);
        }
}

/* ---- hooks: exec and dump ---------------------------------------------------------------------- */

/*
 * OOMLESS_STAGE, OOMLESS_STAGE_NAME     the current level and its name (after the transition)
 * OOMLESS_PREV_STAGE, _PREV_STAGE_NAME  the level before it
 * OOMLESS_ACTION_STAGE                  the level whose list holds this action
 * OOMLESS_EVENT                         enter | while | exit | max_dwell
 * OOMLESS_ACTION                        exec | dump
 * OOMLESS_MEMORY_CURRENT, _LIMIT, _HIGH, _PEAK   bytes ("max" for no limit)
 * OOMLESS_PSI_SOME_AVG10, _FULL_AVG10   percent, when PSI is available
 * OOMLESS_HEAP_HELD, _IN_USE, _CAP      bytes, when the allocator publishes
 * OOMLESS_LEAF, OOMLESS_PID, OOMLESS_SUPERVISOR_PID, OOMLESS_POLICY, OOMLESS_DRY_RUN
 */
int actions_hook_env(const ActionRunner *r, const PolicyDecision *d, const OomlessSample *s, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        char b[32];
        int q = 0;

#define PUSH(...)                                                                                           \
        do {                                                                                                \
                if (q >= 0)                                                                                 \
                        q = strv_pushf(&l, __VA_ARGS__);                                                    \
        } while (0)
        PUSH("OOMLESS_STAGE=%u", r->stage);
        PUSH("OOMLESS_STAGE_NAME=%s", stage_name(r, r->stage));
        PUSH("OOMLESS_PREV_STAGE=%u", r->prev_stage);
        PUSH("OOMLESS_PREV_STAGE_NAME=%s", stage_name(r, r->prev_stage));
        PUSH("OOMLESS_ACTION_STAGE=%u", d->stage);
        PUSH("OOMLESS_EVENT=%s", when_name(d->when));
        PUSH("OOMLESS_ACTION=%s", kind_name(d->action->kind));
        PUSH("OOMLESS_MEMORY_CURRENT=%" PRIu64, s->current);
        PUSH("OOMLESS_MEMORY_LIMIT=%s", units_format_limit(b, sizeof(b), s->limit));
        PUSH("OOMLESS_MEMORY_HIGH=%s", units_format_limit(b, sizeof(b), s->high));
        PUSH("OOMLESS_MEMORY_PEAK=%" PRIu64, s->peak);
        if (s->psi_valid) {
                PUSH("OOMLESS_PSI_SOME_AVG10=%.2f", s->psi_some.avg10);
                PUSH("OOMLESS_PSI_FULL_AVG10=%.2f", s->psi_full.avg10);
        }
        if (s->heap_valid) {
                PUSH("OOMLESS_HEAP_HELD=%" PRIu64, s->heap_held);
                PUSH("OOMLESS_HEAP_IN_USE=%" PRIu64, s->heap_in_use);
                PUSH("OOMLESS_HEAP_CAP=%" PRIu64, s->heap_cap);
        }
        PUSH("OOMLESS_LEAF=%s", r->cg ? cg_leaf_path(r->cg) ?: "" : "");
        PUSH("OOMLESS_PID=%d", (int)main_pid((ActionRunner *)r));
        PUSH("OOMLESS_SUPERVISOR_PID=%d", (int)getpid());
        PUSH("OOMLESS_POLICY=%s", r->policy ? policy_name(r->policy) ?: "" : "");
        PUSH("OOMLESS_DRY_RUN=%d", r->dry_run ? 1 : 0);
#undef PUSH
        if (q < 0)
                return q;
        *ret = TAKE_PTR(l);
        return 0;
}

static void queue_resume(ActionRunner *r);

static int on_resume(sd_event_source *s, void *userdata)
{
        ActionRunner *r = userdata;

        r->resume_source = sd_event_source_disable_unref(r->resume_source);
        queue_resume(r);
        maybe_idle(r);
        return 0;
}

/* The decisions behind a finished dump run from the loop, not from inside whoever reported the hook's
 * end (that may be the manager's own SIGCHLD reaper, which a restart must not re-enter). */
static void schedule_resume(ActionRunner *r)
{
        int q;

        if (r->resume_source || r->queue_len == 0)
                return;
        q = sd_event_add_defer(r->event, &r->resume_source, on_resume, r);
        if (q < 0) {
                log_warning_errno(q, "Cannot defer the actions queued behind a dump, running them now: %m");
                queue_resume(r);
        }
}

static void restore_max(ActionRunner *r, Pending *p, char *buf, size_t len)
{
        int q;

        buf[0] = 0;
        if (!p->restore_max || !r->cg)
                return;
        q = cg_set_memory_max(r->cg, p->old_max);
        if (q < 0) {
                /* v1 refuses a limit below the usage (EBUSY); the hook's leftovers may still be
                 * charged. Say so: the raised limit stays until someone lowers it. */
                snprintf(buf, len, "; restoring memory.max to %" PRIu64 " failed: %s", p->old_max,
                         strerror(-q));
                log_error_errno(q, "Failed to restore memory.max of %s to %" PRIu64 " after the dump: %m",
                                cg_leaf_path(r->cg), p->old_max);
        } else
                snprintf(buf, len, "; memory.max restored to %" PRIu64, p->old_max);
}

static void on_hook_done(const HookResult *res, void *userdata)
{
        Pending *p = userdata;
        ActionRunner *r = p->runner;
        char desc[96], restored[160] = "";
        bool ok = res->status_known ? (res->code == CLD_EXITED && res->status == 0) : !res->timed_out;

        if (p->cancelled) {
                /* Its end came from the exit drain, not from its own timeout. */
                HookResult c = *res;
                c.timed_out = false;
                hook_result_describe(&c, desc, sizeof(desc));
        } else
                hook_result_describe(res, desc, sizeof(desc));
        if (p->kind == POLICY_ACTION_DUMP)
                restore_max(r, p, restored, sizeof(restored));
        if (p->cancelled)
                record(r, p->kind, p->stage, p->when,
                       "failed: cancelled at exit: hook pid %d %s in %" PRIu64 " ms%s", (int)res->pid, desc,
                       res->duration_usec / USEC_PER_MSEC, restored);
        else
                record(r, p->kind, p->stage, p->when, "%s: hook pid %d %s in %" PRIu64 " ms%s",
                       ok ? "ok" : "failed", (int)res->pid, desc, res->duration_usec / USEC_PER_MSEC,
                       restored);

        bool was_dump = p->kind == POLICY_ACTION_DUMP;
        pending_free(p);
        if (was_dump) {
                r->barrier = false;
                schedule_resume(r);
        }
        maybe_idle(r);
}

static int start_hook(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s, Pending *p)
{
        _cleanup_strv_free_ char **env = NULL;
        HookSpec spec = {
                .argv = d->action->argv,
                .timeout_usec = d->action->timeout_usec,
                .stdout_fd = STDERR_FILENO, /* the hook's output goes to our log stream, not stdout */
                .stderr_fd = -1,
        };
        int q;

        q = actions_hook_env(r, d, s, &env);
        if (q < 0)
                return q;
        spec.env_extra = env;
        return hook_run(r->event, &spec, on_hook_done, p, &p->hook);
}

static void do_exec(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        const PolicyAction *a = d->action;
        Pending *p;
        int q;

        if (!a->argv || !a->argv[0]) {
                RECORD(r, d, "failed: no argv");
                return;
        }
        if (r->dry_run) {
                RECORD(r, d, "would: would run %s", a->argv[0]);
                return;
        }
        p = pending_new(r, d);
        if (!p) {
                RECORD(r, d, "failed: out of memory");
                return;
        }
        q = start_hook(r, d, s, p);
        if (q < 0) {
                pending_free(p);
                RECORD(r, d, "failed: cannot run %s: %s", a->argv[0], strerror(-q));
        }
}

/* Raises memory.max by the headroom, runs the evidence hook, restores memory.max on completion;
 * the queue waits for it. Returns true when it became a barrier. */
static bool do_dump(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        const PolicyAction *a = d->action;
        uint64_t old_max = OOMLESS_NO_LIMIT;
        bool raise = false;
        Pending *p;
        int q;

        if (!a->argv || !a->argv[0]) {
                RECORD(r, d, "failed: no argv");
                return false;
        }
        if (r->cg && a->headroom > 0) {
                q = cg_get_memory_max(r->cg, &old_max);
                if (q >= 0 && old_max != OOMLESS_NO_LIMIT)
                        raise = true;
                else if (q < 0 && q != -EOPNOTSUPP)
                        log_warning_errno(q, "Cannot read memory.max of %s, dumping without headroom: %m",
                                          cg_leaf_path(r->cg));
        }
        if (r->dry_run) {
                if (raise)
                        RECORD(r, d,
                               "would: would raise memory.max from %" PRIu64 " by %" PRIu64
                               ", run %s, then restore it",
                               old_max, a->headroom, a->argv[0]);
                else
                        RECORD(r, d, "would: would run %s", a->argv[0]);
                return false;
        }

        p = pending_new(r, d);
        if (!p) {
                RECORD(r, d, "failed: out of memory");
                return false;
        }
        if (raise) {
                uint64_t raised =
                    old_max > UINT64_MAX - a->headroom ? OOMLESS_NO_LIMIT : old_max + a->headroom;
                q = cg_set_memory_max(r->cg, raised);
                if (q < 0)
                        log_warning_errno(
                            q, "Cannot raise memory.max of %s for the dump, running it anyway: %m",
                            cg_leaf_path(r->cg));
                else {
                        p->restore_max = true;
                        p->old_max = old_max;
                }
        }
        q = start_hook(r, d, s, p);
        if (q < 0) {
                char restored[160];
                restore_max(r, p, restored, sizeof(restored));
                pending_free(p);
                RECORD(r, d, "failed: cannot run %s: %s%s", a->argv[0], strerror(-q), restored);
                return false;
        }
        r->barrier = true;
        return true;
}

/* ---- webhook ------------------------------------------------------------------------------------ */

char *actions_webhook_body(const ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *mem, *psi, *heap;
        char when[64];
        uint64_t now = realtime_usec();
        time_t t = (time_t)(now / USEC_PER_SEC);
        struct tm tm;

        if (!o)
                return NULL;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

#define NUM(obj, key, v) cJSON_AddNumberToObject((obj), (key), (double)(v))
        cJSON_AddStringToObject(o, "event", "oomless.action");
        NUM(o, "version", 1);
        cJSON_AddStringToObject(o, "action", kind_name(d->action->kind));
        cJSON_AddStringToObject(o, "when", when_name(d->when));
        NUM(o, "stage", r->stage);
        cJSON_AddStringToObject(o, "stage_name", stage_name(r, r->stage));
        NUM(o, "previous_stage", r->prev_stage);
        cJSON_AddStringToObject(o, "previous_stage_name", stage_name(r, r->prev_stage));
        NUM(o, "action_stage", d->stage);
        cJSON_AddStringToObject(o, "policy", r->policy ? policy_name(r->policy) ?: "" : "");
        cJSON_AddBoolToObject(o, "dry_run", r->dry_run);
        cJSON_AddStringToObject(o, "leaf", r->cg ? cg_leaf_path(r->cg) ?: "" : "");
        NUM(o, "pid", main_pid((ActionRunner *)r));
        NUM(o, "supervisor_pid", getpid());
        cJSON_AddStringToObject(o, "time", when);
        NUM(o, "time_usec", now);

        mem = cJSON_AddObjectToObject(o, "memory");
        if (mem) {
                NUM(mem, "current", s->current);
                if (s->limit == OOMLESS_NO_LIMIT)
                        cJSON_AddNullToObject(mem, "limit");
                else
                        NUM(mem, "limit", s->limit);
                if (s->high == OOMLESS_NO_LIMIT)
                        cJSON_AddNullToObject(mem, "high");
                else
                        NUM(mem, "high", s->high);
                NUM(mem, "peak", s->peak);
        }
        if (s->psi_valid && (psi = cJSON_AddObjectToObject(o, "psi"))) {
                NUM(psi, "some_avg10", s->psi_some.avg10);
                NUM(psi, "full_avg10", s->psi_full.avg10);
        } else
                cJSON_AddNullToObject(o, "psi");
        if (s->heap_valid && (heap = cJSON_AddObjectToObject(o, "heap"))) {
                NUM(heap, "held", s->heap_held);
                NUM(heap, "in_use", s->heap_in_use);
                NUM(heap, "cap", s->heap_cap);
                NUM(heap, "cap_hits", s->heap_cap_hits);
        } else
                cJSON_AddNullToObject(o, "heap");
#undef NUM
        return cJSON_PrintUnformatted(o);
}

static void on_webhook_done(const WebhookResult *res, void *userdata)
{
        Pending *p = userdata;
        ActionRunner *r = p->runner;

        if (res->error_class == WEBHOOK_OK)
                record(r, p->kind, p->stage, p->when, "ok: HTTP %ld after %u attempt(s)", res->http_status,
                       res->attempts);
        else
                record(r, p->kind, p->stage, p->when, "failed: %s after %u attempt(s): %s",
                       webhook_error_class_to_string(res->error_class), res->attempts, res->message);
        pending_free(p);
        maybe_idle(r);
}

static void do_webhook(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        const PolicyAction *a = d->action;
        _cleanup_free_ char *body = NULL;
        Pending *p;
        int q;

        if (r->dry_run) {
                RECORD(r, d, "would: would POST the event to %s", a->url ?: "?");
                return;
        }
        if (!r->webhook) {
                q = webhook_new(r->event, r->webhook_queue_max, &r->webhook);
                if (q < 0) {
                        RECORD(r, d, "failed: cannot set up HTTP: %s", strerror(-q));
                        return;
                }
        }
        body = actions_webhook_body(r, d, s);
        p = body ? pending_new(r, d) : NULL;
        if (!p) {
                RECORD(r, d, "failed: out of memory");
                return;
        }
        WebhookRequest req = {
                .url = a->url,
                .body = body,
                .timeout_usec = a->timeout_usec,
                .retries = a->retries,
                .backoff_usec = a->backoff_usec,
                .tls_insecure = !a->tls_verify,
        };
        q = webhook_post(r->webhook, &req, on_webhook_done, p);
        if (q < 0) {
                pending_free(p);
                if (q == -EBUSY)
                        RECORD(r, d, "skipped: the webhook queue is full (%zu requests pending)",
                               webhook_pending(r->webhook));
                else
                        RECORD(r, d, "failed: cannot POST to %s: %s", a->url ?: "?", strerror(-q));
        }
}

/* ---- scavenge, reclaim, throttle, restart -------------------------------------------------------- */

static void do_scavenge(ActionRunner *r, const PolicyDecision *d)
{
        int64_t seq;

        if (!r->control || !control_has_allocator(r->control)) {
                if (!r->said_no_allocator) {
                        log_notice(
                            "The workload runs without liboomless (no allocator publishes on the control "
                            "page), so scavenge actions have nothing to ask.");
                        r->said_no_allocator = true;
                }
                if (r->control && !r->dry_run)
                        (void)control_request_scavenge(r->control); /* in case it attaches later */
                RECORD(r, d, "skipped: no allocator in the workload");
                return;
        }
        if (r->dry_run) {
                RECORD(r, d, "would: would ask the allocator to scavenge");
                return;
        }
        seq = control_request_scavenge(r->control);
        if (seq < 0)
                RECORD(r, d, "failed: %s", strerror((int)-seq));
        else
                RECORD(r, d, "ok: scavenge request %" PRId64 " published", seq);
}

static int cg_reclaim_fn(void *ctx, uint64_t bytes)
{
        return cg_reclaim(ctx, bytes);
}

static void on_reclaim_done(const ReclaimResult *res, void *userdata)
{
        Pending *p = userdata;
        ActionRunner *r = p->runner;
        uint64_t ms = res->duration_usec / USEC_PER_MSEC;

        if (res->error == 0)
                record(r, p->kind, p->stage, p->when, "ok: reclaimed %" PRIu64 " bytes in %" PRIu64 " ms",
                       res->reclaimed, ms);
        else if (res->error == -EAGAIN)
                record(r, p->kind, p->stage, p->when,
                       "ok: partial: the kernel reclaimed %" PRIu64 " of %" PRIu64 " bytes (EAGAIN)",
                       res->reclaimed, res->requested);
        else if (res->error == -ETIME)
                record(r, p->kind, p->stage, p->when,
                       "failed: timeout after %" PRIu64 " ms, %" PRIu64 " of %" PRIu64 " bytes reclaimed",
                       ms, res->reclaimed, res->requested);
        else if (res->error == -EOPNOTSUPP)
                record(r, p->kind, p->stage, p->when,
                       "skipped: memory.reclaim is not available on this tier");
        else
                record(r, p->kind, p->stage, p->when, "failed: memory.reclaim: %s", strerror(-res->error));
        pending_free(p);
        maybe_idle(r);
}

static void do_reclaim(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        const PolicyAction *a = d->action;
        uint64_t bytes;
        Pending *p;
        int q;

        if (!r->cg) {
                RECORD(r, d, "skipped: no cgroup");
                return;
        }
        if (cg_tier(r->cg) != CG_TIER_V2) {
                RECORD(r, d, "skipped: memory.reclaim needs cgroup v2 (this host runs tier %s)",
                       cg_tier_to_string(cg_tier(r->cg)));
                return;
        }
        bytes = units_size_spec_resolve(&a->amount, s->limit != OOMLESS_NO_LIMIT ? s->limit : s->current);
        if (bytes == 0 || bytes == UINT64_MAX) {
                RECORD(r, d, "skipped: the amount resolves to nothing (limit unknown)");
                return;
        }
        bytes = MIN(bytes, RECLAIM_REQUEST_MAX);
        if (r->dry_run) {
                RECORD(r, d, "would: would reclaim %" PRIu64 " bytes from %s", bytes, cg_leaf_path(r->cg));
                return;
        }
        if (!r->reclaimer) {
                q = reclaimer_new(r->event, cg_reclaim_fn, r->cg, &r->reclaimer);
                if (q < 0) {
                        RECORD(r, d, "failed: cannot set up the reclaim worker: %s", strerror(-q));
                        return;
                }
        }
        p = pending_new(r, d);
        if (!p) {
                RECORD(r, d, "failed: out of memory");
                return;
        }
        q = reclaimer_start(r->reclaimer, bytes, a->timeout_usec, on_reclaim_done, p);
        if (q < 0) {
                pending_free(p);
                if (q == -EBUSY)
                        RECORD(r, d, "skipped: a reclaim is still running");
                else
                        RECORD(r, d, "failed: cannot start the reclaim worker: %s", strerror(-q));
        }
}

static void do_throttle(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        const PolicyAction *a = d->action;
        unsigned lvl = MIN(d->stage, (unsigned)POLICY_STAGES_MAX);
        char b[32];
        uint64_t high, cur;
        int q;

        if (!r->cg) {
                RECORD(r, d, "skipped: no cgroup");
                return;
        }
        if (d->undo) {
                if (!r->high_saved[lvl]) {
                        RECORD(r, d, "skipped: stage %u did not change memory.high", d->stage);
                        return;
                }
                if (r->dry_run) {
                        RECORD(r, d, "would: would restore memory.high to %s",
                               units_format_limit(b, sizeof(b), r->high_before[lvl]));
                        r->high_saved[lvl] = false;
                        return;
                }
                q = cg_set_memory_high(r->cg, r->high_before[lvl]);
                r->high_saved[lvl] = false;
                if (q < 0)
                        RECORD(r, d, "failed: restoring memory.high: %s", strerror(-q));
                else
                        RECORD(r, d, "ok: memory.high restored to %s",
                               units_format_limit(b, sizeof(b), r->high_before[lvl]));
                return;
        }

        if (cg_tier(r->cg) != CG_TIER_V2) {
                /* v1's soft_limit_in_bytes only steers global reclaim; it would not throttle. */
                RECORD(r, d, "skipped: memory.high needs cgroup v2 (this host runs tier %s)",
                       cg_tier_to_string(cg_tier(r->cg)));
                return;
        }
        high = units_size_spec_resolve(&a->memory_high, s->limit);
        if (a->memory_high.percent && s->limit == OOMLESS_NO_LIMIT) {
                RECORD(r, d, "skipped: memory.high is a percentage but the effective limit is unknown");
                return;
        }
        q = cg_get_memory_high(r->cg, &cur);
        if (q == -EOPNOTSUPP) {
                RECORD(r, d, "skipped: memory.high needs cgroup v2 (this host runs tier %s)",
                       cg_tier_to_string(cg_tier(r->cg)));
                return;
        }
        if (q < 0) {
                RECORD(r, d, "failed: reading memory.high: %s", strerror(-q));
                return;
        }
        if (r->dry_run) {
                RECORD(r, d, "would: would set memory.high to %s (now %s)",
                       units_format_limit(b, sizeof(b), high), units_format_limit((char[32]){}, 32, cur));
                return;
        }
        q = cg_set_memory_high(r->cg, high);
        if (q == -EOPNOTSUPP) {
                RECORD(r, d, "skipped: memory.high needs cgroup v2 (this host runs tier %s)",
                       cg_tier_to_string(cg_tier(r->cg)));
                return;
        }
        if (q < 0) {
                RECORD(r, d, "failed: setting memory.high: %s", strerror(-q));
                return;
        }
        /* Remember only the value from before the stage's first throttle, so repeats restore it. */
        if (!r->high_saved[lvl]) {
                r->high_saved[lvl] = true;
                r->high_before[lvl] = cur;
        }
        RECORD(r, d, "ok: memory.high set to %s (was %s)", units_format_limit(b, sizeof(b), high),
               units_format_limit((char[32]){}, 32, cur));
}

static void do_restart(ActionRunner *r, const PolicyDecision *d)
{
        const PolicyAction *a = d->action;
        const char *sig = units_signal_to_string(a->stop_signal) ?: "?";
        char reason[96];
        int q;

        if (r->dry_run) {
                RECORD(r, d, "would: would restart the workload (%s, grace %" PRIu64 " ms)", sig,
                       a->grace_usec / USEC_PER_MSEC);
                return;
        }
        if (!r->cb.request_restart) {
                RECORD(r, d, "skipped: restarts are not possible in this mode");
                return;
        }
        snprintf(reason, sizeof(reason), "policy stage %u (%s) %s", d->stage, stage_name(r, d->stage),
                 when_name(d->when));
        q = r->cb.request_restart(r->cb.userdata, a->stop_signal, a->grace_usec, reason);
        if (q < 0)
                RECORD(r, d, "failed: the restart was refused: %s", strerror(-q));
        else
                RECORD(r, d, "ok: restart requested (%s, grace %" PRIu64 " ms)", sig,
                       a->grace_usec / USEC_PER_MSEC);
}

/* ---- dispatch ----------------------------------------------------------------------------------- */

/* Runs one decision now; true when it became a barrier for the ones after it. */
static bool run_one(ActionRunner *r, const PolicyDecision *d, const OomlessSample *s)
{
        switch (d->action->kind) {
        case POLICY_ACTION_NOTIFY:
                do_notify(r, d);
                break;
        case POLICY_ACTION_SIGNAL:
                do_signal(r, d);
                break;
        case POLICY_ACTION_EXEC:
                do_exec(r, d, s);
                break;
        case POLICY_ACTION_WEBHOOK:
                do_webhook(r, d, s);
                break;
        case POLICY_ACTION_SCAVENGE:
                do_scavenge(r, d);
                break;
        case POLICY_ACTION_RECLAIM:
                do_reclaim(r, d, s);
                break;
        case POLICY_ACTION_THROTTLE:
                do_throttle(r, d, s);
                break;
        case POLICY_ACTION_RESTART:
                do_restart(r, d);
                break;
        case POLICY_ACTION_KILL:
                do_kill(r, d);
                break;
        case POLICY_ACTION_DUMP:
                return do_dump(r, d, s);
        default:
                RECORD(r, d, "failed: unknown action kind %d", (int)d->action->kind);
        }
        return false;
}

static void queue_resume(ActionRunner *r)
{
        while (!r->barrier && r->queue_len > 0) {
                QueuedDecision q = r->queue[r->queue_head];
                r->queue_head = (r->queue_head + 1) % ACTIONS_QUEUE_MAX;
                r->queue_len--;
                (void)run_one(r, &q.d, &q.s);
        }
}

int actions_execute(ActionRunner *r, const PolicyDecision *d, const OomlessSample *sample)
{
        if (!r || !d || !d->action || !sample)
                return -EINVAL;
        /* Behind a running dump, or behind decisions still waiting for their deferred turn. */
        if (r->barrier || r->queue_len > 0) {
                if (r->queue_len >= ACTIONS_QUEUE_MAX) {
                        RECORD(r, d, "skipped: %u decisions already wait behind a running dump",
                               (unsigned)ACTIONS_QUEUE_MAX);
                        return 0;
                }
                r->queue[(r->queue_head + r->queue_len) % ACTIONS_QUEUE_MAX] =
                    (QueuedDecision){ .d = *d, .s = *sample };
                r->queue_len++;
                return 0;
        }
        (void)run_one(r, d, sample);
        return 0;
}

int actions_execute_all(ActionRunner *r, const PolicyDecisions *ds, const OomlessSample *sample)
{
        if (!ds)
                return -EINVAL;
        for (size_t i = 0; i < ds->n; i++) {
                int q = actions_execute(r, &ds->items[i], sample);
                if (q < 0)
                        return q;
        }
        return 0;
}

/* ---- lifecycle, status -------------------------------------------------------------------------- */

int actions_new(const ActionRunnerConfig *cfg, ActionRunner **ret)
{
        ActionRunner *r;

        if (!cfg || !cfg->event || !ret)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(cfg->event);
        r->cg = cfg->cg;
        r->control = cfg->control;
        r->policy = cfg->policy;
        r->dry_run = cfg->dry_run;
        r->webhook_queue_max = cfg->webhook_queue_max;
        r->cb = cfg->callbacks;
        *ret = r;
        return 0;
}

void actions_set_policy(ActionRunner *r, const Policy *p)
{
        while (r->queue_len > 0) {
                QueuedDecision *q = &r->queue[r->queue_head];
                record(r, q->d.action->kind, q->d.stage, q->d.when,
                       "skipped: the policy was reloaded first");
                r->queue_head = (r->queue_head + 1) % ACTIONS_QUEUE_MAX;
                r->queue_len--;
        }
        r->policy = p;
}

void actions_set_dry_run(ActionRunner *r, bool dry_run)
{
        r->dry_run = dry_run;
}

int actions_set_heap_cap(ActionRunner *r, uint64_t heap_cap, uint64_t wake_watermark)
{
        r->heap_cap = heap_cap;
        r->wake_watermark = wake_watermark;
        return publish(r);
}

void actions_note_transition(ActionRunner *r, const PolicyTransition *t)
{
        if (!t || !t->changed)
                return;
        r->prev_stage = t->from;
        r->stage = t->to;
        /* Recovery must reach the app even when the lower stage has no notify action of its own:
         * an app told to shed at stage 2 would otherwise stay degraded after the policy stepped down. */
        if (t->to < r->published_stage) {
                r->published_stage = t->to;
                (void)publish(r);
        }
}

bool actions_busy(const ActionRunner *r)
{
        return r->pending || r->queue_len > 0;
}

unsigned actions_describe_running(const ActionRunner *r, char *buf, size_t len)
{
        unsigned n = 0;
        size_t used = 0;

        if (len > 0)
                buf[0] = 0;
        for (const Pending *p = r->pending; p; p = p->next, n++)
                if (used < len) {
                        int k = snprintf(buf + used, len - used, "%s%s", n > 0 ? ", " : "", p->label);
                        used += k > 0 ? (size_t)k : 0;
                }
        return n;
}

uint64_t actions_drain_deadline(const ActionRunner *r)
{
        uint64_t d = 0;

        for (const Pending *p = r->pending; p; p = p->next)
                d = MAX(d, p->deadline_usec);
        return d;
}

void actions_cancel_at_exit(ActionRunner *r)
{
        bool drop_webhooks = false, drop_reclaim = false;

        while (r->queue_len > 0) {
                QueuedDecision *q = &r->queue[r->queue_head];
                record(r, q->d.action->kind, q->d.stage, q->d.when, "skipped: cancelled at exit");
                r->queue_head = (r->queue_head + 1) % ACTIONS_QUEUE_MAX;
                r->queue_len--;
        }
        r->resume_source = sd_event_source_disable_unref(r->resume_source);

        for (Pending *p = r->pending; p; p = p->next) {
                if (p->hook) {
                        /* Recorded by on_hook_done() once it ended. */
                        p->cancelled = true;
                        hook_terminate(p->hook);
                } else if (p->kind == POLICY_ACTION_WEBHOOK)
                        drop_webhooks = true;
                else if (p->kind == POLICY_ACTION_RECLAIM)
                        drop_reclaim = true;
        }
        /* Freeing them takes the transfers off the curl multi handle and joins the reclaim worker,
         * neither calls back, so their outcomes are recorded here. */
        if (drop_webhooks)
                r->webhook = webhook_free(r->webhook);
        if (drop_reclaim)
                r->reclaimer = reclaimer_free(r->reclaimer);
        for (Pending *p = r->pending, *next; p; p = next) {
                next = p->next;
                if ((drop_webhooks && p->kind == POLICY_ACTION_WEBHOOK) ||
                    (drop_reclaim && p->kind == POLICY_ACTION_RECLAIM)) {
                        record(r, p->kind, p->stage, p->when, "failed: cancelled at exit: %s still running",
                               p->label);
                        pending_free(p);
                }
        }
}

size_t actions_records(const ActionRunner *r, const ActionRecord **ret, size_t max)
{
        size_t n = MIN(max, r->ring_len);
        for (size_t i = 0; i < n; i++)
                ret[i] = &r->ring[(r->ring_next + ACTIONS_RING_SIZE - 1 - i) % ACTIONS_RING_SIZE];
        return n;
}

cJSON *actions_status_json(const ActionRunner *r)
{
        cJSON *a = cJSON_CreateArray();

        if (!a)
                return NULL;
        for (size_t i = 0; i < r->ring_len; i++) {
                const ActionRecord *rec =
                    &r->ring[(r->ring_next + ACTIONS_RING_SIZE - 1 - i) % ACTIONS_RING_SIZE];
                cJSON *o = cJSON_CreateObject();
                if (!o) {
                        cJSON_Delete(a);
                        return NULL;
                }
                cJSON_AddStringToObject(o, "action", kind_name(rec->kind));
                cJSON_AddNumberToObject(o, "stage", rec->stage);
                cJSON_AddStringToObject(o, "when", when_name(rec->when));
                cJSON_AddStringToObject(o, "outcome", outcome_names[rec->outcome]);
                cJSON_AddStringToObject(o, "detail", rec->detail);
                cJSON_AddItemToArray(a, o);
        }
        return a;
}

ActionRunner *actions_free(ActionRunner *r)
{
        if (!r)
                return NULL;
        /* Drop what is in flight without calling back into a manager that is going away. */
        r->resume_source = sd_event_source_disable_unref(r->resume_source);
        r->webhook = webhook_free(r->webhook);
        r->reclaimer = reclaimer_free(r->reclaimer);
        while (r->pending) {
                Pending *p = r->pending;
                if (p->hook)
                        hook_cancel(p->hook);
                if (p->kind == POLICY_ACTION_DUMP && p->restore_max && r->cg)
                        (void)cg_set_memory_max(r->cg, p->old_max);
                pending_free(p);
        }
        sd_event_unref(r->event);
        free(r);
        return NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * The budget, the weight and readiness (control page version 2, issue 11) as the application sees
 * them through liboomless. The test plays the supervisor and runs this binary again as the workload
 * ("child <mode>") under LD_PRELOAD:
 *   - unsupervised, the API says budget 1000, weight 100, ready;
 *   - a file page: oomless_on_budget() callbacks follow budget and weight changes, oomless_ready()
 *     the not-ready flag, and a truncated page gives the defaults back (with one more callback);
 *   - a sealed memfd page is read the same way;
 *   - version rules: a version 1 page (even with junk where the new fields are) reads as normal, a
 *     version 2 page without OOMLESS_SUP_F_BUDGET too, a future version 3 page is read for the
 *     fields we know, and out-of-range values are clamped.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oomless/control.h"
#include "oomless/oomless.h"
#include "test.h"
#include "alloc-test.h"
#include "alloc-page.h"

static const char *lib;
static char self[1024];
static char dir[256];

/* ---- the workload side ---- */

static void on_budget(int budget, int weight, void *ud)
{
        (void)ud;
        printf("cb %d %d %d\n", budget, weight, oomless_try_ready());
        fflush(stdout);
}

static void report(const char *what)
{
        struct oomless_stats st = { .size = sizeof(st) };
        if (oomless_try_stats(&st) < 0)
                st.supervised = 9;
        printf("%s %d %d %d %u\n", what, oomless_try_budget(), oomless_try_weight(), oomless_try_ready(),
               st.supervised);
        fflush(stdout);
}

static int child_main(const char *mode, const char *arg)
{
        if (!oomless_available())
                return 3;
        free(malloc(100)); /* maps the page */
        if (strcmp(mode, "read") == 0) {
                /* Waits for the stage the test wrote (so the page has been polled), then reports. */
                int want = atoi(arg);
                for (int i = 0; i < 500 && oomless_try_stage() != want; i++)
                        at_sleep_ms(10);
                if (oomless_try_stage() != want)
                        return 4;
                at_sleep_ms(300); /* a few more polls */
                report("got");
                return 0;
        }
        if (strcmp(mode, "follow") == 0) {
                if (oomless_try_on_budget(on_budget, NULL) < 0)
                        return 5;
                report("start");
                /* Runs until the test closes our stdin. */
                char c;
                while (read(0, &c, 1) > 0)
                        ;
                report("end");
                return 0;
        }
        return 2;
}

/* ---- the supervisor side ---- */

enum { PAGE_NONE, PAGE_FILE, PAGE_MEMFD };

typedef struct Child {
        pid_t pid;
        int out, in;
} Child;

static Child spawn(int kind, const char *ctl, int memfd, const char *mode, const char *arg)
{
        int in[2];
        ASSERT_EQ(pipe(in), 0);
        Child ch = { .in = in[1] };
        ch.pid = at_fork_piped(&ch.out, NULL);
        if (ch.pid == 0) {
                char e1[1200], e2[400];
                dup2(in[0], 0);
                close(in[1]);
                snprintf(e1, sizeof(e1), "LD_PRELOAD=%s", lib);
                if (kind == PAGE_FILE)
                        snprintf(e2, sizeof(e2), "%s=%s", OOMLESS_CONTROL_ENV, ctl);
                else if (kind == PAGE_MEMFD) {
                        int fd = dup(memfd); /* without FD_CLOEXEC */
                        snprintf(e2, sizeof(e2), "%s=%d", OOMLESS_CONTROL_FD_ENV, fd);
                } else
                        snprintf(e2, sizeof(e2), "OOMLESS_UNRELATED=1");
                char *envp[] = { e1, e2, NULL };
                char *argv[] = { self, (char *)"child", (char *)mode, (char *)arg, NULL };
                execve(self, argv, envp);
                _exit(99);
        }
        close(in[0]);
        return ch;
}

/* One line of the child's stdout, within ms; "" on timeout or EOF. */
static void read_line(int fd, char *buf, size_t n, long ms)
{
        size_t got = 0;
        buf[0] = 0;
        while (got < n - 1) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, (int)ms) != 1 || read(fd, buf + got, 1) != 1)
                        break;
                if (buf[got] == '\n')
                        break;
                got++;
        }
        buf[got] = 0;
}

static void expect_line(Child *ch, const char *want)
{
        char line[128];
        read_line(ch->out, line, sizeof(line), 5000);
        printf("  child: %s\n", line);
        ASSERT_STREQ(line, want);
}

static int finish(Child *ch)
{
        close(ch->in);
        close(ch->out);
        int status = at_wait(ch->pid);
        ASSERT_TRUE(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* Runs "child read <stage>" on a page and checks its "got ..." line. */
static void expect_read(int kind, const char *ctl, int memfd, uint32_t stage, const char *want)
{
        char arg[16], line[128];
        snprintf(arg, sizeof(arg), "%u", stage);
        Child ch = spawn(kind, ctl, memfd, "read", arg);
        read_line(ch.out, line, sizeof(line), 10000);
        printf("  child: %s\n", line);
        ASSERT_EQ(finish(&ch), 0);
        ASSERT_STREQ(line, want);
}

/* A fresh page file called name in our directory; its path goes to ctl. */
static struct oomless_control *file_page(const char *name, char *ctl, size_t n)
{
        snprintf(ctl, n, "%s/%s", dir, name);
        return ap_make_file(ctl, OOMLESS_CONTROL_MAGIC);
}

TEST(unsupervised)
{
        expect_read(PAGE_NONE, NULL, -1, 0, "got 1000 100 1 0");
}

TEST(follow_file_page)
{
        char ctl[300];
        struct oomless_control *c = file_page("control-follow", ctl, sizeof(ctl));
        ap_sup_write_budget(c, 0, 1000, 100, 0);
        Child ch = spawn(PAGE_FILE, ctl, -1, "follow", "");
        expect_line(&ch, "start 1000 100 1 1");
        ap_sup_write_budget(c, 1, 400, 20, OOMLESS_SUP_F_NOT_READY);
        expect_line(&ch, "cb 400 20 0");
        ap_sup_write_budget(c, 1, 400, 20, 0); /* readiness alone: no callback, but the API sees it */
        ap_sup_write_budget(c, 0, 550, 20, 0);
        expect_line(&ch, "cb 550 20 1");
        ap_sup_write_budget(c, 0, 1000, 100, 0);
        expect_line(&ch, "cb 1000 100 1");
        ap_sup_write_budget(c, 2, 0, 0, OOMLESS_SUP_F_NOT_READY);
        expect_line(&ch, "cb 0 0 0");
        /* The workload truncates the page: the allocator detaches and says normal again. */
        ASSERT_EQ(truncate(ctl, 0), 0);
        expect_line(&ch, "cb 1000 100 1");
        close(ch.in);
        expect_line(&ch, "end 1000 100 1 0");
        ASSERT_EQ(finish(&ch), 0);
        munmap(c, OOMLESS_CONTROL_SIZE);
}

TEST(follow_memfd_page)
{
        int fd;
        struct oomless_control *c = ap_make_memfd(&fd);
        ap_sup_write_budget(c, 1, 300, 60, 0);
        expect_read(PAGE_MEMFD, NULL, fd, 1, "got 300 60 1 1");
        ap_sup_write_budget(c, 0, 1000, 100, 0);
        Child ch = spawn(PAGE_MEMFD, NULL, fd, "follow", "");
        expect_line(&ch, "start 1000 100 1 1");
        ap_sup_write_budget(c, 0, 800, 90, 0);
        expect_line(&ch, "cb 800 90 1");
        close(ch.in);
        expect_line(&ch, "end 800 90 1 1");
        ASSERT_EQ(finish(&ch), 0);
        munmap(c, OOMLESS_CONTROL_SIZE);
        close(fd);
}

TEST(version1_page_reads_normal)
{
        /* A version 1 supervisor never writes the new fields; junk there (and in flags) is ignored. */
        char ctl[300];
        struct oomless_control *c = file_page("control-v1", ctl, sizeof(ctl));
        c->version = 1;
        ap_sup_write_budget(c, 2, 123, 7, OOMLESS_SUP_F_NOT_READY);
        expect_read(PAGE_FILE, ctl, -1, 2, "got 1000 100 1 1");
        munmap(c, OOMLESS_CONTROL_SIZE);
}

TEST(version2_without_budget_flag_reads_normal)
{
        /* A half not yet published (all zero but the stage) must not read as "shed everything". */
        char ctl[300];
        struct oomless_control *c = file_page("control-v2-noflag", ctl, sizeof(ctl));
        c->sup.budget_permille = 0;
        c->sup.weight = 0;
        ap_sup_write(c, 3, 0, 0, 0);
        expect_read(PAGE_FILE, ctl, -1, 3, "got 1000 100 1 1");
        munmap(c, OOMLESS_CONTROL_SIZE);
}

TEST(version3_page_reads_known_fields)
{
        char ctl[300];
        struct oomless_control *c = file_page("control-v3", ctl, sizeof(ctl));
        c->version = 3;
        c->sup.reserved[0] = 0xdeadbeef; /* a field of version 3 we do not know */
        ap_sup_write_budget(c, 1, 250, 50, OOMLESS_SUP_F_NOT_READY | (1u << 20));
        expect_read(PAGE_FILE, ctl, -1, 1, "got 250 50 0 1");
        munmap(c, OOMLESS_CONTROL_SIZE);
}

TEST(out_of_range_is_clamped)
{
        char ctl[300];
        struct oomless_control *c = file_page("control-clamp", ctl, sizeof(ctl));
        ap_sup_write_budget(c, 1, 5000, 300, 0);
        expect_read(PAGE_FILE, ctl, -1, 1, "got 1000 100 1 1");
        ap_sup_write_budget(c, 2, 0xffffffffu, 0xffffffffu, 0);
        expect_read(PAGE_FILE, ctl, -1, 2, "got 1000 100 1 1");
        munmap(c, OOMLESS_CONTROL_SIZE);
}

static void cleanup(void)
{
        static const char *names[] = { "control-follow", "control-v1", "control-v2-noflag", "control-v3",
                                       "control-clamp" };
        char p[300];
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
                unlink(p);
        }
        rmdir(dir);
}

int main(int argc, char **argv)
{
        if (argc >= 4 && strcmp(argv[1], "child") == 0)
                return child_main(argv[2], argv[3]);
        if (argc < 2)
                TEST_FAIL("usage: %s /path/to/liboomless.so [test...]", argv[0]);
        lib = argv[1];
        at_setup_self_and_dir(self, sizeof(self), dir, sizeof(dir), "alloc-budget", cleanup);
        return test_main(argc - 1, argv + 1);
}

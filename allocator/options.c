/* SPDX-License-Identifier: MIT */
/*
 * Options from the environment (OOMLESS_*), and the effective memory limit the default cap is a
 * percentage of: cgroup v2 memory.max walked up the ancestors, cgroup v1 memory.limit_in_bytes and
 * hierarchical_memory_limit, or MemTotal. Everything is read with open/read into stack buffers;
 * nothing here may allocate, since it runs inside the first malloc.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ma.h"
#include "oomless/control.h"

extern char **environ;

MaOptions ma_opt;
bool ma_opt_loaded; /* false while the environment was not yet visible */

#define MA_NO_LIMIT (UINT64_C(1) << 62) /* v1 reports page-aligned INT64_MAX for "unlimited" */

/* The defaults, and what the warnings about malformed values say they fall back to. */
#define MA_DEFAULT_CAP_PERCENT        75
#define MA_DEFAULT_CAP_TEXT           "75% of the memory limit"
#define MA_DEFAULT_SCAVENGE_DELAY_MS  UINT64_C(250)
#define MA_DEFAULT_BACKGROUND_MIN_MIB UINT64_C(16)
#define MA_CAP_ACCEPTED               "a percent 1-100% of the memory limit, a size like 512M or 2G, or none"

static uint64_t ma_percent_of(uint64_t limit, uint64_t percent)
{
        return limit / 100 * percent + limit % 100 * percent / 100;
}

static void ma_warn_env(const char *name, const char *value, const char *accepted, const char *using)
{
        MaBuf m = { .n = 0 };
        mb_str(&m, "liboomless: ignoring ");
        mb_str(&m, name);
        mb_str(&m, "=\"");
        mb_str(&m, value);
        mb_str(&m, "\": expected ");
        mb_str(&m, accepted);
        mb_str(&m, "; using ");
        mb_str(&m, using);
        mb_flush(&m);
}

/* Parses a decimal integer with an optional binary suffix K/M/G/T (optionally followed by "B" or
 * "iB"). Returns false on anything else, including overflow. */
static bool ma_parse_size(const char *s, uint64_t *ret)
{
        uint64_t v = 0, mul = 1;
        if (!*s)
                return false;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return false;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        /* K, M, G, T in either case: 2^10 per step. (c | 0x20) is c in lower case for letters. */
        for (unsigned i = 0; i < 4; i++)
                if ((*s | 0x20) == "kmgt"[i]) {
                        mul = UINT64_C(1) << (10 * (i + 1));
                        s++;
                        break;
                }
        if (mul > 1 && *s == 'i')
                s++;
        if (*s == 'B' || *s == 'b')
                s++;
        if (*s)
                return false;
        if (mul > 1 && v > UINT64_MAX / mul)
                return false;
        *ret = v * mul;
        return true;
}

static bool ma_parse_duration_ns(const char *s, uint64_t *ret)
{
        uint64_t v = 0, mul = 1000000; /* bare numbers are milliseconds */
        if (!*s)
                return false;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > UINT64_MAX / 100)
                        return false;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        if (strcmp(s, "ms") == 0 || !*s)
                mul = 1000000;
        else if (strcmp(s, "s") == 0)
                mul = 1000000000;
        else if (strcmp(s, "us") == 0)
                mul = 1000;
        else
                return false;
        if (v > UINT64_MAX / mul / 2)
                return false;
        *ret = v * mul;
        return true;
}

static uint64_t ma_parse_u64_prefix(const char *s, bool *ok)
{
        uint64_t v = 0;
        *ok = *s >= '0' && *s <= '9';
        for (; *s >= '0' && *s <= '9'; s++)
                v = v > UINT64_MAX / 10 - 9 ? UINT64_MAX : v * 10 + (uint64_t)(*s - '0');
        return v;
}

/* Reads a cgroup limit file: a number, or "max". */
static uint64_t ma_read_limit(const char *path)
{
        char buf[64];
        bool ok;
        if (ma_read_file(path, buf, sizeof(buf)) <= 0)
                return 0;
        uint64_t v = ma_parse_u64_prefix(buf, &ok);
        return ok && v < MA_NO_LIMIT ? v : 0;
}

static uint64_t ma_min_limit(uint64_t a, uint64_t b)
{
        if (!a)
                return b;
        if (!b)
                return a;
        return a < b ? a : b;
}

static size_t ma_strlcpy(char *d, const char *s, size_t n)
{
        size_t l = strlen(s);
        if (n) {
                size_t c = l < n - 1 ? l : n - 1;
                memcpy(d, s, c);
                d[c] = 0;
        }
        return l;
}

/* Calls fn on every line of a file of any length, through a fixed buffer. */
static void ma_for_each_line(const char *path, bool (*fn)(char *line, void *ud), void *ud)
{
        char buf[4096];
        size_t have = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        for (;;) {
                ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                have += (size_t)r;
                buf[have] = 0;
                char *line = buf, *nl;
                while ((nl = strchr(line, '\n'))) {
                        *nl = 0;
                        if (!fn(line, ud))
                                goto out;
                        line = nl + 1;
                }
                have = (size_t)(buf + have - line);
                if (have == sizeof(buf) - 1) /* a line longer than the buffer: skip it */
                        have = 0;
                memmove(buf, line, have);
        }
out:
        close(fd);
}

typedef struct MaCgScan {
        char v1_path[1024]; /* memory controller's cgroup path (v1) */
        char v2_path[1024];
        bool have_v1, have_v2;
        char v1_mnt[1024], v1_root[1024];
        char v2_mnt[1024], v2_root[1024];
        bool have_v1_mnt, have_v2_mnt;
} MaCgScan;

static bool ma_scan_cgroup_line(char *line, void *ud)
{
        MaCgScan *c = ud;
        char *a = strchr(line, ':'), *b;
        if (!a || !(b = strchr(a + 1, ':')))
                return true;
        *b = 0;
        const char *ctrls = a + 1, *path = b + 1;
        if (line[0] == '0' && line + 1 == a && !*ctrls) {
                c->have_v2 = true;
                ma_strlcpy(c->v2_path, path, sizeof(c->v2_path));
                return true;
        }
        for (const char *t = ctrls; *t;) {
                const char *e = strchr(t, ',');
                size_t l = e ? (size_t)(e - t) : strlen(t);
                if (l == 6 && strncmp(t, "memory", 6) == 0) {
                        c->have_v1 = true;
                        ma_strlcpy(c->v1_path, path, sizeof(c->v1_path));
                }
                if (!e)
                        break;
                t = e + 1;
        }
        return true;
}

/* mountinfo: "id parent maj:min root mountpoint opts [optional...] - fstype source superopts" */
static bool ma_scan_mount_line(char *line, void *ud)
{
        MaCgScan *c = ud;
        char *f[6] = { 0 };
        char *p = line;
        for (int i = 0; i < 5 && p; i++) {
                f[i] = p;
                p = strchr(p, ' ');
                if (p)
                        *p++ = 0;
        }
        char *dash = p ? strstr(p, " - ") : NULL;
        if (!f[4] || !dash)
                return true;
        char *fstype = dash + 3, *sp = strchr(fstype, ' ');
        if (!sp)
                return true;
        *sp = 0;
        char *super = strchr(sp + 1, ' ');
        super = super ? super + 1 : (char *)"";
        if (strcmp(fstype, "cgroup2") == 0 && !c->have_v2_mnt) {
                c->have_v2_mnt = true;
                ma_strlcpy(c->v2_mnt, f[4], sizeof(c->v2_mnt));
                ma_strlcpy(c->v2_root, f[3], sizeof(c->v2_root));
        } else if (strcmp(fstype, "cgroup") == 0 && !c->have_v1_mnt) {
                for (char *t = super; *t;) {
                        char *e = strchr(t, ',');
                        size_t l = e ? (size_t)(e - t) : strlen(t);
                        if (l == 6 && strncmp(t, "memory", 6) == 0) {
                                c->have_v1_mnt = true;
                                ma_strlcpy(c->v1_mnt, f[4], sizeof(c->v1_mnt));
                                ma_strlcpy(c->v1_root, f[3], sizeof(c->v1_root));
                        }
                        if (!e)
                                break;
                        t = e + 1;
                }
        }
        return true;
}

/* Joins mount point and the cgroup path made relative to the mount's root. */
static void ma_cg_dir(char *out, size_t n, const char *mnt, const char *root, const char *path)
{
        size_t rl = strlen(root);
        if (strcmp(root, "/") != 0 && strncmp(path, root, rl) == 0 && (path[rl] == '/' || !path[rl]))
                path += rl;
        else if (strcmp(root, "/") != 0)
                path = ""; /* cgroup namespace: our cgroup is the mount's root */
        ma_strlcpy(out, mnt, n);
        if (*path && strcmp(path, "/") != 0) {
                size_t l = strlen(out);
                ma_strlcpy(out + l, path, n - l);
        }
}

static bool ma_append(char *buf, size_t n, const char *dir, const char *file)
{
        size_t l = ma_strlcpy(buf, dir, n);
        if (l + 1 + strlen(file) + 1 > n)
                return false;
        buf[l] = '/';
        ma_strlcpy(buf + l + 1, file, n - l - 1);
        return true;
}

static uint64_t ma_v1_hier;

static bool ma_scan_stat_line(char *line, void *ud)
{
        bool ok;
        if (strncmp(line, "hierarchical_memory_limit ", 26) == 0) {
                uint64_t v = ma_parse_u64_prefix(line + 26, &ok);
                ma_v1_hier = ok && v < MA_NO_LIMIT ? v : 0;
                return false;
        }
        return true;
}

static bool ma_scan_meminfo_line(char *line, void *ud)
{
        bool ok;
        if (strncmp(line, "MemTotal:", 9) == 0) {
                char *p = line + 9;
                while (*p == ' ')
                        p++;
                *(uint64_t *)ud = ma_parse_u64_prefix(p, &ok) * 1024;
                return false;
        }
        return true;
}

uint64_t ma_effective_limit(void)
{
        MaCgScan c;
        char dir[1100], file[1200];
        uint64_t limit = 0, memtotal = 0;

        memset(&c, 0, sizeof(c));
        ma_for_each_line("/proc/self/cgroup", ma_scan_cgroup_line, &c);
        ma_for_each_line("/proc/self/mountinfo", ma_scan_mount_line, &c);

        if (c.have_v2 && c.have_v2_mnt) {
                /* A child's "max" is not "unlimited" when an ancestor is limited: walk up. */
                ma_cg_dir(dir, sizeof(dir), c.v2_mnt, c.v2_root, c.v2_path);
                size_t mlen = strlen(c.v2_mnt);
                for (;;) {
                        if (ma_append(file, sizeof(file), dir, "memory.max"))
                                limit = ma_min_limit(limit, ma_read_limit(file));
                        char *slash = strrchr(dir, '/');
                        if (!slash || (size_t)(slash - dir) < mlen)
                                break;
                        *slash = 0;
                }
        }
        if (c.have_v1 && c.have_v1_mnt) {
                ma_cg_dir(dir, sizeof(dir), c.v1_mnt, c.v1_root, c.v1_path);
                if (ma_append(file, sizeof(file), dir, "memory.limit_in_bytes"))
                        limit = ma_min_limit(limit, ma_read_limit(file));
                ma_v1_hier = 0;
                if (ma_append(file, sizeof(file), dir, "memory.stat"))
                        ma_for_each_line(file, ma_scan_stat_line, NULL);
                limit = ma_min_limit(limit, ma_v1_hier);
        }
        ma_for_each_line("/proc/meminfo", ma_scan_meminfo_line, &memtotal);
        return ma_min_limit(limit, memtotal);
}

static bool ma_env_bool(const char *name, bool dflt)
{
        const char *v = ma_getenv(name);
        if (!v)
                return dflt;
        if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on"))
                return true;
        if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off"))
                return false;
        ma_warn_env(name, v, "1/yes/true/on or 0/no/false/off", dflt ? "1" : "0");
        return dflt;
}

/* Sets *out from the variable when parse accepts its value; otherwise warns and leaves *out. */
static void ma_env_u64(const char *name, bool (*parse)(const char *, uint64_t *), uint64_t *out,
                       const char *accepted, const char *using)
{
        const char *v = ma_getenv(name);
        uint64_t x;
        if (!v)
                return;
        if (parse(v, &x))
                *out = x;
        else
                ma_warn_env(name, v, accepted, using);
}

void ma_options_load(void)
{
        const char *v;
        char dflt_delay[32], dflt_min[32], buf[24];
        MaOptions o = {
                .cap_percent = MA_DEFAULT_CAP_PERCENT,
                .background = true,
                .scavenge_delay_ns = MA_DEFAULT_SCAVENGE_DELAY_MS * 1000000,
                .background_min = MA_DEFAULT_BACKGROUND_MIN_MIB << 20,
        };
        /* The defaults the warnings name come from the same constants as the defaults themselves. */
        ma_strlcpy(dflt_delay, ma_u64_str(MA_DEFAULT_SCAVENGE_DELAY_MS, buf), sizeof(dflt_delay) - 3);
        strcat(dflt_delay, "ms");
        ma_strlcpy(dflt_min, ma_u64_str(MA_DEFAULT_BACKGROUND_MIN_MIB, buf), sizeof(dflt_min) - 2);
        strcat(dflt_min, "M");

        v = ma_getenv("OOMLESS_HEAP_CAP");
        if (v && (!strcmp(v, "none") || !strcmp(v, "0"))) {
                o.cap_percent = 0;
        } else if (v) {
                size_t l = strlen(v);
                uint64_t x;
                char num[32];
                if (l > 1 && l < sizeof(num) && v[l - 1] == '%') {
                        memcpy(num, v, l - 1);
                        num[l - 1] = 0;
                        if (ma_parse_size(num, &x) && x >= 1 && x <= 100 && num[0] >= '0' &&
                            num[l - 2] <= '9')
                                o.cap_percent = x;
                        else
                                ma_warn_env("OOMLESS_HEAP_CAP", v, MA_CAP_ACCEPTED, MA_DEFAULT_CAP_TEXT);
                } else if (ma_parse_size(v, &x) && x > 0) {
                        if (x < MA_CAP_FLOOR) {
                                MaBuf m = { .n = 0 };
                                mb_str(&m, "liboomless: ignoring OOMLESS_HEAP_CAP=\"");
                                mb_str(&m, v);
                                mb_str(&m, "\": under the floor of 4M; using " MA_DEFAULT_CAP_TEXT);
                                mb_flush(&m);
                        } else {
                                o.cap_percent = 0;
                                o.cap = x;
                        }
                } else
                        ma_warn_env("OOMLESS_HEAP_CAP", v, MA_CAP_ACCEPTED, MA_DEFAULT_CAP_TEXT);
        }
        if (o.cap_percent || !o.cap) {
                o.limit = ma_effective_limit();
                if (o.cap_percent)
                        o.cap = ma_percent_of(o.limit, o.cap_percent);
                /* A percent of a small limit can fall under the floor too: then the default percent,
                 * and never less than the floor (a cgroup that small is the kernel's to police). An
                 * unknown limit (0) leaves no cap, as before. */
                if (o.limit && o.cap_percent && o.cap < MA_CAP_FLOOR &&
                    o.cap_percent != MA_DEFAULT_CAP_PERCENT) {
                        char got[24];
                        MaBuf m = { .n = 0 };
                        mb_str(&m, "liboomless: ignoring OOMLESS_HEAP_CAP=\"");
                        mb_str(&m, v);
                        mb_str(&m, "\": it comes to ");
                        mb_str(&m, ma_u64_str(o.cap, got));
                        mb_str(&m, " bytes, under the floor of 4M; using " MA_DEFAULT_CAP_TEXT);
                        mb_flush(&m);
                        o.cap_percent = MA_DEFAULT_CAP_PERCENT;
                        o.cap = ma_percent_of(o.limit, o.cap_percent);
                }
                if (o.limit && o.cap_percent && o.cap < MA_CAP_FLOOR)
                        o.cap = MA_CAP_FLOOR;
        }

        v = ma_getenv("OOMLESS_ON_CAP");
        if (v && !strcmp(v, "abort"))
                o.cap_abort = true;
        else if (v && strcmp(v, "enomem"))
                ma_warn_env("OOMLESS_ON_CAP", v, "enomem or abort", "enomem");

        o.background = ma_env_bool("OOMLESS_BACKGROUND", true);
        o.thp = ma_env_bool("OOMLESS_THP", false);

        ma_env_u64("OOMLESS_SCAVENGE_DELAY", ma_parse_duration_ns, &o.scavenge_delay_ns,
                   "a duration like 500ms, 2s or 250 (ms)", dflt_delay);
        ma_env_u64("OOMLESS_BACKGROUND_MIN", ma_parse_size, &o.background_min, "a size like 16M", dflt_min);
        o.control_path = ma_getenv(OOMLESS_CONTROL_ENV);
        o.control_fd = ma_getenv(OOMLESS_CONTROL_FD_ENV);
        o.wake_path = ma_getenv(OOMLESS_WAKE_ENV);
        ma_opt = o;
        ma_opt_loaded = environ != NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * Options from the environment (OOMLESS_*), and the default heap cap: the effective memory limit
 * (cgroup v2 memory.max of our cgroup and its ancestors, cgroup v1 memory.limit_in_bytes of ours and
 * its ancestors, MemTotal), less what is charged there outside the heap, less a small reserve.
 * Everything is read with open/read into stack buffers; nothing here may allocate, since it runs
 * inside the first malloc (the one exception, putenv, runs from the constructor).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ma.h"
#include "oomless/control.h"

extern char **environ;

MaOptions ma_opt;
bool ma_opt_loaded; /* false while the environment was not yet visible */

#define MA_NO_LIMIT (UINT64_C(1) << 62) /* v1 reports page-aligned INT64_MAX for "unlimited" */

/* The defaults, and what the warnings about malformed values say they fall back to. */
#define MA_DEFAULT_SCAVENGE_DELAY_MS  UINT64_C(250)
#define MA_DEFAULT_BACKGROUND_MIN_MIB UINT64_C(16)
#define MA_CAP_ACCEPTED               "a percent 1-100% of the memory limit, a size like 512M or 1.5G, or none"

static uint64_t ma_percent_of(uint64_t limit, uint64_t percent)
{
        return limit / 100 * percent + limit % 100 * percent / 100;
}

/* Parses a size as the command line does: a decimal number with an optional fraction and a binary
 * suffix K/M/G/T in either case (optionally followed by "iB" or "B"): "1.5G", "512M", "64k", "4096".
 * A fraction needs a suffix (no fractional bytes). Returns false on anything else, or on overflow. */
static bool ma_parse_size(const char *s, uint64_t *ret)
{
        uint64_t v = 0, frac = 0, scale = 100000, mul = 1;
        bool digits = false, dot = false;
        for (; *s >= '0' && *s <= '9'; s++, digits = true) {
                if (v > (UINT64_MAX - 9) / 10)
                        return false;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        if (*s == '.') {
                dot = true;
                s++;
                if (*s < '0' || *s > '9')
                        return false;
                for (; *s >= '0' && *s <= '9'; s++, digits = true) {
                        frac += (uint64_t)(*s - '0') * scale; /* micro-units; digits past 6 are dropped */
                        scale /= 10;
                }
        }
        if (!digits)
                return false;
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
        if (*s || (dot && mul == 1))
                return false;
        if (v > UINT64_MAX / mul)
                return false;
        uint64_t f = (uint64_t)(((__uint128_t)frac * mul) / 1000000);
        if (v * mul > UINT64_MAX - f)
                return false;
        *ret = v * mul + f;
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
static void ma_cg_dir_join(char *out, size_t n, const char *mnt, const char *root, const char *path)
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

static bool ma_scan_meminfo_line(char *line, void *ud)
{
        uint64_t *mem = ud; /* [0] MemTotal, [1] MemAvailable, bytes */
        bool ok;
        for (unsigned i = 0; i < 2; i++) {
                const char *key = i ? "MemAvailable:" : "MemTotal:";
                size_t l = strlen(key);
                if (strncmp(line, key, l) != 0)
                        continue;
                const char *p = line + l;
                while (*p == ' ')
                        p++;
                mem[i] = ma_parse_u64_prefix(p, &ok) * 1024;
        }
        return !(mem[0] && mem[1]);
}

/* Where our memory cgroups are, found once at the first options load: [0] the v1 memory cgroup,
 * [1] the v2 cgroup, and how long each mount point is (the walk up to the ancestors stops there).
 * A process moved to another cgroup later keeps the first one's files: liboomless cannot afford to
 * parse mountinfo on every refresh. */
static char ma_cg_dir[2][1100];
static size_t ma_cg_mnt_len[2];
static bool ma_cg_found[2];

static void ma_cg_locate(void)
{
        MaCgScan c;
        memset(&c, 0, sizeof(c));
        ma_for_each_line("/proc/self/cgroup", ma_scan_cgroup_line, &c);
        ma_for_each_line("/proc/self/mountinfo", ma_scan_mount_line, &c);
        if (c.have_v1 && c.have_v1_mnt) {
                ma_cg_dir_join(ma_cg_dir[0], sizeof(ma_cg_dir[0]), c.v1_mnt, c.v1_root, c.v1_path);
                ma_cg_mnt_len[0] = strlen(c.v1_mnt);
                ma_cg_found[0] = true;
        }
        if (c.have_v2 && c.have_v2_mnt) {
                ma_cg_dir_join(ma_cg_dir[1], sizeof(ma_cg_dir[1]), c.v2_mnt, c.v2_root, c.v2_path);
                ma_cg_mnt_len[1] = strlen(c.v2_mnt);
                ma_cg_found[1] = true;
        }
}

/* The sum of two "name value" lines of a file, in one pass. */
typedef struct MaKeyScan {
        const char *key[2]; /* "name " */
        size_t len[2];
        uint64_t v;
        unsigned found;
} MaKeyScan;

static bool ma_scan_key_line(char *line, void *ud)
{
        MaKeyScan *k = ud;
        bool ok;
        for (unsigned i = 0; i < 2; i++) {
                if (strncmp(line, k->key[i], k->len[i]) != 0)
                        continue;
                uint64_t v = ma_parse_u64_prefix(line + k->len[i], &ok);
                k->v += ok ? v : 0;
                return ++k->found < 2;
        }
        return true;
}

static uint64_t ma_read_keys_sum(const char *path, const char *key1, const char *key2)
{
        MaKeyScan k = { .key = { key1, key2 }, .len = { strlen(key1), strlen(key2) }, .v = 0, .found = 0 };
        ma_for_each_line(path, ma_scan_key_line, &k);
        return k.v;
}

/* The room under the limits: the smallest limit, and the smallest cap a limit allows the heap,
 * which is that limit less what is charged there outside our heap. What is charged is usage less all
 * file cache, active and inactive: the kernel drops both before it would kill anything (a file read
 * twice is active, and a job that re-reads its files keeps its cache there). The heap is taken as
 * charged in full (held), so "outside" is never below 0. */
typedef struct MaRoom {
        uint64_t limit; /* 0: none found */
        uint64_t cap;   /* before the reserve */
} MaRoom;

static void ma_room_add(MaRoom *r, uint64_t limit, uint64_t charged, uint64_t held)
{
        uint64_t outside = charged > held ? charged - held : 0;
        uint64_t room = limit > outside ? limit - outside : 1;
        if (!r->limit || limit < r->limit)
                r->limit = limit;
        if (!r->cap || room < r->cap)
                r->cap = room;
}

/* One cgroup level; a level without a limit adds nothing. */
static void ma_room_level(MaRoom *r, const char *dir, bool v2, uint64_t held)
{
        char file[1200];
        if (!ma_append(file, sizeof(file), dir, v2 ? "memory.max" : "memory.limit_in_bytes"))
                return;
        uint64_t limit = ma_read_limit(file);
        if (!limit)
                return;
        uint64_t usage = 0, cache = 0;
        if (ma_append(file, sizeof(file), dir, v2 ? "memory.current" : "memory.usage_in_bytes"))
                usage = ma_read_limit(file);
        if (ma_append(file, sizeof(file), dir, "memory.stat"))
                cache = v2 ? ma_read_keys_sum(file, "active_file ", "inactive_file ")
                           : ma_read_keys_sum(file, "total_active_file ", "total_inactive_file ");
        ma_room_add(r, limit, usage > cache ? usage - cache : 0, held);
}

/* Kept free under the limit for what is charged besides the heap between two refreshes (stacks,
 * page tables, kernel memory): 1/32 of the limit, within 4M..64M. */
static uint64_t ma_cap_reserve(uint64_t limit)
{
        uint64_t r = limit / 32;
        if (r < MA_CAP_FLOOR)
                r = MA_CAP_FLOOR;
        if (r > (UINT64_C(64) << 20))
                r = UINT64_C(64) << 20;
        return r;
}

uint64_t ma_default_cap(uint64_t held, uint64_t *ret_limit)
{
        char dir[1100];
        MaRoom r = { 0, 0 };
        uint64_t mem[2] = { 0, 0 };

        for (unsigned v = 0; v < 2; v++) {
                if (!ma_cg_found[v])
                        continue;
                /* Every ancestor's limit applies too (on v1 it is hierarchical_memory_limit): walk up. */
                ma_strlcpy(dir, ma_cg_dir[v], sizeof(dir));
                for (;;) {
                        ma_room_level(&r, dir, v == 1, held);
                        char *slash = strrchr(dir, '/');
                        if (!slash || (size_t)(slash - dir) < ma_cg_mnt_len[v])
                                break;
                        *slash = 0;
                }
        }
        /* The machine is a limit too: MemTotal, of which MemTotal - MemAvailable is charged. */
        ma_for_each_line("/proc/meminfo", ma_scan_meminfo_line, mem);
        if (mem[0])
                ma_room_add(&r, mem[0], mem[0] > mem[1] ? mem[0] - mem[1] : 0, held);
        *ret_limit = r.limit;
        if (!r.limit)
                return 0; /* nothing known: no cap */
        uint64_t reserve = ma_cap_reserve(r.limit);
        return r.cap > reserve + MA_CAP_FLOOR ? r.cap - reserve : MA_CAP_FLOOR;
}

/* A bad value is reported once per process tree: the first process that reports it leaves a marker
 * in its environment (OOMLESS_ENV_REPORTED), and a descendant that
 * inherits the marker with the same bad values stays quiet. A python start runs dozens of processes
 * (shims, shells, helpers), each of which would otherwise print the same line. The marker lists a
 * short hash of each "name=value" reported, so a descendant given a new bad value reports that one. */
#define MA_ENV_MARKER "OOMLESS_ENV_REPORTED"
#define MA_BAD_MAX    8

typedef struct MaBad {
        const char *name, *value;
        char why[112];     /* "expected ..." or the reason */
        const char *using; /* NULL: the cap in force, formatted at the end */
} MaBad;

static MaBad ma_bad[MA_BAD_MAX];
static unsigned ma_nbad;
static char ma_marker[sizeof(MA_ENV_MARKER) + 2 * 9 * MA_BAD_MAX];
static bool ma_marker_pending;

static void ma_bad_add(const char *name, const char *value, const char *why1, const char *why2,
                       const char *using)
{
        if (ma_nbad == MA_BAD_MAX)
                return;
        MaBad *b = &ma_bad[ma_nbad++];
        b->name = name;
        b->value = value;
        ma_strlcpy(b->why, why1, sizeof(b->why));
        if (why2) {
                size_t l = strlen(b->why);
                ma_strlcpy(b->why + l, why2, sizeof(b->why) - l);
        }
        b->using = using;
}

static void ma_bad_expected(const char *name, const char *value, const char *accepted, const char *using)
{
        ma_bad_add(name, value, "expected ", accepted, using);
}

/* "245M" (MiB, rounded down) from 1 MiB on, else bytes with "B"; into buf. */
static const char *ma_size_str(uint64_t v, char buf[static 32])
{
        char num[24];
        bool mib = v >= (UINT64_C(1) << 20); /* rounded down */
        ma_strlcpy(buf, ma_u64_str(mib ? v >> 20 : v, num), 30);
        strcat(buf, mib ? "M" : "B");
        return buf;
}

/* The marker's entry for one bad value: 8 hex digits of FNV-1a over "name=value". */
static void ma_bad_hash(const MaBad *b, char out[static 9])
{
        uint32_t h = 2166136261u;
        for (unsigned part = 0; part < 3; part++)
                for (const char *p = part == 0 ? b->name : part == 1 ? "=" : b->value; *p; p++)
                        h = (h ^ (unsigned char)*p) * 16777619u;
        for (int i = 7; i >= 0; i--, h >>= 4)
                out[i] = "0123456789abcdef"[h & 15];
        out[8] = 0;
}

static bool ma_marker_has(const char *list, const char *hash)
{
        for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, hash, 8) == 0 && (p[8] == ',' || !p[8]))
                        return true;
        return false;
}

static void ma_bad_report(const MaOptions *o)
{
        const char *seen = ma_getenv(MA_ENV_MARKER);
        bool said[MA_BAD_MAX];
        char hash[9];
        if (!ma_nbad)
                return;
        /* The new marker: what an ancestor reported, then ours (it ends up in our children). */
        ma_strlcpy(ma_marker, MA_ENV_MARKER "=", sizeof(ma_marker));
        if (seen && strlen(seen) < sizeof(ma_marker) - sizeof(MA_ENV_MARKER) - 9 * MA_BAD_MAX)
                strcat(ma_marker, seen);
        for (unsigned i = 0; i < ma_nbad; i++) {
                ma_bad_hash(&ma_bad[i], hash);
                said[i] = ma_marker_has(seen, hash);
                if (said[i])
                        continue;
                ma_marker_pending = true;
                if (ma_marker[sizeof(MA_ENV_MARKER)])
                        strcat(ma_marker, ",");
                strcat(ma_marker, hash);
        }
        for (unsigned i = 0; i < ma_nbad; i++) {
                char buf[32];
                MaBuf m = { .n = 0 };
                if (said[i])
                        continue; /* an ancestor said it already */
                mb_str(&m, "liboomless: ignoring ");
                mb_str(&m, ma_bad[i].name);
                mb_str(&m, "=\"");
                mb_str(&m, ma_bad[i].value);
                mb_str(&m, "\": ");
                mb_str(&m, ma_bad[i].why);
                mb_str(&m, "; using ");
                if (ma_bad[i].using)
                        mb_str(&m, ma_bad[i].using);
                else if (!o->cap)
                        mb_str(&m, "no cap (no memory limit found)");
                else {
                        mb_str(&m, o->cap_auto ? "the default cap, now " : "a cap of ");
                        mb_str(&m, ma_size_str(o->cap, buf));
                        if (o->cap_auto)
                                mb_str(&m, " (the memory limit less what the cgroup holds outside the heap, "
                                           "less a reserve)");
                }
                mb_flush(&m);
        }
}

void ma_options_mark_reported(void)
{
        if (!ma_marker_pending)
                return;
        ma_marker_pending = false;
        /* putenv keeps the static string, so only the environ array may grow (through our malloc,
         * which is usable by now: this runs from the constructor, with no libc lock held). */
        (void)putenv(ma_marker);
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
        ma_bad_expected(name, v, "1/yes/true/on or 0/no/false/off", dflt ? "1" : "0");
        return dflt;
}

/* Sets *out from the variable when parse accepts its value; otherwise notes it and leaves *out. */
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
                ma_bad_expected(name, v, accepted, using);
}

/* OOMLESS_HEAP_CAP: "none"/"0", a percent of the limit, or a size; anything else (or a value under
 * the floor) leaves the default rule. */
static void ma_options_cap(MaOptions *o)
{
        const char *v = ma_getenv("OOMLESS_HEAP_CAP");
        uint64_t x;
        size_t l = v ? strlen(v) : 0;
        char num[32];

        o->cap_auto = true;
        if (v && (!strcmp(v, "none") || !strcmp(v, "0"))) {
                o->cap_auto = false;
                (void)ma_default_cap(0, &o->limit);
                o->cap = 0;
                return;
        }
        if (v && l > 1 && l < sizeof(num) && v[l - 1] == '%') {
                memcpy(num, v, l - 1);
                num[l - 1] = 0;
                if (ma_parse_size(num, &x) && x >= 1 && x <= 100 && num[0] >= '0' && num[l - 2] <= '9')
                        o->cap_percent = x;
                else
                        ma_bad_expected("OOMLESS_HEAP_CAP", v, MA_CAP_ACCEPTED, NULL);
        } else if (v && ma_parse_size(v, &x) && x > 0) {
                if (x < MA_CAP_FLOOR)
                        ma_bad_add("OOMLESS_HEAP_CAP", v, "under the floor of 4M", NULL, NULL);
                else {
                        o->cap_auto = false;
                        o->cap = x;
                }
        } else if (v)
                ma_bad_expected("OOMLESS_HEAP_CAP", v, MA_CAP_ACCEPTED, NULL);

        uint64_t rule = ma_default_cap(0, &o->limit);
        if (o->cap_percent) {
                uint64_t c = ma_percent_of(o->limit, o->cap_percent);
                if (o->limit && c < MA_CAP_FLOOR) {
                        /* A percent of a small limit can fall under the floor too: then the rule. */
                        char got[32];
                        ma_bad_add("OOMLESS_HEAP_CAP", v, "it comes to ", ma_size_str(c, got), NULL);
                        size_t bl = strlen(ma_bad[ma_nbad - 1].why);
                        ma_strlcpy(ma_bad[ma_nbad - 1].why + bl, ", under the floor of 4M",
                                   sizeof(ma_bad[0].why) - bl);
                        o->cap_percent = 0;
                } else {
                        o->cap_auto = false;
                        o->cap = c;
                }
        }
        if (o->cap_auto)
                o->cap = rule;
}

void ma_options_load(void)
{
        const char *v;
        char dflt_delay[32], dflt_min[32], buf[24];
        MaOptions o = {
                .background = true,
                .scavenge_delay_ns = MA_DEFAULT_SCAVENGE_DELAY_MS * 1000000,
                .background_min = MA_DEFAULT_BACKGROUND_MIN_MIB << 20,
        };
        /* The defaults the warnings name come from the same constants as the defaults themselves. */
        ma_strlcpy(dflt_delay, ma_u64_str(MA_DEFAULT_SCAVENGE_DELAY_MS, buf), sizeof(dflt_delay) - 3);
        strcat(dflt_delay, "ms");
        ma_strlcpy(dflt_min, ma_u64_str(MA_DEFAULT_BACKGROUND_MIN_MIB, buf), sizeof(dflt_min) - 2);
        strcat(dflt_min, "M");

        ma_nbad = 0;
        if (!ma_cg_found[0] && !ma_cg_found[1])
                ma_cg_locate();
        ma_options_cap(&o);

        v = ma_getenv("OOMLESS_ON_CAP");
        if (v && !strcmp(v, "abort"))
                o.cap_abort = true;
        else if (v && strcmp(v, "enomem"))
                ma_bad_expected("OOMLESS_ON_CAP", v, "enomem or abort", "enomem");

        o.background = ma_env_bool("OOMLESS_BACKGROUND", true);
        o.thp = ma_env_bool("OOMLESS_THP", false);

        ma_env_u64("OOMLESS_SCAVENGE_DELAY", ma_parse_duration_ns, &o.scavenge_delay_ns,
                   "a duration like 500ms, 2s or 250 (ms)", dflt_delay);
        ma_env_u64("OOMLESS_BACKGROUND_MIN", ma_parse_size, &o.background_min, "a size like 16M or 1.5G",
                   dflt_min);
        o.control_path = ma_getenv(OOMLESS_CONTROL_ENV);
        o.control_fd = ma_getenv(OOMLESS_CONTROL_FD_ENV);
        o.control_reopen = ma_getenv(OOMLESS_CONTROL_REOPEN_ENV);
        o.wake_path = ma_getenv(OOMLESS_WAKE_ENV);
        ma_bad_report(&o);
        ma_opt = o;
        ma_opt_loaded = environ != NULL;
}

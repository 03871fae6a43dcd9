/* SPDX-License-Identifier: MIT */
/* The supervisor's log: text or JSON lines on stderr, or structured journal entries (see log.h). */
#define _GNU_SOURCE 1
#include "log.h"
#include "strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
/* The location is the caller's (CODE_FILE/CODE_LINE below), not this file's. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

/* A message longer than this is cut; the journal and a log pipeline take lines, not documents. */
#define LOG_MESSAGE_MAX 2048
/* Journal fields of one record: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_*, ERRNO and the event's. */
#define LOG_JOURNAL_FIELDS_MAX 48

static LogLevel max_level = LOG_LEVEL_INFO;
static LogFormat format = LOG_FORMAT_TEXT;
static int journal = -1; /* -1: not decided yet */

static const char *const level_names[] = {
        [LOG_LEVEL_DEBUG] = "debug",     [LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_NOTICE] = "notice",
        [LOG_LEVEL_WARNING] = "warning", [LOG_LEVEL_ERROR] = "error",
};

/* syslog(3) priorities, which the journal's PRIORITY= takes. */
static const int level_priority[] = {
        [LOG_LEVEL_DEBUG] = 7,   [LOG_LEVEL_INFO] = 6,  [LOG_LEVEL_NOTICE] = 5,
        [LOG_LEVEL_WARNING] = 4, [LOG_LEVEL_ERROR] = 3,
};

static const char *const format_names[_LOG_FORMAT_MAX] = {
        [LOG_FORMAT_TEXT] = "text",
        [LOG_FORMAT_JSON] = "json",
};

void log_set_max_level(LogLevel level)
{
        max_level = level;
}

LogLevel log_get_max_level(void)
{
        return max_level;
}

void log_set_format(LogFormat f)
{
        format = f;
}

LogFormat log_get_format(void)
{
        return format;
}

/* The index of s in names, in any case, or -EINVAL. */
static int name_index(const char *const *names, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcasecmp(s, names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

int log_level_from_string(const char *s)
{
        return name_index(level_names, ELEMENTSOF(level_names), s);
}

int log_format_from_string(const char *s)
{
        return name_index(format_names, ELEMENTSOF(format_names), s);
}

/* systemd sets $JOURNAL_STREAM to "DEVICE:INODE" of the stream it connected to stdout/stderr; a match
 * with our stderr means our stderr is that stream (not redirected by a wrapper or a shell), so
 * structured entries can go to the journal directly. */
bool log_to_journal(void)
{
        const char *e;
        unsigned long long dev, ino;
        struct stat st;

        if (journal >= 0)
                return journal;
        journal = 0;
        e = getenv("JOURNAL_STREAM");
        if (e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
            (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
                journal = 1;
        return journal;
}

/* ---- a growing line buffer; on OOM the record is cut, never lost entirely ---- */

typedef StrBuf LineBuf;

static void lb_put(LineBuf *b, const char *p, size_t n)
{
        strbuf_put(b, p, n);
}

static void lb_puts(LineBuf *b, const char *s)
{
        lb_put(b, s, strlen(s));
}

_printf_(2, 3) static void lb_printf(LineBuf *b, const char *fmt, ...)
{
        char tmp[128];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                lb_put(b, tmp, MIN((size_t)n, sizeof(tmp) - 1));
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
        size_t n;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0)
                n = 2, cp = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                n = 3, cp = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        /* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

/* A JSON string. Paths and command lines come from users and workloads: bytes that are not UTF-8
 * become U+FFFD, so that every line stays parseable. */
static void lb_json_string(LineBuf *b, const char *s)
{
        const unsigned char *p = (const unsigned char *)s;

        lb_put(b, "\"", 1);
        while (*p) {
                size_t n;
                if (*p == '"' || *p == '\\') {
                        lb_put(b, "\\", 1);
                        lb_put(b, (const char *)p++, 1);
                } else if (*p == '\n') {
                        lb_puts(b, "\\n"), p++;
                } else if (*p == '\t') {
                        lb_puts(b, "\\t"), p++;
                } else if (*p < 0x20 || *p == 0x7f) {
                        lb_printf(b, "\\u%04x", *p++);
                } else if ((n = utf8_len(p)) > 0) {
                        lb_put(b, (const char *)p, n);
                        p += n;
                } else {
                        lb_puts(b, "\\ufffd");
                        p++;
                }
        }
        lb_put(b, "\"", 1);
}

static void lb_json_value(LineBuf *b, const LogField *f)
{
        switch (f->type) {
        case LOG_FIELD_STR:
                if (f->s)
                        lb_json_string(b, f->s);
                else
                        lb_puts(b, "null");
                break;
        case LOG_FIELD_U64:
                lb_printf(b, "%" PRIu64, f->u);
                break;
        case LOG_FIELD_I64:
                lb_printf(b, "%" PRIi64, f->i);
                break;
        case LOG_FIELD_DBL:
                /* 15 digits: enough for every figure logged, and 0.1 stays 0.1 (17 print noise). */
                if (isfinite(f->d))
                        lb_printf(b, "%.15g", f->d);
                else
                        lb_puts(b, "null");
                break;
        case LOG_FIELD_BOOL:
                lb_puts(b, f->b ? "true" : "false");
                break;
        case LOG_FIELD_JSON:
                lb_puts(b, f->s ?: "null");
                break;
        default:
                lb_puts(b, "null");
        }
}

/* "2026-11-22T10:00:00.123Z" */
static void format_time(char *buf, size_t len)
{
        struct timespec ts;
        struct tm tm;
        size_t n;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000L) % 1000u);
}

static void write_line(const LineBuf *b)
{
        /* One write per record, so that lines of processes sharing stderr do not interleave. */
        if (b->s && write(STDERR_FILENO, b->s, b->len) < 0)
                (void)0; /* nowhere to report it */
}

static void emit_text(LogLevel level, const char *file, int line, const char *msg)
{
        LineBuf b = {};
        char when[40];

        format_time(when, sizeof(when));
        lb_printf(&b, "%s oomless[%d]: ", when, (int)getpid());
        if (level >= LOG_LEVEL_WARNING || max_level == LOG_LEVEL_DEBUG) {
                lb_puts(&b, level_names[level]);
                lb_puts(&b, ": ");
        }
        lb_puts(&b, msg);
        if (max_level == LOG_LEVEL_DEBUG)
                lb_printf(&b, " (%s:%d)", file, line);
        lb_put(&b, "\n", 1);
        write_line(&b);
        free(b.s);
}

static void emit_json(LogLevel level, int error, const char *file, int line, const LogField *fields,
                      const char *msg)
{
        LineBuf b = {};
        char when[40];

        format_time(when, sizeof(when));
        lb_puts(&b, "{\"time\":\"");
        lb_puts(&b, when);
        lb_puts(&b, "\",\"level\":\"");
        lb_puts(&b, level_names[level]);
        lb_puts(&b, "\",\"message\":");
        lb_json_string(&b, msg);
        lb_printf(&b, ",\"supervisor_pid\":%d", (int)getpid());
        if (error > 0) {
                lb_printf(&b, ",\"errno\":%d,\"error\":", error);
                lb_json_string(&b, strerror(error));
        }
        if (max_level == LOG_LEVEL_DEBUG) {
                lb_puts(&b, ",\"code_file\":");
                lb_json_string(&b, file);
                lb_printf(&b, ",\"code_line\":%d", line);
        }
        for (const LogField *f = fields; f && f->type != LOG_FIELD_END; f++) {
                lb_put(&b, ",", 1);
                lb_json_string(&b, f->key);
                lb_put(&b, ":", 1);
                lb_json_value(&b, f);
        }
        lb_puts(&b, "}\n");
        write_line(&b);
        free(b.s);
}

/* One journal field "KEY=value": the key upper-cased, the value as the JSON form minus a string's
 * quotes (journal values are bytes; a structured value stays JSON). */
static char *journal_field(const LogField *f)
{
        LineBuf b = {};

        for (const char *k = f->key; *k; k++) {
                char c = (char)toupper((unsigned char)*k);
                lb_put(&b, isalnum((unsigned char)c) ? &c : "_", 1);
        }
        lb_put(&b, "=", 1);
        if (f->type == LOG_FIELD_STR)
                lb_puts(&b, f->s ?: "");
        else if (f->type == LOG_FIELD_DBL && isfinite(f->d))
                lb_printf(&b, "%g", f->d);
        else
                lb_json_value(&b, f);
        if (b.oom) {
                free(b.s);
                return NULL;
        }
        return b.s;
}

static void emit_journal(LogLevel level, int error, const char *file, int line, const LogField *fields,
                         const char *msg)
{
        char *owned[LOG_JOURNAL_FIELDS_MAX] = {};
        struct iovec iov[LOG_JOURNAL_FIELDS_MAX];
        size_t n = 0, n_owned = 0;

#define ADD(...)                                                                                            \
        do {                                                                                                \
                char *_s = NULL;                                                                            \
                if (n < LOG_JOURNAL_FIELDS_MAX && asprintf(&_s, __VA_ARGS__) >= 0) {                        \
                        owned[n_owned++] = _s;                                                              \
                        iov[n++] = (struct iovec){ .iov_base = _s, .iov_len = strlen(_s) };                 \
                }                                                                                           \
        } while (0)
        ADD("MESSAGE=%s", msg);
        ADD("PRIORITY=%d", level_priority[level]);
        ADD("SYSLOG_IDENTIFIER=oomless");
        ADD("CODE_FILE=%s", file);
        ADD("CODE_LINE=%d", line);
        if (error > 0)
                ADD("ERRNO=%d", error);
#undef ADD
        for (const LogField *f = fields; f && f->type != LOG_FIELD_END && n < LOG_JOURNAL_FIELDS_MAX; f++) {
                char *s = journal_field(f);
                if (!s)
                        continue;
                owned[n_owned++] = s;
                iov[n++] = (struct iovec){ .iov_base = s, .iov_len = strlen(s) };
        }
        if (sd_journal_sendv(iov, (int)n) < 0)
                emit_text(level, file, line, msg); /* the journal went away: stderr still reaches it */
        for (size_t i = 0; i < n_owned; i++)
                free(owned[i]);
}

static int log_dispatch(LogLevel level, int error, const char *file, int line, const LogField *fields,
                        const char *fmt, va_list ap)
{
        char msg[LOG_MESSAGE_MAX];

        if (error < 0)
                error = -error;
        if (level < max_level)
                return -error;
        /* Make %m print the error we were given, not whatever errno happens to be. */
        errno = error;
        vsnprintf(msg, sizeof(msg), fmt, ap);

        if (log_to_journal())
                emit_journal(level, error, file, line, fields, msg);
        else if (format == LOG_FORMAT_JSON)
                emit_json(level, error, file, line, fields, msg);
        else
                emit_text(level, file, line, msg);
        return -error;
}

int log_struct_internal(LogLevel level, int error, const char *file, int line, const LogField *fields,
                        const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_dispatch(level, error, file, line, fields, fmt, ap);
        va_end(ap);
        return r;
}

/* SPDX-License-Identifier: MIT */
/* Supervisor logging: one record per event. The log_*_errno variants return the negative errno they
 * were given, so "return log_error_errno(r, ...)" logs once at the place that decides and propagates
 * the error. %m in the format prints strerror of that errno.
 *
 * Where a record goes: to the journal through sd_journal_sendv() when stderr is the journal's stream
 * ($JOURNAL_STREAM names stderr's device and inode, as systemd documents for services), else to
 * stderr in the format set by log_set_format():
 *   text  "2026-11-22T10:00:00.123Z oomless[42]: warning: message"  (the level only from warning up)
 *   json  {"time":"2026-11-22T10:00:00.123Z","level":"notice","message":"...","supervisor_pid":42, FIELDS}
 * one line each, timestamps in RFC 3339, UTC, milliseconds.
 *
 * Structured records: log_struct() takes the event's fields as well as its message. They are the
 * extra keys of the JSON object (after time, level, message, supervisor_pid, and errno/error when an error
 * is given) and journal fields in upper case (stage -> STAGE); the text format shows only the message, which
 * therefore says everything on its own. Field keys are lower-case [a-z0-9_] and never one of the fixed keys;
 * "pid" is the workload's, as in the webhook payload. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

typedef enum LogLevel {
        LOG_LEVEL_DEBUG,
        LOG_LEVEL_INFO,
        LOG_LEVEL_NOTICE,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_ERROR,
} LogLevel;

typedef enum LogFormat {
        LOG_FORMAT_TEXT,
        LOG_FORMAT_JSON,
        _LOG_FORMAT_MAX,
} LogFormat;

void log_set_max_level(LogLevel level);
LogLevel log_get_max_level(void);
/* Parses "debug", "info", "notice", "warning", "error". */
int log_level_from_string(const char *s);

void log_set_format(LogFormat format);
LogFormat log_get_format(void);
/* Parses "text", "json". */
int log_format_from_string(const char *s);
/* True when records go to the journal (decided at the first record). */
bool log_to_journal(void);

typedef enum LogFieldType {
        LOG_FIELD_END,
        LOG_FIELD_STR, /* NULL prints as null */
        LOG_FIELD_U64,
        LOG_FIELD_I64,
        LOG_FIELD_DBL, /* NaN and infinities print as null */
        LOG_FIELD_BOOL,
        LOG_FIELD_JSON, /* already-rendered JSON text (an object or array), NULL prints as null */
} LogFieldType;

typedef struct LogField {
        const char *key;
        LogFieldType type;
        union {
                const char *s;
                uint64_t u;
                int64_t i;
                double d;
                bool b;
        };
} LogField;

#define LOG_STR(k, v)  ((LogField){ .key = (k), .type = LOG_FIELD_STR, .s = (v) })
#define LOG_U64(k, v)  ((LogField){ .key = (k), .type = LOG_FIELD_U64, .u = (uint64_t)(v) })
#define LOG_I64(k, v)  ((LogField){ .key = (k), .type = LOG_FIELD_I64, .i = (int64_t)(v) })
#define LOG_DBL(k, v)  ((LogField){ .key = (k), .type = LOG_FIELD_DBL, .d = (double)(v) })
#define LOG_BOOL(k, v) ((LogField){ .key = (k), .type = LOG_FIELD_BOOL, .b = (v) })
#define LOG_JSON(k, v) ((LogField){ .key = (k), .type = LOG_FIELD_JSON, .s = (v) })
/* The fields of one record: LOG_FIELDS(LOG_STR("event", "stage"), LOG_U64("stage", 2)). */
#define LOG_FIELDS(...) ((const LogField[]){ __VA_ARGS__, { .type = LOG_FIELD_END } })

int log_struct_internal(LogLevel level, int error, const char *file, int line, const LogField *fields,
                        const char *fmt, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...)                                                                   \
        log_struct_internal((level), (error), __FILE__, __LINE__, NULL, __VA_ARGS__)
#define log_debug(...)            (void)log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...)             (void)log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_notice(...)           (void)log_full_errno(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)          (void)log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_error(...)            (void)log_full_errno(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)   log_full_errno(LOG_LEVEL_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_LEVEL_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_LEVEL_ERROR, (e), __VA_ARGS__)

/* log_struct(LOG_LEVEL_NOTICE, LOG_FIELDS(LOG_STR("event", "restart"), LOG_U64("restarts", n)),
 *            "Restarting the workload (restart %u).", n); */
#define log_struct(level, fields, ...)                                                                      \
        (void)log_struct_internal((level), 0, __FILE__, __LINE__, (fields), __VA_ARGS__)
#define log_struct_errno(level, error, fields, ...)                                                         \
        log_struct_internal((level), (error), __FILE__, __LINE__, (fields), __VA_ARGS__)

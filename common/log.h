/* SPDX-License-Identifier: MIT */
/* Supervisor logging: one line per event on stderr, "oomless[pid]: <level>: message". The log_*_errno
 * variants return the negative errno they were given, so "return log_error_errno(r, ...)" logs once at
 * the place that decides and propagates the error. %m in the format prints strerror of that errno. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

#include "macro.h"

typedef enum LogLevel {
        LOG_LEVEL_DEBUG,
        LOG_LEVEL_INFO,
        LOG_LEVEL_NOTICE,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_ERROR,
} LogLevel;

void log_set_max_level(LogLevel level);
LogLevel log_get_max_level(void);
/* Parses "debug", "info", "notice", "warning", "error". */
int log_level_from_string(const char *s);

int log_internal(LogLevel level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...) log_internal((level), (error), __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...)                    (void)log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...)                     (void)log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_notice(...)                   (void)log_full_errno(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)                  (void)log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_error(...)                    (void)log_full_errno(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)           log_full_errno(LOG_LEVEL_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)            log_full_errno(LOG_LEVEL_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...)         log_full_errno(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)           log_full_errno(LOG_LEVEL_ERROR, (e), __VA_ARGS__)

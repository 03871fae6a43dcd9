/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static LogLevel max_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
        [LOG_LEVEL_DEBUG] = "debug",     [LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_NOTICE] = "notice",
        [LOG_LEVEL_WARNING] = "warning", [LOG_LEVEL_ERROR] = "error",
};

void log_set_max_level(LogLevel level)
{
        max_level = level;
}

LogLevel log_get_max_level(void)
{
        return max_level;
}

int log_level_from_string(const char *s)
{
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

int log_internal(LogLevel level, int error, const char *file, int line, const char *fmt, ...)
{
        char buf[2048];
        va_list ap;
        int n;

        if (error < 0)
                error = -error;
        if (level < max_level)
                return -error;

        /* Make %m print the error we were given, not whatever errno happens to be. */
        errno = error;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        if (max_level == LOG_LEVEL_DEBUG)
                n = fprintf(stderr, "oomless[%d]: %s: %s (%s:%d)\n", (int)getpid(), level_names[level], buf,
                            file, line);
        else
                n = fprintf(stderr, "oomless[%d]: %s%s%s\n", (int)getpid(),
                            level >= LOG_LEVEL_WARNING ? level_names[level] : "",
                            level >= LOG_LEVEL_WARNING ? ": " : "", buf);
        (void)n;
        return -error;
}

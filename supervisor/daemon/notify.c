/* SPDX-License-Identifier: MIT */
/* The service manager's side channel: READY, STATUS, STOPPING through sd_notify. Each call is a no-op
 * outside systemd ($NOTIFY_SOCKET unset), so callers need no checks. */
#define _GNU_SOURCE 1
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

static int notify_enabled = -1;

static int enabled(void)
{
        /* getenv once: STATUS= goes out every tick, and most runs are not under systemd. */
        if (notify_enabled < 0)
                notify_enabled = getenv("NOTIFY_SOCKET") != NULL;
        return notify_enabled;
}

void notify_ready(void)
{
        if (enabled())
                (void)sd_notify(0, "READY=1");
}

void notify_stopping(void)
{
        if (enabled())
                (void)sd_notify(0, "STOPPING=1");
}

void notify_status(const char *fmt, ...)
{
        char buf[512];
        va_list ap;

        if (!enabled())
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        (void)sd_notifyf(0, "STATUS=%s", buf);
}

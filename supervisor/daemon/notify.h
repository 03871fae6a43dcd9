/* SPDX-License-Identifier: MIT */
/* The service manager's side channel: READY, STATUS, STOPPING through sd_notify. Each call is a no-op
 * outside systemd ($NOTIFY_SOCKET unset), so callers need no checks. */
#pragma once

void notify_ready(void);
void notify_stopping(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

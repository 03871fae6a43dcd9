/* SPDX-License-Identifier: MIT */
/* The one clock helper of the supervisor and its libraries. Code on the event loop uses
 * sd_event_now() instead, so that every handler of one iteration sees the same time. */
#pragma once

#include <stdint.h>
#include <time.h>

/* The clock's time in microseconds. CLOCK_MONOTONIC for deadlines and durations, CLOCK_REALTIME only
 * for timestamps shown to people. */
uint64_t now_usec(clockid_t clock);

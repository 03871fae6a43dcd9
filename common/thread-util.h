/* SPDX-License-Identifier: MIT */
/* The supervisor's worker threads (memory.reclaim, v1 threshold arming): short-lived, small, and deaf
 * to process signals. */
#pragma once

#include <pthread.h>

/* Starts fn(arg) on a thread with a 64 KiB stack and every signal blocked, so that it never takes a
 * signal meant for the loop's signalfd. Returns 0 or negative errno. */
int thread_start_worker(pthread_t *ret, void *(*fn)(void *), void *arg);

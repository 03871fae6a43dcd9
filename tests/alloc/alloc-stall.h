/* SPDX-License-Identifier: MIT */
/* A stall inside liboomless's next open() on one thread, and a count of opens (alloc-stall.c). */
#pragma once

#include <stdbool.h>

void alloc_stall_arm_this_thread(void); /* this thread's next open() stalls */
bool alloc_stall_wait(long ms);         /* until a thread is stalled; false after ms */
void alloc_stall_release(void);
unsigned alloc_stall_opens(void); /* open() calls so far, any thread */

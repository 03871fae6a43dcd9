/* SPDX-License-Identifier: MIT */
/* A pthread_create that fails when TEST_NO_THREADS is set (alloc-nothread.c). */
#pragma once

unsigned alloc_nothread_refused(void); /* how many threads it refused so far */

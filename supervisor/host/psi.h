/* SPDX-License-Identifier: MIT */
/* Parsing of the kernel's pressure-stall text (memory.pressure, /proc/pressure/memory) and of PSI
 * trigger strings. Pure functions: no I/O, no allocation, no locale. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oomless/sample.h"

/* Parses "some avg10=.. avg60=.. avg300=.. total=..\nfull ...\n". The "full" line is optional (the
 * system-wide cpu file lacks it on old kernels); *ret_has_full says whether it was there. Each line
 * must carry avg10, avg60, avg300 and total exactly once. -EINVAL on anything else. */
int psi_parse(const char *buf, size_t len, OomlessPsi *ret_some, OomlessPsi *ret_full, bool *ret_has_full);

typedef struct PsiTrigger {
        bool full;            /* "full" rather than "some" */
        uint64_t stall_usec;  /* threshold of stall time within the window */
        uint64_t window_usec; /* 500ms..10s */
} PsiTrigger;

#define PSI_WINDOW_MIN_USEC UINT64_C(500000)
#define PSI_WINDOW_MAX_USEC UINT64_C(10000000)
/* Without CAP_SYS_RESOURCE the kernel only accepts windows that are a multiple of this. */
#define PSI_WINDOW_UNPRIV_USEC UINT64_C(2000000)

/* Parses and checks "<some|full> <stall usec> <window usec>" as the kernel would: window in
 * [500ms, 10s], 0 < stall <= window. -EINVAL for syntax, -ERANGE for values out of range. */
int psi_trigger_parse(const char *s, PsiTrigger *ret);

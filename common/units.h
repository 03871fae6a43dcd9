/* SPDX-License-Identifier: MIT */
/* Parsing and printing of sizes ("512M", "1.5G", "80%"), durations ("30s", "250ms", "1h") and
 * signal names. Pure functions, no I/O, shared by the CLI, the policy parser and the tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sizes: bare numbers are bytes; suffixes K M G T (powers of 1024, optional "i"/"iB"/"B"). */
int units_parse_size(const char *s, uint64_t *ret_bytes);

/* A size that is either absolute or a percentage of something decided later (the effective limit). */
typedef struct SizeSpec {
        bool set;
        bool percent;       /* if true, permyriad holds the fraction */
        uint32_t permyriad; /* 0..10000 when percent; "80%" -> 8000, "12.5%" -> 1250 */
        uint64_t bytes;     /* when !percent; UINT64_MAX means "max" (no limit) */
} SizeSpec;
/* Accepts "512M", "80%", "12.5%", "max". Percent must be in (0, 100]. */
int units_parse_size_spec(const char *s, SizeSpec *ret);
/* Resolves a spec against a base (e.g. the effective limit). Returns UINT64_MAX for "max". */
uint64_t units_size_spec_resolve(const SizeSpec *spec, uint64_t base);

/* Durations: "250ms", "30s", "5m", "1h", "1500us", bare numbers are seconds. Result in microseconds. */
int units_parse_duration(const char *s, uint64_t *ret_usec);

/* Formats into buf: "512.0M", "max". Returns buf. */
char *units_format_size(char *buf, size_t len, uint64_t bytes);
/* Formats a limit as the cgroup files spell it: decimal bytes, or "max" for UINT64_MAX. Returns buf. */
char *units_format_limit(char *buf, size_t len, uint64_t bytes);
char *units_format_duration(char *buf, size_t len, uint64_t usec);

/* "TERM", "SIGTERM", "15" -> 15. Rejects unknown names and out-of-range numbers with -EINVAL. */
int units_parse_signal(const char *s);
/* 15 -> "SIGTERM"; NULL when unknown. */
const char *units_signal_to_string(int sig);

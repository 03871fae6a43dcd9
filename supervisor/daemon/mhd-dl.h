/* SPDX-License-Identifier: MIT */
/*
 * GNU libmicrohttpd, loaded on first use. The HTTP endpoint is off by default, and Debian's
 * libmicrohttpd brings GnuTLS and eight more libraries with it: linked, they would be mapped (and
 * relocated, and charged to the container oomless protects) in every supervisor, listening or not.
 * mhd_dl_load() opens it with dlopen(RTLD_NOW|RTLD_LOCAL) when --listen (or the policy's "http") asks
 * for the endpoint, and it stays loaded for the life of the process.
 *
 * Each entry is a pointer typed after the function's prototype in <microhttpd.h> (a build
 * dependency), so a call through sym_MHD_*() is checked like a direct call. Event-loop thread only;
 * callers use the sym_ pointers only after mhd_dl_load() returned 0. The same pattern as act/curl-dl.h,
 * both on common/dl-util.h.
 */
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "dl-util.h"

#define MHD_DL_SONAME  "libmicrohttpd.so.12"
#define MHD_DL_PACKAGE "libmicrohttpd12" /* the Debian package that ships MHD_DL_SONAME */

/* For tests only: a file name dlopen()ed instead of MHD_DL_SONAME (a missing or wrong library). Read
 * with secure_getenv(); not a configuration knob. */
#define MHD_DL_TEST_ENV "OOMLESS_TEST_LIBMICROHTTPD"

DL_SYM_DECLARE(MHD_start_daemon);
DL_SYM_DECLARE(MHD_stop_daemon);
DL_SYM_DECLARE(MHD_get_daemon_info);
DL_SYM_DECLARE(MHD_run);
DL_SYM_DECLARE(MHD_get_timeout);
DL_SYM_DECLARE(MHD_lookup_connection_value);
DL_SYM_DECLARE(MHD_create_response_from_buffer);
DL_SYM_DECLARE(MHD_add_response_header);
DL_SYM_DECLARE(MHD_queue_response);
DL_SYM_DECLARE(MHD_destroy_response);
DL_SYM_DECLARE(MHD_get_version);

/* Loads the library and resolves the table, the first time; later calls return the first result.
 * Errors are logged once, naming the library and the package: -ELIBACC (not installed), -ELIBBAD (a
 * function is missing). */
int mhd_dl_load(void);

/* SPDX-License-Identifier: MIT */
/*
 * libcurl, loaded on first use. The supervisor does not link libcurl: with the forty-odd libraries it
 * pulls in (TLS, Kerberos, LDAP, SSH, IDN, ...) it would be most of the supervisor's RSS, charged to
 * the container the supervisor protects, for a feature most policies never use. curl_dl_load() opens
 * it with dlopen(RTLD_NOW|RTLD_LOCAL) the first time a webhook is set up, resolves the table below and
 * runs curl_global_init() once. The library then stays loaded for the life of the process (unloading
 * libcurl and its TLS stack is not safe).
 *
 * Each entry is a pointer typed after the function's prototype in <curl/curl.h> (which stays a build
 * dependency), so a call through sym_curl_*() is checked like a direct call. curl's typecheck-gcc.h
 * macros, which check curl_easy_setopt() values option by option, apply to direct calls only.
 *
 * Event-loop thread only. Callers use the sym_ pointers only after curl_dl_load() returned 0.
 */
#pragma once

#include <curl/curl.h>

#include "dl-util.h"

#define CURL_DL_SONAME  "libcurl.so.4"
#define CURL_DL_PACKAGE "libcurl4" /* Debian/Ubuntu package that ships CURL_DL_SONAME */

/* For tests only: a file name dlopen()ed instead of CURL_DL_SONAME, so that the test suite can make the
 * library missing (a name that does not exist) or incomplete (a library without curl's symbols). Not
 * a configuration knob: a real deployment never sets it. Read with secure_getenv(). */
#define CURL_DL_TEST_ENV "OOMLESS_TEST_LIBCURL"

DL_SYM_DECLARE(curl_easy_init);
DL_SYM_DECLARE(curl_easy_cleanup);
DL_SYM_DECLARE(curl_easy_setopt);
DL_SYM_DECLARE(curl_easy_getinfo);
DL_SYM_DECLARE(curl_easy_strerror);
DL_SYM_DECLARE(curl_slist_append);
DL_SYM_DECLARE(curl_slist_free_all);
DL_SYM_DECLARE(curl_multi_init);
DL_SYM_DECLARE(curl_multi_cleanup);
DL_SYM_DECLARE(curl_multi_setopt);
DL_SYM_DECLARE(curl_multi_assign);
DL_SYM_DECLARE(curl_multi_add_handle);
DL_SYM_DECLARE(curl_multi_remove_handle);
DL_SYM_DECLARE(curl_multi_socket_action);
DL_SYM_DECLARE(curl_multi_info_read);
DL_SYM_DECLARE(curl_multi_strerror);

/* Loads libcurl, resolves the table and initialises the library, the first time; later calls return
 * the first call's result at once. Errors are logged once, by the call that meets them, naming the
 * library and the package to install:
 *   -ELIBACC  the library could not be loaded (not installed);
 *   -ELIBBAD  it lacks one of the functions above (not libcurl, or a libcurl too old);
 *   -EIO      curl_global_init() failed. */
int curl_dl_load(void);

/* SPDX-License-Identifier: MIT */
/* An optional library loaded on first use with dlopen(), its functions resolved into a table of typed
 * pointers: the part act/curl-dl.c (libcurl) and daemon/mhd-dl.c (libmicrohttpd) have in common. The
 * supervisor's alone (it logs). Event-loop thread only. */
#pragma once

#include <stddef.h>

/* One entry of a table: the function's name and the typed sym_ pointer it goes into, written through
 * as a data pointer (POSIX dlsym). */
typedef struct DlSym {
        const char *name;
        void **ptr;
} DlSym;

/* clang-format off */
#define DL_SYM(fn) { #fn, (void **)&sym_##fn }
/* clang-format on */

/* A pointer typed after the function's prototype, so a call through sym_fn() is checked like a
 * direct call: DL_SYM_DEFINE in the .c file, DL_SYM_DECLARE in its header. */
#define DL_SYM_DEFINE(fn)  typeof(fn) *sym_##fn
#define DL_SYM_DECLARE(fn) extern typeof(fn) *sym_##fn

typedef struct DlLibrary {
        const char *soname;
        const char *test_env; /* for tests only: a file dlopen()ed instead (secure_getenv) */
        const DlSym *syms;
        size_t n_syms;
        /* What a failure says: "<unavailable>: cannot load <file> (<dlerror>). Install the <package>
         * package<load_hint>." or "<unavailable>: <file> has no function <fn> (<dlerror>). Install a
         * current <package> package." */
        const char *unavailable; /* "Webhooks are unavailable" */
        const char *package;     /* the Debian package that ships soname */
        const char *load_hint;   /* appended to the "cannot load" advice; "" for none */
        /* After the table is filled (may be NULL): sets the library up and says it is loaded. On an
         * error (logged by it) the table is cleared but the library stays mapped: a half-initialised
         * library is not safe to unload. */
        int (*loaded)(const char *file);
        int state; /* 0: not tried; then 1 (loaded) or the first attempt's error, kept */
} DlLibrary;

/* Defines prefix_load(), which loads the library named by PREFIX_DL_SONAME, PREFIX_DL_TEST_ENV and
 * PREFIX_DL_PACKAGE with the table syms, through dl_load(); the rest are more fields of DlLibrary. */
#define DL_LIBRARY_DEFINE(prefix, PREFIX, table, ...)                                                       \
        static DlLibrary prefix##_library = { .soname = PREFIX##_DL_SONAME,                                 \
                                              .test_env = PREFIX##_DL_TEST_ENV,                             \
                                              .package = PREFIX##_DL_PACKAGE,                               \
                                              .syms = table,                                                \
                                              .n_syms = sizeof(table) / sizeof((table)[0]),                 \
                                              __VA_ARGS__ };                                                \
        int prefix##_load(void)                                                                             \
        {                                                                                                   \
                return dl_load(&prefix##_library);                                                          \
        }

/* Loads the library with dlopen(RTLD_NOW|RTLD_LOCAL) and resolves its table, the first time; it then
 * stays loaded for the life of the process, and later calls return the first result. Errors are
 * logged once: -ELIBACC (it cannot be loaded), -ELIBBAD (a function is missing), or loaded()'s. */
int dl_load(DlLibrary *lib);

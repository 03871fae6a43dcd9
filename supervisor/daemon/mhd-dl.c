/* SPDX-License-Identifier: MIT */
/* libmicrohttpd through dlopen: the typed table http.c uses, filled on first use. See mhd-dl.h. */
#define _GNU_SOURCE 1
#include "mhd-dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "macro.h"

#define MHD_DL_DEFINE(name) typeof(name) *sym_##name

MHD_DL_DEFINE(MHD_start_daemon);
MHD_DL_DEFINE(MHD_stop_daemon);
MHD_DL_DEFINE(MHD_get_daemon_info);
MHD_DL_DEFINE(MHD_run);
MHD_DL_DEFINE(MHD_get_timeout);
MHD_DL_DEFINE(MHD_lookup_connection_value);
MHD_DL_DEFINE(MHD_create_response_from_buffer);
MHD_DL_DEFINE(MHD_add_response_header);
MHD_DL_DEFINE(MHD_queue_response);
MHD_DL_DEFINE(MHD_destroy_response);
MHD_DL_DEFINE(MHD_get_version);

typedef struct MhdDlSym {
        const char *name;
        void **ptr; /* the sym_ pointer above, written through as a data pointer (POSIX dlsym) */
} MhdDlSym;

/* clang-format off */
#define SYM(fn) { #fn, (void **)&sym_##fn }
/* clang-format on */
static const MhdDlSym mhd_dl_syms[] = {
        SYM(MHD_start_daemon),
        SYM(MHD_stop_daemon),
        SYM(MHD_get_daemon_info),
        SYM(MHD_run),
        SYM(MHD_get_timeout),
        SYM(MHD_lookup_connection_value),
        SYM(MHD_create_response_from_buffer),
        SYM(MHD_add_response_header),
        SYM(MHD_queue_response),
        SYM(MHD_destroy_response),
        SYM(MHD_get_version),
};
#undef SYM

static int mhd_dl_open(void)
{
        const char *name = secure_getenv(MHD_DL_TEST_ENV) ?: MHD_DL_SONAME;
        void *dl;

        /* RTLD_LOCAL: its symbols (and GnuTLS's) stay out of the global namespace. */
        dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!dl)
                return log_error_errno(
                    -ELIBACC,
                    "The HTTP endpoint is unavailable: cannot load %s (%s). Install the %s "
                    "package, or run without --listen.",
                    name, dlerror(), MHD_DL_PACKAGE);
        for (size_t i = 0; i < ELEMENTSOF(mhd_dl_syms); i++) {
                (void)dlerror();
                *mhd_dl_syms[i].ptr = dlsym(dl, mhd_dl_syms[i].name);
                if (!*mhd_dl_syms[i].ptr) {
                        /* log first: dlclose() frees the text dlerror() returned */
                        int r = log_error_errno(
                            -ELIBBAD,
                            "The HTTP endpoint is unavailable: %s has no function %s (%s). "
                            "Install a current %s package.",
                            name, mhd_dl_syms[i].name, dlerror() ?: "null symbol", MHD_DL_PACKAGE);
                        for (size_t j = 0; j < ELEMENTSOF(mhd_dl_syms); j++)
                                *mhd_dl_syms[j].ptr = NULL;
                        (void)dlclose(dl);
                        return r;
                }
        }
        log_debug("Loaded %s %s for the HTTP endpoint.", name, sym_MHD_get_version());
        return 0;
}

int mhd_dl_load(void)
{
        static int result = 1; /* 1: not tried yet; then the first attempt's result, kept */

        if (result > 0)
                result = mhd_dl_open();
        return result;
}

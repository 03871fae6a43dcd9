/* SPDX-License-Identifier: MIT */
/* libcurl through dlopen: the typed table of the functions webhook.c uses, filled on first use. See
 * curl-dl.h. */
#define _GNU_SOURCE
#include "curl-dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "macro.h"

#define CURL_DL_DEFINE(name) typeof(name) *sym_##name

CURL_DL_DEFINE(curl_easy_init);
CURL_DL_DEFINE(curl_easy_cleanup);
CURL_DL_DEFINE(curl_easy_setopt);
CURL_DL_DEFINE(curl_easy_getinfo);
CURL_DL_DEFINE(curl_easy_strerror);
CURL_DL_DEFINE(curl_slist_append);
CURL_DL_DEFINE(curl_slist_free_all);
CURL_DL_DEFINE(curl_multi_init);
CURL_DL_DEFINE(curl_multi_cleanup);
CURL_DL_DEFINE(curl_multi_setopt);
CURL_DL_DEFINE(curl_multi_assign);
CURL_DL_DEFINE(curl_multi_add_handle);
CURL_DL_DEFINE(curl_multi_remove_handle);
CURL_DL_DEFINE(curl_multi_socket_action);
CURL_DL_DEFINE(curl_multi_info_read);
CURL_DL_DEFINE(curl_multi_strerror);

/* Needed once, at load, so not part of the public table. */
static typeof(curl_global_init) *sym_curl_global_init;

typedef struct CurlDlSym {
        const char *name;
        void **ptr; /* the sym_ pointer above, written through as a data pointer (POSIX dlsym) */
} CurlDlSym;

/* clang-format off */
#define SYM(fn) { #fn, (void **)&sym_##fn }
/* clang-format on */
static const CurlDlSym curl_dl_syms[] = {
        SYM(curl_global_init),      SYM(curl_easy_init),           SYM(curl_easy_cleanup),
        SYM(curl_easy_setopt),      SYM(curl_easy_getinfo),        SYM(curl_easy_strerror),
        SYM(curl_slist_append),     SYM(curl_slist_free_all),      SYM(curl_multi_init),
        SYM(curl_multi_cleanup),    SYM(curl_multi_setopt),        SYM(curl_multi_assign),
        SYM(curl_multi_add_handle), SYM(curl_multi_remove_handle), SYM(curl_multi_socket_action),
        SYM(curl_multi_info_read),  SYM(curl_multi_strerror),
};
#undef SYM

static void curl_dl_clear(void)
{
        for (size_t i = 0; i < ELEMENTSOF(curl_dl_syms); i++)
                *curl_dl_syms[i].ptr = NULL;
}

static int curl_dl_open(void)
{
        const char *name = secure_getenv(CURL_DL_TEST_ENV) ?: CURL_DL_SONAME;
        void *dl;

        /* RTLD_LOCAL: curl's symbols (and those of the libraries it brings) do not join the global
         * namespace, so nothing else in the process binds to them by accident. */
        dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!dl)
                return log_error_errno(-ELIBACC,
                                       "Webhooks are unavailable: cannot load %s (%s). Install the %s "
                                       "package.",
                                       name, dlerror(), CURL_DL_PACKAGE);

        for (size_t i = 0; i < ELEMENTSOF(curl_dl_syms); i++) {
                (void)dlerror();
                *curl_dl_syms[i].ptr = dlsym(dl, curl_dl_syms[i].name);
                if (!*curl_dl_syms[i].ptr) {
                        /* log first: dlclose() frees the text dlerror() returned */
                        int r = log_error_errno(-ELIBBAD,
                                                "Webhooks are unavailable: %s has no function %s (%s). "
                                                "Install a current %s package.",
                                                name, curl_dl_syms[i].name, dlerror() ?: "null symbol",
                                                CURL_DL_PACKAGE);
                        curl_dl_clear();
                        (void)dlclose(dl);
                        return r;
                }
        }

        if (sym_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                /* dl stays open: curl may have half-initialised its TLS stack, unloading it is unsafe */
                curl_dl_clear();
                return log_error_errno(-EIO, "Webhooks are unavailable: failed to initialise %s.", name);
        }
        log_debug("Loaded %s for webhooks.", name);
        return 0;
}

int curl_dl_load(void)
{
        static int result = 1; /* 1: not tried yet; then the first attempt's result, kept */

        if (result > 0)
                result = curl_dl_open();
        return result;
}

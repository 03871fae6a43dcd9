/* SPDX-License-Identifier: MIT */
/* libcurl through dlopen: the typed table of the functions webhook.c uses, filled on first use. See
 * curl-dl.h. */
#define _GNU_SOURCE
#include "curl-dl.h"

#include <errno.h>

#include "log.h"
#include "macro.h"

DL_SYM_DEFINE(curl_easy_init);
DL_SYM_DEFINE(curl_easy_cleanup);
DL_SYM_DEFINE(curl_easy_setopt);
DL_SYM_DEFINE(curl_easy_getinfo);
DL_SYM_DEFINE(curl_easy_strerror);
DL_SYM_DEFINE(curl_slist_append);
DL_SYM_DEFINE(curl_slist_free_all);
DL_SYM_DEFINE(curl_multi_init);
DL_SYM_DEFINE(curl_multi_cleanup);
DL_SYM_DEFINE(curl_multi_setopt);
DL_SYM_DEFINE(curl_multi_assign);
DL_SYM_DEFINE(curl_multi_add_handle);
DL_SYM_DEFINE(curl_multi_remove_handle);
DL_SYM_DEFINE(curl_multi_socket_action);
DL_SYM_DEFINE(curl_multi_info_read);
DL_SYM_DEFINE(curl_multi_strerror);

/* Needed once, at load, so not part of the public table. */
static DL_SYM_DEFINE(curl_global_init);

static const DlSym curl_dl_syms[] = {
        DL_SYM(curl_global_init),      DL_SYM(curl_easy_init),           DL_SYM(curl_easy_cleanup),
        DL_SYM(curl_easy_setopt),      DL_SYM(curl_easy_getinfo),        DL_SYM(curl_easy_strerror),
        DL_SYM(curl_slist_append),     DL_SYM(curl_slist_free_all),      DL_SYM(curl_multi_init),
        DL_SYM(curl_multi_cleanup),    DL_SYM(curl_multi_setopt),        DL_SYM(curl_multi_assign),
        DL_SYM(curl_multi_add_handle), DL_SYM(curl_multi_remove_handle), DL_SYM(curl_multi_socket_action),
        DL_SYM(curl_multi_info_read),  DL_SYM(curl_multi_strerror),
};

static int curl_dl_loaded(const char *file)
{
        if (sym_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return log_error_errno(-EIO, "Webhooks are unavailable: failed to initialise %s.", file);
        log_debug("Loaded %s for webhooks.", file);
        return 0;
}

DL_LIBRARY_DEFINE(curl_dl, CURL, curl_dl_syms, .unavailable = "Webhooks are unavailable", .load_hint = "",
                  .loaded = curl_dl_loaded);

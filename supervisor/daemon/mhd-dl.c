/* SPDX-License-Identifier: MIT */
/* libmicrohttpd through dlopen: the typed table http.c uses, filled on first use. See mhd-dl.h. */
#define _GNU_SOURCE 1
#include "mhd-dl.h"

#include <errno.h>

#include "log.h"
#include "macro.h"

DL_SYM_DEFINE(MHD_start_daemon);
DL_SYM_DEFINE(MHD_stop_daemon);
DL_SYM_DEFINE(MHD_get_daemon_info);
DL_SYM_DEFINE(MHD_run);
DL_SYM_DEFINE(MHD_get_timeout);
DL_SYM_DEFINE(MHD_lookup_connection_value);
DL_SYM_DEFINE(MHD_create_response_from_buffer);
DL_SYM_DEFINE(MHD_add_response_header);
DL_SYM_DEFINE(MHD_queue_response);
DL_SYM_DEFINE(MHD_destroy_response);
DL_SYM_DEFINE(MHD_get_version);

static const DlSym mhd_dl_syms[] = {
        DL_SYM(MHD_start_daemon),
        DL_SYM(MHD_stop_daemon),
        DL_SYM(MHD_get_daemon_info),
        DL_SYM(MHD_run),
        DL_SYM(MHD_get_timeout),
        DL_SYM(MHD_lookup_connection_value),
        DL_SYM(MHD_create_response_from_buffer),
        DL_SYM(MHD_add_response_header),
        DL_SYM(MHD_queue_response),
        DL_SYM(MHD_destroy_response),
        DL_SYM(MHD_get_version),
};

static int mhd_dl_loaded(const char *file)
{
        log_debug("Loaded %s %s for the HTTP endpoint.", file, sym_MHD_get_version());
        return 0;
}

DL_LIBRARY_DEFINE(mhd_dl, MHD, mhd_dl_syms, .unavailable = "The HTTP endpoint is unavailable",
                  .load_hint = ", or run without --listen", .loaded = mhd_dl_loaded);

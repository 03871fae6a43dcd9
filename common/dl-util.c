/* SPDX-License-Identifier: MIT */
/* Loading an optional library and its table of functions. See dl-util.h. */
#define _GNU_SOURCE 1
#include "dl-util.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

#include "log.h"

static void dl_clear(const DlLibrary *lib)
{
        for (size_t i = 0; i < lib->n_syms; i++)
                *lib->syms[i].ptr = NULL;
}

static int dl_open(const DlLibrary *lib)
{
        const char *file = (lib->test_env ? secure_getenv(lib->test_env) : NULL) ?: lib->soname;

        /* RTLD_LOCAL: the library's symbols (and those of the libraries it brings) do not join the
         * global namespace, so nothing else in the process binds to them by accident. */
        void *dl = dlopen(file, RTLD_NOW | RTLD_LOCAL);
        if (!dl)
                return log_error_errno(-ELIBACC, "%s: cannot load %s (%s). Install the %s package%s.",
                                       lib->unavailable, file, dlerror(), lib->package, lib->load_hint);

        for (size_t i = 0; i < lib->n_syms; i++) {
                (void)dlerror();
                *lib->syms[i].ptr = dlsym(dl, lib->syms[i].name);
                if (!*lib->syms[i].ptr) {
                        /* log first: dlclose() frees the text dlerror() returned */
                        int r = log_error_errno(-ELIBBAD,
                                                "%s: %s has no function %s (%s). Install a current %s "
                                                "package.",
                                                lib->unavailable, file, lib->syms[i].name,
                                                dlerror() ?: "null symbol", lib->package);
                        dl_clear(lib);
                        (void)dlclose(dl);
                        return r;
                }
        }

        if (lib->loaded) {
                int r = lib->loaded(file);
                if (r < 0) {
                        dl_clear(lib); /* dl stays open, see loaded in dl-util.h */
                        return r;
                }
        }
        return 0;
}

int dl_load(DlLibrary *lib)
{
        if (lib->state == 0) {
                int r = dl_open(lib);
                lib->state = r < 0 ? r : 1;
        }
        return lib->state < 0 ? lib->state : 0;
}

/* SPDX-License-Identifier: MIT */
/* The libcgroup calls: creating a cgroup with its initial limits, changing a limit, attaching a
 * pid. Kept apart so the rest of the module does not depend on libcgroup's types or error codes,
 * and so that the reasons for the places where we write cgroupfs ourselves stay visible
 * (docs/design-cgroups.md). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <string.h>

#include <libcgroup.h>

#include "cgroup-internal.h"

static int lib_state; /* 0 not tried, 1 ok, <0 the init error */

/* libcgroup returns its own ECG* codes; ECGOTHER means "look at the errno it saved". */
static int lib_error(int r)
{
        if (r == 0)
                return 0;
        if (r == ECGOTHER || r == ECGROUPVALUENOTEXIST || r == ECGROUPNOTALLOWED) {
                int e = cgroup_get_last_errno();
                if (e > 0)
                        return -e;
        }
        if (r == ECGROUPNOTMOUNTED || r == ECGROUPSUBSYSNOTMOUNTED)
                return -ENOMEDIUM;
        if (r == ECGROUPNOTEXIST)
                return -ENOENT;
        if (r == ECGROUPNOTOWNER)
                return -EPERM;
        return -EIO;
}

const char *cg_lib_strerror(int r)
{
        return r < 0 ? strerror(-r) : "success";
}

int cg_lib_init(void)
{
        if (lib_state == 0) {
                int r = cgroup_init();
                lib_state = r == 0 ? 1 : lib_error(r);
                if (lib_state == -EIO)
                        lib_state = -ENOMEDIUM;
        }
        return lib_state < 0 ? lib_state : 0;
}

static void cgroup_freep(struct cgroup **cg)
{
        if (*cg)
                cgroup_free(cg);
}

/* A libcgroup handle for name under controller, after cgroup_init(). */
static int lib_cgroup(const char *controller, const char *name, struct cgroup **ret,
                      struct cgroup_controller **ret_c)
{
        struct cgroup *cg;
        struct cgroup_controller *c;
        int r;

        r = cg_lib_init();
        if (r < 0)
                return r;
        cg = cgroup_new_cgroup(name);
        if (!cg)
                return -ENOMEM;
        c = cgroup_add_controller(cg, controller);
        if (!c) {
                cgroup_free(&cg);
                return -ENOMEM;
        }
        *ret = cg;
        if (ret_c)
                *ret_c = c;
        return 0;
}

/* Creates the cgroup with settings, or (create false) writes them into the existing one. */
static int lib_apply(const char *controller, const char *name, const CgSetting *settings, size_t n,
                     bool create)
{
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        struct cgroup_controller *c;
        int r;

        r = lib_cgroup(controller, name, &cg, &c);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = cgroup_add_value_string(c, settings[i].key, settings[i].value);
                if (r != 0)
                        return lib_error(r);
        }
        /* ignore_ownership=0 keeps the directory owned as libcgroup's defaults say (root here). */
        return lib_error(create ? cgroup_create_cgroup(cg, 0) : cgroup_modify_cgroup(cg));
}

int cg_lib_create(const char *controller, const char *name, const CgSetting *settings, size_t n)
{
        return lib_apply(controller, name, settings, n, true);
}

int cg_lib_set(const char *controller, const char *name, const char *key, const char *value)
{
        return lib_apply(controller, name, &(const CgSetting){ .key = key, .value = value }, 1, false);
}

int cg_lib_attach(const char *controller, const char *name, pid_t pid)
{
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        int r = lib_cgroup(controller, name, &cg, NULL);
        if (r < 0)
                return r;
        return lib_error(cgroup_attach_task_pid(cg, pid));
}

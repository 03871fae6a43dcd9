/* SPDX-License-Identifier: MIT */
/* Loads a policy file: a bounded regular file read in one go, then policy_parse(). Every problem,
 * including the file not being readable, ends up in the same diagnostics list. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "policy-file.h"

static int file_problem(PolicyDiags *diags, const char *hint, const char *msg)
{
        int r = policy_diags_add(diags, 0, 0, "", hint, "%s", msg);
        return r < 0 ? r : -EINVAL;
}

int policy_load_file(const char *path, Policy **ret_policy, PolicyDiags *diags)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;

        /* O_NONBLOCK so that a FIFO given by mistake cannot hang us before fstat() rejects it. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                int e = errno;
                return file_problem(diags, e == ENOENT ? "check the path" : NULL, strerror(e));
        }
        if (fstat(fd, &st) < 0)
                return file_problem(diags, NULL, strerror(errno));
        if (S_ISDIR(st.st_mode))
                return file_problem(diags, "give the policy file, not a directory", "is a directory");
        if (!S_ISREG(st.st_mode))
                return file_problem(diags, "give a regular file", "not a regular file");
        if (st.st_size > POLICY_FILE_SIZE_MAX) {
                char m[96];
                snprintf(m, sizeof(m), "file is %lld bytes, above the limit of %d", (long long)st.st_size,
                         POLICY_FILE_SIZE_MAX);
                return file_problem(diags, "keep policies below 1 MiB", m);
        }

        /* Read up to one byte past the limit: the file may have grown since fstat(). */
        buf = malloc(POLICY_FILE_SIZE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, POLICY_FILE_SIZE_MAX + 1 - n);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return file_problem(diags, NULL, strerror(errno));
                }
                if (k == 0)
                        break;
                n += (size_t)k;
                if (n > POLICY_FILE_SIZE_MAX)
                        return file_problem(diags, "keep policies below 1 MiB",
                                            "file is above the size limit");
        }
        return policy_parse(buf, n, path, ret_policy, diags);
}

void policy_diags_print(FILE *f, const char *filename, const PolicyDiags *diags)
{
        for (size_t i = 0; i < diags->n; i++) {
                _cleanup_free_ char *line = policy_diag_format(&diags->items[i], filename);
                if (line)
                        fprintf(f, "%s\n", line);
        }
        if (diags->dropped > 0)
                fprintf(f, "%s%s%zu more problems not shown\n", filename ?: "", filename ? ": " : "",
                        diags->dropped);
}

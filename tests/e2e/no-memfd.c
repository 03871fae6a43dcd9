/* SPDX-License-Identifier: MIT */
/* no-memfd COMMAND [ARG...]: runs COMMAND with memfd_create(2) failing with ENOSYS, as on a kernel
 * before 3.17 or under a container's seccomp profile that forbids it. The real way to make `oomless
 * run` fall back from the sealed memfd to a control page file (test-control-file.sh). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NO_MEMFD_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NO_MEMFD_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NO_MEMFD_ARCH AUDIT_ARCH_I386
#endif

int main(int argc, char **argv)
{
#ifdef NO_MEMFD_ARCH
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NO_MEMFD_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_memfd_create, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

        if (argc < 2) {
                fprintf(stderr, "usage: %s COMMAND [ARG...]\n", argv[0]);
                return 2;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                fprintf(stderr, "no-memfd: cannot install the seccomp filter: %s\n", strerror(errno));
                return 77;
        }
        execvp(argv[1], argv + 1);
        fprintf(stderr, "no-memfd: cannot run %s: %s\n", argv[1], strerror(errno));
        return 127;
#else
        (void)argc;
        (void)argv;
        fprintf(stderr, "no-memfd: no seccomp architecture constant for this machine\n");
        return 77;
#endif
}

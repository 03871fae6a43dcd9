/* SPDX-License-Identifier: MIT */
/* Units are parsed by hand rather than with strtod() so that locale settings cannot change what a
 * policy or command line means. */
#include "units.h"

#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "macro.h"

/* Parses "123", "123.45" into an integer part and a fraction scaled to 1e6, and moves *p past them.
 * No digits (an empty or NULL string) is -EINVAL. */
static int parse_decimal(const char **p, uint64_t *ret_int, uint64_t *ret_frac_micro)
{
        const char *s = *p;
        uint64_t v = 0, frac = 0, scale = 100000;
        bool digits = false;

        if (!s)
                return -EINVAL;
        while (isdigit((unsigned char)*s)) {
                unsigned d = (unsigned)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
                s++;
                digits = true;
        }
        if (*s == '.') {
                s++;
                if (!isdigit((unsigned char)*s))
                        return -EINVAL;
                while (isdigit((unsigned char)*s)) {
                        frac += (uint64_t)(*s - '0') * scale;
                        scale /= 10;
                        s++;
                        digits = true;
                }
        }
        if (!digits)
                return -EINVAL;
        *p = s;
        *ret_int = v;
        *ret_frac_micro = frac;
        return 0;
}

static int mul_frac(uint64_t ip, uint64_t frac_micro, uint64_t factor, uint64_t *ret)
{
        if (factor != 0 && ip > UINT64_MAX / factor)
                return -ERANGE;
        uint64_t r = ip * factor;
        /* frac_micro < 1e6; factor up to 2^40 keeps this product within 2^60. */
        uint64_t f = (uint64_t)(((__uint128_t)frac_micro * factor) / 1000000);
        if (r > UINT64_MAX - f)
                return -ERANGE;
        *ret = r + f;
        return 0;
}

int units_parse_size(const char *s, uint64_t *ret_bytes)
{
        static const char binary_prefixes[] = "KMGT"; /* 2^10, 2^20, 2^30, 2^40 */
        uint64_t ip, frac, factor = 1;
        const char *p = s, *prefix;
        int r;

        r = parse_decimal(&p, &ip, &frac);
        if (r < 0)
                return r;
        char c = (char)toupper((unsigned char)*p);
        if (c == 'B')
                p++;
        else if (c != '\0' && (prefix = strchr(binary_prefixes, c))) {
                factor = UINT64_C(1) << (10 * (prefix - binary_prefixes + 1));
                p++;
                if (*p == 'i')
                        p++;
                if (toupper((unsigned char)*p) == 'B')
                        p++;
        } else if (c != '\0')
                return -EINVAL;
        if (*p != '\0')
                return -EINVAL;
        if (factor == 1 && frac != 0)
                return -EINVAL; /* fractional bytes */
        return mul_frac(ip, frac, factor, ret_bytes);
}

int units_parse_size_spec(const char *s, SizeSpec *ret)
{
        SizeSpec spec = { .set = true };
        size_t n;
        int r;

        if (!s || !*s)
                return -EINVAL;
        n = strlen(s);
        if (streq(s, "max") || streq(s, "infinity")) {
                spec.bytes = UINT64_MAX;
        } else if (s[n - 1] == '%') {
                char buf[32];
                uint64_t ip, frac;
                const char *p = buf;

                if (n - 1 >= sizeof(buf) || n == 1)
                        return -EINVAL;
                memcpy(buf, s, n - 1);
                buf[n - 1] = '\0';
                r = parse_decimal(&p, &ip, &frac);
                if (r < 0)
                        return r;
                if (*p != '\0')
                        return -EINVAL;
                if (ip > 100 || (ip == 100 && frac > 0))
                        return -ERANGE;
                spec.percent = true;
                spec.permyriad = (uint32_t)(ip * 100 + frac / 10000);
                if (spec.permyriad == 0)
                        return -ERANGE;
        } else {
                r = units_parse_size(s, &spec.bytes);
                if (r < 0)
                        return r;
        }
        *ret = spec;
        return 0;
}

uint64_t units_size_spec_resolve(const SizeSpec *spec, uint64_t base)
{
        if (!spec->set)
                return UINT64_MAX;
        if (!spec->percent)
                return spec->bytes;
        if (base == UINT64_MAX)
                return UINT64_MAX;
        return (uint64_t)(((__uint128_t)base * spec->permyriad) / 10000);
}

int units_parse_duration(const char *s, uint64_t *ret_usec)
{
        static const struct {
                const char *suffix;
                uint64_t usec;
        } table[] = {
                { "us", 1 },
                { "ms", USEC_PER_MSEC },
                { "s", USEC_PER_SEC },
                { "sec", USEC_PER_SEC },
                { "m", 60 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
                { "", USEC_PER_SEC },
        };
        uint64_t ip, frac;
        const char *p = s;
        int r;

        r = parse_decimal(&p, &ip, &frac);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(p, table[i].suffix))
                        return mul_frac(ip, frac, table[i].usec, ret_usec);
        return -EINVAL;
}

char *units_format_limit(char *buf, size_t len, uint64_t bytes)
{
        if (bytes == UINT64_MAX)
                snprintf(buf, len, "max");
        else
                snprintf(buf, len, "%" PRIu64, bytes);
        return buf;
}

char *units_format_size(char *buf, size_t len, uint64_t bytes)
{
        static const char suffixes[] = "KMGT";

        if (bytes == UINT64_MAX) {
                snprintf(buf, len, "max");
                return buf;
        }
        if (bytes < 1024) {
                snprintf(buf, len, "%" PRIu64 "B", bytes);
                return buf;
        }
        double v = (double)bytes / 1024.0;
        size_t i = 0;
        while (v >= 1024.0 && i + 1 < STRLEN(suffixes)) {
                v /= 1024.0;
                i++;
        }
        snprintf(buf, len, "%.1f%c", v, suffixes[i]);
        return buf;
}

char *units_format_duration(char *buf, size_t len, uint64_t usec)
{
        if (usec == USEC_INFINITY)
                snprintf(buf, len, "infinity");
        else if (usec % USEC_PER_SEC == 0)
                snprintf(buf, len, "%" PRIu64 "s", usec / USEC_PER_SEC);
        else if (usec % USEC_PER_MSEC == 0)
                snprintf(buf, len, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
        else
                snprintf(buf, len, "%" PRIu64 "us", usec);
        return buf;
}

static const char *const signal_names[] = {
        [SIGHUP] = "HUP",   [SIGINT] = "INT",       [SIGQUIT] = "QUIT", [SIGILL] = "ILL",
        [SIGTRAP] = "TRAP", [SIGABRT] = "ABRT",     [SIGBUS] = "BUS",   [SIGFPE] = "FPE",
        [SIGKILL] = "KILL", [SIGUSR1] = "USR1",     [SIGSEGV] = "SEGV", [SIGUSR2] = "USR2",
        [SIGPIPE] = "PIPE", [SIGALRM] = "ALRM",     [SIGTERM] = "TERM", [SIGSTKFLT] = "STKFLT",
        [SIGCHLD] = "CHLD", [SIGCONT] = "CONT",     [SIGSTOP] = "STOP", [SIGTSTP] = "TSTP",
        [SIGTTIN] = "TTIN", [SIGTTOU] = "TTOU",     [SIGURG] = "URG",   [SIGXCPU] = "XCPU",
        [SIGXFSZ] = "XFSZ", [SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF", [SIGWINCH] = "WINCH",
        [SIGIO] = "IO",     [SIGPWR] = "PWR",       [SIGSYS] = "SYS",
};

int units_parse_signal(const char *s)
{
        if (!s || !*s)
                return -EINVAL;
        if (isdigit((unsigned char)*s)) {
                char *end;
                errno = 0;
                long v = strtol(s, &end, 10);
                if (errno != 0 || *end != '\0' || v < 1 || v > SIGRTMAX)
                        return -EINVAL;
                return (int)v;
        }
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 1; i < ELEMENTSOF(signal_names); i++)
                if (signal_names[i] && strcasecmp(s, signal_names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

const char *units_signal_to_string(int sig)
{
        static const char *const full[] = {
#define X(n) [SIG##n] = "SIG" #n
                X(HUP),  X(INT),    X(QUIT), X(ILL),   X(TRAP), X(ABRT), X(BUS),  X(FPE),
                X(KILL), X(USR1),   X(SEGV), X(USR2),  X(PIPE), X(ALRM), X(TERM), X(STKFLT),
                X(CHLD), X(CONT),   X(STOP), X(TSTP),  X(TTIN), X(TTOU), X(URG),  X(XCPU),
                X(XFSZ), X(VTALRM), X(PROF), X(WINCH), X(IO),   X(PWR),  X(SYS),
#undef X
        };
        if (sig <= 0 || (size_t)sig >= ELEMENTSOF(full))
                return NULL;
        return full[sig];
}

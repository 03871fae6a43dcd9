/* SPDX-License-Identifier: MIT */
/* PSI text parser. Hand-rolled rather than sscanf/strtod so that a locale with a decimal comma
 * cannot change the numbers, and so that malformed input is rejected instead of half-read. */
#define _GNU_SOURCE 1
#include "psi.h"

#include <errno.h>
#include <string.h>

#include "macro.h"

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static int parse_u64(const char **p, const char *end, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        if (s >= end || !is_digit(*s))
                return -EINVAL;
        for (; s < end && is_digit(*s); s++) {
                unsigned d = (unsigned)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

/* "12.34" as the kernel prints averages: integer part, optional fraction. */
static int parse_avg(const char **p, const char *end, double *ret)
{
        uint64_t ip;
        double frac = 0, scale = 0.1;
        int r;

        r = parse_u64(p, end, &ip);
        if (r < 0)
                return r;
        if (*p < end && **p == '.') {
                (*p)++;
                if (*p >= end || !is_digit(**p))
                        return -EINVAL;
                for (; *p < end && is_digit(**p); (*p)++) {
                        frac += (**p - '0') * scale;
                        scale /= 10;
                }
        }
        if (ip > 100)
                return -ERANGE;
        *ret = (double)ip + frac;
        return 0;
}

static bool match_word(const char **p, const char *end, const char *w)
{
        size_t n = strlen(w);
        if ((size_t)(end - *p) < n || memcmp(*p, w, n) != 0)
                return false;
        *p += n;
        return true;
}

/* One line after its "some"/"full" word: " avg10=X avg60=X avg300=X total=N". */
static int parse_fields(const char **p, const char *end, OomlessPsi *ret)
{
        enum { AVG10 = 1, AVG60 = 2, AVG300 = 4, TOTAL = 8 };
        unsigned seen = 0;
        OomlessPsi v = {};
        int r;

        while (*p < end && **p != '\n') {
                if (**p != ' ')
                        return -EINVAL;
                while (*p < end && **p == ' ')
                        (*p)++;
                if (*p >= end || **p == '\n')
                        break;
                unsigned bit;
                if (match_word(p, end, "avg10=")) {
                        bit = AVG10;
                        r = parse_avg(p, end, &v.avg10);
                } else if (match_word(p, end, "avg60=")) {
                        bit = AVG60;
                        r = parse_avg(p, end, &v.avg60);
                } else if (match_word(p, end, "avg300=")) {
                        bit = AVG300;
                        r = parse_avg(p, end, &v.avg300);
                } else if (match_word(p, end, "total=")) {
                        bit = TOTAL;
                        r = parse_u64(p, end, &v.total_usec);
                } else
                        return -EINVAL;
                if (r < 0)
                        return -EINVAL;
                if (seen & bit)
                        return -EINVAL;
                seen |= bit;
        }
        if (seen != (AVG10 | AVG60 | AVG300 | TOTAL))
                return -EINVAL;
        if (*p < end)
                (*p)++; /* the newline */
        *ret = v;
        return 0;
}

int psi_parse(const char *buf, size_t len, OomlessPsi *ret_some, OomlessPsi *ret_full, bool *ret_has_full)
{
        const char *p = buf, *end = buf + len;
        OomlessPsi some = {}, full = {};
        bool has_some = false, has_full = false;
        int r;

        if (!buf)
                return -EINVAL;
        /* Tolerate a trailing NUL some readers leave in the length. */
        while (end > p && end[-1] == '\0')
                end--;

        while (p < end) {
                if (match_word(&p, end, "some")) {
                        if (has_some)
                                return -EINVAL;
                        r = parse_fields(&p, end, &some);
                        has_some = true;
                } else if (match_word(&p, end, "full")) {
                        if (has_full || !has_some)
                                return -EINVAL;
                        r = parse_fields(&p, end, &full);
                        has_full = true;
                } else
                        return -EINVAL;
                if (r < 0)
                        return r;
        }
        if (!has_some)
                return -EINVAL;
        if (ret_some)
                *ret_some = some;
        if (ret_full)
                *ret_full = full;
        if (ret_has_full)
                *ret_has_full = has_full;
        return 0;
}

int psi_trigger_parse(const char *s, PsiTrigger *ret)
{
        const char *p = s, *end;
        PsiTrigger t = {};
        int r;

        if (!s)
                return -EINVAL;
        end = s + strlen(s);
        while (end > p && end[-1] == '\n')
                end--;
        if (match_word(&p, end, "some "))
                t.full = false;
        else if (match_word(&p, end, "full "))
                t.full = true;
        else
                return -EINVAL;
        r = parse_u64(&p, end, &t.stall_usec);
        if (r < 0)
                return -EINVAL;
        if (p >= end || *p != ' ')
                return -EINVAL;
        p++;
        r = parse_u64(&p, end, &t.window_usec);
        if (r < 0 || p != end)
                return -EINVAL;
        if (t.window_usec < PSI_WINDOW_MIN_USEC || t.window_usec > PSI_WINDOW_MAX_USEC)
                return -ERANGE;
        if (t.stall_usec == 0 || t.stall_usec > t.window_usec)
                return -ERANGE;
        if (ret)
                *ret = t;
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* HOST:PORT of the HTTP endpoint; see listen-addr.h. */
#define _GNU_SOURCE 1
#include "listen-addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *ret)
{
        char *end;
        unsigned long v;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v == 0 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t)v;
        return 0;
}

int listen_addr_parse(const char *s, ListenAddr *ret)
{
        ListenAddr a = { 0 };
        char host[INET6_ADDRSTRLEN + 1], buf[INET6_ADDRSTRLEN];
        const char *colon, *hs;
        size_t hl;

        if (!s)
                return -EINVAL;
        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                hs = s + 1;
                hl = (size_t)(close - hs);
                colon = close + 1;
        } else {
                /* One colon only: a bare IPv6 literal needs its brackets to tell the port apart. */
                colon = strchr(s, ':');
                if (!colon || strchr(colon + 1, ':'))
                        return -EINVAL;
                hs = s;
                hl = (size_t)(colon - s);
        }
        if (hl == 0 || hl >= sizeof(host))
                return -EINVAL;
        memcpy(host, hs, hl);
        host[hl] = '\0';
        if (parse_port(colon + 1, &a.port) < 0)
                return -EINVAL;

        if (s[0] != '[' &&
            (strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, &(struct in_addr){ 0 }) == 1)) {
                struct sockaddr_in *in = (struct sockaddr_in *)&a.sa;
                in->sin_family = AF_INET;
                in->sin_port = htons(a.port);
                if (strcmp(host, "localhost") == 0)
                        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                else
                        (void)inet_pton(AF_INET, host, &in->sin_addr);
                a.sa_len = sizeof(*in);
                a.loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
                (void)inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
                snprintf(a.text, sizeof(a.text), "%s:%u", buf, (unsigned)a.port);
        } else if (s[0] == '[') {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.sa;
                if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
                        return -EINVAL;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(a.port);
                a.sa_len = sizeof(*in6);
                a.loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                             (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
                (void)inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
                snprintf(a.text, sizeof(a.text), "[%s]:%u", buf, (unsigned)a.port);
        } else
                return -EINVAL;

        *ret = a;
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* The address of the HTTP endpoint as `--listen` and the policy's "http.listen" spell it: HOST:PORT,
 * where HOST is an IPv4 literal, a bracketed IPv6 literal or "localhost". No name resolution: a pure
 * parser shared by the CLI, the policy grammar and the daemon, so they accept exactly the same text. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define LISTEN_ADDR_FORM "HOST:PORT, e.g. 127.0.0.1:9464, [::1]:9464 or localhost:9464"

typedef struct ListenAddr {
        struct sockaddr_storage sa;
        socklen_t sa_len;
        bool loopback; /* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104 */
        uint16_t port;
        char text[64]; /* normalized: "127.0.0.1:9464", "[::1]:9464" */
} ListenAddr;

/* Parses s into *ret. -EINVAL when s is not HOST:PORT with a literal host and a port 1..65535; *ret is
 * untouched then. */
int listen_addr_parse(const char *s, ListenAddr *ret);

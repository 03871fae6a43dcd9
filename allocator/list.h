/* SPDX-License-Identifier: MIT */
/*
 * The allocator's one intrusive list: a circular doubly linked list of spans through MaSpan's
 * next/prev, headed by a sentinel span. Used by the page heap's free lists and the central lists'
 * nonempty lists. A span is on at most one such list at a time; off a list its links are NULL.
 */
#pragma once

#include "ma.h"

static inline void ma_list_init(MaSpan *h)
{
        h->next = h->prev = h;
}

static inline bool ma_list_empty(const MaSpan *h)
{
        return h->next == h;
}

/* Inserts s at the head (the end served first). */
static inline void ma_list_push(MaSpan *h, MaSpan *s)
{
        s->next = h->next;
        s->prev = h;
        h->next->prev = s;
        h->next = s;
}

/* Inserts s at the tail (the end served last). */
static inline void ma_list_push_tail(MaSpan *h, MaSpan *s)
{
        s->prev = h->prev;
        s->next = h;
        h->prev->next = s;
        h->prev = s;
}

static inline void ma_list_remove(MaSpan *s)
{
        s->prev->next = s->next;
        s->next->prev = s->prev;
        s->next = s->prev = NULL;
}

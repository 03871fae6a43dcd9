/* SPDX-License-Identifier: MIT */
/*
 * Thread caches: one per thread, reached through an initial-exec TLS pointer that starts at a shared
 * empty cache (so the first call from any thread takes the slow path, which creates its cache);
 * batch flushes to the central lists; the pthread key destructor that flushes a thread's cache when
 * it exits and recycles the cache for the next thread.
 */
#include <string.h>

#include "alloc-fast.h"

MaTCache ma_empty_cache; /* all bins empty with max 0: every op takes the slow path */
MA_TLS MaTCache *ma_tc = &ma_empty_cache;
static MA_TLS bool ma_tc_dead; /* this thread's cache destructor ran: use the central lists */

static pthread_key_t ma_tc_key;
static bool ma_tc_key_ok;
static pthread_mutex_t ma_tc_lock = PTHREAD_MUTEX_INITIALIZER;
static MaTCache *ma_tc_recycle;

static void ma_tc_destroy(void *arg);

void ma_tcache_init(void)
{
        ma_tc_key_ok = pthread_key_create(&ma_tc_key, ma_tc_destroy) == 0;
}

MaTCache *ma_tcache_create(void)
{
        MaTCache *tc;
        if (ma_tc_dead)
                return NULL;
        pthread_mutex_lock(&ma_tc_lock);
        tc = ma_tc_recycle;
        if (tc)
                ma_tc_recycle = tc->next_free;
        pthread_mutex_unlock(&ma_tc_lock);
        if (!tc) {
                tc = ma_meta_alloc(sizeof(MaTCache));
                if (!tc)
                        return NULL;
        }
        memset(tc, 0, sizeof(*tc));
        for (unsigned c = 1; c < ma_nclasses; c++)
                tc->bins[c].max = 2u * ma_class_batch[c];
        ma_tc = tc;
        if (ma_tc_key_ok)
                pthread_setspecific(ma_tc_key, tc);
        return tc;
}

void ma_tcache_bin_flush(MaBin *b, unsigned cls, unsigned n)
{
        while (n && b->count) {
                unsigned take = n < ma_class_batch[cls] ? n : ma_class_batch[cls];
                if (take > b->count)
                        take = b->count;
                void *head = b->head, *last = head;
                for (unsigned i = 1; i < take; i++)
                        last = *(void **)last;
                b->head = *(void **)last;
                *(void **)last = NULL;
                b->count -= take;
                n -= take;
                ma_central_insert(cls, head, take);
        }
}

static void ma_tc_flush(MaTCache *tc)
{
        for (unsigned c = 1; c < ma_nclasses; c++)
                ma_tcache_bin_flush(&tc->bins[c], c, tc->bins[c].count);
}

void ma_tcache_flush_self(void)
{
        if (ma_tc != &ma_empty_cache)
                ma_tc_flush(ma_tc);
}

static void ma_tc_destroy(void *arg)
{
        MaTCache *tc = arg;
        ma_tc = &ma_empty_cache;
        ma_tc_dead = true;
        if (!tc)
                return;
        ma_tc_flush(tc);
        pthread_mutex_lock(&ma_tc_lock);
        tc->next_free = ma_tc_recycle;
        ma_tc_recycle = tc;
        pthread_mutex_unlock(&ma_tc_lock);
}

void ma_tcache_fork_prepare(void)
{
        pthread_mutex_lock(&ma_tc_lock);
}

void ma_tcache_fork_parent(void)
{
        pthread_mutex_unlock(&ma_tc_lock);
}

void ma_tcache_fork_child(void)
{
        pthread_mutex_init(&ma_tc_lock, NULL);
}

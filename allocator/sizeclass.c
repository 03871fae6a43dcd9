/* SPDX-License-Identifier: MIT */
/*
 * Size classes: 16-byte steps up to 128 bytes, then eight classes per power of two (12.5% worst-case
 * internal waste) up to 32 KiB. Every power of two is a class, which memalign relies on. The lookup
 * tables map a request to its class with one load; they are built once at init, and class 0 ("not
 * initialised yet") sends the first malloc to the slow path, which builds them.
 */
#include "ma.h"

uint8_t ma_class_lo[1024 / 8 + 1];
uint8_t ma_class_hi[MA_MAX_SMALL / 128 + 1];
uint32_t ma_class_size[MA_NCLASSES];
uint8_t ma_class_pages[MA_NCLASSES];
uint16_t ma_class_batch[MA_NCLASSES];
uint8_t ma_class_slots[MA_NCLASSES];
unsigned ma_nclasses;

static void ma_class_add(uint32_t size)
{
        unsigned c = ma_nclasses++;
        size_t pages;

        ma_class_size[c] = size;
        /* Smallest span that wastes at most 1/8 and, for all but the biggest classes, holds 8
         * objects, so one span serves a few batches. */
        for (pages = 1;; pages++) {
                size_t bytes = pages * MA_PAGE, objs = bytes / size;
                if (objs == 0 || bytes - objs * size > bytes / 8)
                        continue;
                if (objs >= 8 || pages >= 4)
                        break;
        }
        ma_class_pages[c] = (uint8_t)pages;
        /* Move about 32 KiB per batch between a thread and the central list, 2..32 objects. */
        size_t b = 32768 / size;
        ma_class_batch[c] = (uint16_t)(b < 2 ? 2 : b > 32 ? 32 : b);
        /* Parked batches are memory nobody uses: at most about 32 KiB of them per class. */
        size_t slots = 32768 / (ma_class_batch[c] * (size_t)size);
        ma_class_slots[c] = (uint8_t)(slots < 1 ? 1 : slots > MA_TRANSFER_SLOTS ? MA_TRANSFER_SLOTS : slots);
}

void ma_sizeclass_init(void)
{
        if (ma_nclasses)
                return;
        ma_nclasses = 1; /* class 0 means "not a small object" */
        ma_class_add(8);
        for (uint32_t s = 16; s <= 128; s += 16)
                ma_class_add(s);
        for (uint32_t base = 128; base < MA_MAX_SMALL; base *= 2)
                for (uint32_t k = 1; k <= 8; k++)
                        ma_class_add(base + k * (base / 8));

        unsigned c = 1;
        for (size_t i = 0; i <= 1024 / 8; i++) {
                while (ma_class_size[c] < i * 8)
                        c++;
                ma_class_lo[i] = (uint8_t)c;
        }
        c = 1;
        for (size_t i = 0; i <= MA_MAX_SMALL / 128; i++) {
                while (ma_class_size[c] < i * 128)
                        c++;
                ma_class_hi[i] = (uint8_t)c;
        }
}

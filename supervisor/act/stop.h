/* SPDX-License-Identifier: MIT */
/*
 * Stopping the workload: the stop signal to its main process, a grace timer, then SIGKILL to everything
 * left in its leaf (or to our own children on tiers without a leaf of ours); and the sweep at the end
 * of a run that kills and reaps what the workload left behind, so its leaf can go or a restart starts
 * clean.
 *
 * Event-loop thread only. The Stop borrows the event loop and the Actuator (the executors' hands on the
 * workload, actuator.h; NULL acts as a tier without a leaf). Reaping belongs to the caller's reaper,
 * reached through StopOps.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "actuator.h"

typedef struct StopOps {
        /* Sends sig to every child of the supervisor except running hooks; returns how many. For tiers
         * without a leaf of our own. */
        int (*kill_children)(int sig, void *userdata);
        /* How many children of the supervisor, hooks aside, are zombies or exiting: what is left of a
         * killed leaf after it is empty, until reaped. Children that are neither (a hook's orphan) are
         * none of the sweep's business. */
        int (*dying_children)(void *userdata);
        /* Reaps every exited child without blocking. */
        void (*reap)(void *userdata);
        void *userdata;
} StopOps;

typedef struct Stop {
        sd_event *event;
        Actuator *act;
        StopOps ops;
        int pidfd;           /* the main process being stopped, -EBADF when none */
        int signal;          /* of the stop in progress */
        uint64_t grace_usec; /* of the stop in progress */
        sd_event_source *timer;
} Stop;

void stop_init(Stop *st, sd_event *e, Actuator *act, const StopOps *ops);
/* Disarms the timer. */
void stop_done(Stop *st);

/* Sends sig to the main process behind pidfd (borrowed until stop_cancel()) and, unless a stop is
 * already under way, arms the grace: after grace_usec everything left is killed. */
int stop_begin(Stop *st, int pidfd, int sig, uint64_t grace_usec);
/* The main process ended, or a longer stop replaces the one under way: disarms the grace timer. */
void stop_cancel(Stop *st);

/* After the run: kills what is left (the whole leaf on v2/v1, our own children elsewhere) and waits up
 * to STOP_LEFTOVER_WAIT_USEC until every descendant is reaped, so none is left a zombie. */
void stop_sweep_leftovers(Stop *st);

#define STOP_LEFTOVER_WAIT_USEC (3 * USEC_PER_SEC)

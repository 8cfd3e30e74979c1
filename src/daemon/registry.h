/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The executions this daemon knows, in memory: those submitted here, taken
 * from the queue here, and looked up (GetExecution, ListExecutions, HTTP
 * status). The D-Bus front end serves its Execution objects from here —
 * sd-bus asks for objects and their properties synchronously, with no time
 * for a Redis round trip — and keeps each execution's subscribers here.
 *
 * A record only moves forward (queued → running → a terminal state): an
 * older view of an execution never replaces a newer one. Entries of ended
 * executions go when Redis drops them (finished + ResultTTLSec); the
 * registry holds at most max_entries, and evicts the least recently used
 * beyond that (executions that run on this node are never evicted).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/exec-record.h"
#include "shared/list.h"
#include "shared/macro.h"

typedef struct Registry Registry;
typedef struct ExecEntry ExecEntry;

struct ExecEntry {
        Registry *registry;
        ExecRecord record;
        char **subscribers;             /* unique bus names that get its signals (strv, may be NULL) */
        char **viewers;                 /* unique bus names granted org.pyexecd.manage for it */
        bool pinned;                    /* runs on this node: never evicted */
        LIST_FIELDS(ExecEntry, bucket);
        LIST_FIELDS(ExecEntry, lru);    /* most recently used first */
};

typedef struct RegistryHandlers {
        /* @e's record moved on from @old (valid during the call). */
        void (*changed)(ExecEntry *e, const ExecRecord *old, void *userdata);
        /* @e is about to be freed (evicted or expired). */
        void (*removed)(ExecEntry *e, void *userdata);
} RegistryHandlers;

/* @ttl_usec: how long ended executions stay (ResultTTLSec). Handlers may be NULL. */
int registry_new(Registry **ret, size_t max_entries, uint64_t ttl_usec, const RegistryHandlers *handlers,
                 void *userdata);
Registry *registry_free(Registry *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Registry *, registry_free);

/* The entry of @id, or NULL (unknown, or expired: it is dropped then). Does not count as a use. */
ExecEntry *registry_get(Registry *r, const char *id);

/*
 * Stores (a deep copy of) @rec, or updates the entry of its id if @rec is
 * not older than what it holds, then calls the changed handler if the
 * record changed. Counts as a use. Returns 0 and the entry in @ret (may be
 * NULL), or -ENOMEM.
 */
int registry_put(Registry *r, const ExecRecord *rec, ExecEntry **ret);

/* Drops entries whose execution expired in Redis (CLOCK_REALTIME @now_usec). */
void registry_expire(Registry *r, uint64_t now_usec);

/* The entries, most recently used first (iterate with LIST_FOREACH(lru, …)). */
ExecEntry *registry_entries(Registry *r);
/* The userdata given to registry_new(). */
void *registry_get_userdata(Registry *r);

/* Adds @name to the strv *@l unless there; returns 1 if added, 0 if there, -ENOMEM. */
int name_list_add(char ***l, const char *name);
/* Removes @name from the strv *@l; returns 1 if it was there, else 0. */
int name_list_remove(char ***l, const char *name);
bool name_list_contains(char **l, const char *name);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The operations both front ends offer — execute, get, cancel, list, queue
 * status — with their authorisation, in one place: the HTTP API (api.c)
 * and the D-Bus objects (src/bus/) only translate requests into these and
 * results into answers.
 *
 * Who may do what (DESIGN.md "Polkit actions"):
 *
 *   - Execute needs org.pyexecd.execute.
 *   - An execution is visible to its owner, and to callers granted
 *     org.pyexecd.manage; to everyone else it does not exist: get, cancel
 *     and the stream answer OPS_NOT_FOUND, exactly as for an unknown id
 *     (the manage check is made for unknown ids as well, so neither the
 *     answer nor its timing tells them apart). List shows the visible ones.
 *   - Root (uid 0) is allowed everything without asking polkit.
 *   - Callers with the HTTP bearer token (TCP listeners) may execute, and
 *     own, see and cancel what was submitted with the token; never more
 *     (there is no polkit subject to grant them org.pyexecd.manage).
 *   - Everybody else is asked about through polkit: D-Bus callers as
 *     subject system-bus-name (interactively when their call allows it),
 *     unix-socket HTTP callers as unix-process (never interactively).
 *     No answer from polkit is a denial.
 *   - The queue status holds global counts only: anyone may read it.
 *
 * Every operation calls its callback exactly once, possibly before it
 * returns (so the caller must be ready for that), with an OpsResult whose
 * pointers are valid during the call only.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/registry.h"
#include "shared/exec-record.h"
#include "shared/exec-request.h"

typedef struct Manager Manager;

#define OPS_ACTION_EXECUTE "org.pyexecd.execute"
#define OPS_ACTION_MANAGE "org.pyexecd.manage"

/* ListExecutions returns at most this many, newest first. */
#define OPS_LIST_MAX 1000U

typedef enum CallerKind {
        CALLER_BUS,                     /* a D-Bus client */
        CALLER_UNIX,                    /* HTTP on a unix socket (SO_PEERCRED) */
        CALLER_TOKEN,                   /* HTTP on TCP with the bearer token */
        _CALLER_KIND_MAX,
} CallerKind;

/* Who asks. */
typedef struct Caller {
        CallerKind kind;
        uid_t uid;                      /* effective uid (bus) or SO_PEERCRED uid; (uid_t) -1 for token callers */
        pid_t pid;                      /* CALLER_UNIX: SO_PEERCRED pid */
        uint64_t start_time;            /* CALLER_UNIX: field 22 of /proc/PID/stat, read when the request came */
        char *bus_name;                 /* CALLER_BUS: the unique name */
        bool interactive;               /* CALLER_BUS: the call allows interactive authorisation */
} Caller;

#define CALLER_INIT { .uid = (uid_t) -1 }

void caller_done(Caller *c);
/* A deep copy; returns 0 or -ENOMEM. */
int caller_copy(Caller *dst, const Caller *src);
/* Root: allowed everything without asking. */
bool caller_is_root(const Caller *c);
/* Does @c own the execution @rec? */
bool caller_owns(const Caller *c, const ExecRecord *rec);
/* "uid 1000", "the HTTP bearer token", for log lines. */
const char *caller_describe(const Caller *c, char *buf, size_t size);

typedef enum OpsStatus {
        OPS_OK,
        OPS_NOT_FOUND,                  /* no such execution, or not one the caller may see */
        OPS_QUEUE_FULL,
        OPS_INVALID_LIMITS,
        OPS_INVALID_ARGUMENT,
        OPS_WRONG_STATE,                /* cancel: it ended already, or runs on another node */
        OPS_ACCESS_DENIED,
        OPS_INTERACTIVE_REQUIRED,       /* polkit could allow it after authentication (D-Bus callers
                                         * whose call did not allow interactive authorisation) */
        OPS_UNAVAILABLE,                /* Redis is away, the service is stopping */
        OPS_INTERNAL,
        _OPS_STATUS_MAX,
} OpsStatus;

typedef struct OpsResult {
        OpsStatus status;
        const char *message;            /* for the client; set for every error */
        const char *id;                 /* execute, get, cancel: the execution */

        /* execute */
        uint64_t queue_position;

        /* execute, get, cancel: the execution as now known (NULL when not
         * found); @entry is its registry entry, NULL if it could not be kept */
        const ExecRecord *record;
        ExecEntry *entry;
        json_t *outputs;                /* get with OPS_GET_OUTPUTS */
        bool via_manage;                /* get, list: visible through org.pyexecd.manage, not ownership */

        /* list: newest first */
        const ExecRecord *records;
        size_t n_records;

        /* queue status (global counts) */
        uint64_t queued, running;
} OpsResult;

typedef void (*ops_callback_t)(Manager *m, const OpsResult *result, void *userdata);

typedef enum OpsGetFlags {
        OPS_GET_OUTPUTS = 1 << 0,       /* read Redis for the record and its outputs */
} OpsGetFlags;

/*
 * Queues a new execution. @req is validated already; its strings are taken
 * (it is left empty). Result: id, queue position, record, entry.
 */
void ops_execute(Manager *m, const Caller *c, ExecRequest *req, ops_callback_t callback, void *userdata);

/* The execution @id, from the registry (or Redis, when it is not there or
 * with OPS_GET_OUTPUTS). Result: record, entry, outputs. */
void ops_get(Manager *m, const Caller *c, const char *id, OpsGetFlags flags, ops_callback_t callback,
             void *userdata);

/* Cancels the execution @id: a queued one never starts, a running one is
 * killed; the callback comes once that is recorded. Result: record (cancelled). */
void ops_cancel(Manager *m, const Caller *c, const char *id, ops_callback_t callback, void *userdata);

/* The executions the caller may see, newest first (at most OPS_LIST_MAX). */
void ops_list(Manager *m, const Caller *c, ops_callback_t callback, void *userdata);

/* Global queue counts. */
void ops_queue_status(Manager *m, ops_callback_t callback, void *userdata);

/* Only the authorisation: whether @c may do @action (OPS_OK or the denial). */
void ops_authorize(Manager *m, const Caller *c, const char *action, ops_callback_t callback, void *userdata);

/* Operations under way (waiting for polkit or Redis). */
unsigned ops_get_n_pending(Manager *m);

/* Ends every operation under way with OPS_UNAVAILABLE (shutdown). */
void ops_abort_all(Manager *m);

/* "not_found", … : the HTTP error code of @s (DESIGN.md "HTTP API"). */
const char *ops_status_to_http_code(OpsStatus s);
/* 404, …: the HTTP status of @s. */
unsigned ops_status_to_http_status(OpsStatus s);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What pyexecd knows about one execution: the fields of its Redis hash
 * (pyexecd:exec:<id>) as a struct, their conversion to and from the hash's
 * string fields, and the status object of GET /status (DESIGN.md "HTTP API").
 *
 * Hash fields (all strings; times are µs since the epoch; absent = unknown):
 *   state, cell_id, notebook_id, execution_count, created_usec, started_usec,
 *   finished_usec, exit_code, signal (number), error, truncated ("0"/"1"),
 *   wall_usec, cpu_usec, memory_peak_bytes, timeout_usec, memory_max,
 *   cpu_quota_per_sec_usec, tasks_max, output_max, owner_uid, owner_kind,
 *   node, queue_entry (the entry id in pyexecd:queue), has_stdin ("0"/"1")
 *
 * The owner: "owner_uid" names a user (owner kind uid); "owner_kind" is
 * written only for owners that are not users: "token" (submitted over HTTP
 * on TCP with the bearer token). A record with neither has no owner (only
 * root and holders of org.pyexecd.manage see it).
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/exec-id.h"
#include "shared/exec-state.h"
#include "shared/limits.h"

typedef enum ExecOwnerKind {
        EXEC_OWNER_NONE,                /* unknown: written before owners were recorded */
        EXEC_OWNER_UID,                 /* a user: owner_uid */
        EXEC_OWNER_TOKEN,               /* whoever holds the HTTP bearer token */
        _EXEC_OWNER_KIND_MAX,
} ExecOwnerKind;

typedef struct ExecRecord {
        char id[EXEC_ID_LEN + 1];
        ExecState state;
        char *cell_id;                  /* NULL when not given */
        char *notebook_id;              /* NULL when not given */
        bool has_execution_count;
        int64_t execution_count;
        uint64_t created_usec;          /* µs since the epoch; 0 = not yet */
        uint64_t started_usec;
        uint64_t finished_usec;
        bool has_exit_code;
        int exit_code;
        int signal;                     /* 0 = none */
        char *error;                    /* NULL = none */
        bool truncated;
        bool has_resources;
        uint64_t wall_usec;
        uint64_t cpu_usec;
        uint64_t memory_peak_bytes;
        Limits limits;
        ExecOwnerKind owner_kind;       /* see exec_record_owner_kind() */
        uid_t owner_uid;                /* the owning user, or (uid_t) -1 */
        char *node;
        char *queue_entry;              /* stream entry id in the queue, NULL until queued */
        bool has_stdin;
} ExecRecord;

#define EXEC_RECORD_INIT { .state = EXEC_STATE_QUEUED, .owner_uid = (uid_t) -1 }

/* The kind of owner of @r: EXEC_OWNER_TOKEN when owner_kind says so, else
 * EXEC_OWNER_UID when owner_uid is set, else EXEC_OWNER_NONE. */
ExecOwnerKind exec_record_owner_kind(const ExecRecord *r);

/* A deep copy of @src into @dst (overwritten, not freed). Returns 0, or
 * -ENOMEM with @dst reset to EXEC_RECORD_INIT. */
int exec_record_copy(ExecRecord *dst, const ExecRecord *src);

/* Frees the strings @r owns and resets it to EXEC_RECORD_INIT. */
void exec_record_done(ExecRecord *r);

/*
 * Appends the hash fields of @r as alternating field/value strings to a new
 * NULL-terminated array (for HSET). Fields that are unknown are left out.
 * Returns 0 or -ENOMEM; the caller frees with strv_free().
 */
int exec_record_to_fields(const ExecRecord *r, char ***ret_fields);

/*
 * Fills @r from @n alternating field/value strings (an HGETALL reply) for the
 * execution @id. Unknown fields are ignored; a missing or bad "state" fails.
 * Returns 0, -EBADMSG or -ENOMEM.
 */
int exec_record_from_fields(ExecRecord *r, const char *id, char *const *fields, size_t n);

/*
 * The status object of GET /status/{id}: {"execution_id", "status",
 * "cell_id", "notebook_id", "execution_count", "created_at", "started_at",
 * "finished_at", "exit_code", "signal", "error", "truncated", "outputs",
 * "resources": {"wall_usec","cpu_usec","memory_peak_bytes"}, "limits"}.
 * Times are RFC 3339 UTC, null until known; "signal" is a name such as
 * "SIGKILL" or null. @outputs is borrowed (NULL gives []). New reference or NULL.
 */
json_t *exec_record_to_status_json(const ExecRecord *r, json_t *outputs);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A polkit client on sd-bus (notes/systemd-sandbox-facts.md §2): asks
 * org.freedesktop.PolicyKit1.Authority.CheckAuthorization asynchronously
 * (sd_bus_call_async, the loop never waits) whether a subject may do an
 * action.
 *
 * Subjects, as polkit 122 (Debian 12) takes them:
 *   - POLKIT_SUBJECT_BUS_NAME: ("system-bus-name", {"name": <unique name>}),
 *     for D-Bus callers;
 *   - POLKIT_SUBJECT_PROCESS: ("unix-process", {"pid": <u>, "start-time": <t>,
 *     "uid": <i>}), for peers of a unix socket (SO_PEERCRED); start-time is
 *     field 22 of /proc/PID/stat, read when the peer connected, so polkit can
 *     tell the process from a later one with the same pid. (The "pidfd" form
 *     needs polkit 124.)
 *
 * Outcomes: ALLOWED (is_authorized), CHALLENGE (not authorised, but could
 * be after authentication: is_challenge), DENIED. Anything that is not an
 * answer — polkit not installed or not running (ServiceUnknown,
 * NameHasNoOwner, a masked unit), its errors, a timeout — is DENIED as
 * well, with the reason in the callback's message: never "allowed by
 * accident".
 *
 * The client keeps every pending query; polkit_client_free() cancels them
 * without calling back.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "shared/macro.h"

typedef struct PolkitClient PolkitClient;
typedef struct PolkitQuery PolkitQuery;

typedef enum PolkitSubjectKind {
        POLKIT_SUBJECT_BUS_NAME,
        POLKIT_SUBJECT_PROCESS,
} PolkitSubjectKind;

typedef struct PolkitSubject {
        PolkitSubjectKind kind;
        const char *bus_name;           /* BUS_NAME: a unique name (":1.42") */
        pid_t pid;                      /* PROCESS */
        uint64_t start_time;            /* PROCESS: field 22 of /proc/PID/stat (clock ticks since boot) */
        uid_t uid;                      /* PROCESS */
} PolkitSubject;

typedef enum PolkitResult {
        POLKIT_DENIED,
        POLKIT_ALLOWED,
        POLKIT_CHALLENGE,               /* could be allowed after authentication */
} PolkitResult;

/*
 * Called once per query, never from inside polkit_client_check().
 * @message is NULL for an answer of polkit, else why there was none (the
 * result is POLKIT_DENIED then). Valid during the call only.
 */
typedef void (*polkit_callback_t)(PolkitResult result, const char *message, void *userdata);

/* A client on @bus (a system bus connection attached to an event loop; referenced). */
int polkit_client_new(PolkitClient **ret, sd_bus *bus);
PolkitClient *polkit_client_free(PolkitClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(PolkitClient *, polkit_client_free);

/*
 * Asks whether @subject may do @action_id; @interactive sets
 * AllowUserInteraction (polkit may then ask the user through an
 * authentication agent, which can take as long as the user does).
 * Returns 0 and calls @callback later, or a negative errno (-EINVAL for a
 * bad subject, -ENOMEM, or the bus's error) without calling it.
 * @ret_query (may be NULL) names the query for polkit_query_cancel(); it is
 * valid until the callback is called.
 */
int polkit_client_check(PolkitClient *c, const PolkitSubject *subject, const char *action_id, bool interactive,
                        polkit_callback_t callback, void *userdata, PolkitQuery **ret_query);

/* Forgets a pending query: its callback is never called. Returns NULL. */
PolkitQuery *polkit_query_cancel(PolkitQuery *q);

/*
 * Reads the start time of process @pid (field 22 of /proc/PID/stat, clock
 * ticks after boot). Returns 0, -ESRCH when the process is gone, -EBADMSG
 * when the file does not parse, or another negative errno.
 */
int polkit_process_start_time(pid_t pid, uint64_t *ret);

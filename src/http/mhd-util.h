/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * libmicrohttpd glue: one MHD daemon per listening socket, driven from an
 * sd-event loop in MHD's external-epoll mode (MHD_USE_EPOLL without an
 * internal thread), the way systemd-journal-remote does it: MHD's epoll fd
 * is an io source, and a timer re-armed after every MHD_run() from
 * MHD_get_timeout() — which gives *relative milliseconds*, converted here to
 * sd-event's absolute µs. MHD's epoll fd is effectively edge-triggered
 * (systemd issue #7130), so the timer is re-armed unconditionally.
 *
 * Everything MHD-specific (MHD_YES/MHD_NO, version quirks) stays in
 * src/http/; callers see negative errno values.
 */

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include <jansson.h>

#include "shared/macro.h"

typedef struct MhdDaemon MhdDaemon;

typedef struct MhdDaemonOptions {
        MHD_AccessHandlerCallback access_handler;
        void *access_handler_cls;
        MHD_RequestCompletedCallback completed_handler;
        void *completed_handler_cls;
        unsigned connection_limit;      /* simultaneous connections (0: MHD's default) */
        unsigned connection_timeout_sec;/* idle connections are closed after this (0: never) */
        const char *description;        /* for logs and event source names */
} MhdDaemonOptions;

/*
 * Starts an MHD daemon on the listening socket @fd (borrowed: the caller,
 * or systemd, keeps it; MHD never shuts it down because MHD_USE_ITC is on)
 * and attaches it to @event. Returns 0 or a negative errno.
 */
int mhd_daemon_new(MhdDaemon **ret, sd_event *event, int fd, const MhdDaemonOptions *options);

/* Stops MHD (all connections must have been resumed) and detaches it. */
MhdDaemon *mhd_daemon_free(MhdDaemon *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(MhdDaemon *, mhd_daemon_free);

/* Makes the loop call MHD_run() soon: needed after MHD_resume_connection()
 * in external polling mode (MHD manual, "MHD_resume_connection"). */
void mhd_daemon_kick(MhdDaemon *d);

/* Runs MHD once now (used before stopping, so resumed connections settle). */
void mhd_daemon_run(MhdDaemon *d);

/* The number of connections MHD currently holds. */
unsigned mhd_daemon_get_n_connections(MhdDaemon *d);

/* Stops accepting new connections (for idle exit and shutdown); existing ones go on. */
void mhd_daemon_quiesce(MhdDaemon *d);

/*
 * Queues a response with the compact JSON text of @body (borrowed) and
 * Content-Type: application/json. @extra_headers is NULL or a NULL-terminated
 * list of "Name", "value" pairs. Returns 0 or -EIO/-ENOMEM.
 */
int mhd_respond_json(struct MHD_Connection *connection, unsigned status, json_t *body,
                     const char *const *extra_headers);

/* Queues the static, NUL-terminated JSON @text (never copied nor freed) with
 * @status: an answer that needs no allocation. Returns 0 or -EIO. */
int mhd_respond_static(struct MHD_Connection *connection, unsigned status, const char *text);

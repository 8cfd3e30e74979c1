/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The properties of one org.pyexecd.Executor1.Execution object. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct ExecutionInfo {
        char *id;
        char *state;
        uint32_t owner;
        char *cell_id;
        char *notebook_id;
        int64_t execution_count;        /* -1: not given */
        uint64_t created_usec;          /* µs since the epoch; 0: not yet */
        uint64_t started_usec;
        uint64_t finished_usec;
        int32_t exit_code;              /* -1: unknown, or a signal ended it */
        char *signal;                   /* "SIGKILL", or "" */
        char *error;
        bool truncated;
        uint64_t wall_usec;
        uint64_t cpu_usage_nsec;
        uint64_t memory_peak;
        uint64_t timeout_usec;
        uint64_t memory_max;
        uint64_t cpu_quota_per_sec_usec;
        uint64_t tasks_max;
        uint64_t output_max;
} ExecutionInfo;

#define EXECUTION_INFO_INIT                             \
        (ExecutionInfo) {                               \
                .execution_count = -1,                  \
                .exit_code = -1,                        \
        }

void execution_info_done(ExecutionInfo *i);

/*
 * Reads an a{sv} of Execution properties (GetAll's reply, or the second
 * argument of PropertiesChanged) into @i: known names with the contract's
 * types are taken, others skipped. Returns 0, or a negative errno when the
 * message is malformed or memory runs out.
 */
int execution_info_read(ExecutionInfo *i, sd_bus_message *m);

/* GetAll on @path. Fills @i (which starts as EXECUTION_INFO_INIT). */
int execution_info_get_all(sd_bus *bus, const char *path, ExecutionInfo *i, sd_bus_error *error);

/*
 * The status object of the HTTP API's GET /status (pyexecd-http(7)), with
 * "owner" (uid) added: "execution_id", "status", "cell_id", … (times as
 * RFC 3339 UTC, null until known), "resources", "limits", and "outputs"
 * (@outputs, borrowed; null when NULL). NULL on ENOMEM.
 */
json_t *execution_info_to_json(const ExecutionInfo *i, json_t *outputs);

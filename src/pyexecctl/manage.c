/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* pyexecctl list, cancel and queue: one call each. */

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyexecctl/bus-util.h"
#include "pyexecctl/format.h"
#include "pyexecctl/pager.h"
#include "pyexecctl/polkit-agent.h"
#include "pyexecctl/pyexecctl.h"
#include "shared/exec-id.h"
#include "shared/log.h"
#include "shared/time-util.h"

typedef struct Row {
        const char *id;
        const char *state;
        uint64_t created_usec;
        uint32_t owner;
} Row;

static int print_json(json_t *o) {
        _cleanup_free_ char *s = NULL;

        if (!o)
                return log_oom();
        s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!s)
                return log_oom();
        if (printf("%s\n", s) < 0 || fflush(stdout) != 0)
                return log_error_errno(errno, "Failed to write the output: %m");
        return 0;
}

static int list_json(const Row *rows, size_t n) {
        json_t *a = json_array();
        char ts[RFC3339_MAX];

        if (!a)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                const char *t = rows[i].created_usec > 0 ? format_rfc3339(ts, sizeof(ts), rows[i].created_usec) : NULL;

                if (json_array_append_new(a, json_pack("{s:s, s:s, s:s?, s:I}",
                                                       "execution_id", rows[i].id,
                                                       "status", rows[i].state,
                                                       "created_at", t,
                                                       "owner", (json_int_t) rows[i].owner)) < 0) {
                        json_decref(a);
                        return log_oom();
                }
        }
        return print_json(a);
}

static void owner_name(uint32_t uid, char *buf, size_t size) {
        struct passwd *pw = getpwuid(uid);

        if (pw)
                (void) snprintf(buf, size, "%s", pw->pw_name);
        else
                (void) snprintf(buf, size, "%" PRIu32, uid);
}

static int list_table(const Arguments *a, const Row *rows, size_t n, bool colors) {
        int w_id = (int) strlen("ID"), w_state = (int) strlen("STATE"), w_created = (int) strlen("CREATED");
        char ts[FORMAT_TIMESTAMP_MAX], owner[64];

        for (size_t i = 0; i < n; i++) {
                w_id = MAX(w_id, (int) strlen(rows[i].id));
                w_state = MAX(w_state, (int) strlen(rows[i].state));
                w_created = MAX(w_created, (int) strlen(format_timestamp(ts, sizeof(ts), rows[i].created_usec)));
        }

        if (a->legend && n > 0)
                printf("%s%-*s %-*s %-*s %s%s\n", ansi_highlight(colors),
                       w_id, "ID", w_state, "STATE", w_created, "CREATED", "OWNER", ansi_normal(colors));

        for (size_t i = 0; i < n; i++) {
                owner_name(rows[i].owner, owner, sizeof(owner));
                printf("%-*s %-*s %-*s %s\n", w_id, rows[i].id, w_state, rows[i].state,
                       w_created, format_timestamp(ts, sizeof(ts), rows[i].created_usec), owner);
        }

        if (a->legend) {
                if (n > 0)
                        printf("\n%zu execution%s listed.\n", n, n == 1 ? "" : "s");
                else
                        printf("No executions.\n");
        }
        if (fflush(stdout) != 0)
                return log_error_errno(errno, "Failed to write the list: %m");
        return 0;
}

int verb_list(const Arguments *a) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ Row *rows = NULL;
        Pager pager = PAGER_INIT;
        PolkitAgent agent = {};
        bool colors = colors_enabled();
        size_t n = 0, allocated = 0;
        const char *path;
        Row row;
        int r;

        if (bus_connect(&bus) < 0)
                return PYEXECCTL_EXIT_NOT_RUN;

        r = bus_message_new_call(bus, &m, PYEXECD_MANAGER_PATH, PYEXECD_MANAGER_INTERFACE, "ListExecutions",
                                 a->ask_password);
        if (r < 0) {
                log_error_errno(r, "Failed to build the ListExecutions() call: %m");
                return PYEXECCTL_EXIT_NOT_RUN;
        }
        if (a->ask_password)
                (void) polkit_agent_open(&agent);
        r = sd_bus_call(bus, m, 0, &error, &reply);
        polkit_agent_close(&agent);
        if (r < 0) {
                log_bus_error(&error, r, NULL, "list the executions");
                return PYEXECCTL_EXIT_NOT_RUN;
        }

        r = sd_bus_message_enter_container(reply, 'a', "(ssotu)");
        while (r >= 0 &&
               (r = sd_bus_message_read(reply, "(ssotu)", &row.id, &row.state, &path,
                                        &row.created_usec, &row.owner)) > 0) {
                if (n == allocated) {
                        Row *p = reallocarray(rows, MAX(allocated * 2, (size_t) 16), sizeof(Row));
                        if (!p) {
                                log_oom();
                                return PYEXECCTL_EXIT_NOT_RUN;
                        }
                        rows = p;
                        allocated = MAX(allocated * 2, (size_t) 16);
                }
                rows[n++] = row;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to parse the reply to ListExecutions(): %m");
                return PYEXECCTL_EXIT_NOT_RUN;
        }

        if (a->pager)
                (void) pager_open(&pager);
        r = a->json ? list_json(rows, n) : list_table(a, rows, n, colors);
        pager_close(&pager);

        return r < 0 ? PYEXECCTL_EXIT_NOT_RUN : PYEXECCTL_EXIT_SUCCESS;
}

int verb_cancel(const Arguments *a) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        PolkitAgent agent = {};
        const char *id = a->args[0];
        char what[64];
        int r;

        if (!exec_id_is_valid(id)) {
                log_error("Invalid execution id \"%s\": expected 32 lowercase hex digits.", id);
                return PYEXECCTL_EXIT_NOT_RUN;
        }
        if (bus_connect(&bus) < 0)
                return PYEXECCTL_EXIT_NOT_RUN;

        r = bus_message_new_call(bus, &m, PYEXECD_MANAGER_PATH, PYEXECD_MANAGER_INTERFACE, "Cancel",
                                 a->ask_password);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", id);
        if (r < 0) {
                log_error_errno(r, "Failed to build the Cancel() call: %m");
                return PYEXECCTL_EXIT_NOT_RUN;
        }

        if (a->ask_password)
                (void) polkit_agent_open(&agent);
        r = sd_bus_call(bus, m, 0, &error, NULL);
        polkit_agent_close(&agent);
        if (r < 0) {
                (void) snprintf(what, sizeof(what), "cancel execution %s", id);
                log_bus_error(&error, r, POLKIT_ACTION_MANAGE, what);
                return PYEXECCTL_EXIT_NOT_RUN;
        }
        return PYEXECCTL_EXIT_SUCCESS;
}

int verb_queue(const Arguments *a) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t queued, running;
        uint32_t max_concurrent, max_queued;
        int r;

        if (bus_connect(&bus) < 0)
                return PYEXECCTL_EXIT_NOT_RUN;

        r = sd_bus_call_method(bus, PYEXECD_BUS_NAME, PYEXECD_MANAGER_PATH, PYEXECD_MANAGER_INTERFACE,
                               "GetQueueStatus", &error, &reply, NULL);
        if (r < 0) {
                log_bus_error(&error, r, NULL, "get the queue's status");
                return PYEXECCTL_EXIT_NOT_RUN;
        }
        r = sd_bus_message_read(reply, "ttuu", &queued, &running, &max_concurrent, &max_queued);
        if (r < 0) {
                log_error_errno(r, "Failed to parse the reply to GetQueueStatus(): %m");
                return PYEXECCTL_EXIT_NOT_RUN;
        }

        if (a->json)
                r = print_json(json_pack("{s:I, s:I, s:I, s:I}",
                                         "queued", (json_int_t) queued,
                                         "running", (json_int_t) running,
                                         "max_concurrent", (json_int_t) max_concurrent,
                                         "max_queued", (json_int_t) max_queued));
        else {
                /* Queued and running count all nodes; the maxima are this node's. */
                printf("        Queued: %" PRIu64 "\n"
                       "       Running: %" PRIu64 "\n"
                       "Max concurrent: %" PRIu32 "\n"
                       "    Max queued: %" PRIu32 "\n",
                       queued, running, max_concurrent, max_queued);
                r = fflush(stdout) == 0 ? 0 : log_error_errno(errno, "Failed to write the output: %m");
        }
        return r < 0 ? PYEXECCTL_EXIT_NOT_RUN : PYEXECCTL_EXIT_SUCCESS;
}

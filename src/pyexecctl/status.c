/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* pyexecctl status ID: an execution's properties in systemctl status' layout, then its outputs. */

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pyexecctl/bus-util.h"
#include "pyexecctl/exec-info.h"
#include "pyexecctl/format.h"
#include "pyexecctl/pager.h"
#include "pyexecctl/polkit-agent.h"
#include "pyexecctl/pyexecctl.h"
#include "pyexecctl/render.h"
#include "shared/exec-id.h"
#include "shared/log.h"
#include "shared/time-util.h"

static const char *state_color(ExecState s, bool colors) {
        switch (s) {
        case EXEC_STATE_RUNNING:
        case EXEC_STATE_SUCCEEDED:
                return ansi_highlight_green(colors);
        case EXEC_STATE_CANCELLED:
                return ansi_highlight_yellow(colors);
        case EXEC_STATE_FAILED:
        case EXEC_STATE_TIMEOUT:
        case EXEC_STATE_OOM:
        case EXEC_STATE_ERROR:
                return ansi_highlight_red(colors);
        default:
                return "";
        }
}

static void print_owner(uint32_t uid) {
        struct passwd *pw = getpwuid(uid);

        if (pw)
                printf("      Owner: %u (%s)\n", uid, pw->pw_name);
        else
                printf("      Owner: %u\n", uid);
}

static void print_limits(const ExecutionInfo *i) {
        char t[FORMAT_TIMESPAN_MAX], m[FORMAT_BYTES_MAX], o[FORMAT_BYTES_MAX];

        printf("     Limits: timeout %s, memory %s, CPU %" PRIu64 "%%, tasks %" PRIu64 ", output %s\n",
               format_timespan(t, sizeof(t), i->timeout_usec),
               format_bytes(m, sizeof(m), i->memory_max),
               i->cpu_quota_per_sec_usec / 10000, i->tasks_max,
               format_bytes(o, sizeof(o), i->output_max));
}

static void print_status(const ExecutionInfo *i, bool colors) {
        ExecState s = exec_state_from_string(i->state);
        uint64_t now = now_usec(CLOCK_REALTIME), since;
        char ts[FORMAT_TIMESTAMP_MAX], rel[FORMAT_TIMESPAN_MAX + 8], span[FORMAT_TIMESPAN_MAX];
        char detail[512] = "";

        if (i->error && *i->error) {
                _cleanup_free_ char *e = cescape(i->error);
                (void) snprintf(detail, sizeof(detail), " (%s)", e ?: "?");
        }
        else if (i->signal && *i->signal)
                (void) snprintf(detail, sizeof(detail), " (signal %s)", i->signal);
        else if (i->exit_code >= 0 && exec_state_is_terminal(s))
                (void) snprintf(detail, sizeof(detail), " (exit code %d)", (int) i->exit_code);

        since = exec_state_is_terminal(s) ? i->finished_usec :
                s == EXEC_STATE_RUNNING ? i->started_usec : i->created_usec;

        printf("%s%s%s %s\n", state_color(s, colors), s == EXEC_STATE_QUEUED ? "○" : "●",
               ansi_normal(colors), i->id ?: "");
        printf("      State: %s%s%s%s", state_color(s, colors), i->state ?: "unknown", ansi_normal(colors), detail);
        if (since > 0)
                printf(" since %s; %s",
                       format_timestamp(ts, sizeof(ts), since),
                       format_timestamp_relative(rel, sizeof(rel), since, now));
        printf("\n");

        print_owner(i->owner);
        /* Set by whoever submitted it: shown escaped, never as terminal control. */
        if (i->cell_id && *i->cell_id) {
                _cleanup_free_ char *c = cescape(i->cell_id);
                printf("       Cell: %s\n", c ?: "?");
        }
        if (i->notebook_id && *i->notebook_id) {
                _cleanup_free_ char *n = cescape(i->notebook_id);
                printf("   Notebook: %s\n", n ?: "?");
        }
        if (i->execution_count >= 0)
                printf("      Count: %" PRIi64 "\n", i->execution_count);

        printf("    Created: %s\n", format_timestamp(ts, sizeof(ts), i->created_usec));
        if (i->started_usec > 0)
                printf("    Started: %s (queued %s)\n", format_timestamp(ts, sizeof(ts), i->started_usec),
                       format_timespan(span, sizeof(span),
                                       i->started_usec > i->created_usec ? i->started_usec - i->created_usec : 0));
        if (i->finished_usec > 0) {
                printf("   Finished: %s", format_timestamp(ts, sizeof(ts), i->finished_usec));
                if (i->started_usec > 0)
                        printf(" (ran %s)", format_timespan(span, sizeof(span), i->wall_usec));
                printf("\n");
        }

        if (exec_state_is_terminal(s) && i->started_usec > 0) {
                char mem[FORMAT_BYTES_MAX];

                printf("        CPU: %s\n", format_timespan(span, sizeof(span), i->cpu_usage_nsec / NSEC_PER_USEC));
                printf("     Memory: %s (peak)\n", format_bytes(mem, sizeof(mem), i->memory_peak));
        }
        print_limits(i);
        if (i->truncated)
                printf("  Truncated: yes (outputs beyond the output limit were dropped)\n");
}

static int get_outputs(sd_bus *bus, const char *path, json_t **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        json_error_t jerror;
        const char *text;
        json_t *outputs;
        int r;

        r = sd_bus_call_method(bus, PYEXECD_BUS_NAME, path, PYEXECD_EXECUTION_INTERFACE, "GetOutputs",
                               &error, &reply, NULL);
        if (r < 0)
                return log_bus_error(&error, r, NULL, "get the outputs");
        r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the outputs: %m");

        outputs = json_loads(text, JSON_ALLOW_NUL, &jerror);
        if (!json_is_array(outputs)) {
                json_decref(outputs);
                return log_error_errno(EBADMSG, "Failed to parse the outputs: not a JSON list.");
        }
        *ret = outputs;
        return 0;
}

/* GetExecution(@id): the object path. Logs failures. */
static int get_execution(sd_bus *bus, const Arguments *a, const char *id, char **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        PolkitAgent agent = {};
        const char *path;
        char what[64];
        int r;

        r = bus_message_new_call(bus, &m, PYEXECD_MANAGER_PATH, PYEXECD_MANAGER_INTERFACE, "GetExecution",
                                 a->ask_password);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", id);
        if (r < 0)
                return log_error_errno(r, "Failed to build the GetExecution() call: %m");

        /* Another user's execution needs org.pyexecd.manage, which polkit may ask for. */
        if (a->ask_password)
                (void) polkit_agent_open(&agent);
        r = sd_bus_call(bus, m, 0, &error, &reply);
        polkit_agent_close(&agent);
        if (r < 0) {
                (void) snprintf(what, sizeof(what), "get execution %s", id);
                return log_bus_error(&error, r, POLKIT_ACTION_MANAGE, what);
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the reply to GetExecution(): %m");

        *ret = strdup(path);
        return *ret ? 0 : log_oom();
}

int verb_status(const Arguments *a) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_decrefp) json_t *outputs = NULL;
        _cleanup_(renderer_freep) Renderer *renderer = NULL;
        _cleanup_free_ char *path = NULL;
        ExecutionInfo info = EXECUTION_INFO_INIT;
        Pager pager = PAGER_INIT;
        const char *id = a->args[0];
        bool colors = colors_enabled();
        int r, status = PYEXECCTL_EXIT_NOT_RUN;

        if (!exec_id_is_valid(id)) {
                log_error("Invalid execution id \"%s\": expected 32 lowercase hex digits.", id);
                return PYEXECCTL_EXIT_NOT_RUN;
        }

        if (bus_connect(&bus) < 0 || get_execution(bus, a, id, &path) < 0)
                return PYEXECCTL_EXIT_NOT_RUN;

        r = execution_info_get_all(bus, path, &info, &error);
        if (r < 0) {
                log_bus_error(&error, r, NULL, "get the execution's properties");
                goto finish;
        }
        if (get_outputs(bus, path, &outputs) < 0)
                goto finish;

        if (a->pager)
                (void) pager_open(&pager);

        if (a->json) {
                _cleanup_(json_decrefp) json_t *o = execution_info_to_json(&info, outputs);
                _cleanup_free_ char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

                if (!s) {
                        log_oom();
                        goto finish;
                }
                printf("%s\n", s);
        } else {
                print_status(&info, colors);

                /* Outputs below, as systemctl status shows the journal: stderr items too
                 * go to stdout, so that the whole report can be paged and piped. */
                renderer = renderer_new(stdout, stdout, false, a->output_dir, id);
                if (!renderer) {
                        log_oom();
                        goto finish;
                }
                if (json_array_size(outputs) > 0) {
                        printf("\n");
                        r = renderer_outputs(renderer, outputs);
                        if (r >= 0)
                                r = renderer_finish(renderer);
                        if (r < 0) {
                                log_error_errno(r, "Failed to show the outputs: %m");
                                goto finish;
                        }
                }
        }

        if (fflush(stdout) != 0) {
                log_error_errno(errno, "Failed to write the status: %m");
                goto finish;
        }
        status = PYEXECCTL_EXIT_SUCCESS;

finish:
        pager_close(&pager);
        execution_info_done(&info);
        return status;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pyexecctl/bus-util.h"
#include "pyexecctl/exec-info.h"
#include "shared/exec-state.h"
#include "shared/time-util.h"

static const struct {
        const char *name;
        char type;              /* D-Bus type of the property */
        size_t offset;
} property_map[] = {
        { "Id",                 's', offsetof(ExecutionInfo, id)                     },
        { "State",              's', offsetof(ExecutionInfo, state)                  },
        { "Owner",              'u', offsetof(ExecutionInfo, owner)                  },
        { "CellId",             's', offsetof(ExecutionInfo, cell_id)                },
        { "NotebookId",         's', offsetof(ExecutionInfo, notebook_id)            },
        { "ExecutionCount",     'x', offsetof(ExecutionInfo, execution_count)        },
        { "CreatedUSec",        't', offsetof(ExecutionInfo, created_usec)           },
        { "StartedUSec",        't', offsetof(ExecutionInfo, started_usec)           },
        { "FinishedUSec",       't', offsetof(ExecutionInfo, finished_usec)          },
        { "ExitCode",           'i', offsetof(ExecutionInfo, exit_code)              },
        { "Signal",             's', offsetof(ExecutionInfo, signal)                 },
        { "Error",              's', offsetof(ExecutionInfo, error)                  },
        { "Truncated",          'b', offsetof(ExecutionInfo, truncated)              },
        { "WallUSec",           't', offsetof(ExecutionInfo, wall_usec)              },
        { "CPUUsageNSec",       't', offsetof(ExecutionInfo, cpu_usage_nsec)         },
        { "MemoryPeak",         't', offsetof(ExecutionInfo, memory_peak)            },
        { "TimeoutUSec",        't', offsetof(ExecutionInfo, timeout_usec)           },
        { "MemoryMax",          't', offsetof(ExecutionInfo, memory_max)             },
        { "CPUQuotaPerSecUSec", 't', offsetof(ExecutionInfo, cpu_quota_per_sec_usec) },
        { "TasksMax",           't', offsetof(ExecutionInfo, tasks_max)              },
        { "OutputMax",          't', offsetof(ExecutionInfo, output_max)             },
};

void execution_info_done(ExecutionInfo *i) {
        free(i->id);
        free(i->state);
        free(i->cell_id);
        free(i->notebook_id);
        free(i->signal);
        free(i->error);
        *i = EXECUTION_INFO_INIT;
}

static int read_value(sd_bus_message *m, char type, void *field) {
        const char *s;
        char *copy;
        int b, r;

        switch (type) {
        case 's':
                r = sd_bus_message_read_basic(m, 's', &s);
                if (r < 0)
                        return r;
                copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
                free(*(char **) field);
                *(char **) field = copy;
                return 0;
        case 'b':
                /* D-Bus booleans are 32 bits wide on the wire; sd-bus wants an int. */
                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r < 0)
                        return r;
                *(bool *) field = b;
                return 0;
        default:
                return sd_bus_message_read_basic(m, type, field);
        }
}

int execution_info_read(ExecutionInfo *i, sd_bus_message *m) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name, *contents = NULL;
                size_t k;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;

                for (k = 0; k < ELEMENTSOF(property_map); k++)
                        if (strcmp(property_map[k].name, name) == 0)
                                break;

                if (k < ELEMENTSOF(property_map)) {
                        r = sd_bus_message_peek_type(m, NULL, &contents);
                        if (r < 0)
                                return r;
                }
                if (k >= ELEMENTSOF(property_map) || !contents ||
                    contents[0] != property_map[k].type || contents[1] != '\0') {
                        /* Unknown (newer service) or of another type: not ours to guess. */
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                } else {
                        r = sd_bus_message_enter_container(m, 'v', contents);
                        if (r < 0)
                                return r;
                        r = read_value(m, property_map[k].type, (uint8_t *) i + property_map[k].offset);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                }

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
}

int execution_info_get_all(sd_bus *bus, const char *path, ExecutionInfo *i, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, PYEXECD_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll",
                               error, &reply, "s", PYEXECD_EXECUTION_INTERFACE);
        if (r < 0)
                return r;
        return execution_info_read(i, reply);
}

static json_t *string_or_null(const char *s) {
        return s && *s ? json_string(s) : json_null();
}

static json_t *time_or_null(uint64_t usec) {
        char buf[RFC3339_MAX];

        return usec > 0 && format_rfc3339(buf, sizeof(buf), usec) ? json_string(buf) : json_null();
}

json_t *execution_info_to_json(const ExecutionInfo *i, json_t *outputs) {
        bool done = exec_state_is_terminal(exec_state_from_string(i->state));
        json_t *resources, *limits;

        /* Resource figures are known only once it ended. */
        resources = json_pack("{s:o, s:o, s:o}",
                              "wall_usec", done ? json_integer((json_int_t) i->wall_usec) : json_null(),
                              "cpu_usec", done ? json_integer((json_int_t) (i->cpu_usage_nsec / 1000)) : json_null(),
                              "memory_peak_bytes", done ? json_integer((json_int_t) i->memory_peak) : json_null());
        limits = json_pack("{s:f, s:I, s:I, s:I, s:I}",
                           "timeout_sec", (double) i->timeout_usec / 1e6,
                           "memory_max", (json_int_t) i->memory_max,
                           "cpu_quota_percent", (json_int_t) (i->cpu_quota_per_sec_usec / 10000),
                           "tasks_max", (json_int_t) i->tasks_max,
                           "output_max", (json_int_t) i->output_max);
        if (!resources || !limits) {
                json_decref(resources);
                json_decref(limits);
                return NULL;
        }

        return json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:O, s:o, s:o}",
                         "execution_id", string_or_null(i->id),
                         "status", string_or_null(i->state),
                         "owner", (json_int_t) i->owner,
                         "cell_id", string_or_null(i->cell_id),
                         "notebook_id", string_or_null(i->notebook_id),
                         "execution_count", i->execution_count >= 0 ? json_integer(i->execution_count) : json_null(),
                         "created_at", time_or_null(i->created_usec),
                         "started_at", time_or_null(i->started_usec),
                         "finished_at", time_or_null(i->finished_usec),
                         "exit_code", i->exit_code >= 0 ? json_integer(i->exit_code) : json_null(),
                         "signal", string_or_null(i->signal),
                         "error", string_or_null(i->error),
                         "truncated", i->truncated,
                         "outputs", outputs ?: json_null(),
                         "resources", resources,
                         "limits", limits);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * /org/pyexecd/Executor1/execution/<id>, interface
 * org.pyexecd.Executor1.Execution: one object per execution of the
 * registry that the caller may see, its properties (systemd's style: µs
 * times, 0 = not yet; UINT64_MAX = not known, as systemd's accounting
 * properties), and its signals, unicast to its subscribers.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-frontend.h"
#include "shared/exec-id.h"
#include "shared/log.h"
#include "shared/time-util.h"

/* ---- who may see what ---- */

static bool caller_may_see(const Caller *c, const ExecEntry *e) {
        return caller_is_root(c) || caller_owns(c, &e->record) ||
               (c->bus_name && name_list_contains(e->viewers, c->bus_name));
}

/* The caller of the message being dispatched; sd-bus looks objects up
 * synchronously, from inside that dispatch. */
static int current_caller(sd_bus *bus, Caller *ret) {
        sd_bus_message *msg = sd_bus_get_current_message(bus);

        if (!msg)
                return -ENXIO;
        return bus_caller_from_message(msg, ret);
}

int bus_execution_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                       sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_(caller_done) Caller caller = CALLER_INIT;
        const char *id;
        ExecEntry *e;

        id = bus_execution_id_from_path(path);
        if (!id)
                return 0;
        e = registry_get(m->registry, id);
        if (!e)
                return 0;
        /* Somebody else's execution does not exist for the caller. */
        if (current_caller(bus, &caller) < 0 || !caller_may_see(&caller, e))
                return 0;

        *ret_found = e;
        return 1;
}

int bus_execution_enumerate(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_(caller_done) Caller caller = CALLER_INIT;
        _cleanup_strv_free_ char **nodes = NULL;
        size_t n = 0;

        nodes = calloc(1, sizeof(char *));
        if (!nodes)
                return -ENOMEM;

        if (current_caller(bus, &caller) >= 0) {
                registry_expire(m->registry, now_usec(CLOCK_REALTIME));
                LIST_FOREACH(lru, e, registry_entries(m->registry)) {
                        char buf[BUS_EXECUTION_PATH_MAX], **l;

                        if (!caller_may_see(&caller, e))
                                continue;
                        l = reallocarray(nodes, n + 2, sizeof(char *));
                        if (!l)
                                return -ENOMEM;
                        nodes = l;
                        nodes[n] = strdup(bus_execution_path(buf, e->record.id));
                        if (!nodes[n])
                                return -ENOMEM;
                        nodes[++n] = NULL;
                }
        }

        *ret_nodes = TAKE_PTR(nodes);
        return 0;
}

/* ---- subscribers ---- */

/* Drops @name from @l and its count in the tracker. */
static void forget_name(Manager *m, char ***l, const char *name) {
        _cleanup_free_ char *copy = strdup(name);

        if (!copy || name_list_remove(l, copy) <= 0)
                return;
        (void) sd_bus_track_remove_name(m->bus_peers, copy);
}

static void forget_all(Manager *m, char ***l) {
        while (*l && (*l)[0])
                forget_name(m, l, (*l)[0]);
}

static int remember_name(Manager *m, char ***l, const char *name) {
        int r;

        if (!m->bus_peers || !name)
                return -EINVAL;
        r = name_list_add(l, name);
        if (r <= 0)
                return r;
        /* Fails if the client is gone already. */
        r = sd_bus_track_add_name(m->bus_peers, name);
        if (r < 0) {
                (void) name_list_remove(l, name);
                return r;
        }
        return 0;
}

int bus_execution_subscribe(Manager *m, ExecEntry *e, const char *name) {
        /* After its end nothing is sent any more. */
        if (exec_state_is_terminal(e->record.state))
                return 0;
        return remember_name(m, &e->subscribers, name);
}

int bus_execution_add_viewer(Manager *m, ExecEntry *e, const char *name) {
        return remember_name(m, &e->viewers, name);
}

void bus_execution_on_removed(ExecEntry *e, void *userdata) {
        Manager *m = userdata;

        forget_all(m, &e->subscribers);
        forget_all(m, &e->viewers);
}

/*
 * Sends what @build makes to each subscriber of @e that is still on the
 * bus (one message each: a message gets one destination). Subscribers that
 * left are forgotten on the way.
 */
static void send_to_subscribers(Manager *m, ExecEntry *e,
                                int (*build)(Manager *m, ExecEntry *e, const void *arg, sd_bus_message **ret),
                                const void *arg) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;

        if (!e->subscribers)
                return;

        /* A copy: forgetting changes the list. */
        while (e->subscribers[n])
                n++;
        names = calloc(n + 1, sizeof(char *));
        if (!names) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (!(names[i] = strdup(e->subscribers[i]))) {
                        log_oom();
                        return;
                }

        for (size_t i = 0; i < n; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
                int r;

                if (!sd_bus_track_contains(m->bus_peers, names[i])) {
                        forget_name(m, &e->subscribers, names[i]);
                        continue;
                }
                r = build(m, e, arg, &msg);
                if (r >= 0)
                        r = sd_bus_send_to(m->bus, msg, names[i], NULL);
                if (r < 0)
                        log_debug_errno(r, "Execution %s: failed to send a signal to %s: %m", e->record.id, names[i]);
        }
}

/* ---- properties ---- */

static const char *signal_name(int sig, char *buf, size_t size) {
        const char *name;

        if (sig <= 0)
                return "";
        name = signal_to_string(sig);
        if (name)
                return name;
        if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
                (void) snprintf(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
                return buf;
        }
        (void) snprintf(buf, size, "%d", sig);
        return buf;
}

/* Derived values of the properties that change, for comparing two records. */
typedef struct ExecProps {
        const char *state;
        uint64_t started_usec, finished_usec;
        int32_t exit_code;
        char signal[32];
        const char *error;
        bool truncated;
        uint64_t wall_usec, cpu_nsec, memory_peak;
} ExecProps;

static void exec_props(const ExecRecord *r, ExecProps *p) {
        *p = (ExecProps) {
                .state = exec_state_to_string(r->state) ?: "",
                .started_usec = r->started_usec,
                .finished_usec = r->finished_usec,
                /* -1 while unknown and when a signal ended the code. */
                .exit_code = r->has_exit_code && r->signal <= 0 ? r->exit_code : -1,
                .error = r->error ?: "",
                .truncated = r->truncated,
                .wall_usec = r->has_resources ? r->wall_usec : UINT64_MAX,
                .cpu_nsec = r->has_resources ? (r->cpu_usec > UINT64_MAX / NSEC_PER_USEC ? UINT64_MAX - 1
                                                                                         : r->cpu_usec * NSEC_PER_USEC)
                                             : UINT64_MAX,
                .memory_peak = r->has_resources ? r->memory_peak_bytes : UINT64_MAX,
        };
        (void) snprintf(p->signal, sizeof(p->signal), "%s", signal_name(r->signal, p->signal, sizeof(p->signal)));
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ExecEntry *e = userdata;
        const ExecRecord *r = &e->record;
        const Limits *l = &r->limits;
        ExecProps p;

        exec_props(r, &p);

        if (strcmp(property, "Id") == 0)
                return sd_bus_message_append(reply, "s", r->id);
        if (strcmp(property, "State") == 0)
                return sd_bus_message_append(reply, "s", p.state);
        if (strcmp(property, "Owner") == 0)
                return sd_bus_message_append(reply, "u",
                                             (uint32_t) (exec_record_owner_kind(r) == EXEC_OWNER_UID ? r->owner_uid
                                                                                                   : UINT32_MAX));
        if (strcmp(property, "CellId") == 0)
                return sd_bus_message_append(reply, "s", r->cell_id ?: "");
        if (strcmp(property, "NotebookId") == 0)
                return sd_bus_message_append(reply, "s", r->notebook_id ?: "");
        if (strcmp(property, "ExecutionCount") == 0)
                return sd_bus_message_append(reply, "x", r->has_execution_count ? r->execution_count : (int64_t) -1);
        if (strcmp(property, "CreatedUSec") == 0)
                return sd_bus_message_append(reply, "t", r->created_usec);
        if (strcmp(property, "StartedUSec") == 0)
                return sd_bus_message_append(reply, "t", p.started_usec);
        if (strcmp(property, "FinishedUSec") == 0)
                return sd_bus_message_append(reply, "t", p.finished_usec);
        if (strcmp(property, "ExitCode") == 0)
                return sd_bus_message_append(reply, "i", p.exit_code);
        if (strcmp(property, "Signal") == 0)
                return sd_bus_message_append(reply, "s", p.signal);
        if (strcmp(property, "Error") == 0)
                return sd_bus_message_append(reply, "s", p.error);
        if (strcmp(property, "Truncated") == 0)
                return sd_bus_message_append(reply, "b", (int) p.truncated);
        if (strcmp(property, "WallUSec") == 0)
                return sd_bus_message_append(reply, "t", p.wall_usec);
        if (strcmp(property, "CPUUsageNSec") == 0)
                return sd_bus_message_append(reply, "t", p.cpu_nsec);
        if (strcmp(property, "MemoryPeak") == 0)
                return sd_bus_message_append(reply, "t", p.memory_peak);
        if (strcmp(property, "TimeoutUSec") == 0)
                return sd_bus_message_append(reply, "t", l->timeout_usec);
        if (strcmp(property, "MemoryMax") == 0)
                return sd_bus_message_append(reply, "t", l->memory_max);
        if (strcmp(property, "CPUQuotaPerSecUSec") == 0)
                return sd_bus_message_append(reply, "t", l->cpu_quota_per_sec_usec);
        if (strcmp(property, "TasksMax") == 0)
                return sd_bus_message_append(reply, "t", l->tasks_max);
        if (strcmp(property, "OutputMax") == 0)
                return sd_bus_message_append(reply, "t", l->output_max);

        return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_PROPERTY, "Unknown property %s.", property);
}

/* The properties that change (and emit PropertiesChanged), with their types. */
static const struct {
        const char *name;
        const char *signature;
} changing_properties[] = {
        { "State",        "s" },
        { "StartedUSec",  "t" },
        { "FinishedUSec", "t" },
        { "ExitCode",     "i" },
        { "Signal",       "s" },
        { "Error",        "s" },
        { "Truncated",    "b" },
        { "WallUSec",     "t" },
        { "CPUUsageNSec", "t" },
        { "MemoryPeak",   "t" },
};

static bool property_changed(size_t i, const ExecProps *a, const ExecProps *b) {
        switch (i) {
        case 0: return strcmp(a->state, b->state) != 0;
        case 1: return a->started_usec != b->started_usec;
        case 2: return a->finished_usec != b->finished_usec;
        case 3: return a->exit_code != b->exit_code;
        case 4: return strcmp(a->signal, b->signal) != 0;
        case 5: return strcmp(a->error, b->error) != 0;
        case 6: return a->truncated != b->truncated;
        case 7: return a->wall_usec != b->wall_usec;
        case 8: return a->cpu_nsec != b->cpu_nsec;
        case 9: return a->memory_peak != b->memory_peak;
        default: return false;
        }
}

/* @arg: a bool array over changing_properties. */
static int build_properties_changed(Manager *m, ExecEntry *e, const void *arg, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        const bool *changed = arg;
        char path[BUS_EXECUTION_PATH_MAX];
        int r;

        r = sd_bus_message_new_signal(m->bus, &msg, bus_execution_path(path, e->record.id),
                                      "org.freedesktop.DBus.Properties", "PropertiesChanged");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "s", BUS_EXECUTION_INTERFACE);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(changing_properties); i++) {
                if (!changed[i])
                        continue;
                r = sd_bus_message_open_container(msg, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(msg, "s", changing_properties[i].name);
                if (r >= 0)
                        r = sd_bus_message_open_container(msg, 'v', changing_properties[i].signature);
                if (r >= 0)
                        r = property_get(m->bus, path, BUS_EXECUTION_INTERFACE, changing_properties[i].name, msg, e,
                                         NULL);
                if (r >= 0)
                        r = sd_bus_message_close_container(msg);
                if (r >= 0)
                        r = sd_bus_message_close_container(msg);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(msg);
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "as", 0);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(msg);
        return 0;
}

void bus_execution_on_changed(ExecEntry *e, const ExecRecord *old, void *userdata) {
        Manager *m = userdata;
        bool changed[ELEMENTSOF(changing_properties)] = {}, any = false;
        ExecProps a, b;

        if (e->subscribers) {
                exec_props(old, &a);
                exec_props(&e->record, &b);
                for (size_t i = 0; i < ELEMENTSOF(changing_properties); i++)
                        any = (changed[i] = property_changed(i, &a, &b)) || any;
                if (any)
                        send_to_subscribers(m, e, build_properties_changed, changed);
        }

        /* The terminal PropertiesChanged was the last signal: let go. */
        if (exec_state_is_terminal(e->record.state))
                forget_all(m, &e->subscribers);
}

/* ---- Output ---- */

typedef struct OutputArgs {
        const char *output_type;
        const char *json;
} OutputArgs;

static int build_output(Manager *m, ExecEntry *e, const void *arg, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        const OutputArgs *a = arg;
        char path[BUS_EXECUTION_PATH_MAX];
        int r;

        r = sd_bus_message_new_signal(m->bus, &msg, bus_execution_path(path, e->record.id), BUS_EXECUTION_INTERFACE,
                                      "Output");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "ss", a->output_type, a->json);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(msg);
        return 0;
}

void bus_execution_emit_output(Manager *m, const char *id, const char *type, json_t *data) {
        _cleanup_free_ char *text = NULL;
        OutputArgs a;
        ExecEntry *e;

        e = registry_get(m->registry, id);
        if (!e || !e->subscribers)
                return;

        /* An output item carries its own nbformat output_type; the other
         * events (update_display_data, clear_output) are named by theirs. */
        a.output_type = type;
        if (strcmp(type, "output") == 0) {
                const char *t = json_string_value(json_object_get(data, "output_type"));
                a.output_type = t ?: "stream";
        }
        /* JSON text escapes U+0000 and is UTF-8: a valid D-Bus string. */
        text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text) {
                log_oom();
                return;
        }
        a.json = text;
        send_to_subscribers(m, e, build_output, &a);
}

/* ---- methods ---- */

static int method_cancel(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ExecEntry *e = userdata;
        char id[EXEC_ID_LEN + 1];

        memcpy(id, e->record.id, sizeof(id));
        return bus_method_cancel_id(msg, registry_get_userdata(e->registry), id, error);
}

static void bus_on_outputs(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        _cleanup_free_ char *text = NULL;

        if (res->status != OPS_OK) {
                (void) bus_reply_ops_error(call, res);
                return;
        }
        text = res->outputs ? json_dumps(res->outputs, JSON_COMPACT) : strdup("[]");
        if (!text) {
                (void) sd_bus_reply_method_errorf(call, BUS_ERROR_UNAVAILABLE, "Out of memory.");
                return;
        }
        (void) sd_bus_reply_method_return(call, "s", text);
}

static void bus_on_subscribe_checked(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        const char *sender = sd_bus_message_get_sender(call);
        int r;

        if (res->status != OPS_OK) {
                (void) bus_reply_ops_error(call, res);
                return;
        }
        if (!res->entry) {
                (void) sd_bus_reply_method_errorf(call, BUS_ERROR_UNAVAILABLE, "Out of memory.");
                return;
        }
        if (res->via_manage)
                (void) bus_execution_add_viewer(m, res->entry, sender);
        r = bus_execution_subscribe(m, res->entry, sender);
        if (r < 0) {
                (void) sd_bus_reply_method_errorf(call, BUS_ERROR_UNAVAILABLE, "Cannot subscribe: %s", strerror(-r));
                return;
        }
        (void) sd_bus_reply_method_return(call, NULL);
}

/* GetOutputs() and Subscribe(): the same check as GetExecution(). */
static int method_with_get(sd_bus_message *msg, ExecEntry *e, OpsGetFlags flags, ops_callback_t callback,
                           sd_bus_error *error) {
        Manager *m = registry_get_userdata(e->registry);
        _cleanup_(caller_done) Caller caller = CALLER_INIT;
        char id[EXEC_ID_LEN + 1];
        int r;

        memcpy(id, e->record.id, sizeof(id));
        r = bus_caller_from_message(msg, &caller);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "Cannot tell who is calling: %s", strerror(-r));

        ops_get(m, &caller, id, flags, callback, sd_bus_message_ref(msg));
        return 1;
}

static int method_get_outputs(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_with_get(msg, userdata, OPS_GET_OUTPUTS, bus_on_outputs, error);
}

static int method_subscribe(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_with_get(msg, userdata, 0, bus_on_subscribe_checked, error);
}

static int method_unsubscribe(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ExecEntry *e = userdata;
        Manager *m = registry_get_userdata(e->registry);

        forget_name(m, &e->subscribers, sd_bus_message_get_sender(msg));
        return sd_bus_reply_method_return(msg, NULL);
}

#define PROPERTY(name, sig) SD_BUS_PROPERTY(name, sig, property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST)
#define PROPERTY_CHANGING(name, sig) SD_BUS_PROPERTY(name, sig, property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)

const sd_bus_vtable bus_execution_vtable[] = {
        SD_BUS_VTABLE_START(0),
        PROPERTY("Id", "s"),
        PROPERTY_CHANGING("State", "s"),
        PROPERTY("Owner", "u"),
        PROPERTY("CellId", "s"),
        PROPERTY("NotebookId", "s"),
        PROPERTY("ExecutionCount", "x"),
        PROPERTY("CreatedUSec", "t"),
        PROPERTY_CHANGING("StartedUSec", "t"),
        PROPERTY_CHANGING("FinishedUSec", "t"),
        PROPERTY_CHANGING("ExitCode", "i"),
        PROPERTY_CHANGING("Signal", "s"),
        PROPERTY_CHANGING("Error", "s"),
        PROPERTY_CHANGING("Truncated", "b"),
        PROPERTY_CHANGING("WallUSec", "t"),
        PROPERTY_CHANGING("CPUUsageNSec", "t"),
        PROPERTY_CHANGING("MemoryPeak", "t"),
        PROPERTY("TimeoutUSec", "t"),
        PROPERTY("MemoryMax", "t"),
        PROPERTY("CPUQuotaPerSecUSec", "t"),
        PROPERTY("TasksMax", "t"),
        PROPERTY("OutputMax", "t"),
        SD_BUS_METHOD("Cancel", NULL, NULL, method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetOutputs",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("s", json),
                                method_get_outputs, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Subscribe", NULL, NULL, method_subscribe, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Unsubscribe", NULL, NULL, method_unsubscribe, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Output", SD_BUS_ARGS("s", output_type, "s", json), 0),
        SD_BUS_VTABLE_END
};

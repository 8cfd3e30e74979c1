/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * /org/pyexecd/Executor1, interface org.pyexecd.Executor1.Manager, and
 * the set-up of the whole front end (name, objects, tracking).
 *
 * Methods that need polkit or Redis answer later: the handler keeps a
 * reference on the call (sd_bus_message_ref) as the operation's userdata,
 * returns 1 without replying, and the operation's callback replies.
 */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-frontend.h"
#include "config.h"
#include "shared/exec-id.h"
#include "shared/exec-request.h"
#include "shared/log.h"

/* ---- Execute ---- */

static void bus_on_executed(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        char path[BUS_EXECUTION_PATH_MAX];
        int r;

        if (res->status != OPS_OK) {
                (void) bus_reply_ops_error(call, res);
                return;
        }

        /* Before the reply leaves and before the execution can produce
         * anything: the submitter gets every signal. */
        if (res->entry) {
                r = bus_execution_subscribe(m, res->entry, sd_bus_message_get_sender(call));
                if (r < 0)
                        log_warning_errno(r, "Execution %s: cannot send its signals to %s: %m", res->id,
                                          sd_bus_message_get_sender(call));
        }

        r = sd_bus_reply_method_return(call, "so", res->id, bus_execution_path(path, res->id));
        if (r < 0)
                log_debug_errno(r, "Failed to answer Execute(): %m");
}

/* Options of Execute() and their D-Bus types (the contract's XML). */
static const struct {
        const char *name;
        const char *signature;
        bool limit;                     /* goes into the request's "limits" */
} execute_options[] = {
        { "cell_id",           "s", false },
        { "notebook_id",       "s", false },
        { "execution_count",   "x", false },
        { "stdin",             "s", false },
        { "timeout_sec",       "d", true  },
        { "memory_max",        "t", true  },
        { "cpu_quota_percent", "u", true  },
        { "tasks_max",         "t", true  },
        { "output_max",        "t", true  },
};

/*
 * Reads Execute()'s a{sv} into the JSON request of POST /execute, so that
 * both front ends validate with the same code and the same rules. On a bad
 * option, returns -EINVAL with an error set.
 */
static int read_execute_options(sd_bus_message *msg, json_t *request, json_t *limits, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;

        for (;;) {
                const char *name, *contents;
                json_t *value = NULL;
                size_t i;

                r = sd_bus_message_enter_container(msg, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                r = sd_bus_message_read(msg, "s", &name);
                if (r < 0)
                        return r;
                for (i = 0; i < ELEMENTSOF(execute_options); i++)
                        if (strcmp(name, execute_options[i].name) == 0)
                                break;
                if (i == ELEMENTSOF(execute_options))
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Unknown option \"%s\".", name);
                if (json_object_get(request, name) || json_object_get(limits, name))
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Option \"%s\" given twice.", name);

                r = sd_bus_message_peek_type(msg, NULL, &contents);
                if (r < 0)
                        return r;
                if (!contents || strcmp(contents, execute_options[i].signature) != 0)
                        return sd_bus_error_setf(error, execute_options[i].limit ? BUS_ERROR_INVALID_LIMITS
                                                                                : BUS_ERROR_INVALID_ARGUMENT,
                                                 "Option \"%s\" must be of D-Bus type \"%s\", not \"%s\".", name,
                                                 execute_options[i].signature, contents ?: "?");

                switch (execute_options[i].signature[0]) {
                case 's': {
                        const char *s;

                        r = sd_bus_message_read(msg, "v", "s", &s);
                        if (r >= 0)
                                value = json_string(s);
                        break;
                }
                case 'x': {
                        int64_t x;

                        r = sd_bus_message_read(msg, "v", "x", &x);
                        if (r >= 0)
                                value = json_integer(x);
                        break;
                }
                case 't': {
                        uint64_t t;

                        r = sd_bus_message_read(msg, "v", "t", &t);
                        if (r >= 0 && t > INT64_MAX)
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_LIMITS,
                                                         "Option \"%s\" is too large.", name);
                        if (r >= 0)
                                value = json_integer((json_int_t) t);
                        break;
                }
                case 'u': {
                        uint32_t u;

                        r = sd_bus_message_read(msg, "v", "u", &u);
                        if (r >= 0)
                                value = json_integer(u);
                        break;
                }
                case 'd': {
                        double d;

                        r = sd_bus_message_read(msg, "v", "d", &d);
                        /* JSON has no infinity or NaN (jansson refuses them). */
                        if (r >= 0 && !isfinite(d))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_LIMITS,
                                                         "Option \"%s\" must be a finite number.", name);
                        if (r >= 0)
                                value = json_real(d);
                        break;
                }
                }
                if (r < 0)
                        return r;
                if (!value)
                        return -ENOMEM;
                if (json_object_set_new(execute_options[i].limit ? limits : request, name, value) < 0)
                        return -ENOMEM;

                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }

        return sd_bus_message_exit_container(msg);
}

static int method_execute(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_(exec_request_done) ExecRequest er = {};
        _cleanup_(caller_done) Caller caller = CALLER_INIT;
        _cleanup_(json_decrefp) json_t *request = NULL, *limits = NULL;
        _cleanup_free_ char *text = NULL, *message = NULL;
        Limits parsed;
        const char *code;
        int r;

        r = sd_bus_message_read(msg, "s", &code);
        if (r < 0)
                return r;

        request = json_pack("{s:s}", "code", code);
        limits = json_object();
        if (!request || !limits)
                return -ENOMEM;
        r = read_execute_options(msg, request, limits, error);
        if (r < 0)
                return r;

        /* The limits first: their errors have a name of their own. */
        r = limits_from_json(limits, &m->config.limits_default, &m->config.limits_max, &parsed, &message);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_LIMITS, "%s", message ?: "Invalid limits.");

        text = json_dumps(request, JSON_COMPACT);
        if (!text)
                return -ENOMEM;
        r = exec_request_parse(text, strlen(text), &m->config.limits_default, &m->config.limits_max, &er, &message);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", message ?: "Invalid request.");
        er.limits = parsed;

        r = bus_caller_from_message(msg, &caller);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "Cannot tell who is calling: %s", strerror(-r));

        ops_execute(m, &caller, &er, bus_on_executed, sd_bus_message_ref(msg));
        return 1;
}

/* ---- GetExecution ---- */

static void bus_on_got_execution(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        char path[BUS_EXECUTION_PATH_MAX];
        int r;

        if (res->status != OPS_OK) {
                (void) bus_reply_ops_error(call, res);
                return;
        }
        if (res->via_manage && res->entry) {
                r = bus_execution_add_viewer(m, res->entry, sd_bus_message_get_sender(call));
                if (r < 0)
                        log_debug_errno(r, "Cannot show execution %s to %s: %m", res->id,
                                        sd_bus_message_get_sender(call));
        }
        (void) sd_bus_reply_method_return(call, "o", bus_execution_path(path, res->id));
}

static int method_get_execution(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_(caller_done) Caller caller = CALLER_INIT;
        const char *id;
        int r;

        r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        r = bus_caller_from_message(msg, &caller);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "Cannot tell who is calling: %s", strerror(-r));

        ops_get(m, &caller, id, 0, bus_on_got_execution, sd_bus_message_ref(msg));
        return 1;
}

/* ---- ListExecutions ---- */

static void bus_on_listed(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *sender = sd_bus_message_get_sender(call);
        int r;

        if (res->status != OPS_OK) {
                (void) bus_reply_ops_error(call, res);
                return;
        }

        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssotu)");
        for (size_t i = 0; r >= 0 && i < res->n_records; i++) {
                const ExecRecord *rec = &res->records[i];
                char path[BUS_EXECUTION_PATH_MAX];

                r = sd_bus_message_append(reply, "(ssotu)", rec->id, exec_state_to_string(rec->state),
                                          bus_execution_path(path, rec->id), rec->created_usec,
                                          (uint32_t) (exec_record_owner_kind(rec) == EXEC_OWNER_UID ? rec->owner_uid
                                                                                                  : UINT32_MAX));
                if (r >= 0 && res->via_manage) {
                        ExecEntry *e = registry_get(m->registry, rec->id);
                        if (e)
                                (void) bus_execution_add_viewer(m, e, sender);
                }
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0) {
                log_warning_errno(r, "Failed to answer ListExecutions(): %m");
                (void) sd_bus_reply_method_errorf(call, BUS_ERROR_UNAVAILABLE, "Failed to build the list: %s",
                                                  strerror(-r));
        }
}

static int method_list_executions(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_(caller_done) Caller caller = CALLER_INIT;
        int r;

        r = bus_caller_from_message(msg, &caller);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "Cannot tell who is calling: %s", strerror(-r));

        ops_list(m, &caller, bus_on_listed, sd_bus_message_ref(msg));
        return 1;
}

/* ---- Cancel ---- */

static void bus_on_cancelled(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;

        if (res->status != OPS_OK)
                (void) bus_reply_ops_error(call, res);
        else
                (void) sd_bus_reply_method_return(call, NULL);
}

int bus_method_cancel_id(sd_bus_message *msg, Manager *m, const char *id, sd_bus_error *error) {
        _cleanup_(caller_done) Caller caller = CALLER_INIT;
        int r;

        r = bus_caller_from_message(msg, &caller);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "Cannot tell who is calling: %s", strerror(-r));

        ops_cancel(m, &caller, id, bus_on_cancelled, sd_bus_message_ref(msg));
        return 1;
}

static int method_cancel(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *id;
        int r;

        r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        return bus_method_cancel_id(msg, userdata, id, error);
}

/* ---- GetQueueStatus ---- */

static void bus_on_queue_status(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;

        if (res->status != OPS_OK)
                (void) bus_reply_ops_error(call, res);
        else
                (void) sd_bus_reply_method_return(call, "ttuu", res->queued, res->running,
                                                  (uint32_t) m->config.max_concurrent,
                                                  (uint32_t) m->config.max_queued);
}

static int method_get_queue_status(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        ops_queue_status(m, bus_on_queue_status, sd_bus_message_ref(msg));
        return 1;
}

/* ---- properties ---- */

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_node(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return sd_bus_message_append(reply, "s", m->node);
}

static int property_get_max(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return sd_bus_message_append(reply, "u",
                                     (uint32_t) (strcmp(property, "MaxConcurrent") == 0 ? m->config.max_concurrent
                                                                                       : m->config.max_queued));
}

const sd_bus_vtable bus_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Node", "s", property_get_node, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MaxConcurrent", "u", property_get_max, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MaxQueued", "u", property_get_max, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Execute",
                                SD_BUS_ARGS("s", code, "a{sv}", options),
                                SD_BUS_RESULT("s", id, "o", execution),
                                method_execute, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetExecution",
                                SD_BUS_ARGS("s", id),
                                SD_BUS_RESULT("o", execution),
                                method_get_execution, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListExecutions",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(ssotu)", executions),
                                method_list_executions, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Cancel",
                                SD_BUS_ARGS("s", id),
                                SD_BUS_NO_RESULT,
                                method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetQueueStatus",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("t", queued, "t", running, "u", max_concurrent, "u", max_queued),
                                method_get_queue_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* ---- set-up ---- */

static int bus_on_name_acquired(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const sd_bus_error *e;
        uint32_t answer = 0;
        int r;

        m->bus_name_slot = sd_bus_slot_unref(m->bus_name_slot);

        e = sd_bus_message_get_error(reply);
        if (e) {
                r = sd_bus_error_get_errno(e);
                log_error_errno(r, "Failed to acquire the bus name %s: %s", BUS_NAME, e->message ?: e->name);
                m->exit_code = r < 0 ? r : -r;
                return sd_event_exit(m->event, m->exit_code ?: -EIO);
        }

        /* With flags 0, anything but "primary owner" means the name is
         * someone else's (1 = primary owner, 4 = already ours). */
        r = sd_bus_message_read(reply, "u", &answer);
        if (r < 0 || (answer != 1 && answer != 4)) {
                log_error("Failed to acquire the bus name %s: another process owns it (answer %u).", BUS_NAME,
                          (unsigned) answer);
                m->exit_code = -EEXIST;
                return sd_event_exit(m->event, -EEXIST);
        }

        log_debug("Acquired the bus name %s.", BUS_NAME);
        m->bus_name_acquired = true;
        manager_ready(m);
        return 0;
}

int bus_frontend_start(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, &m->bus_manager_slot, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE,
                                     bus_manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to publish %s: %m", BUS_MANAGER_PATH);

        r = sd_bus_add_fallback_vtable(m->bus, &m->bus_execution_slot, BUS_EXECUTION_PREFIX,
                                       BUS_EXECUTION_INTERFACE, bus_execution_vtable, bus_execution_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to publish the execution objects: %m");

        r = sd_bus_add_node_enumerator(m->bus, &m->bus_enumerator_slot, BUS_EXECUTION_PREFIX,
                                       bus_execution_enumerate, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the execution node enumerator: %m");

        /* Recursive: a name counts once per execution it subscribes to
         * or sees; one match rule per name however many. */
        r = sd_bus_track_new(m->bus, &m->bus_peers, NULL, NULL);
        if (r >= 0)
                r = sd_bus_track_set_recursive(m->bus_peers, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set up tracking of bus clients: %m");

        /* Without flags: if the name is taken, fail rather than queue. */
        r = sd_bus_request_name_async(m->bus, &m->bus_name_slot, BUS_NAME, 0, bus_on_name_acquired, m);
        if (r < 0)
                return log_error_errno(r, "Failed to request the bus name %s: %m", BUS_NAME);

        return 0;
}

void bus_frontend_release_name(Manager *m) {
        int r;

        m->bus_name_slot = sd_bus_slot_unref(m->bus_name_slot);
        if (!m->bus_name_acquired)
                return;
        m->bus_name_acquired = false;
        r = sd_bus_release_name_async(m->bus, NULL, BUS_NAME, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to release the bus name %s: %m", BUS_NAME);
}

void bus_frontend_done(Manager *m) {
        m->bus_name_slot = sd_bus_slot_unref(m->bus_name_slot);
        m->bus_manager_slot = sd_bus_slot_unref(m->bus_manager_slot);
        m->bus_execution_slot = sd_bus_slot_unref(m->bus_execution_slot);
        m->bus_enumerator_slot = sd_bus_slot_unref(m->bus_enumerator_slot);
        m->bus_peers = sd_bus_track_unref(m->bus_peers);
}

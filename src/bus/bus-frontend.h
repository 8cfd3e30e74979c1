/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The D-Bus front end (DESIGN.md "D-Bus API", dbus/org.pyexecd.Executor1.xml):
 * the bus name org.pyexecd.Executor1 on the system bus, the Manager object
 * (bus-manager.c) and one Execution object per execution the caller may see
 * (bus-execution.c), all on the manager's sd-event loop. Like the HTTP API
 * it only translates: the operations and their authorisation are the
 * shared ones of daemon/ops.h.
 *
 * Per-execution signals (Output, PropertiesChanged) are never broadcast: a
 * broadcast reaches every client of the system bus. They are unicast
 * (sd_bus_send_to) to the execution's subscribers: the Execute caller and
 * clients that called Subscribe(). Subscribers that leave the bus are
 * forgotten (sd_bus_track). For the same reason there is no
 * org.freedesktop.DBus.ObjectManager: its InterfacesAdded would announce
 * every user's executions to everybody.
 *
 * Execution objects exist for a caller only if it may see them: its own
 * (by uid), all for root, and those it was granted through
 * org.pyexecd.manage by GetExecution, ListExecutions or Subscribe. sd-bus
 * looks objects up synchronously, so this is decided from the registry
 * (daemon/registry.h) without asking polkit or Redis.
 */

#include <jansson.h>
#include <systemd/sd-bus.h>

#include "daemon/manager.h"

#define BUS_NAME "org.pyexecd.Executor1"
#define BUS_MANAGER_PATH "/org/pyexecd/Executor1"
#define BUS_MANAGER_INTERFACE "org.pyexecd.Executor1.Manager"
#define BUS_EXECUTION_PREFIX "/org/pyexecd/Executor1/execution"
#define BUS_EXECUTION_INTERFACE "org.pyexecd.Executor1.Execution"

#define BUS_ERROR_NOT_FOUND "org.pyexecd.Executor1.Error.NotFound"
#define BUS_ERROR_QUEUE_FULL "org.pyexecd.Executor1.Error.QueueFull"
#define BUS_ERROR_INVALID_LIMITS "org.pyexecd.Executor1.Error.InvalidLimits"
#define BUS_ERROR_INVALID_ARGUMENT "org.pyexecd.Executor1.Error.InvalidArgument"
#define BUS_ERROR_WRONG_STATE "org.pyexecd.Executor1.Error.WrongState"
#define BUS_ERROR_ACCESS_DENIED "org.pyexecd.Executor1.Error.AccessDenied"
#define BUS_ERROR_UNAVAILABLE "org.pyexecd.Executor1.Error.Unavailable"

/*
 * Publishes the objects on m->bus and asks for the bus name; once it is
 * ours, manager_ready() sends READY=1. If the name cannot be had (another
 * daemon owns it, the bus policy refuses), the loop exits with an error.
 */
int bus_frontend_start(Manager *m);

/* Gives the name back (shutdown): a client that calls now starts the next
 * daemon through bus activation. */
void bus_frontend_release_name(Manager *m);

/* Drops the objects and the tracking (before the bus goes). */
void bus_frontend_done(Manager *m);

/* ---- bus-common.c ---- */

/* The caller of @msg: its unique name and effective uid (from the bus, not
 * from /proc: augmented credentials are refused), and whether it allows
 * interactive authorisation. Returns 0 or a negative errno. */
int bus_caller_from_message(sd_bus_message *msg, Caller *ret);

/* Answers @call with the named error of @res. */
int bus_reply_ops_error(sd_bus_message *call, const OpsResult *res);

/* "/org/pyexecd/Executor1/execution/<id>" into @buf. */
#define BUS_EXECUTION_PATH_MAX (sizeof(BUS_EXECUTION_PREFIX "/") + EXEC_ID_LEN)
char *bus_execution_path(char buf[static BUS_EXECUTION_PATH_MAX], const char *id);

/* The id in an execution object path, or NULL. */
const char *bus_execution_id_from_path(const char *path);

/* ---- bus-manager.c ---- */

extern const sd_bus_vtable bus_manager_vtable[];

/* Cancel(id) for the caller of @msg, answering @msg later (also serves Execution.Cancel()). */
int bus_method_cancel_id(sd_bus_message *msg, Manager *m, const char *id, sd_bus_error *error);

/* ---- bus-execution.c ---- */

extern const sd_bus_vtable bus_execution_vtable[];
int bus_execution_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                       sd_bus_error *error);
int bus_execution_enumerate(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes, sd_bus_error *error);

/* @name (a unique name) gets @e's signals from now on. Returns 0 or a negative errno. */
int bus_execution_subscribe(Manager *m, ExecEntry *e, const char *name);
/* @name may see @e's object (it holds org.pyexecd.manage). */
int bus_execution_add_viewer(Manager *m, ExecEntry *e, const char *name);

/* Sends one output event of execution @id to its subscribers as Output(s,s). */
void bus_execution_emit_output(Manager *m, const char *id, const char *type, json_t *data);

/* Registry handlers (daemon/registry.h): PropertiesChanged to the
 * subscribers; forgetting an entry's names. @userdata is the Manager. */
void bus_execution_on_changed(ExecEntry *e, const ExecRecord *old, void *userdata);
void bus_execution_on_removed(ExecEntry *e, void *userdata);

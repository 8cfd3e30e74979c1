/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The service's names (dbus/org.pyexecd.Executor1.xml) and sd-bus helpers. */

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "shared/macro.h"

#define PYEXECD_BUS_NAME "org.pyexecd.Executor1"
#define PYEXECD_MANAGER_PATH "/org/pyexecd/Executor1"
#define PYEXECD_MANAGER_INTERFACE "org.pyexecd.Executor1.Manager"
#define PYEXECD_EXECUTION_INTERFACE "org.pyexecd.Executor1.Execution"
#define PYEXECD_EXECUTION_PATH_PREFIX "/org/pyexecd/Executor1/execution"
#define PYEXECD_ERROR_PREFIX "org.pyexecd.Executor1.Error."

#define POLKIT_ACTION_EXECUTE "org.pyexecd.execute"
#define POLKIT_ACTION_MANAGE "org.pyexecd.manage"


/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS if set). Logs failures. */
int bus_connect(sd_bus **ret);

/*
 * A method call on the service. With @interactive, the call carries
 * ALLOW_INTERACTIVE_AUTHORIZATION, so polkit may ask the user (through
 * an agent) instead of refusing.
 */
int bus_message_new_call(sd_bus *bus, sd_bus_message **ret, const char *path, const char *interface,
                         const char *member, bool interactive);

/*
 * The text that explains a failed call, for "Failed to …: %s": the
 * service's own message, else one for the error's name, else strerror.
 * @action is the polkit action the call needed, named when access was
 * denied without a message. Returns a static or @error-owned string.
 */
const char *bus_error_text(const sd_bus_error *error, int r, const char *action, char *buf, size_t size);

/* Logs "Failed to @what: <bus_error_text>." and returns a negative errno. */
int log_bus_error(const sd_bus_error *error, int r, const char *action, const char *what);


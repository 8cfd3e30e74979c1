/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyexecctl/bus-util.h"
#include "shared/log.h"

/* Named errors of the contract, with an errno (so sd_bus_error_get_errno()
 * tells them apart) and what to say when the service gave no message. */
static const struct {
        const char *name;
        int error;
        const char *text;
} bus_errors[] = {
        { PYEXECD_ERROR_PREFIX "NotFound", ENOENT, "No such execution" },
        { PYEXECD_ERROR_PREFIX "QueueFull", EBUSY, "The queue is full, try again later" },
        { PYEXECD_ERROR_PREFIX "InvalidLimits", EINVAL, "Invalid limits" },
        { PYEXECD_ERROR_PREFIX "InvalidArgument", EINVAL, "Invalid argument" },
        { PYEXECD_ERROR_PREFIX "WrongState", EALREADY, "The execution is not in a state that allows this" },
        { PYEXECD_ERROR_PREFIX "AccessDenied", EACCES, "Access denied" },
        { PYEXECD_ERROR_PREFIX "Unavailable", EHOSTDOWN, "The service is unavailable (Redis or systemd down?)" },
        { SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, EACCES, "Interactive authorisation required" },
        { SD_BUS_ERROR_ACCESS_DENIED, EACCES, "Access denied" },
        { SD_BUS_ERROR_SERVICE_UNKNOWN, EHOSTDOWN, "pyexecd is not available on the system bus (is it installed?)" },
        { SD_BUS_ERROR_NAME_HAS_NO_OWNER, EHOSTDOWN, "pyexecd is not running" },
        { SD_BUS_ERROR_NO_REPLY, ETIMEDOUT, "pyexecd did not answer in time" },
        { SD_BUS_ERROR_TIMEOUT, ETIMEDOUT, "pyexecd did not answer in time" },
        { SD_BUS_ERROR_UNKNOWN_OBJECT, ENOENT, "No such execution" },
        { SD_BUS_ERROR_UNKNOWN_METHOD, EOPNOTSUPP, "The service does not know this call (another version?)" },
};

static const sd_bus_error_map bus_error_map[] = {
        SD_BUS_ERROR_MAP(PYEXECD_ERROR_PREFIX "NotFound", ENOENT),
        SD_BUS_ERROR_MAP(PYEXECD_ERROR_PREFIX "QueueFull", EBUSY),
        SD_BUS_ERROR_MAP(PYEXECD_ERROR_PREFIX "InvalidLimits", EINVAL),
        SD_BUS_ERROR_MAP(PYEXECD_ERROR_PREFIX "InvalidArgument", EINVAL),
        SD_BUS_ERROR_MAP(PYEXECD_ERROR_PREFIX "WrongState", EALREADY),
        SD_BUS_ERROR_MAP(PYEXECD_ERROR_PREFIX "AccessDenied", EACCES),
        SD_BUS_ERROR_MAP(PYEXECD_ERROR_PREFIX "Unavailable", EHOSTDOWN),
        SD_BUS_ERROR_MAP_END
};

int bus_connect(sd_bus **ret) {
        int r;

        /* Adding the same map twice is harmless: sd-bus keeps it once. */
        r = sd_bus_error_add_map(bus_error_map);
        if (r < 0)
                return log_error_errno(r, "Failed to register D-Bus error names: %m");

        r = sd_bus_open_system(ret);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        return 0;
}

int bus_message_new_call(sd_bus *bus, sd_bus_message **ret, const char *path, const char *interface,
                         const char *member, bool interactive) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, PYEXECD_BUS_NAME, path, interface, member);
        if (r < 0)
                return r;
        r = sd_bus_message_set_allow_interactive_authorization(m, interactive);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

const char *bus_error_text(const sd_bus_error *error, int r, const char *action, char *buf, size_t size) {
        const char *name = error ? error->name : NULL;
        const char *message = error ? error->message : NULL;
        bool denied;

        if (!name) {
                (void) snprintf(buf, size, "%s", strerror(r < 0 ? -r : r));
                return buf;
        }

        denied = strcmp(name, PYEXECD_ERROR_PREFIX "AccessDenied") == 0 ||
                strcmp(name, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED) == 0 ||
                strcmp(name, SD_BUS_ERROR_ACCESS_DENIED) == 0;

        for (size_t i = 0; i < ELEMENTSOF(bus_errors); i++) {
                if (strcmp(name, bus_errors[i].name) != 0)
                        continue;
                /* The service's message says more (which limit, which state), unless it is
                 * the bus daemon's long-winded one for a missing service. */
                if (message && *message && strcmp(name, SD_BUS_ERROR_SERVICE_UNKNOWN) != 0)
                        break;
                message = bus_errors[i].text;
                break;
        }
        if (!message || !*message)
                message = name;

        /* Say which polkit action was refused, as polkit's own tools do. */
        if (denied && action && !strstr(message, "org.pyexecd.")) {
                size_t n = strlen(message);
                while (n > 0 && message[n - 1] == '.')
                        n--;
                (void) snprintf(buf, size, "%.*s (%s)", (int) n, message, action);
                return buf;
        }
        return message;
}

int log_bus_error(const sd_bus_error *error, int r, const char *action, const char *what) {
        char buf[512];
        const char *text = bus_error_text(error, r, action, buf, sizeof(buf));
        size_t n = strlen(text);
        bool stop = n > 0 && strchr(".!?", text[n - 1]);

        return log_error_errno(r < 0 ? r : EIO, "Failed to %s: %s%s", what, text, stop ? "" : ".");
}

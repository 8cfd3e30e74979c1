/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-frontend.h"
#include "shared/exec-id.h"

int bus_caller_from_message(sd_bus_message *msg, Caller *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *sender;
        uid_t euid;
        int r;

        sender = sd_bus_message_get_sender(msg);
        if (!sender || sender[0] != ':')
                return -EBADMSG;

        /* On dbus-daemon this asks the bus (GetConnectionCredentials): its
         * UnixUserID is the uid the peer connected with. Values sd-bus
         * would add from /proc ("augmented") could belong to another
         * process by now, and are not trusted (as systemd's
         * check_good_user() does not). */
        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        if (sd_bus_creds_get_augmented_mask(creds) & SD_BUS_CREDS_EUID)
                return -EPERM;
        r = sd_bus_creds_get_euid(creds, &euid);
        if (r < 0)
                return r;

        *ret = (Caller) CALLER_INIT;
        ret->kind = CALLER_BUS;
        ret->uid = euid;
        ret->interactive = sd_bus_message_get_allow_interactive_authorization(msg) > 0;
        ret->bus_name = strdup(sender);
        if (!ret->bus_name)
                return -ENOMEM;
        return 0;
}

int bus_reply_ops_error(sd_bus_message *call, const OpsResult *res) {
        static const char *const names[_OPS_STATUS_MAX] = {
                [OPS_NOT_FOUND] = BUS_ERROR_NOT_FOUND,
                [OPS_QUEUE_FULL] = BUS_ERROR_QUEUE_FULL,
                [OPS_INVALID_LIMITS] = BUS_ERROR_INVALID_LIMITS,
                [OPS_INVALID_ARGUMENT] = BUS_ERROR_INVALID_ARGUMENT,
                [OPS_WRONG_STATE] = BUS_ERROR_WRONG_STATE,
                [OPS_ACCESS_DENIED] = BUS_ERROR_ACCESS_DENIED,
                [OPS_INTERACTIVE_REQUIRED] = SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                [OPS_UNAVAILABLE] = BUS_ERROR_UNAVAILABLE,
                /* Whatever went wrong inside, the service cannot do it now. */
                [OPS_INTERNAL] = BUS_ERROR_UNAVAILABLE,
        };
        const char *name = NULL;

        if (res->status > OPS_OK && res->status < _OPS_STATUS_MAX)
                name = names[res->status];
        return sd_bus_reply_method_errorf(call, name ?: BUS_ERROR_UNAVAILABLE, "%s",
                                          res->message ?: "The operation failed.");
}

char *bus_execution_path(char buf[static BUS_EXECUTION_PATH_MAX], const char *id) {
        (void) snprintf(buf, BUS_EXECUTION_PATH_MAX, BUS_EXECUTION_PREFIX "/%s", id);
        return buf;
}

const char *bus_execution_id_from_path(const char *path) {
        size_t n = strlen(BUS_EXECUTION_PREFIX "/");

        if (strncmp(path, BUS_EXECUTION_PREFIX "/", n) != 0)
                return NULL;
        if (!exec_id_is_valid(path + n))
                return NULL;
        return path + n;
}

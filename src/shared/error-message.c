/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>

#include "shared/error-message.h"

int error_message_setv(char **ret_message, int error, const char *format, va_list ap) {
        if (!ret_message)
                return error;
        if (vasprintf(ret_message, format, ap) < 0) {
                *ret_message = NULL;
                return -ENOMEM;
        }
        return error;
}

int error_message_set(char **ret_message, int error, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = error_message_setv(ret_message, error, format, ap);
        va_end(ap);
        return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>

#include "shared/macro.h"

/*
 * For functions that report a failure as a negative errno plus a message for
 * the user (src/shared never logs): formats the message into *@ret_message
 * (malloc'd; the caller frees) when @ret_message is not NULL, and returns
 * @error — or -ENOMEM if the message cannot be allocated.
 */
int error_message_set(char **ret_message, int error, const char *format, ...) _printf_(3, 4);
int error_message_setv(char **ret_message, int error, const char *format, va_list ap) _printf_(3, 0);

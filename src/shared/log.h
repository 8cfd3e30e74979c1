/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Logging to stderr. Under systemd (stderr connected to the journal, as
 * $JOURNAL_STREAM says) each line carries a "<N>" syslog priority prefix,
 * which journald turns into the entry's PRIORITY=; otherwise lines are plain.
 *
 * The *_errno variants take a negative (or positive) errno value, make it
 * available to "%m" in the format, and return it negative, so that
 *         return log_error_errno(r, "Failed to frobnicate: %m");
 * logs and propagates in one statement, as systemd's code does. Code under
 * src/shared/ never logs: it returns negative errno values to its callers.
 */

#include <stdbool.h>
#include <syslog.h>

#include "shared/macro.h"

/* Sets the maximum priority that is printed (LOG_DEBUG prints everything). */
void log_set_max_level(int level);
int log_get_max_level(void);

/* Reads $JOURNAL_STREAM and decides whether to print "<N>" prefixes. */
void log_open(void);

/* Logs at @level; @error is an errno value (sign ignored) for "%m", or 0.
 * Returns -abs(error) (or 0 when @error is 0). */
int log_internal(int level, int error, const char *file, int line, const char *format, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

/* For allocation failures: logs and returns -ENOMEM. */
#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")

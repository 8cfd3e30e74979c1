/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Human-readable figures the way systemctl shows them: sizes ("45.6M"),
 * time spans ("1.503s", "2min 3.000s"), timestamps ("Sun 2026-11-29
 * 22:30:00 UTC", local time) and how long ago ("5s ago"). Each returns
 * @buf; a value that does not fit is cut (the buffers below are enough).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FORMAT_BYTES_MAX 16
#define FORMAT_TIMESPAN_MAX 64
#define FORMAT_TIMESTAMP_MAX 64

/* Bytes, base 1024: "512B", "1.0K", "45.6M", "4.0G". */
char *format_bytes(char *buf, size_t size, uint64_t bytes);

/* µs in the largest fitting units: "0", "250us", "12ms", "1.5s", "30s", "2min 3.5s", "1h 2min 3s". */
char *format_timespan(char *buf, size_t size, uint64_t usec);

/* µs since the epoch in local time, "Sun 2026-11-29 22:30:00 UTC"; "n/a" for 0. */
char *format_timestamp(char *buf, size_t size, uint64_t usec);

/* How long before @now_usec @usec was: "5s ago", "3min 2s ago", "1 day 2h ago". */
char *format_timestamp_relative(char *buf, size_t size, uint64_t usec, uint64_t now_usec);

/* A copy of @s fit for a terminal: control characters (escape sequences a
 * user could put into a cell id or an error text) become "\xNN", a
 * backslash "\\". Returns NULL on ENOMEM. */
char *cescape(const char *s);

/* ANSI colours: only when @enabled (see colors_enabled()), else "". */
const char *ansi_highlight_red(bool enabled);
const char *ansi_highlight_green(bool enabled);
const char *ansi_highlight_yellow(bool enabled);
const char *ansi_highlight(bool enabled);
const char *ansi_normal(bool enabled);

/* Whether stdout is a terminal that takes colours ($NO_COLOR unset, $TERM not "dumb").
 * Ask before starting the pager, which takes stdout over. */
bool colors_enabled(void);

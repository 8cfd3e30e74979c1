/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The clock's current value in µs. */
uint64_t now_usec(clockid_t clock);

#define RFC3339_MAX sizeof("2026-11-29T20:43:32.123456Z")

/* Formats µs since the epoch as RFC 3339 UTC with microseconds, e.g.
 * "2026-11-29T20:43:32.123456Z". Returns @buf, or NULL if it does not fit. */
char *format_rfc3339(char *buf, size_t size, uint64_t usec);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Resource limits of one execution, in the units systemd uses for the
 * matching scope properties, and their parsing from configuration strings
 * and from the "limits" object of a POST /execute request.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Limits {
        uint64_t timeout_usec;              /* wall-clock limit, µs (RuntimeMaxUSec is this plus a grace) */
        uint64_t memory_max;                /* bytes; scope MemoryMax= */
        uint64_t cpu_quota_per_sec_usec;    /* CPU µs per wall-clock second: 1000000 = one CPU; scope CPUQuotaPerSecUSec= */
        uint64_t tasks_max;                 /* processes + threads; scope TasksMax= */
        uint64_t output_max;                /* bytes of output text and data (UTF-8, base64 included) */
        uint64_t file_size_max;             /* bytes; RLIMIT_FSIZE of the payload (configuration only) */
} Limits;

/* The smallest memory_max (bytes), tasks_max and output_max (bytes) a request may ask for. */
#define LIMITS_MEMORY_MIN (UINT64_C(32) * 1024 * 1024)
#define LIMITS_TASKS_MIN UINT64_C(8)
#define LIMITS_OUTPUT_MIN UINT64_C(1024)

/* Built-in defaults and maxima (DESIGN.md "Configuration"). @ncpus scales the CPUQuota maximum
 * (0 counts as 1). Requests cannot set file_size_max, so its maximum is UINT64_MAX. */
void limits_default(Limits *ret);
void limits_maximum(Limits *ret, unsigned ncpus);

/*
 * Parses the request's "limits" object: keys "timeout_sec" (number > 0),
 * "memory_max" (integer bytes > 0), "cpu_quota_percent" (integer > 0),
 * "tasks_max" (integer > 0), "output_max" (integer bytes > 0). Absent keys
 * take @defaults. A value above @maxima, a wrong type, a value <= 0 or an
 * unknown key fails. @object may be NULL (all defaults).
 *
 * Returns 0 and fills @ret, or -EINVAL with a human-readable message in
 * @ret_message (malloc'd, the caller frees) that names the field.
 */
int limits_from_json(const json_t *object, const Limits *defaults, const Limits *maxima,
                     Limits *ret, char **ret_message);

/*
 * Checks limits that did not come through limits_from_json() (read back from
 * Redis, where anyone who can write to it could have put them): each
 * request-visible limit must be at least its minimum and at most @maxima's.
 * Returns 0, or -EINVAL with a message naming the limit in @ret_message.
 */
int limits_verify(const Limits *l, const Limits *maxima, char **ret_message);

/* Returns a new object with the request-visible limits:
 * {"timeout_sec","memory_max","cpu_quota_percent","tasks_max","output_max"}. NULL on ENOMEM. */
json_t *limits_to_json(const Limits *l);

/*
 * Configuration value parsers, systemd syntax:
 *  parse_size():    "512M", "4G", "1024", "16K", "1.5G", "100B" (base 1024; K M G T P E,
 *                   upper case; fractions round down), "infinity" is refused → bytes
 *  parse_sec():     "30", "30s", "500ms", "2min", "1h", "1.5s", "1d", "1min 30s" (systemd.time(7)
 *                   units; a bare number is seconds), "infinity" is refused → µs
 *  parse_percent(): "100%" → 100; also "250%"; the "%" is required, fractions are refused
 *  parse_unsigned(): decimal digits only, no sign → unsigned
 * No surrounding whitespace. All return 0 or -EINVAL (-ERANGE on overflow).
 */
int parse_size(const char *s, uint64_t *ret);
int parse_sec(const char *s, uint64_t *ret_usec);
int parse_percent(const char *s, unsigned *ret);
int parse_unsigned(const char *s, unsigned *ret);

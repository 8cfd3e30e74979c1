/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shared/error-message.h"
#include "shared/limits.h"
#include "shared/macro.h"

/* Not <limits.h>: meson puts src/shared/ on the include path, where that
 * name is this module's header. Hence (unsigned) -1 for UINT_MAX below. */

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/* CPUQuotaPerSecUSec for 1%: one CPU is 100% = 1000000 µs per second. */
#define CPU_USEC_PER_PERCENT UINT64_C(10000)

void limits_default(Limits *ret) {
        *ret = (Limits) {
                .timeout_usec = 30 * USEC_PER_SEC,
                .memory_max = 512 * MIB,
                .cpu_quota_per_sec_usec = 100 * CPU_USEC_PER_PERCENT,
                .tasks_max = 64,
                .output_max = 1 * MIB,
                .file_size_max = 16 * MIB,
        };
}

void limits_maximum(Limits *ret, unsigned ncpus) {
        *ret = (Limits) {
                .timeout_usec = 300 * USEC_PER_SEC,
                .memory_max = 4 * GIB,
                .cpu_quota_per_sec_usec = (uint64_t) MAX(ncpus, 1u) * 100 * CPU_USEC_PER_PERCENT,
                .tasks_max = 512,
                .output_max = 16 * MIB,
                /* Requests cannot set FileSizeMax=, so nothing caps the
                 * configured value. */
                .file_size_max = UINT64_MAX,
        };
}

typedef enum LimitKind {
        LIMIT_SECONDS,          /* JSON number of seconds, stored as µs */
        LIMIT_BYTES,            /* JSON integer, stored as is */
        LIMIT_PERCENT,          /* JSON integer percent, stored as CPU µs per second */
        LIMIT_COUNT,            /* JSON integer, stored as is */
} LimitKind;

typedef struct LimitField {
        const char *name;       /* key in the request's "limits" object */
        const char *max_key;    /* configuration key that sets the maximum */
        size_t offset;          /* of the uint64_t in Limits */
        LimitKind kind;
        uint64_t min;           /* smallest value that can run at all, in the request's unit */
} LimitField;

/* The minima: below 32 MiB the interpreter and the sandbox's tmpfs pages do
 * not fit (the OOM killer would end the supervisor's work before the
 * payload starts); the supervisor, the sandbox's init and the interpreter
 * are 3 tasks before the code starts a thread; and the output limit notice
 * itself is about 100 bytes. */
static const LimitField limit_fields[] = {
        { "timeout_sec",       "MaxTimeoutSec=", offsetof(Limits, timeout_usec),           LIMIT_SECONDS, 0 },
        { "memory_max",        "MaxMemoryMax=",  offsetof(Limits, memory_max),             LIMIT_BYTES,   LIMITS_MEMORY_MIN },
        { "cpu_quota_percent", "MaxCPUQuota=",   offsetof(Limits, cpu_quota_per_sec_usec), LIMIT_PERCENT, 1 },
        { "tasks_max",         "MaxTasksMax=",   offsetof(Limits, tasks_max),              LIMIT_COUNT,   LIMITS_TASKS_MIN },
        { "output_max",        "MaxOutputMax=",  offsetof(Limits, output_max),             LIMIT_BYTES,   LIMITS_OUTPUT_MIN },
};

static uint64_t *limit_field_ptr(Limits *l, const LimitField *f) {
        return (uint64_t *) ((uint8_t *) l + f->offset);
}

static uint64_t limit_field_get(const Limits *l, const LimitField *f) {
        return *(const uint64_t *) ((const uint8_t *) l + f->offset);
}

static const char *json_type_describe(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a fractional number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
        default:
                return "null";
        }
}

/* Formats @value of @f as the request states it (seconds, percent, …). */
static void limit_format_value(const LimitField *f, uint64_t value, char *buf, size_t size) {
        switch (f->kind) {
        case LIMIT_SECONDS:
                (void) snprintf(buf, size, "%.15g", (double) value / (double) USEC_PER_SEC);
                break;
        case LIMIT_PERCENT:
                (void) snprintf(buf, size, "%" PRIu64, value / CPU_USEC_PER_PERCENT);
                break;
        default:
                (void) snprintf(buf, size, "%" PRIu64, value);
        }
}


static int limit_error_type(const LimitField *f, uint64_t max, const json_t *v, char **ret_message) {
        uint64_t min = MAX(f->min, (uint64_t) 1);
        char m[64];

        limit_format_value(f, max, m, sizeof(m));

        switch (f->kind) {
        case LIMIT_SECONDS:
                return error_message_set(ret_message, -EINVAL, "limits.%s: must be a number of seconds greater than 0 and at most %s, not %s",
                                         f->name, m, json_type_describe(v));
        case LIMIT_BYTES:
                return error_message_set(ret_message, -EINVAL, "limits.%s: must be an integer number of bytes from %" PRIu64 " to %s, not %s",
                                         f->name, min, m, json_type_describe(v));
        case LIMIT_PERCENT:
                return error_message_set(ret_message, -EINVAL, "limits.%s: must be an integer percentage from %" PRIu64 " to %s, not %s",
                                         f->name, min, m, json_type_describe(v));
        default:
                return error_message_set(ret_message, -EINVAL, "limits.%s: must be an integer from %" PRIu64 " to %s, not %s",
                                         f->name, min, m, json_type_describe(v));
        }
}

static int limit_error_above(const LimitField *f, uint64_t max, const char *value, char **ret_message) {
        char m[64];

        limit_format_value(f, max, m, sizeof(m));
        return error_message_set(ret_message, -EINVAL, "limits.%s: %s is above the maximum %s (%s)", f->name, value, m, f->max_key);
}

static int limit_parse_seconds(const LimitField *f, const json_t *v, uint64_t max, uint64_t *ret, char **ret_message) {
        char buf[64];
        double d;

        if (json_is_integer(v)) {
                json_int_t i = json_integer_value(v);

                (void) snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, i);
                if (i <= 0)
                        return error_message_set(ret_message, -EINVAL, "limits.%s: %s must be greater than 0", f->name, buf);
                if ((uint64_t) i > max / USEC_PER_SEC ||
                    (uint64_t) i * USEC_PER_SEC > max)
                        return limit_error_above(f, max, buf, ret_message);

                *ret = (uint64_t) i * USEC_PER_SEC;
                return 0;
        }

        if (!json_is_real(v))
                return limit_error_type(f, max, v, ret_message);

        d = json_real_value(v);
        (void) snprintf(buf, sizeof(buf), "%.15g", d);
        if (!isfinite(d))
                return limit_error_type(f, max, v, ret_message);
        if (!(d > 0))
                return error_message_set(ret_message, -EINVAL, "limits.%s: %s must be greater than 0", f->name, buf);
        if (d > (double) max / (double) USEC_PER_SEC)
                return limit_error_above(f, max, buf, ret_message);

        /* Below 0.5 µs this would round to 0, which systemd reads as "no limit". */
        d = round(d * (double) USEC_PER_SEC);
        if (d < 1)
                return error_message_set(ret_message, -EINVAL, "limits.%s: %s is below the minimum 0.000001", f->name, buf);
        if (d > (double) max)
                return limit_error_above(f, max, buf, ret_message);

        *ret = (uint64_t) d;
        return 0;
}

static int limit_parse_integer(const LimitField *f, const json_t *v, uint64_t max, uint64_t *ret, char **ret_message) {
        uint64_t factor = f->kind == LIMIT_PERCENT ? CPU_USEC_PER_PERCENT : 1;
        char buf[64];
        json_int_t i;

        /* JSON integers only: 1.0 is a real to jansson and a mistake here. */
        if (!json_is_integer(v))
                return limit_error_type(f, max, v, ret_message);

        i = json_integer_value(v);
        (void) snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, i);
        if (i <= 0 || (uint64_t) i < MAX(f->min, (uint64_t) 1))
                return error_message_set(ret_message, -EINVAL, "limits.%s: %s is below the minimum %" PRIu64, f->name, buf,
                                         MAX(f->min, (uint64_t) 1));
        if ((uint64_t) i > max / factor)
                return limit_error_above(f, max, buf, ret_message);

        *ret = (uint64_t) i * factor;
        return 0;
}

int limits_from_json(const json_t *object, const Limits *defaults, const Limits *maxima,
                     Limits *ret, char **ret_message) {
        const char *key;
        json_t *value;
        Limits l = *defaults;
        int r;

        if (ret_message)
                *ret_message = NULL;

        if (object) {
                if (!json_is_object(object))
                        return error_message_set(ret_message, -EINVAL, "limits: must be an object, not %s", json_type_describe(object));

                /* jansson keeps insertion order, so the first bad key in the
                 * request is the one reported. */
                json_object_foreach((json_t *) object, key, value) {
                        const LimitField *f = NULL;
                        uint64_t max;

                        for (size_t i = 0; i < ELEMENTSOF(limit_fields); i++)
                                if (strcmp(limit_fields[i].name, key) == 0) {
                                        f = &limit_fields[i];
                                        break;
                                }
                        if (!f)
                                return error_message_set(ret_message, -EINVAL,
                                                         "limits.%s: unknown field (known: timeout_sec, memory_max, cpu_quota_percent, tasks_max, output_max)",
                                                         key);

                        max = limit_field_get(maxima, f);
                        if (f->kind == LIMIT_SECONDS)
                                r = limit_parse_seconds(f, value, max, limit_field_ptr(&l, f), ret_message);
                        else
                                r = limit_parse_integer(f, value, max, limit_field_ptr(&l, f), ret_message);
                        if (r < 0)
                                return r;
                }
        }

        *ret = l;
        return 0;
}

int limits_verify(const Limits *l, const Limits *maxima, char **ret_message) {
        if (ret_message)
                *ret_message = NULL;

        for (size_t i = 0; i < ELEMENTSOF(limit_fields); i++) {
                const LimitField *f = &limit_fields[i];
                uint64_t v = limit_field_get(l, f), max = limit_field_get(maxima, f);
                uint64_t min = MAX(f->min, (uint64_t) 1) * (f->kind == LIMIT_PERCENT ? CPU_USEC_PER_PERCENT : 1);
                char a[64], b[64];

                limit_format_value(f, v, a, sizeof(a));
                if (v < min) {
                        limit_format_value(f, min, b, sizeof(b));
                        return error_message_set(ret_message, -EINVAL, "limits.%s: %s is below the minimum %s",
                                                 f->name, a, b);
                }
                if (v > max) {
                        limit_format_value(f, max, b, sizeof(b));
                        return error_message_set(ret_message, -EINVAL, "limits.%s: %s is above the maximum %s (%s)",
                                                 f->name, a, b, f->max_key);
                }
        }
        return 0;
}

static json_t *json_uint64(uint64_t v) {
        /* json_int_t is a signed 64-bit integer here; nothing sensible is
         * that large anyway. */
        return json_integer(v > (uint64_t) INT64_MAX ? INT64_MAX : (json_int_t) v);
}

json_t *limits_to_json(const Limits *l) {
        json_t *t;

        if (l->timeout_usec % USEC_PER_SEC == 0)
                t = json_uint64(l->timeout_usec / USEC_PER_SEC);
        else
                t = json_real((double) l->timeout_usec / (double) USEC_PER_SEC);

        /* With "o", jansson takes the references even when it fails, and
         * a NULL (failed allocation) fails the whole call. */
        return json_pack("{s:o, s:o, s:o, s:o, s:o}",
                         "timeout_sec", t,
                         "memory_max", json_uint64(l->memory_max),
                         "cpu_quota_percent", json_uint64(l->cpu_quota_per_sec_usec / CPU_USEC_PER_PERCENT),
                         "tasks_max", json_uint64(l->tasks_max),
                         "output_max", json_uint64(l->output_max));
}

/*
 * Reads an unsigned decimal number with an optional fraction at *p,
 * advancing *p. The fraction is returned as @ret_frac / @ret_frac_div
 * (at most 18 significant digits; the rest are ignored). -EINVAL if no digit
 * starts the number, -ERANGE on overflow.
 */
static int parse_decimal(const char **p, uint64_t *ret_int, uint64_t *ret_frac, uint64_t *ret_frac_div) {
        const char *s = *p;
        uint64_t n = 0, frac = 0, div = 1;

        if (*s < '0' || *s > '9')
                return -EINVAL;

        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned d = (unsigned) (*s - '0');
                if (n > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                n = n * 10 + d;
        }

        if (*s == '.') {
                s++;
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                for (; *s >= '0' && *s <= '9'; s++)
                        if (div < UINT64_C(1000000000000000000)) {
                                frac = frac * 10 + (uint64_t) (*s - '0');
                                div *= 10;
                        }
        }

        *p = s;
        *ret_int = n;
        *ret_frac = frac;
        *ret_frac_div = div;
        return 0;
}

/* n * factor + frac / div * factor, rounded down, or -ERANGE. */
static int scale(uint64_t n, uint64_t frac, uint64_t div, uint64_t factor, uint64_t *ret) {
        unsigned __int128 v;

        v = (unsigned __int128) n * factor + (unsigned __int128) frac * factor / div;
        if (v > UINT64_MAX)
                return -ERANGE;
        *ret = (uint64_t) v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } table[] = {
                { "",  1 },
                { "B", 1 },
                { "K", KIB },
                { "M", MIB },
                { "G", GIB },
                { "T", GIB * 1024 },
                { "P", GIB * 1024 * 1024 },
                { "E", GIB * 1024 * 1024 * 1024 },
        };
        uint64_t n, frac, div;
        const char *p;
        int r;

        if (!s)
                return -EINVAL;

        /* Digits first: this refuses "", "-1" and "infinity" alike. */
        p = s;
        r = parse_decimal(&p, &n, &frac, &div);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcmp(p, table[i].suffix) == 0)
                        return scale(n, frac, div, table[i].factor, ret);

        return -EINVAL;
}

int parse_sec(const char *s, uint64_t *ret_usec) {
        /* systemd's time span units (systemd.time(7)). */
        static const struct {
                const char *unit;
                uint64_t usec;
        } table[] = {
                { "",        USEC_PER_SEC },
                { "s",       USEC_PER_SEC },
                { "sec",     USEC_PER_SEC },
                { "second",  USEC_PER_SEC },
                { "seconds", USEC_PER_SEC },
                { "ms",      USEC_PER_MSEC },
                { "msec",    USEC_PER_MSEC },
                { "us",      1 },
                { "usec",    1 },
                { "µs",      1 },       /* U+00B5 MICRO SIGN */
                { "μs",      1 },       /* U+03BC GREEK SMALL LETTER MU */
                { "m",       60 * USEC_PER_SEC },
                { "min",     60 * USEC_PER_SEC },
                { "minute",  60 * USEC_PER_SEC },
                { "minutes", 60 * USEC_PER_SEC },
                { "h",       3600 * USEC_PER_SEC },
                { "hr",      3600 * USEC_PER_SEC },
                { "hour",    3600 * USEC_PER_SEC },
                { "hours",   3600 * USEC_PER_SEC },
                { "d",       86400 * USEC_PER_SEC },
                { "day",     86400 * USEC_PER_SEC },
                { "days",    86400 * USEC_PER_SEC },
                { "w",       7 * 86400 * USEC_PER_SEC },
                { "week",    7 * 86400 * USEC_PER_SEC },
                { "weeks",   7 * 86400 * USEC_PER_SEC },
                { "M",       2629800 * USEC_PER_SEC },
                { "month",   2629800 * USEC_PER_SEC },
                { "months",  2629800 * USEC_PER_SEC },
                { "y",       31557600 * USEC_PER_SEC },
                { "year",    31557600 * USEC_PER_SEC },
                { "years",   31557600 * USEC_PER_SEC },
        };
        uint64_t sum = 0;
        const char *p;
        int r;

        if (!s)
                return -EINVAL;

        /* One or more "<number>[<unit>]" components, as "1min 30s" or "1h30m". */
        p = s;
        do {
                uint64_t n, frac, div, v;
                const char *unit;
                size_t len;
                bool found = false;

                r = parse_decimal(&p, &n, &frac, &div);
                if (r < 0)
                        return r;

                p += strspn(p, " \t");
                unit = p;
                len = strcspn(p, "0123456789. \t");
                p += len;

                for (size_t i = 0; i < ELEMENTSOF(table); i++)
                        if (strlen(table[i].unit) == len && strncmp(table[i].unit, unit, len) == 0) {
                                r = scale(n, frac, div, table[i].usec, &v);
                                if (r < 0)
                                        return r;
                                found = true;
                                break;
                        }
                if (!found)
                        return -EINVAL;

                if (v > UINT64_MAX - sum)
                        return -ERANGE;
                sum += v;

                p += strspn(p, " \t");
        } while (*p);

        *ret_usec = sum;
        return 0;
}

static int parse_uint64_digits(const char *s, const char **ret_end, uint64_t *ret) {
        uint64_t n = 0;
        const char *p = s;

        if (!s || *p < '0' || *p > '9')
                return -EINVAL;

        for (; *p >= '0' && *p <= '9'; p++) {
                unsigned d = (unsigned) (*p - '0');
                if (n > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                n = n * 10 + d;
        }

        *ret_end = p;
        *ret = n;
        return 0;
}

int parse_percent(const char *s, unsigned *ret) {
        const char *end;
        uint64_t n;
        int r;

        r = parse_uint64_digits(s, &end, &n);
        if (r < 0)
                return r;
        if (strcmp(end, "%") != 0)
                return -EINVAL;
        if (n > (unsigned) -1)
                return -ERANGE;

        *ret = (unsigned) n;
        return 0;
}

int parse_unsigned(const char *s, unsigned *ret) {
        const char *end;
        uint64_t n;
        int r;

        r = parse_uint64_digits(s, &end, &n);
        if (r < 0)
                return r;
        if (*end)
                return -EINVAL;
        if (n > (unsigned) -1)
                return -ERANGE;

        *ret = (unsigned) n;
        return 0;
}

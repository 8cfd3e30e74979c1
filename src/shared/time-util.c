/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdio.h>

#include "shared/macro.h"
#include "shared/time-util.h"

uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        /* Only fails for a clock id the kernel does not know: a bug. */
        if (clock_gettime(clock, &ts) < 0)
                return 0;

        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

char *format_rfc3339(char *buf, size_t size, uint64_t usec) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        int n;

        if (!buf || size == 0)
                return NULL;

        if (!gmtime_r(&sec, &tm))
                return NULL;

        /* RFC 3339 has four-digit years only. */
        if (tm.tm_year + 1900 > 9999)
                return NULL;

        n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (unsigned) (usec % USEC_PER_SEC));
        if (n < 0 || (size_t) n >= size)
                return NULL;

        return buf;
}

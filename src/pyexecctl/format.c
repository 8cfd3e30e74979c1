/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pyexecctl/format.h"
#include "shared/macro.h"

char *format_bytes(char *buf, size_t size, uint64_t bytes) {
        static const char suffixes[] = "KMGTPE";
        uint64_t factor = 1024;

        if (bytes < 1024) {
                (void) snprintf(buf, size, "%" PRIu64 "B", bytes);
                return buf;
        }

        /* One decimal, rounded down as systemd does (never shows more than there is). */
        for (size_t i = 0; i < strlen(suffixes); i++) {
                if (i == strlen(suffixes) - 1 || bytes / factor < 1024) {
                        (void) snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "%c",
                                        bytes / factor, bytes / (factor / 1024) % 1024 * 10 / 1024,
                                        suffixes[i]);
                        return buf;
                }
                factor *= 1024;
        }
        return buf;
}

/* "S.mmm" with trailing zeros (and a bare ".") dropped: "1.5", "30". */
static void format_seconds(char *buf, size_t size, uint64_t usec) {
        size_t n;

        (void) snprintf(buf, size, "%" PRIu64 ".%03" PRIu64, usec / USEC_PER_SEC, usec % USEC_PER_SEC / USEC_PER_MSEC);
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '0')
                buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.')
                buf[--n] = '\0';
}

char *format_timespan(char *buf, size_t size, uint64_t usec) {
        static const uint64_t usec_per_min = 60 * USEC_PER_SEC;
        static const uint64_t usec_per_hour = 60 * usec_per_min;
        static const uint64_t usec_per_day = 24 * usec_per_hour;
        char sec[32];

        if (usec == 0)
                (void) snprintf(buf, size, "0");
        else if (usec < USEC_PER_MSEC)
                (void) snprintf(buf, size, "%" PRIu64 "us", usec);
        else if (usec < USEC_PER_SEC)
                (void) snprintf(buf, size, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
        else if (usec < usec_per_min) {
                format_seconds(sec, sizeof(sec), usec);
                (void) snprintf(buf, size, "%ss", sec);
        } else if (usec < usec_per_hour) {
                format_seconds(sec, sizeof(sec), usec % usec_per_min);
                if (usec % usec_per_min < USEC_PER_MSEC)
                        (void) snprintf(buf, size, "%" PRIu64 "min", usec / usec_per_min);
                else
                        (void) snprintf(buf, size, "%" PRIu64 "min %ss", usec / usec_per_min, sec);
        } else if (usec < usec_per_day)
                (void) snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "min %" PRIu64 "s",
                                usec / usec_per_hour, usec % usec_per_hour / usec_per_min,
                                usec % usec_per_min / USEC_PER_SEC);
        else
                (void) snprintf(buf, size, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "min",
                                usec / usec_per_day, usec % usec_per_day / usec_per_hour,
                                usec % usec_per_hour / usec_per_min);
        return buf;
}

char *format_timestamp(char *buf, size_t size, uint64_t usec) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (usec == 0 || !localtime_r(&sec, &tm) ||
            strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                (void) snprintf(buf, size, "n/a");
        return buf;
}

char *format_timestamp_relative(char *buf, size_t size, uint64_t usec, uint64_t now_usec) {
        static const uint64_t min = 60 * USEC_PER_SEC, hour = 60 * min, day = 24 * hour;
        uint64_t d;

        if (usec == 0 || usec > now_usec) {
                (void) snprintf(buf, size, "%s", usec == 0 ? "n/a" : "in the future");
                return buf;
        }

        d = now_usec - usec;
        if (d >= day)
                (void) snprintf(buf, size, "%" PRIu64 " day%s %" PRIu64 "h ago",
                                d / day, d / day == 1 ? "" : "s", d % day / hour);
        else if (d >= hour)
                (void) snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "min ago", d / hour, d % hour / min);
        else if (d >= min)
                (void) snprintf(buf, size, "%" PRIu64 "min %" PRIu64 "s ago", d / min, d % min / USEC_PER_SEC);
        else if (d >= USEC_PER_SEC)
                (void) snprintf(buf, size, "%" PRIu64 "s ago", d / USEC_PER_SEC);
        else
                (void) snprintf(buf, size, "%" PRIu64 "ms ago", d / USEC_PER_MSEC);
        return buf;
}

const char *ansi_highlight_red(bool enabled) {
        return enabled ? "\x1B[0;1;31m" : "";
}

const char *ansi_highlight_green(bool enabled) {
        return enabled ? "\x1B[0;1;32m" : "";
}

const char *ansi_highlight_yellow(bool enabled) {
        return enabled ? "\x1B[0;1;33m" : "";
}

const char *ansi_highlight(bool enabled) {
        return enabled ? "\x1B[0;1;39m" : "";
}

const char *ansi_normal(bool enabled) {
        return enabled ? "\x1B[0m" : "";
}

bool colors_enabled(void) {
        const char *term = getenv("TERM");

        /* https://no-color.org/: present and not empty disables colours. */
        if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
                return false;
        if (!term || strcmp(term, "dumb") == 0)
                return false;
        return isatty(STDOUT_FILENO) > 0;
}

char *cescape(const char *s) {
        char *r, *o;

        /* At most 4 bytes out for each byte in. */
        r = malloc(strlen(s) * 4 + 1);
        if (!r)
                return NULL;
        for (o = r; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '\\') {
                        *o++ = '\\';
                        *o++ = '\\';
                } else if (c < 0x20 || c == 0x7f)
                        o += sprintf(o, "\\x%02x", c);
                else
                        *o++ = (char) c;
        }
        *o = '\0';
        return r;
}

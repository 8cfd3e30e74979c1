/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shared/log.h"

/* Process-wide logging settings: set once at start-up (log_open(),
 * log_set_max_level()); tests may reset them with the same calls. */
static int log_max_level = LOG_INFO;
static bool log_prefix_priority = false;

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_open(void) {
        const char *e;
        unsigned long long dev, ino;
        struct stat st;

        /* $JOURNAL_STREAM is "DEVICE:INODE" of the stream journald gave us;
         * it only counts if stderr is still that very stream. */
        log_prefix_priority = false;
        e = getenv("JOURNAL_STREAM");
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return;
        if (fstat(STDERR_FILENO, &st) < 0)
                return;
        log_prefix_priority = st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

int log_internal(int level, int error, const char *file, int line, const char *format, ...) {
        char buf[2048];
        va_list ap;
        int saved_errno = errno;

        (void) file;
        (void) line;

        if (error < 0)
                error = -error;

        if (LOG_PRI(level) <= log_max_level) {
                /* Make %m print strerror(error), as glibc's printf reads errno. */
                errno = error;
                va_start(ap, format);
                (void) vsnprintf(buf, sizeof(buf), format, ap);
                va_end(ap);

                if (log_prefix_priority)
                        fprintf(stderr, "<%d>%s\n", LOG_PRI(level), buf);
                else
                        fprintf(stderr, "%s\n", buf);
        }

        errno = saved_errno;
        return -error;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyexecctl/util.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/utf8.h"

int read_text_file(const char *path, const char *what, char **ret) {
        _cleanup_close_ int fd_owned = -1;
        _cleanup_free_ char *buf = NULL;
        bool use_stdin = !path || strcmp(path, "-") == 0;
        const char *name = use_stdin ? "standard input" : path;
        size_t size = 0, allocated = 0;
        int fd;

        if (use_stdin)
                fd = STDIN_FILENO;
        else {
                fd = fd_owned = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to open %s: %m", path);
        }

        for (;;) {
                ssize_t n;

                if (allocated - size < 4096) {
                        size_t a = MAX(allocated * 2, (size_t) 64 * 1024);
                        char *p = realloc(buf, a + 1);
                        if (!p)
                                return log_oom();
                        buf = p;
                        allocated = a;
                }
                n = read(fd, buf + size, allocated - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "Failed to read %s from %s: %m", what, name);
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > TEXT_FILE_MAX)
                        return log_error_errno(EFBIG, "Failed to read %s: %s is larger than %zu MiB.",
                                               what, name, TEXT_FILE_MAX / 1024 / 1024);
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return log_oom();
        }
        buf[size] = '\0';

        if (memchr(buf, '\0', size) || !utf8_is_valid(buf, size))
                return log_error_errno(EBADMSG, "Failed to read %s: %s is not UTF-8 text.", what, name);

        *ret = TAKE_PTR(buf);
        return 0;
}

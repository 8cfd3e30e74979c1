/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "shared/exec-id.h"
#include "shared/macro.h"

int exec_id_new(char ret[static EXEC_ID_LEN + 1]) {
        static const char hex[] = "0123456789abcdef";
        uint8_t bytes[EXEC_ID_LEN / 2];
        size_t have = 0;

        /* getrandom() blocks until the pool is initialised, then never
         * returns short for requests of at most 256 bytes, except when a
         * signal interrupts it. */
        while (have < sizeof(bytes)) {
                ssize_t n = getrandom(bytes + have, sizeof(bytes) - have, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                have += (size_t) n;
        }

        for (size_t i = 0; i < sizeof(bytes); i++) {
                ret[i * 2] = hex[bytes[i] >> 4];
                ret[i * 2 + 1] = hex[bytes[i] & 0xf];
        }
        ret[EXEC_ID_LEN] = '\0';

        return 0;
}

bool exec_id_is_valid(const char *s) {
        size_t i;

        if (!s)
                return false;

        for (i = 0; s[i]; i++) {
                if (i >= EXEC_ID_LEN)
                        return false;
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        }

        return i == EXEC_ID_LEN;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared/utf8.h"

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
static const char utf8_replacement[3] = { (char) 0xef, (char) 0xbf, (char) 0xbd };

/*
 * Looks at the sequence starting at @s (@n bytes available, n >= 1).
 * Returns the length of a complete, valid sequence, or 0 when the bytes
 * are not one; then *ret_subpart is the length of the maximal subpart (the
 * longest prefix that could still start a valid sequence, at least 1), and
 * *ret_truncated says whether that prefix only ended because the input did.
 *
 * The ranges of the second byte follow Unicode 15 Table 3-7 ("Well-Formed
 * UTF-8 Byte Sequences"): they exclude overlong forms (E0 80..9F, F0 80..8F),
 * surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..BF).
 */
static size_t utf8_sequence(const uint8_t *s, size_t n, size_t *ret_subpart, bool *ret_truncated) {
        uint8_t lo = 0x80, hi = 0xbf;
        size_t len, i;

        if (s[0] < 0x80)
                return 1;

        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                len = 3;
                if (s[0] == 0xe0)
                        lo = 0xa0;
                else if (s[0] == 0xed)
                        hi = 0x9f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                len = 4;
                if (s[0] == 0xf0)
                        lo = 0x90;
                else if (s[0] == 0xf4)
                        hi = 0x8f;
        } else {
                /* 80..C1 and F5..FF never start a sequence. */
                *ret_subpart = 1;
                *ret_truncated = false;
                return 0;
        }

        for (i = 1; i < len; i++) {
                if (i >= n) {
                        *ret_subpart = i;
                        *ret_truncated = true;
                        return 0;
                }
                if (s[i] < lo || s[i] > hi) {
                        *ret_subpart = i;
                        *ret_truncated = false;
                        return 0;
                }
                /* Only the second byte has a narrowed range. */
                lo = 0x80;
                hi = 0xbf;
        }

        return len;
}

char *utf8_repair(const char *data, size_t size, bool final, size_t *ret_len, size_t *ret_consumed) {
        const uint8_t *s = (const uint8_t *) data;
        size_t i = 0, o = 0;
        char *buf, *shrunk;

        /* Worst case: every byte becomes a three-byte U+FFFD. */
        if (size > (SIZE_MAX - 1) / 3) {
                errno = ENOMEM;
                return NULL;
        }
        buf = malloc(size * 3 + 1);
        if (!buf)
                return NULL;

        while (i < size) {
                size_t len, subpart = 0;
                bool truncated = false;

                len = utf8_sequence(s + i, size - i, &subpart, &truncated);
                if (len > 0) {
                        memcpy(buf + o, s + i, len);
                        o += len;
                        i += len;
                        continue;
                }

                /* A valid beginning cut off by the end of this chunk: keep it
                 * for the next call, unless no more data will come. */
                if (truncated && !final)
                        break;

                memcpy(buf + o, utf8_replacement, sizeof(utf8_replacement));
                o += sizeof(utf8_replacement);
                i += subpart;
        }

        buf[o] = '\0';

        /* Give back the slack of the worst-case allocation. */
        shrunk = realloc(buf, o + 1);
        if (shrunk)
                buf = shrunk;

        if (ret_len)
                *ret_len = o;
        if (ret_consumed)
                *ret_consumed = i;
        return buf;
}

bool utf8_is_valid(const char *data, size_t size) {
        const uint8_t *s = (const uint8_t *) data;
        size_t i = 0;

        while (i < size) {
                size_t len, subpart;
                bool truncated;

                len = utf8_sequence(s + i, size - i, &subpart, &truncated);
                if (len == 0)
                        return false;
                i += len;
        }

        return true;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * UTF-8 repair for raw output bytes (fd 1 and 2 of the payload). Invalid
 * sequences become U+FFFD, one per maximal invalid subpart, as Unicode's
 * "U+FFFD substitution of maximal subparts" (Unicode 15, §3.9) and CPython's
 * errors="replace" do, so the raw streams and the runner's text agree.
 */

#include <stdbool.h>
#include <stddef.h>

/*
 * Repairs @size bytes at @data. Returns a new NUL-terminated string (the
 * caller frees; it may contain NUL bytes, its length is in @ret_len) or NULL
 * on ENOMEM. Unless @final, an incomplete but so far valid sequence at the
 * very end is not converted; @ret_consumed tells how many input bytes were
 * used, and the caller passes the rest again with more data.
 */
char *utf8_repair(const char *data, size_t size, bool final, size_t *ret_len, size_t *ret_consumed);

/* True if @size bytes at @data are valid UTF-8. */
bool utf8_is_valid(const char *data, size_t size);

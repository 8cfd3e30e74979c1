/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* The most read_text_file() reads: far more than any cell the service takes. */
#define TEXT_FILE_MAX ((size_t) 64 * 1024 * 1024)

/*
 * Reads the file @path ("-" or NULL: standard input) whole. The text must
 * be UTF-8 without NUL bytes, as D-Bus strings are. Returns 0 and a new
 * NUL-terminated string, or a negative errno (logged, naming @what, e.g.
 * "the cell"): -ENOENT and other open() errors, -EFBIG above
 * TEXT_FILE_MAX, -EBADMSG for invalid text.
 */
int read_text_file(const char *path, const char *what, char **ret);

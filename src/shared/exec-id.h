/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Execution ids: 128 random bits as 32 lowercase hex digits (DESIGN.md). */

#include <stdbool.h>

#define EXEC_ID_LEN 32

/* Writes a new id and its NUL into @ret. Returns 0 or a negative errno from getrandom(). */
int exec_id_new(char ret[static EXEC_ID_LEN + 1]);

/* True for exactly 32 characters of [0-9a-f]. */
bool exec_id_is_valid(const char *s);

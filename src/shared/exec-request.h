/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The body of POST /execute (DESIGN.md "HTTP API"):
 *   {"code": str, "cell_id"?: str, "notebook_id"?: str, "execution_count"?: int,
 *    "limits"?: {...}, "stdin"?: str}
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/limits.h"

#define EXEC_REQUEST_ID_MAX 256         /* longest cell_id / notebook_id, bytes */

typedef struct ExecRequest {
        char *code;
        size_t code_size;               /* bytes; the code may hold NUL */
        char *cell_id;                  /* NULL when absent */
        char *notebook_id;              /* NULL when absent */
        bool has_execution_count;
        int64_t execution_count;        /* >= 0 */
        Limits limits;                  /* defaults merged with the request's limits */
        char *stdin_data;               /* NULL when absent */
        size_t stdin_size;
} ExecRequest;

void exec_request_done(ExecRequest *r);

/*
 * Parses @size bytes of JSON. Returns 0 and fills @ret, or:
 *  -EBADMSG  not JSON, not UTF-8, or not an object  (HTTP 400 "invalid_json")
 *  -EINVAL   a missing, unknown or mistyped field, or a bad limit (HTTP 400 "invalid_field")
 *  -ENOMEM
 * with a message naming the problem in @ret_message (malloc'd) on -EBADMSG and -EINVAL.
 * Duplicate fields and integers beyond 64 bits are -EBADMSG (jansson refuses
 * them while decoding). A JSON null for an optional field counts as absent.
 * "code", "cell_id" and "notebook_id" must not hold U+0000; "stdin" may.
 * On error @ret is zeroed, so exec_request_done() on it is harmless.
 */
int exec_request_parse(const char *body, size_t size, const Limits *defaults, const Limits *maxima,
                       ExecRequest *ret, char **ret_message);

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/error-message.h"
#include "shared/exec-request.h"
#include "shared/macro.h"

void exec_request_done(ExecRequest *r) {
        if (!r)
                return;

        free(r->code);
        free(r->cell_id);
        free(r->notebook_id);
        free(r->stdin_data);
        *r = (ExecRequest) {};
}


/* A copy of the string value with its length; the copy is NUL-terminated. */
static char *string_dup(const json_t *v, size_t *ret_size) {
        size_t n = json_string_length(v);
        char *s;

        s = malloc(n + 1);
        if (!s)
                return NULL;
        memcpy(s, json_string_value(v), n);
        s[n] = '\0';
        if (ret_size)
                *ret_size = n;
        return s;
}

static bool string_has_nul(const json_t *v) {
        return memchr(json_string_value(v), '\0', json_string_length(v)) != NULL;
}

/* An optional identifier: absent/null → NULL, else a string without NUL of
 * at most EXEC_REQUEST_ID_MAX bytes. */
static int request_parse_id(const json_t *v, const char *field, char **ret, char **ret_message) {
        if (!v || json_is_null(v))
                return 0;

        if (!json_is_string(v))
                return error_message_set(ret_message, -EINVAL, "%s: must be a string", field);
        if (string_has_nul(v))
                return error_message_set(ret_message, -EINVAL, "%s: must not contain NUL (U+0000)", field);
        if (json_string_length(v) > EXEC_REQUEST_ID_MAX)
                return error_message_set(ret_message, -EINVAL, "%s: longer than %d bytes", field, EXEC_REQUEST_ID_MAX);

        *ret = string_dup(v, NULL);
        return *ret ? 0 : -ENOMEM;
}

int exec_request_parse(const char *body, size_t size, const Limits *defaults, const Limits *maxima,
                       ExecRequest *ret, char **ret_message) {
        static const char *const known[] = {
                "code", "cell_id", "notebook_id", "execution_count", "limits", "stdin",
        };
        _cleanup_(exec_request_done) ExecRequest req = {};
        json_auto_t *root = NULL;
        json_error_t error;
        const char *key;
        json_t *v;
        int r;

        *ret = (ExecRequest) {};
        if (ret_message)
                *ret_message = NULL;

        if (!body || size == 0)
                return error_message_set(ret_message, -EBADMSG, "request body is empty");

        /* JSON_ALLOW_NUL: "stdin" may carry any text; the fields that must
         * not hold NUL are checked one by one below. */
        root = json_loadb(body, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &error);
        if (!root) {
                switch (json_error_code(&error)) {
                case json_error_out_of_memory:
                        return -ENOMEM;
                case json_error_invalid_utf8:
                        return error_message_set(ret_message, -EBADMSG, "request body is not valid UTF-8: %s", error.text);
                case json_error_duplicate_key:
                        return error_message_set(ret_message, -EBADMSG, "request body has a duplicate field: %s", error.text);
                default:
                        return error_message_set(ret_message, -EBADMSG, "request body is not valid JSON: %s (line %d, column %d)",
                                                 error.text, error.line, error.column);
                }
        }

        if (!json_is_object(root))
                return error_message_set(ret_message, -EBADMSG, "request body must be a JSON object");

        json_object_foreach(root, key, v) {
                bool found = false;

                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                        if (strcmp(known[i], key) == 0) {
                                found = true;
                                break;
                        }
                if (!found)
                        return error_message_set(ret_message, -EINVAL,
                                                 "%s: unknown field (known: code, cell_id, notebook_id, execution_count, limits, stdin)",
                                                 key);
        }

        v = json_object_get(root, "code");
        if (!v)
                return error_message_set(ret_message, -EINVAL, "code: missing");
        if (!json_is_string(v))
                return error_message_set(ret_message, -EINVAL, "code: must be a string");
        if (string_has_nul(v))
                return error_message_set(ret_message, -EINVAL, "code: must not contain NUL (U+0000)");
        req.code = string_dup(v, &req.code_size);
        if (!req.code)
                return -ENOMEM;

        r = request_parse_id(json_object_get(root, "cell_id"), "cell_id", &req.cell_id, ret_message);
        if (r < 0)
                return r;
        r = request_parse_id(json_object_get(root, "notebook_id"), "notebook_id", &req.notebook_id, ret_message);
        if (r < 0)
                return r;

        v = json_object_get(root, "execution_count");
        if (v && !json_is_null(v)) {
                /* JSON integers only: 3.0 and true are mistakes. */
                if (!json_is_integer(v) || json_integer_value(v) < 0)
                        return error_message_set(ret_message, -EINVAL, "execution_count: must be an integer >= 0");
                req.has_execution_count = true;
                req.execution_count = json_integer_value(v);
        }

        v = json_object_get(root, "limits");
        if (v && !json_is_null(v) && !json_is_object(v))
                return error_message_set(ret_message, -EINVAL, "limits: must be an object");
        r = limits_from_json(json_is_object(v) ? v : NULL, defaults, maxima, &req.limits, ret_message);
        if (r < 0)
                return r;

        v = json_object_get(root, "stdin");
        if (v && !json_is_null(v)) {
                if (!json_is_string(v))
                        return error_message_set(ret_message, -EINVAL, "stdin: must be a string");
                req.stdin_data = string_dup(v, &req.stdin_size);
                if (!req.stdin_data)
                        return -ENOMEM;
        }

        *ret = req;
        req = (ExecRequest) {};
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/exec-request.h"
#include "shared/macro.h"

static Limits defaults, maxima;

static void setup(void) {
        limits_default(&defaults);
        limits_maximum(&maxima, 2);
}

static int parse_body(const char *body, size_t size, ExecRequest *req, char **message) {
        return exec_request_parse(body, size, &defaults, &maxima, req, message);
}

static void check_error_size(const char *body, size_t size, int error, const char *expected_message) {
        _cleanup_(exec_request_done) ExecRequest req = {};
        _cleanup_free_ char *message = NULL;

        ck_assert_msg(parse_body(body, size, &req, &message) == error, "wrong result for %s", body);
        ck_assert_ptr_nonnull(message);
        if (expected_message)
                ck_assert_str_eq(message, expected_message);
        /* nothing is left behind in @ret */
        ck_assert_ptr_null(req.code);
        ck_assert_ptr_null(req.cell_id);
        ck_assert_ptr_null(req.stdin_data);
}
#define CHECK_ERROR(body, error, message) check_error_size(body, strlen(body), error, message)

START_TEST(test_minimal) {
        _cleanup_(exec_request_done) ExecRequest req = {};
        _cleanup_free_ char *message = NULL;
        const char body[] = "{\"code\": \"print(1)\\n\"}";

        ck_assert_int_eq(parse_body(body, strlen(body), &req, &message), 0);
        ck_assert_ptr_null(message);
        ck_assert_str_eq(req.code, "print(1)\n");
        ck_assert_uint_eq(req.code_size, 9);
        ck_assert_ptr_null(req.cell_id);
        ck_assert_ptr_null(req.notebook_id);
        ck_assert(!req.has_execution_count);
        ck_assert_ptr_null(req.stdin_data);
        ck_assert_uint_eq(req.stdin_size, 0);
        ck_assert_mem_eq(&req.limits, &defaults, sizeof(Limits));
}
END_TEST

START_TEST(test_full) {
        _cleanup_(exec_request_done) ExecRequest req = {};
        _cleanup_free_ char *message = NULL;
        const char body[] =
                "{\"code\": \"x = input()\", \"cell_id\": \"c-1\", \"notebook_id\": \"nb/\\u00e9\","
                " \"execution_count\": 12, \"limits\": {\"timeout_sec\": 2.5, \"memory_max\": 104857600},"
                " \"stdin\": \"a\\u0000b\\n\"}";

        ck_assert_int_eq(parse_body(body, strlen(body), &req, &message), 0);
        ck_assert_str_eq(req.code, "x = input()");
        ck_assert_str_eq(req.cell_id, "c-1");
        ck_assert_str_eq(req.notebook_id, "nb/\xc3\xa9");
        ck_assert(req.has_execution_count);
        ck_assert_int_eq(req.execution_count, 12);
        ck_assert_uint_eq(req.limits.timeout_usec, 2500000);
        ck_assert_uint_eq(req.limits.memory_max, 104857600);
        ck_assert_uint_eq(req.limits.tasks_max, defaults.tasks_max);
        /* stdin keeps its NUL and its size */
        ck_assert_uint_eq(req.stdin_size, 4);
        ck_assert_mem_eq(req.stdin_data, "a\0b\n", 5);
}
END_TEST

START_TEST(test_empty_code_and_nulls) {
        _cleanup_(exec_request_done) ExecRequest req = {};
        const char body[] = "{\"code\": \"\", \"cell_id\": null, \"execution_count\": 0, \"stdin\": \"\"}";

        ck_assert_int_eq(parse_body(body, strlen(body), &req, NULL), 0);
        ck_assert_str_eq(req.code, "");
        ck_assert_uint_eq(req.code_size, 0);
        ck_assert_ptr_null(req.cell_id);
        ck_assert(req.has_execution_count);
        ck_assert_int_eq(req.execution_count, 0);
        ck_assert_ptr_nonnull(req.stdin_data);
        ck_assert_uint_eq(req.stdin_size, 0);
}
END_TEST

START_TEST(test_invalid_json) {
        CHECK_ERROR("", -EBADMSG, "request body is empty");
        check_error_size(NULL, 0, -EBADMSG, "request body is empty");
        CHECK_ERROR("{\"code\": 1", -EBADMSG,
                    "request body is not valid JSON: '}' expected near end of file (line 1, column 10)");
        CHECK_ERROR("{", -EBADMSG, NULL);
        CHECK_ERROR("{\"code\": \"x\"} trailing", -EBADMSG, NULL);
        CHECK_ERROR("{'code': 'x'}", -EBADMSG, NULL);
        CHECK_ERROR("[\"code\"]", -EBADMSG, "request body must be a JSON object");
        CHECK_ERROR("\"code\"", -EBADMSG, NULL);
        CHECK_ERROR("42", -EBADMSG, NULL);
        CHECK_ERROR("null", -EBADMSG, NULL);
        /* bytes that are not UTF-8 */
        CHECK_ERROR("{\"code\": \"print('\xff\xfe')\"}", -EBADMSG, NULL);
        CHECK_ERROR("{\"code\": \"\xc0\xaf\"}", -EBADMSG, NULL);
        /* a raw NUL byte in the body */
        check_error_size("{\"code\": \"a\0b\"}", 15, -EBADMSG, NULL);
        /* duplicate fields */
        CHECK_ERROR("{\"code\": \"a\", \"code\": \"b\"}", -EBADMSG, NULL);
}
END_TEST

START_TEST(test_invalid_utf8_message) {
        _cleanup_(exec_request_done) ExecRequest req = {};
        _cleanup_free_ char *message = NULL;
        const char body[] = "{\"code\": \"\xff\"}";

        ck_assert_int_eq(parse_body(body, strlen(body), &req, &message), -EBADMSG);
        ck_assert_msg(strstr(message, "UTF-8"), "message: %s", message);
}
END_TEST

START_TEST(test_invalid_fields) {
        CHECK_ERROR("{}", -EINVAL, "code: missing");
        CHECK_ERROR("{\"cell_id\": \"c\"}", -EINVAL, "code: missing");
        CHECK_ERROR("{\"code\": null}", -EINVAL, "code: must be a string");
        CHECK_ERROR("{\"code\": 1}", -EINVAL, "code: must be a string");
        CHECK_ERROR("{\"code\": [\"print(1)\"]}", -EINVAL, "code: must be a string");
        CHECK_ERROR("{\"code\": \"a\\u0000b\"}", -EINVAL, "code: must not contain NUL (U+0000)");
        CHECK_ERROR("{\"code\": \"x\", \"language\": \"python\"}", -EINVAL,
                    "language: unknown field (known: code, cell_id, notebook_id, execution_count, limits, stdin)");
        CHECK_ERROR("{\"code\": \"x\", \"cell_id\": 5}", -EINVAL, "cell_id: must be a string");
        CHECK_ERROR("{\"code\": \"x\", \"notebook_id\": {}}", -EINVAL, "notebook_id: must be a string");
        CHECK_ERROR("{\"code\": \"x\", \"cell_id\": \"a\\u0000\"}", -EINVAL, "cell_id: must not contain NUL (U+0000)");
        CHECK_ERROR("{\"code\": \"x\", \"execution_count\": -1}", -EINVAL, "execution_count: must be an integer >= 0");
        CHECK_ERROR("{\"code\": \"x\", \"execution_count\": 1.0}", -EINVAL, "execution_count: must be an integer >= 0");
        CHECK_ERROR("{\"code\": \"x\", \"execution_count\": \"1\"}", -EINVAL, "execution_count: must be an integer >= 0");
        CHECK_ERROR("{\"code\": \"x\", \"execution_count\": true}", -EINVAL, "execution_count: must be an integer >= 0");
        CHECK_ERROR("{\"code\": \"x\", \"limits\": []}", -EINVAL, "limits: must be an object");
        CHECK_ERROR("{\"code\": \"x\", \"limits\": \"big\"}", -EINVAL, "limits: must be an object");
        CHECK_ERROR("{\"code\": \"x\", \"limits\": {\"memory_max\": 8589934592}}", -EINVAL,
                    "limits.memory_max: 8589934592 is above the maximum 4294967296 (MaxMemoryMax=)");
        CHECK_ERROR("{\"code\": \"x\", \"limits\": {\"cpu_quota_percent\": 201}}", -EINVAL,
                    "limits.cpu_quota_percent: 201 is above the maximum 200 (MaxCPUQuota=)");
        CHECK_ERROR("{\"code\": \"x\", \"limits\": {\"nice\": 5}}", -EINVAL,
                    "limits.nice: unknown field (known: timeout_sec, memory_max, cpu_quota_percent, tasks_max, output_max)");
        CHECK_ERROR("{\"code\": \"x\", \"stdin\": 5}", -EINVAL, "stdin: must be a string");
        CHECK_ERROR("{\"code\": \"x\", \"stdin\": [\"a\"]}", -EINVAL, "stdin: must be a string");
}
END_TEST

START_TEST(test_id_length) {
        char body[1024], id[EXEC_REQUEST_ID_MAX + 2];
        _cleanup_(exec_request_done) ExecRequest req = {};

        /* exactly the maximum is allowed */
        memset(id, 'i', EXEC_REQUEST_ID_MAX);
        id[EXEC_REQUEST_ID_MAX] = '\0';
        snprintf(body, sizeof(body), "{\"code\": \"\", \"cell_id\": \"%s\", \"notebook_id\": \"%s\"}", id, id);
        ck_assert_int_eq(parse_body(body, strlen(body), &req, NULL), 0);
        ck_assert_uint_eq(strlen(req.cell_id), EXEC_REQUEST_ID_MAX);
        ck_assert_uint_eq(strlen(req.notebook_id), EXEC_REQUEST_ID_MAX);

        strcat(id, "i");
        snprintf(body, sizeof(body), "{\"code\": \"\", \"cell_id\": \"%s\"}", id);
        CHECK_ERROR(body, -EINVAL, "cell_id: longer than 256 bytes");
        snprintf(body, sizeof(body), "{\"code\": \"\", \"notebook_id\": \"%s\"}", id);
        CHECK_ERROR(body, -EINVAL, "notebook_id: longer than 256 bytes");

        /* bytes, not characters: 128 × "é" is 256 bytes, 129 is too long */
        strcpy(body, "{\"code\": \"\", \"cell_id\": \"");
        for (int i = 0; i < 129; i++)
                strcat(body, "\xc3\xa9");
        strcat(body, "\"}");
        CHECK_ERROR(body, -EINVAL, "cell_id: longer than 256 bytes");
}
END_TEST

START_TEST(test_done_resets) {
        ExecRequest req = {};
        const char body[] = "{\"code\": \"1\", \"cell_id\": \"c\", \"stdin\": \"s\"}";

        ck_assert_int_eq(parse_body(body, strlen(body), &req, NULL), 0);
        exec_request_done(&req);
        ck_assert_ptr_null(req.code);
        ck_assert_ptr_null(req.cell_id);
        ck_assert_ptr_null(req.stdin_data);
        exec_request_done(&req);        /* twice is fine */
        exec_request_done(NULL);
}
END_TEST

static Suite *exec_request_suite(void) {
        Suite *s = suite_create("exec-request");
        TCase *tc = tcase_create("parse");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, test_minimal);
        tcase_add_test(tc, test_full);
        tcase_add_test(tc, test_empty_code_and_nulls);
        tcase_add_test(tc, test_invalid_json);
        tcase_add_test(tc, test_invalid_utf8_message);
        tcase_add_test(tc, test_invalid_fields);
        tcase_add_test(tc, test_id_length);
        tcase_add_test(tc, test_done_resets);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(exec_request_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

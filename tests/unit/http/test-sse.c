/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "http/sse.h"

static void check_event(const char *id, const char *event, const char *data, size_t size, const char *expected) {
        size_t n = 0;
        char *s = sse_format_event(id, event, data, size, &n);

        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, expected);
        ck_assert_uint_eq(n, strlen(expected));
        free(s);
}

START_TEST(test_format_json_event) {
        const char *data = "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"hi\\n\"}";

        check_event("1732900000000-0", "output", data, strlen(data),
                    "id: 1732900000000-0\n"
                    "event: output\n"
                    "data: {\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"hi\\n\"}\n"
                    "\n");
}
END_TEST

START_TEST(test_format_multiline) {
        /* Every line break form of the spec splits into its own data line. */
        check_event(NULL, "status", "a\nb\r\nc\rd", 8,
                    "event: status\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
        /* A trailing newline gives a trailing empty data line, so the client
         * rebuilds the same text. */
        check_event(NULL, NULL, "x\n", 2, "data: x\ndata: \n\n");
        /* Empty data still dispatches an event. */
        check_event("1-1", NULL, "", 0, "id: 1-1\ndata: \n\n");
}
END_TEST

START_TEST(test_format_refuses_line_breaks_in_fields) {
        /* An id or event name with a line break would inject a field: dropped. */
        check_event("1-1\nevent: evil", "output\r", "{}", 2, "data: {}\n\n");
}
END_TEST

START_TEST(test_format_comment) {
        size_t n = 0;
        char *s = sse_format_comment("keep\nalive", &n);

        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, ": keep alive\n\n");
        ck_assert_uint_eq(n, strlen(": keep alive\n\n"));
        free(s);
}
END_TEST

START_TEST(test_stream_buffers_until_attached) {
        sd_event *e = NULL;
        SseStream *s = NULL;
        SseStreamHandlers h = {};

        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(sse_stream_new(&s, e, 15 * 1000000ULL, &h, NULL), 0);
        ck_assert_uint_eq(sse_stream_get_buffered(s), 0);
        ck_assert_int_eq(sse_stream_push_event(s, "1-0", "status", "{\"status\":\"queued\"}", 19), 0);
        ck_assert_uint_eq(sse_stream_get_buffered(s),
                          strlen("id: 1-0\nevent: status\ndata: {\"status\":\"queued\"}\n\n"));
        sse_stream_finish(s);
        /* Nothing may be added after the end. */
        ck_assert_int_eq(sse_stream_push_comment(s, "late"), -ESHUTDOWN);
        sse_stream_free(s);
        sd_event_unref(e);
}
END_TEST

static Suite *sse_suite(void) {
        Suite *s = suite_create("sse");
        TCase *tc = tcase_create("format");

        tcase_add_test(tc, test_format_json_event);
        tcase_add_test(tc, test_format_multiline);
        tcase_add_test(tc, test_format_refuses_line_breaks_in_fields);
        tcase_add_test(tc, test_format_comment);
        tcase_add_test(tc, test_stream_buffers_until_attached);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(sse_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

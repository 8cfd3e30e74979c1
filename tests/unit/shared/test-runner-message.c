/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "shared/output-model.h"

/* Parses @line; on success returns the compact JSON of the event data. */
static char *parse_ok(const char *line, const char *expected_type) {
        json_auto_t *data = NULL;
        const char *type = NULL;
        char *s;

        ck_assert_msg(runner_message_parse(line, strlen(line), &type, &data) == 0, "refused: %s", line);
        ck_assert_ptr_nonnull(data);
        ck_assert_str_eq(type, expected_type);
        ck_assert_int_eq(output_event_verify(type, data), 0);
        s = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
        ck_assert_ptr_nonnull(s);
        return s;
}

static void check_refused_size(const char *line, size_t size) {
        json_t *data = (json_t *) 0x1;
        const char *type = "untouched";

        ck_assert_msg(runner_message_parse(line, size, &type, &data) == -EBADMSG, "accepted: %.200s", line);
        ck_assert_str_eq(type, "untouched");
        ck_assert_ptr_eq(data, (json_t *) 0x1);
}
#define REFUSED(line) check_refused_size(line, strlen(line))

START_TEST(test_accepts_each_shape) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *f = NULL, *g = NULL, *h = NULL, *i = NULL;

        a = parse_ok("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"hi\\n\"}}", "output");
        ck_assert_str_eq(a, "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"hi\\n\"}");

        b = parse_ok("{\"content\":{\"text\":\"e\",\"name\":\"stderr\"},\"msg_type\":\"stream\"}", "output");
        ck_assert_str_eq(b, "{\"output_type\":\"stream\",\"text\":\"e\",\"name\":\"stderr\"}");

        c = parse_ok("{\"msg_type\":\"display_data\",\"content\":{\"data\":{\"image/png\":\"iVBO\",\"text/plain\":\"<Figure>\"},"
                     "\"metadata\":{\"image/png\":{\"width\":640}},\"transient\":{\"display_id\":\"d1\"}}}", "output");
        ck_assert_str_eq(c, "{\"output_type\":\"display_data\",\"data\":{\"image/png\":\"iVBO\",\"text/plain\":\"<Figure>\"},"
                            "\"metadata\":{\"image/png\":{\"width\":640}},\"transient\":{\"display_id\":\"d1\"}}");

        d = parse_ok("{\"msg_type\":\"execute_result\",\"content\":{\"execution_count\":3,\"data\":{\"text/plain\":\"42\","
                     "\"application/json\":{\"a\":[1,2,{\"b\":null}]}},\"metadata\":{}}}", "output");
        ck_assert_str_eq(d, "{\"output_type\":\"execute_result\",\"execution_count\":3,\"data\":{\"text/plain\":\"42\","
                            "\"application/json\":{\"a\":[1,2,{\"b\":null}]}},\"metadata\":{}}");

        e = parse_ok("{\"msg_type\":\"execute_result\",\"content\":{\"execution_count\":null,\"data\":{},\"metadata\":{}}}", "output");
        ck_assert_str_eq(e, "{\"output_type\":\"execute_result\",\"execution_count\":null,\"data\":{},\"metadata\":{}}");

        f = parse_ok("{\"msg_type\":\"error\",\"content\":{\"ename\":\"ZeroDivisionError\",\"evalue\":\"division by zero\","
                     "\"traceback\":[\"Traceback\",\"  line 4\"]}}", "output");
        ck_assert_str_eq(f, "{\"output_type\":\"error\",\"ename\":\"ZeroDivisionError\",\"evalue\":\"division by zero\","
                            "\"traceback\":[\"Traceback\",\"  line 4\"]}");

        g = parse_ok("{\"msg_type\":\"update_display_data\",\"content\":{\"data\":{\"text/plain\":\"2\"},\"metadata\":{},"
                     "\"transient\":{\"display_id\":\"d1\"}}}", "update_display_data");
        ck_assert_str_eq(g, "{\"data\":{\"text/plain\":\"2\"},\"metadata\":{},\"transient\":{\"display_id\":\"d1\"}}");

        h = parse_ok("{\"msg_type\":\"clear_output\",\"content\":{\"wait\":true}}", "clear_output");
        ck_assert_str_eq(h, "{\"wait\":true}");

        /* what display(…, transient=…) passes on from the code: any mime key, any transient member */
        i = parse_ok("{\"msg_type\":\"display_data\",\"content\":{\"data\":{\"custom\":\"x\",\"text/plain; charset=utf-8\":\"y\"},"
                     "\"metadata\":{},\"transient\":{\"other\":1}}}", "output");
        ck_assert_str_eq(i, "{\"output_type\":\"display_data\",\"data\":{\"custom\":\"x\",\"text/plain; charset=utf-8\":\"y\"},"
                            "\"metadata\":{},\"transient\":{\"other\":1}}");
}
END_TEST

START_TEST(test_refuses_not_json) {
        REFUSED("");
        REFUSED("   ");
        REFUSED("not json");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"x\"}");   /* cut */
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"x\"}} {}");
        REFUSED("[]");
        REFUSED("\"stream\"");
        REFUSED("null");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"\xff\"}}");   /* not UTF-8 */
        /* a raw NUL byte inside the line */
        check_refused_size("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"a\0b\"}}", 58);
}
END_TEST

START_TEST(test_refuses_envelope) {
        REFUSED("{}");
        REFUSED("{\"msg_type\":\"stream\"}");
        REFUSED("{\"content\":{\"name\":\"stdout\",\"text\":\"x\"}}");
        REFUSED("{\"msg_type\":5,\"content\":{}}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":\"x\"}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":[]}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":null}");
        REFUSED("{\"msg_type\":\"status\",\"content\":{\"execution_state\":\"idle\"}}");
        REFUSED("{\"msg_type\":\"output\",\"content\":{}}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"x\"},\"header\":{}}");
        /* duplicate members: which one would count? */
        REFUSED("{\"msg_type\":\"stream\",\"msg_type\":\"error\",\"content\":{\"name\":\"stdout\",\"text\":\"x\"}}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"name\":\"stderr\",\"text\":\"x\"}}");
}
END_TEST

START_TEST(test_refuses_stream) {
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdin\",\"text\":\"x\"}}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\"}}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"text\":\"x\"}}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":[\"x\"]}}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":1,\"text\":\"x\"}}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"x\",\"extra\":1}}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"x\",\"output_type\":\"stream\"}}");
        /* U+0000 where the daemon compares strings */
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\\u0000x\",\"text\":\"a\"}}");
        REFUSED("{\"msg_type\":\"stream\\u0000\",\"content\":{\"name\":\"stdout\",\"text\":\"a\"}}");
        REFUSED("{\"msg_type\":\"stream\",\"content\":{\"name\\u0000\":\"stdout\",\"text\":\"a\"}}");
}
END_TEST

START_TEST(test_nul_in_free_text) {
        /* print("a\0b") and raise ValueError("x\0y"): the runner escapes the NUL */
        static const char stream[] = "{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"a\\u0000b\\n\"}}";
        static const char error[] = "{\"msg_type\":\"error\",\"content\":{\"ename\":\"ValueError\",\"evalue\":\"x\\u0000y\","
                                    "\"traceback\":[\"x\\u0000y\"]}}";
        json_auto_t *a = NULL, *b = NULL;
        const char *type;
        json_t *text;

        ck_assert_int_eq(runner_message_parse(stream, strlen(stream), &type, &a), 0);
        text = json_object_get(a, "text");
        ck_assert_uint_eq(json_string_length(text), 4);
        ck_assert_mem_eq(json_string_value(text), "a\0b\n", 4);
        ck_assert_uint_eq(output_event_size(type, a), 4);

        ck_assert_int_eq(runner_message_parse(error, strlen(error), &type, &b), 0);
        ck_assert_uint_eq(json_string_length(json_object_get(b, "evalue")), 3);
        ck_assert_uint_eq(output_event_size(type, b), strlen("ValueError") + 3 + 3);

        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":{},\"metadata\":{},"
                "\"transient\":{\"display_id\":\"a\\u0000b\"}}}");
}
END_TEST

START_TEST(test_refuses_display) {
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":{}}}");
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":[],\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":{},\"metadata\":[]}}");
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":{\"text/plain\":5},\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":{\"text/html\":[\"<b>\"]},\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":{\"\":\"x\"},\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":{},\"metadata\":{},\"transient\":[]}}");
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":{},\"metadata\":{},\"transient\":{\"display_id\":7}}}");
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":{},\"metadata\":{},\"transient\":{\"display_id\":\"\"}}}");
        REFUSED("{\"msg_type\":\"display_data\",\"content\":{\"data\":{},\"metadata\":{},\"execution_count\":1}}");
        /* update_display_data needs the id */
        REFUSED("{\"msg_type\":\"update_display_data\",\"content\":{\"data\":{},\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"update_display_data\",\"content\":{\"data\":{},\"metadata\":{},\"transient\":{}}}");
        REFUSED("{\"msg_type\":\"update_display_data\",\"content\":{\"data\":{\"text/plain\":1},\"metadata\":{},"
                "\"transient\":{\"display_id\":\"d\"}}}");
}
END_TEST

START_TEST(test_refuses_result_error_clear) {
        REFUSED("{\"msg_type\":\"execute_result\",\"content\":{\"data\":{},\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"execute_result\",\"content\":{\"execution_count\":\"3\",\"data\":{},\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"execute_result\",\"content\":{\"execution_count\":1.5,\"data\":{},\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"execute_result\",\"content\":{\"execution_count\":-1,\"data\":{},\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"execute_result\",\"content\":{\"execution_count\":1,\"data\":{\"text/plain\":null},\"metadata\":{}}}");
        REFUSED("{\"msg_type\":\"execute_result\",\"content\":{\"execution_count\":1,\"metadata\":{}}}");

        REFUSED("{\"msg_type\":\"error\",\"content\":{\"ename\":\"E\",\"evalue\":\"v\"}}");
        REFUSED("{\"msg_type\":\"error\",\"content\":{\"ename\":\"E\",\"evalue\":\"v\",\"traceback\":\"tb\"}}");
        REFUSED("{\"msg_type\":\"error\",\"content\":{\"ename\":\"E\",\"evalue\":\"v\",\"traceback\":[\"a\",1]}}");
        REFUSED("{\"msg_type\":\"error\",\"content\":{\"ename\":\"E\",\"evalue\":null,\"traceback\":[]}}");
        REFUSED("{\"msg_type\":\"error\",\"content\":{\"evalue\":\"v\",\"traceback\":[]}}");

        REFUSED("{\"msg_type\":\"clear_output\",\"content\":{}}");
        REFUSED("{\"msg_type\":\"clear_output\",\"content\":{\"wait\":1}}");
        REFUSED("{\"msg_type\":\"clear_output\",\"content\":{\"wait\":\"true\"}}");
        REFUSED("{\"msg_type\":\"clear_output\",\"content\":{\"wait\":false,\"all\":true}}");
}
END_TEST

START_TEST(test_nesting) {
        /* 200 levels inside an application/json value are fine (the runner's
         * encoder stops at 100), thousands are not. */
        char ok[1024], *deep;
        size_t n = 0, depth = 100000;
        _cleanup_free_ char *s = NULL;

        n += (size_t) snprintf(ok + n, sizeof(ok) - n,
                               "{\"msg_type\":\"display_data\",\"content\":{\"data\":{\"application/json\":");
        for (int i = 0; i < 200; i++)
                ok[n++] = '[';
        for (int i = 0; i < 200; i++)
                ok[n++] = ']';
        n += (size_t) snprintf(ok + n, sizeof(ok) - n, "},\"metadata\":{}}}");
        s = parse_ok(ok, "output");

        deep = malloc(depth * 2 + 200);
        ck_assert_ptr_nonnull(deep);
        n = (size_t) sprintf(deep, "{\"msg_type\":\"display_data\",\"content\":{\"data\":{\"application/json\":");
        memset(deep + n, '[', depth);
        n += depth;
        memset(deep + n, ']', depth);
        n += depth;
        strcpy(deep + n, "},\"metadata\":{}}}");
        REFUSED(deep);

        /* brackets inside strings do not count */
        strcpy(deep, "{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"");
        n = strlen(deep);
        memset(deep + n, '[', 1000);
        n += 1000;
        strcpy(deep + n, "\\\"\"}}");
        _cleanup_free_ char *t = parse_ok(deep, "output");
        ck_assert_uint_gt(strlen(t), 1000);
        free(deep);
}
END_TEST

START_TEST(test_event_size) {
        json_auto_t *stream = NULL, *display = NULL, *error = NULL, *update = NULL, *clear = NULL;
        json_error_t e;

        stream = json_loads("{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"h\\u00e9\\n\"}", 0, &e);
        ck_assert_uint_eq(output_event_size("output", stream), 4);     /* UTF-8 bytes, not escapes */

        display = json_loads("{\"output_type\":\"display_data\",\"data\":{\"image/png\":\"QUJD\",\"text/plain\":\"<F>\","
                             "\"application/json\":{\"a\": [1, 2]}},\"metadata\":{\"big\":\"xxxxxxxxxxxx\"}}", 0, &e);
        /* 4 + 3 + strlen("{\"a\":[1,2]}") = 11, and the metadata's compact JSON:
         * a cell must not hide megabytes there */
        ck_assert_uint_eq(output_event_size("output", display), 4 + 3 + 11 + strlen("{\"big\":\"xxxxxxxxxxxx\"}"));

        error = json_loads("{\"output_type\":\"error\",\"ename\":\"E\",\"evalue\":\"vv\",\"traceback\":[\"abc\",\"de\"]}", 0, &e);
        ck_assert_uint_eq(output_event_size("output", error), 1 + 2 + 3 + 2);

        update = json_loads("{\"data\":{\"text/plain\":\"12345\"},\"metadata\":{},\"transient\":{\"display_id\":\"x\"}}", 0, &e);
        /* empty metadata counts nothing; the transient display id does */
        ck_assert_uint_eq(output_event_size("update_display_data", update), 5 + strlen("{\"display_id\":\"x\"}"));

        clear = json_loads("{\"wait\":true}", 0, &e);
        ck_assert_uint_eq(output_event_size("clear_output", clear), 0);
        ck_assert_uint_eq(output_event_size("status", stream), 0);
        ck_assert_uint_eq(output_event_size("output", NULL), 0);
}
END_TEST

START_TEST(test_stream_item_new) {
        json_auto_t *a = NULL, *b = NULL, *c = NULL;
        _cleanup_free_ char *s = NULL;

        a = stream_item_new("stderr", "x\0y\n", 4);
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(output_event_verify("output", a), 0);
        ck_assert_str_eq(json_string_value(json_object_get(a, "output_type")), "stream");
        ck_assert_str_eq(json_string_value(json_object_get(a, "name")), "stderr");
        ck_assert_uint_eq(json_string_length(json_object_get(a, "text")), 4);
        ck_assert_mem_eq(json_string_value(json_object_get(a, "text")), "x\0y\n", 4);
        ck_assert_uint_eq(output_event_size("output", a), 4);

        b = stream_item_new("stdout", "ok", 2);
        s = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
        ck_assert_str_eq(s, "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"ok\"}");

        c = stream_item_new("stdout", "\xff", 1);      /* not UTF-8: the caller must repair first */
        ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_event_verify) {
        json_auto_t *ok = NULL, *bad = NULL, *clear = NULL;
        json_error_t e;

        ok = json_loads("{\"output_type\":\"display_data\",\"data\":{},\"metadata\":{},\"transient\":{\"display_id\":\"a\"}}", 0, &e);
        ck_assert_int_eq(output_event_verify("output", ok), 0);
        ck_assert_int_eq(output_event_verify("update_display_data", ok), -EBADMSG);
        ck_assert_int_eq(output_event_verify("status", ok), -EBADMSG);
        ck_assert_int_eq(output_event_verify(NULL, ok), -EBADMSG);
        ck_assert_int_eq(output_event_verify("output", NULL), -EBADMSG);

        bad = json_loads("{\"output_type\":\"clear_output\",\"wait\":true}", 0, &e);
        ck_assert_int_eq(output_event_verify("output", bad), -EBADMSG);

        clear = json_loads("{\"wait\":false}", 0, &e);
        ck_assert_int_eq(output_event_verify("clear_output", clear), 0);
}
END_TEST

static Suite *runner_message_suite(void) {
        Suite *s = suite_create("runner-message");
        TCase *tc = tcase_create("parse");

        tcase_add_test(tc, test_accepts_each_shape);
        tcase_add_test(tc, test_refuses_not_json);
        tcase_add_test(tc, test_refuses_envelope);
        tcase_add_test(tc, test_refuses_stream);
        tcase_add_test(tc, test_nul_in_free_text);
        tcase_add_test(tc, test_refuses_display);
        tcase_add_test(tc, test_refuses_result_error_clear);
        tcase_add_test(tc, test_nesting);
        tcase_add_test(tc, test_event_size);
        tcase_add_test(tc, test_stream_item_new);
        tcase_add_test(tc, test_event_verify);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(runner_message_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

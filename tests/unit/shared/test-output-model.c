/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "shared/output-model.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(OutputModel *, output_model_free);
#define _cleanup_model_ _cleanup_(output_model_freep)

/* Applies the event in @json (type "output" unless stated). */
static int apply(OutputModel *m, const char *type, const char *json) {
        json_auto_t *data = NULL;
        json_error_t e;

        data = json_loads(json, 0, &e);
        ck_assert_msg(data, "bad test JSON %s: %s", json, e.text);
        return output_model_apply(m, type, data);
}

static void apply_stream(OutputModel *m, const char *name, const char *text) {
        json_auto_t *item = stream_item_new(name, text, strlen(text));

        ck_assert_ptr_nonnull(item);
        ck_assert_int_eq(output_model_apply(m, "output", item), 0);
}

/* The compact JSON of the outputs list. */
static char *outputs(OutputModel *m) {
        json_auto_t *a = output_model_outputs(m);

        ck_assert_ptr_nonnull(a);
        return json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

#define CHECK_OUTPUTS(m, expected)                              \
        do {                                                    \
                _cleanup_free_ char *_s = outputs(m);           \
                ck_assert_str_eq(_s, expected);                 \
        } while (0)

static void check_cr(const char *in, const char *expected) {
        _cleanup_free_ char *out = NULL;
        size_t size;

        out = text_apply_carriage_returns(in, strlen(in), &size);
        ck_assert_ptr_nonnull(out);
        ck_assert_uint_eq(size, strlen(expected));
        ck_assert_str_eq(out, expected);
}

START_TEST(test_carriage_returns) {
        check_cr("", "");
        check_cr("plain\ntext\n", "plain\ntext\n");
        check_cr("abcdef\rXY", "XYcdef");
        check_cr("ab\rX", "Xb");
        check_cr("a\r\n", "a\n");
        check_cr("abc\r", "abc");
        check_cr("abc\r\r\r", "abc");
        check_cr("abc\rxyz1", "xyz1");
        check_cr("aaaa\rbb\rc", "cbaa");
        check_cr("\rprogress   0%\rprogress   5%\rprogress  10%\rprogress 100%\n", "progress 100%\n");
        check_cr("one\rtwo\nthree\rTH\n", "two\nTHree\n");
        check_cr("x\n\r\n\ry", "x\n\ny");
        /* code points, not bytes: "é" is two bytes, "€" three */
        check_cr("\xc3\xa9\xc3\xa9\xc3\xa9\rX", "X\xc3\xa9\xc3\xa9");
        check_cr("abc\r\xe2\x82\xac", "\xe2\x82\xac" "bc");
        check_cr("\xe2\x82\xac\xe2\x82\xac\rab", "ab");
}
END_TEST

START_TEST(test_carriage_returns_long) {
        /* Many "\r" on a long line stay linear: 2 MB of "x\r" after a 1 MB line. */
        size_t line = 1 << 20, reps = 1 << 20, n = line + 2 * reps + 1;
        _cleanup_free_ char *in = malloc(n + 1), *out = NULL;
        size_t size;

        ck_assert_ptr_nonnull(in);
        memset(in, 'a', line);
        for (size_t i = 0; i < reps; i++)
                memcpy(in + line + 2 * i, "\rb", 2);
        in[n - 1] = '\n';
        in[n] = '\0';

        out = text_apply_carriage_returns(in, n, &size);
        ck_assert_ptr_nonnull(out);
        ck_assert_uint_eq(size, line + 1);
        ck_assert_int_eq(out[0], 'b');
        ck_assert_int_eq(out[1], 'a');
        ck_assert_int_eq(out[line - 1], 'a');
        ck_assert_int_eq(out[line], '\n');
}
END_TEST

START_TEST(test_c03_progress_bar) {
        /* Case C03 as the runner would send it: one event per write. */
        _cleanup_model_ OutputModel *m = output_model_new();
        char buf[64];

        ck_assert_ptr_nonnull(m);
        for (int i = 0; i <= 100; i += 5) {
                snprintf(buf, sizeof(buf), "\rprogress %3d%%", i);
                apply_stream(m, "stdout", buf);
        }
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"progress 100%\"}]");
        apply_stream(m, "stdout", "\n");
        apply_stream(m, "stdout", "finished\n");
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"progress 100%\\nfinished\\n\"}]");
}
END_TEST

START_TEST(test_cr_split_across_events) {
        _cleanup_model_ OutputModel *m = output_model_new();

        apply_stream(m, "stdout", "abcdef");
        apply_stream(m, "stdout", "\r");
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"abcdef\"}]");
        apply_stream(m, "stdout", "XY");
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"XYcdef\"}]");
}
END_TEST

START_TEST(test_streams_merge) {
        _cleanup_model_ OutputModel *m = output_model_new();

        CHECK_OUTPUTS(m, "[]");
        apply_stream(m, "stdout", "a\n");
        apply_stream(m, "stdout", "b\n");
        apply_stream(m, "stderr", "e1\n");
        apply_stream(m, "stderr", "e2\n");
        apply_stream(m, "stdout", "c\n");
        /* only with the item right before: stdout after stderr is new */
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"a\\nb\\n\"},"
                         "{\"output_type\":\"stream\",\"name\":\"stderr\",\"text\":\"e1\\ne2\\n\"},"
                         "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"c\\n\"}]");

        ck_assert_int_eq(apply(m, "output", "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"D\"},\"metadata\":{}}"), 0);
        apply_stream(m, "stdout", "d\n");
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"a\\nb\\n\"},"
                         "{\"output_type\":\"stream\",\"name\":\"stderr\",\"text\":\"e1\\ne2\\n\"},"
                         "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"c\\n\"},"
                         "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"D\"},\"metadata\":{}},"
                         "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"d\\n\"}]");
}
END_TEST

START_TEST(test_stream_with_nul) {
        _cleanup_model_ OutputModel *m = output_model_new();
        json_auto_t *item = stream_item_new("stdout", "a\0b", 3), *a = NULL;
        json_t *text;

        ck_assert_int_eq(output_model_apply(m, "output", item), 0);
        apply_stream(m, "stdout", "c");
        a = output_model_outputs(m);
        ck_assert_uint_eq(json_array_size(a), 1);
        text = json_object_get(json_array_get(a, 0), "text");
        ck_assert_uint_eq(json_string_length(text), 4);
        ck_assert_mem_eq(json_string_value(text), "a\0bc", 4);
}
END_TEST

START_TEST(test_update_display) {
        _cleanup_model_ OutputModel *m = output_model_new();

        ck_assert_int_eq(apply(m, "output", "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"v1\"},\"metadata\":{},"
                                            "\"transient\":{\"display_id\":\"p\"}}"), 0);
        ck_assert_int_eq(apply(m, "output", "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"other\"},\"metadata\":{},"
                                            "\"transient\":{\"display_id\":\"q\"}}"), 0);
        ck_assert_int_eq(apply(m, "output", "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"v1 again\"},\"metadata\":{},"
                                            "\"transient\":{\"display_id\":\"p\"}}"), 0);
        /* transient is dropped from the stored items */
        CHECK_OUTPUTS(m, "[{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"v1\"},\"metadata\":{}},"
                         "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"other\"},\"metadata\":{}},"
                         "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"v1 again\"},\"metadata\":{}}]");

        /* every item with that id, data and metadata */
        ck_assert_int_eq(apply(m, "update_display_data", "{\"data\":{\"text/html\":\"<b>v2</b>\"},\"metadata\":{\"k\":1},"
                                                         "\"transient\":{\"display_id\":\"p\"}}"), 0);
        CHECK_OUTPUTS(m, "[{\"output_type\":\"display_data\",\"data\":{\"text/html\":\"<b>v2</b>\"},\"metadata\":{\"k\":1}},"
                         "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"other\"},\"metadata\":{}},"
                         "{\"output_type\":\"display_data\",\"data\":{\"text/html\":\"<b>v2</b>\"},\"metadata\":{\"k\":1}}]");

        /* an unknown id changes nothing */
        ck_assert_int_eq(apply(m, "update_display_data", "{\"data\":{\"text/plain\":\"x\"},\"metadata\":{},"
                                                         "\"transient\":{\"display_id\":\"nope\"}}"), 0);
        CHECK_OUTPUTS(m, "[{\"output_type\":\"display_data\",\"data\":{\"text/html\":\"<b>v2</b>\"},\"metadata\":{\"k\":1}},"
                         "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"other\"},\"metadata\":{}},"
                         "{\"output_type\":\"display_data\",\"data\":{\"text/html\":\"<b>v2</b>\"},\"metadata\":{\"k\":1}}]");
}
END_TEST

START_TEST(test_outputs_are_snapshots) {
        _cleanup_model_ OutputModel *m = output_model_new();
        json_auto_t *before = NULL;
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(apply(m, "output", "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"v1\"},\"metadata\":{},"
                                            "\"transient\":{\"display_id\":\"p\"}}"), 0);
        before = output_model_outputs(m);
        ck_assert_int_eq(apply(m, "update_display_data", "{\"data\":{\"text/plain\":\"v2\"},\"metadata\":{},"
                                                         "\"transient\":{\"display_id\":\"p\"}}"), 0);
        s = json_dumps(before, JSON_COMPACT | JSON_PRESERVE_ORDER);
        ck_assert_str_eq(s, "[{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"v1\"},\"metadata\":{}}]");
}
END_TEST

START_TEST(test_clear_output) {
        _cleanup_model_ OutputModel *m = output_model_new();

        apply_stream(m, "stdout", "a\n");
        ck_assert_int_eq(apply(m, "clear_output", "{\"wait\":false}"), 0);
        CHECK_OUTPUTS(m, "[]");
        apply_stream(m, "stdout", "b\n");
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"b\\n\"}]");

        /* wait=true: the list stays until the next output event… */
        ck_assert_int_eq(apply(m, "clear_output", "{\"wait\":true}"), 0);
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"b\\n\"}]");
        /* …an update_display_data is not one… */
        ck_assert_int_eq(apply(m, "update_display_data", "{\"data\":{\"text/plain\":\"x\"},\"metadata\":{},"
                                                         "\"transient\":{\"display_id\":\"p\"}}"), 0);
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"b\\n\"}]");
        /* …and a stream of the same name starts afresh instead of merging */
        apply_stream(m, "stdout", "c\n");
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"c\\n\"}]");
        apply_stream(m, "stdout", "d\n");
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"c\\nd\\n\"}]");

        /* a pending clear, then an immediate one, then output: only the new item */
        ck_assert_int_eq(apply(m, "clear_output", "{\"wait\":true}"), 0);
        ck_assert_int_eq(apply(m, "clear_output", "{\"wait\":false}"), 0);
        CHECK_OUTPUTS(m, "[]");
        ck_assert_int_eq(apply(m, "output", "{\"output_type\":\"error\",\"ename\":\"E\",\"evalue\":\"v\",\"traceback\":[]}"), 0);
        ck_assert_int_eq(apply(m, "output", "{\"output_type\":\"execute_result\",\"execution_count\":null,"
                                            "\"data\":{\"text/plain\":\"1\"},\"metadata\":{}}"), 0);
        CHECK_OUTPUTS(m, "[{\"output_type\":\"error\",\"ename\":\"E\",\"evalue\":\"v\",\"traceback\":[]},"
                         "{\"output_type\":\"execute_result\",\"execution_count\":null,\"data\":{\"text/plain\":\"1\"},\"metadata\":{}}]");

        /* wait=true then a display: the display replaces everything */
        ck_assert_int_eq(apply(m, "clear_output", "{\"wait\":true}"), 0);
        ck_assert_int_eq(apply(m, "output", "{\"output_type\":\"display_data\",\"data\":{\"image/png\":\"AAAA\"},\"metadata\":{},"
                                            "\"transient\":{\"display_id\":\"fig\"}}"), 0);
        CHECK_OUTPUTS(m, "[{\"output_type\":\"display_data\",\"data\":{\"image/png\":\"AAAA\"},\"metadata\":{}}]");
}
END_TEST

START_TEST(test_malformed_and_other_types) {
        _cleanup_model_ OutputModel *m = output_model_new();

        apply_stream(m, "stdout", "keep\n");
        ck_assert_int_eq(apply(m, "output", "{\"output_type\":\"stream\",\"name\":\"stdin\",\"text\":\"x\"}"), -EBADMSG);
        ck_assert_int_eq(apply(m, "output", "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":1},\"metadata\":{}}"), -EBADMSG);
        ck_assert_int_eq(apply(m, "output", "{\"name\":\"stdout\",\"text\":\"x\"}"), -EBADMSG);
        ck_assert_int_eq(apply(m, "clear_output", "{\"wait\":\"no\"}"), -EBADMSG);
        ck_assert_int_eq(apply(m, "update_display_data", "{\"data\":{},\"metadata\":{}}"), -EBADMSG);
        /* not output events: ignored */
        ck_assert_int_eq(apply(m, "status", "{\"status\":\"running\"}"), 0);
        ck_assert_int_eq(apply(m, "end", "{\"status\":\"succeeded\"}"), 0);
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"keep\\n\"}]");

        ck_assert_ptr_null(output_model_free(NULL));
}
END_TEST

START_TEST(test_from_runner_lines) {
        /* End to end: lines as the runner writes them, through the parser, into the model. */
        static const char *const lines[] = {
                "{\"msg_type\":\"stream\",\"content\":{\"name\":\"stdout\",\"text\":\"step 1\\n\"}}",
                "{\"msg_type\":\"display_data\",\"content\":{\"data\":{\"text/plain\":\"0%\"},\"metadata\":{},\"transient\":{\"display_id\":\"bar\"}}}",
                "{\"msg_type\":\"update_display_data\",\"content\":{\"data\":{\"text/plain\":\"100%\"},\"metadata\":{},\"transient\":{\"display_id\":\"bar\"}}}",
                "{\"msg_type\":\"stream\",\"content\":{\"name\":\"stderr\",\"text\":\"warn\\n\"}}",
                "{\"msg_type\":\"execute_result\",\"content\":{\"execution_count\":7,\"data\":{\"text/plain\":\"42\"},\"metadata\":{}}}",
        };
        _cleanup_model_ OutputModel *m = output_model_new();

        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
                json_auto_t *data = NULL;
                const char *type;

                ck_assert_int_eq(runner_message_parse(lines[i], strlen(lines[i]), &type, &data), 0);
                ck_assert_int_eq(output_model_apply(m, type, data), 0);
        }
        CHECK_OUTPUTS(m, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"step 1\\n\"},"
                         "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"100%\"},\"metadata\":{}},"
                         "{\"output_type\":\"stream\",\"name\":\"stderr\",\"text\":\"warn\\n\"},"
                         "{\"output_type\":\"execute_result\",\"execution_count\":7,\"data\":{\"text/plain\":\"42\"},\"metadata\":{}}]");
}
END_TEST

static Suite *output_model_suite(void) {
        Suite *s = suite_create("output-model");
        TCase *tc = tcase_create("model");

        tcase_add_test(tc, test_carriage_returns);
        tcase_add_test(tc, test_carriage_returns_long);
        tcase_add_test(tc, test_c03_progress_bar);
        tcase_add_test(tc, test_cr_split_across_events);
        tcase_add_test(tc, test_streams_merge);
        tcase_add_test(tc, test_stream_with_nul);
        tcase_add_test(tc, test_update_display);
        tcase_add_test(tc, test_outputs_are_snapshots);
        tcase_add_test(tc, test_clear_output);
        tcase_add_test(tc, test_malformed_and_other_types);
        tcase_add_test(tc, test_from_runner_lines);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(output_model_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/output-gate.h"
#include "shared/output-model.h"

typedef struct Sink {
        json_t *events;         /* [{"type":…, "data":…}] */
        unsigned n_capped;
} Sink;

static void on_pass(OutputGate *g, const char *type, json_t *data, void *userdata) {
        Sink *s = userdata;

        ck_assert_int_eq(json_array_append_new(s->events, json_pack("{s:s,s:O}", "type", type, "data", data)), 0);
}

static void on_capped(OutputGate *g, void *userdata) {
        Sink *s = userdata;

        s->n_capped++;
}

static OutputGate *gate_new(sd_event **e, Sink *s, uint64_t output_max) {
        OutputGate *g = NULL;

        ck_assert_int_ge(sd_event_new(e), 0);
        s->events = json_array();
        s->n_capped = 0;
        ck_assert_int_eq(output_gate_new(&g, *e, output_max, on_pass, on_capped, s), 0);
        return g;
}

static const char *event_text(Sink *s, size_t i) {
        return json_string_value(json_object_get(json_object_get(json_array_get(s->events, i), "data"), "text"));
}

static const char *event_name(Sink *s, size_t i) {
        return json_string_value(json_object_get(json_object_get(json_array_get(s->events, i), "data"), "name"));
}

static void push_runner_stream(OutputGate *g, const char *name, const char *text) {
        json_t *item = stream_item_new(name, text, strlen(text));

        ck_assert_ptr_nonnull(item);
        output_gate_push(g, "output", item);
        json_decref(item);
}

START_TEST(test_streams_merge_until_flush) {
        sd_event *e;
        Sink s;
        OutputGate *g = gate_new(&e, &s, 1024 * 1024);

        /* Raw bytes and runner writes of one stream merge; "\r" stays. */
        output_gate_push_stream(g, "stdout", "a", 1);
        push_runner_stream(g, "stdout", "b\rc\n");
        output_gate_push_stream(g, "stdout", "d\n", 2);
        ck_assert_uint_eq(json_array_size(s.events), 0);
        /* Another stream flushes what is held, in order. */
        output_gate_push_stream(g, "stderr", "err\n", 4);
        ck_assert_uint_eq(json_array_size(s.events), 1);
        ck_assert_str_eq(event_name(&s, 0), "stdout");
        ck_assert_str_eq(event_text(&s, 0), "ab\rc\nd\n");

        /* Any other event flushes first: causal order. */
        json_t *clear = json_pack("{s:b}", "wait", 0);
        output_gate_push(g, "clear_output", clear);
        json_decref(clear);
        ck_assert_uint_eq(json_array_size(s.events), 3);
        ck_assert_str_eq(event_text(&s, 1), "err\n");
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(s.events, 2), "type")), "clear_output");

        output_gate_finish(g);
        ck_assert(!output_gate_is_capped(g));
        ck_assert_uint_eq(json_array_size(s.events), 3);
        ck_assert_uint_eq(s.n_capped, 0);

        output_gate_free(g);
        json_decref(s.events);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_hold_timer_flushes) {
        sd_event *e;
        Sink s;
        OutputGate *g = gate_new(&e, &s, 1024 * 1024);

        output_gate_push_stream(g, "stdout", "tick\n", 5);
        ck_assert_uint_eq(json_array_size(s.events), 0);
        /* The loop sends it on its own within the hold time. */
        for (unsigned i = 0; i < 100 && json_array_size(s.events) == 0; i++)
                ck_assert_int_ge(sd_event_run(e, 100 * 1000), 0);
        ck_assert_uint_eq(json_array_size(s.events), 1);
        ck_assert_str_eq(event_text(&s, 0), "tick\n");

        output_gate_free(g);
        json_decref(s.events);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_cap_keeps_whole_lines) {
        sd_event *e;
        Sink s;
        OutputGate *g = gate_new(&e, &s, 100);
        char notice[256];

        /* 5 lines of 31 bytes in one write: 3 fit into 100 bytes. */
        const char *five = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
        output_gate_push_stream(g, "stdout", five, strlen(five));
        ck_assert(output_gate_is_capped(g));
        ck_assert_uint_eq(s.n_capped, 1);
        output_gate_push_stream(g, "stdout", "more\n", 5);
        output_gate_finish(g);

        ck_assert_uint_eq(json_array_size(s.events), 2);
        ck_assert_uint_eq(strlen(event_text(&s, 0)), 93);
        ck_assert_uint_eq(output_gate_get_dropped(g), 62 + 5);
        snprintf(notice, sizeof notice,
                 "\n[pyexecd] output limit of 100 bytes reached; %u bytes of output were dropped\n", 67);
        ck_assert_str_eq(event_name(&s, 1), "stderr");
        ck_assert_str_eq(event_text(&s, 1), notice);
        ck_assert_uint_eq(s.n_capped, 1);

        output_gate_free(g);
        json_decref(s.events);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_line_without_break_dropped) {
        sd_event *e;
        Sink s;
        OutputGate *g = gate_new(&e, &s, 10);

        /* Nothing of a line that does not fit is stored, rather than half. */
        output_gate_push_stream(g, "stdout", "0123456789abc", 13);
        output_gate_finish(g);
        ck_assert_uint_eq(json_array_size(s.events), 1);
        ck_assert_str_eq(event_name(&s, 0), "stderr");
        ck_assert_uint_eq(output_gate_get_dropped(g), 13);

        output_gate_free(g);
        json_decref(s.events);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_events_bounded) {
        sd_event *e;
        Sink s;
        OutputGate *g = gate_new(&e, &s, 1024 * 1024);
        uint64_t max = 1024 * 1024 / OUTPUT_GATE_EVENT_COST;
        json_t *clear = json_pack("{s:b}", "wait", 1);

        /* clear_output() carries no bytes; a loop of them still ends. */
        for (uint64_t i = 0; i < max + 100; i++)
                output_gate_push(g, "clear_output", clear);
        json_decref(clear);
        ck_assert(output_gate_is_capped(g));
        ck_assert_uint_eq(json_array_size(s.events), max);
        output_gate_finish(g);
        ck_assert_ptr_nonnull(strstr(event_text(&s, max), "output limit of 16384 output events reached"));

        output_gate_free(g);
        json_decref(s.events);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_display_over_limit_dropped) {
        sd_event *e;
        Sink s;
        OutputGate *g = gate_new(&e, &s, 1000);
        json_t *big = json_pack("{s:s,s:{s:s%},s:{}}", "output_type", "display_data", "data", "text/plain",
                                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                                (size_t) 100, "metadata");

        for (unsigned i = 0; i < 12; i++)
                output_gate_push(g, "output", big);
        json_decref(big);
        /* 10 × 100 bytes fit exactly; the 11th and 12th do not. */
        ck_assert_uint_eq(json_array_size(s.events), 10);
        ck_assert(output_gate_is_capped(g));
        ck_assert_uint_eq(output_gate_get_dropped(g), 200);

        output_gate_free(g);
        json_decref(s.events);
        sd_event_unref(e);
}
END_TEST

static Suite *output_gate_suite(void) {
        Suite *s = suite_create("output-gate");
        TCase *tc = tcase_create("gate");

        tcase_add_test(tc, test_streams_merge_until_flush);
        tcase_add_test(tc, test_hold_timer_flushes);
        tcase_add_test(tc, test_cap_keeps_whole_lines);
        tcase_add_test(tc, test_line_without_break_dropped);
        tcase_add_test(tc, test_events_bounded);
        tcase_add_test(tc, test_display_over_limit_dropped);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(output_gate_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ExecRecord: the hash fields and the GET /status object. */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "shared/exec-record.h"
#include "shared/macro.h"

#define ID "0123456789abcdef0123456789abcdef"

static void record_fill(ExecRecord *r) {
        *r = (ExecRecord) EXEC_RECORD_INIT;
        memcpy(r->id, ID, sizeof(r->id));
        r->state = EXEC_STATE_SUCCEEDED;
        r->cell_id = strdup("cell-1");
        r->notebook_id = strdup("nb-\"1\"");
        r->has_execution_count = true;
        r->execution_count = 7;
        r->created_usec = UINT64_C(1732900000123456);
        r->started_usec = UINT64_C(1732900001123456);
        r->finished_usec = UINT64_C(1732900002623456);
        r->has_exit_code = true;
        r->exit_code = 0;
        r->has_resources = true;
        r->wall_usec = 1500000;
        r->cpu_usec = 250000;
        r->memory_peak_bytes = 10485760;
        r->limits = (Limits) {
                .timeout_usec = 30000000,
                .memory_max = 536870912,
                .cpu_quota_per_sec_usec = 1000000,
                .tasks_max = 64,
                .output_max = 1048576,
        };
        r->owner_uid = 1000;
        r->node = strdup("node-a");
        r->queue_entry = strdup("1732900000123-0");
        r->has_stdin = true;
        ck_assert(r->cell_id && r->notebook_id && r->node && r->queue_entry);
}

static const char *const expected_fields[] = {
        "state", "succeeded",
        "cell_id", "cell-1",
        "notebook_id", "nb-\"1\"",
        "execution_count", "7",
        "created_usec", "1732900000123456",
        "started_usec", "1732900001123456",
        "finished_usec", "1732900002623456",
        "exit_code", "0",
        "truncated", "0",
        "wall_usec", "1500000",
        "cpu_usec", "250000",
        "memory_peak_bytes", "10485760",
        "timeout_usec", "30000000",
        "memory_max", "536870912",
        "cpu_quota_per_sec_usec", "1000000",
        "tasks_max", "64",
        "output_max", "1048576",
        "owner_uid", "1000",
        "node", "node-a",
        "queue_entry", "1732900000123-0",
        "has_stdin", "1",
        NULL,
};

static size_t strv_length(char **l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

START_TEST(test_fields_round_trip) {
        ExecRecord a, b = EXEC_RECORD_INIT;
        _cleanup_strv_free_ char **fields = NULL;

        record_fill(&a);
        ck_assert_int_eq(exec_record_to_fields(&a, &fields), 0);
        ck_assert_uint_eq(strv_length(fields), ELEMENTSOF(expected_fields) - 1);
        for (size_t i = 0; expected_fields[i]; i++)
                ck_assert_str_eq(fields[i], expected_fields[i]);

        ck_assert_int_eq(exec_record_from_fields(&b, ID, fields, strv_length(fields)), 0);
        ck_assert_str_eq(b.id, ID);
        ck_assert_int_eq(b.state, EXEC_STATE_SUCCEEDED);
        ck_assert_str_eq(b.cell_id, "cell-1");
        ck_assert_str_eq(b.notebook_id, "nb-\"1\"");
        ck_assert(b.has_execution_count);
        ck_assert_int_eq(b.execution_count, 7);
        ck_assert_uint_eq(b.created_usec, a.created_usec);
        ck_assert_uint_eq(b.started_usec, a.started_usec);
        ck_assert_uint_eq(b.finished_usec, a.finished_usec);
        ck_assert(b.has_exit_code);
        ck_assert_int_eq(b.exit_code, 0);
        ck_assert_int_eq(b.signal, 0);
        ck_assert_ptr_null(b.error);
        ck_assert(!b.truncated);
        ck_assert(b.has_resources);
        ck_assert_uint_eq(b.wall_usec, 1500000);
        ck_assert_uint_eq(b.cpu_usec, 250000);
        ck_assert_uint_eq(b.memory_peak_bytes, 10485760);
        ck_assert_uint_eq(b.limits.timeout_usec, 30000000);
        ck_assert_uint_eq(b.limits.memory_max, 536870912);
        ck_assert_uint_eq(b.limits.cpu_quota_per_sec_usec, 1000000);
        ck_assert_uint_eq(b.limits.tasks_max, 64);
        ck_assert_uint_eq(b.limits.output_max, 1048576);
        ck_assert_uint_eq(b.owner_uid, 1000);
        ck_assert_str_eq(b.node, "node-a");
        ck_assert_str_eq(b.queue_entry, "1732900000123-0");
        ck_assert(b.has_stdin);

        exec_record_done(&a);
        exec_record_done(&b);
        ck_assert_ptr_null(b.cell_id);
        ck_assert_int_eq(b.state, EXEC_STATE_QUEUED);
        ck_assert_uint_eq(b.owner_uid, (uid_t) -1);
}
END_TEST

START_TEST(test_fields_minimal) {
        ExecRecord a = EXEC_RECORD_INIT, b = EXEC_RECORD_INIT;
        _cleanup_strv_free_ char **fields = NULL;
        static const char *const expected[] = {
                "state", "queued",
                "truncated", "0",
                "timeout_usec", "0",
                "memory_max", "0",
                "cpu_quota_per_sec_usec", "0",
                "tasks_max", "0",
                "output_max", "0",
                "has_stdin", "0",
                NULL,
        };

        /* Unknown values stay out of the hash, and come back unknown. */
        memcpy(a.id, ID, sizeof(a.id));
        a.signal = 9;
        a.has_exit_code = false;
        ck_assert_int_eq(exec_record_to_fields(&a, &fields), 0);
        ck_assert_str_eq(fields[2], "signal");
        ck_assert_str_eq(fields[3], "9");
        ck_assert_int_eq(exec_record_from_fields(&b, ID, fields, strv_length(fields)), 0);
        ck_assert_int_eq(b.signal, 9);
        ck_assert(!b.has_exit_code);
        ck_assert(!b.has_execution_count);
        ck_assert(!b.has_resources);
        ck_assert_ptr_null(b.cell_id);
        ck_assert_ptr_null(b.node);
        ck_assert_uint_eq(b.owner_uid, (uid_t) -1);
        exec_record_done(&b);

        strv_free(fields);
        fields = NULL;
        a.signal = 0;
        ck_assert_int_eq(exec_record_to_fields(&a, &fields), 0);
        ck_assert_uint_eq(strv_length(fields), ELEMENTSOF(expected) - 1);
        for (size_t i = 0; expected[i]; i++)
                ck_assert_str_eq(fields[i], expected[i]);
}
END_TEST

START_TEST(test_fields_bad) {
        ExecRecord r = EXEC_RECORD_INIT;
        static const char *const no_state[] = { "cell_id", "x", NULL };
        static const char *const bad_state[] = { "state", "sleeping", NULL };
        static const char *const bad_number[] = { "state", "queued", "created_usec", "12x", NULL };
        static const char *const negative[] = { "state", "queued", "created_usec", "-1", NULL };
        static const char *const bad_flag[] = { "state", "queued", "truncated", "yes", NULL };
        static const char *const unknown[] = { "state", "running", "colour", "blue", "owner_uid", "0", NULL };
        static const char *const odd[] = { "state", "queued", "node", NULL };

        ck_assert_int_eq(exec_record_from_fields(&r, ID, (char *const *) no_state, 2), -EBADMSG);
        ck_assert_int_eq(exec_record_from_fields(&r, ID, (char *const *) bad_state, 2), -EBADMSG);
        ck_assert_int_eq(exec_record_from_fields(&r, ID, (char *const *) bad_number, 4), -EBADMSG);
        ck_assert_int_eq(exec_record_from_fields(&r, ID, (char *const *) negative, 4), -EBADMSG);
        ck_assert_int_eq(exec_record_from_fields(&r, ID, (char *const *) bad_flag, 4), -EBADMSG);
        ck_assert_int_eq(exec_record_from_fields(&r, ID, (char *const *) odd, 3), -EBADMSG);
        ck_assert_int_eq(exec_record_from_fields(&r, "short", (char *const *) unknown, 6), -EINVAL);
        /* A failure leaves nothing behind. */
        ck_assert_ptr_null(r.cell_id);

        ck_assert_int_eq(exec_record_from_fields(&r, ID, (char *const *) unknown, 6), 0);
        ck_assert_int_eq(r.state, EXEC_STATE_RUNNING);
        ck_assert_uint_eq(r.owner_uid, 0);
        exec_record_done(&r);
}
END_TEST

static char *status_text(const ExecRecord *r, json_t *outputs) {
        json_auto_t *j = exec_record_to_status_json(r, outputs);
        char *text;

        ck_assert_ptr_nonnull(j);
        text = json_dumps(j, JSON_COMPACT);
        ck_assert_ptr_nonnull(text);
        return text;
}

START_TEST(test_status_json) {
        ExecRecord r;
        json_auto_t *outputs = json_loads("[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"hi\\n\"}]", 0, NULL);
        _cleanup_free_ char *text = NULL;

        ck_assert_ptr_nonnull(outputs);
        record_fill(&r);
        text = status_text(&r, outputs);
        ck_assert_str_eq(text,
                         "{\"execution_id\":\"" ID "\","
                         "\"status\":\"succeeded\","
                         "\"cell_id\":\"cell-1\","
                         "\"notebook_id\":\"nb-\\\"1\\\"\","
                         "\"execution_count\":7,"
                         "\"created_at\":\"2024-11-29T17:06:40.123456Z\","
                         "\"started_at\":\"2024-11-29T17:06:41.123456Z\","
                         "\"finished_at\":\"2024-11-29T17:06:42.623456Z\","
                         "\"exit_code\":0,"
                         "\"signal\":null,"
                         "\"error\":null,"
                         "\"truncated\":false,"
                         "\"outputs\":[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"hi\\n\"}],"
                         "\"resources\":{\"wall_usec\":1500000,\"cpu_usec\":250000,\"memory_peak_bytes\":10485760},"
                         "\"limits\":{\"timeout_sec\":30,\"memory_max\":536870912,\"cpu_quota_percent\":100,"
                         "\"tasks_max\":64,\"output_max\":1048576}}");
        exec_record_done(&r);
}
END_TEST

START_TEST(test_status_json_killed) {
        ExecRecord r;
        _cleanup_free_ char *text = NULL;

        /* A signal ended it: no exit code, the signal by name. */
        record_fill(&r);
        r.state = EXEC_STATE_TIMEOUT;
        r.has_exit_code = true;
        r.exit_code = -1;
        r.signal = SIGKILL;
        r.truncated = true;
        r.error = strdup("wall-clock limit");
        text = status_text(&r, NULL);
        ck_assert_ptr_nonnull(strstr(text, "\"status\":\"timeout\","));
        ck_assert_ptr_nonnull(strstr(text, "\"exit_code\":null,\"signal\":\"SIGKILL\","
                                           "\"error\":\"wall-clock limit\",\"truncated\":true,\"outputs\":[],"));
        exec_record_done(&r);
}
END_TEST

START_TEST(test_status_json_queued) {
        ExecRecord r = EXEC_RECORD_INIT;
        _cleanup_free_ char *text = NULL;

        /* Nothing known yet: nulls, not zeros. */
        memcpy(r.id, ID, sizeof(r.id));
        r.created_usec = UINT64_C(1732900000000000);
        r.limits = (Limits) {
                .timeout_usec = 1500000,
                .memory_max = 1024,
                .cpu_quota_per_sec_usec = 2500000,
                .tasks_max = 8,
                .output_max = 4096,
        };
        text = status_text(&r, NULL);
        ck_assert_str_eq(text,
                         "{\"execution_id\":\"" ID "\","
                         "\"status\":\"queued\","
                         "\"cell_id\":null,"
                         "\"notebook_id\":null,"
                         "\"execution_count\":null,"
                         "\"created_at\":\"2024-11-29T17:06:40.000000Z\","
                         "\"started_at\":null,"
                         "\"finished_at\":null,"
                         "\"exit_code\":null,"
                         "\"signal\":null,"
                         "\"error\":null,"
                         "\"truncated\":false,"
                         "\"outputs\":[],"
                         "\"resources\":{\"wall_usec\":null,\"cpu_usec\":null,\"memory_peak_bytes\":null},"
                         "\"limits\":{\"timeout_sec\":1.5,\"memory_max\":1024,\"cpu_quota_percent\":250,"
                         "\"tasks_max\":8,\"output_max\":4096}}");
}
END_TEST

static Suite *exec_record_suite(void) {
        Suite *s = suite_create("exec-record");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_fields_round_trip);
        tcase_add_test(tc, test_fields_minimal);
        tcase_add_test(tc, test_fields_bad);
        tcase_add_test(tc, test_status_json);
        tcase_add_test(tc, test_status_json_killed);
        tcase_add_test(tc, test_status_json_queued);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(exec_record_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

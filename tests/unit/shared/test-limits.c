/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/limits.h"
#include "shared/macro.h"

#define MIB (UINT64_C(1024) * 1024)
#define GIB (MIB * 1024)

START_TEST(test_defaults_and_maxima) {
        Limits d, m;

        limits_default(&d);
        ck_assert_uint_eq(d.timeout_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(d.memory_max, 512 * MIB);
        ck_assert_uint_eq(d.cpu_quota_per_sec_usec, 1000000);
        ck_assert_uint_eq(d.tasks_max, 64);
        ck_assert_uint_eq(d.output_max, 1 * MIB);
        ck_assert_uint_eq(d.file_size_max, 16 * MIB);

        limits_maximum(&m, 4);
        ck_assert_uint_eq(m.timeout_usec, 300 * USEC_PER_SEC);
        ck_assert_uint_eq(m.memory_max, 4 * GIB);
        ck_assert_uint_eq(m.cpu_quota_per_sec_usec, 4000000);
        ck_assert_uint_eq(m.tasks_max, 512);
        ck_assert_uint_eq(m.output_max, 16 * MIB);

        limits_maximum(&m, 0);  /* unknown CPU count: at least one CPU */
        ck_assert_uint_eq(m.cpu_quota_per_sec_usec, 1000000);
}
END_TEST

/* Parses @text as the "limits" object with the built-in defaults and the
 * maxima of a 4-CPU machine. */
static int parse(const char *text, Limits *ret, char **ret_message) {
        json_auto_t *o = NULL;
        json_error_t error;
        Limits d, m;

        o = json_loads(text, JSON_DECODE_ANY, &error);
        ck_assert_msg(o, "bad test JSON %s: %s", text, error.text);
        limits_default(&d);
        limits_maximum(&m, 4);
        return limits_from_json(o, &d, &m, ret, ret_message);
}

static void check_ok(const char *text, Limits *ret) {
        _cleanup_free_ char *message = NULL;

        ck_assert_int_eq(parse(text, ret, &message), 0);
        ck_assert_ptr_null(message);
}

static void check_fail(const char *text, const char *expected) {
        _cleanup_free_ char *message = NULL;
        Limits l;

        memset(&l, 0x5a, sizeof(l));
        ck_assert_int_eq(parse(text, &l, &message), -EINVAL);
        ck_assert_ptr_nonnull(message);
        ck_assert_str_eq(message, expected);
        /* @ret is not touched on failure */
        ck_assert_uint_eq(l.memory_max, UINT64_C(0x5a5a5a5a5a5a5a5a));
}

START_TEST(test_from_json_ok) {
        Limits l, d, m;

        limits_default(&d);
        limits_maximum(&m, 4);

        ck_assert_int_eq(limits_from_json(NULL, &d, &m, &l, NULL), 0);
        ck_assert_mem_eq(&l, &d, sizeof(l));

        check_ok("{}", &l);
        ck_assert_mem_eq(&l, &d, sizeof(l));

        check_ok("{\"timeout_sec\": 0.5, \"memory_max\": 33554432, \"cpu_quota_percent\": 50,"
                 " \"tasks_max\": 8, \"output_max\": 65536}", &l);
        ck_assert_uint_eq(l.timeout_usec, 500000);
        ck_assert_uint_eq(l.memory_max, 33554432);
        ck_assert_uint_eq(l.cpu_quota_per_sec_usec, 500000);
        ck_assert_uint_eq(l.tasks_max, 8);
        ck_assert_uint_eq(l.output_max, 65536);
        ck_assert_uint_eq(l.file_size_max, d.file_size_max);

        /* absent keys keep their defaults */
        check_ok("{\"tasks_max\": 9}", &l);
        ck_assert_uint_eq(l.tasks_max, 9);
        ck_assert_uint_eq(l.timeout_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(l.memory_max, 512 * MIB);

        /* exactly the maxima are allowed */
        check_ok("{\"timeout_sec\": 300, \"memory_max\": 4294967296, \"cpu_quota_percent\": 400,"
                 " \"tasks_max\": 512, \"output_max\": 16777216}", &l);
        ck_assert_uint_eq(l.timeout_usec, 300 * USEC_PER_SEC);
        ck_assert_uint_eq(l.memory_max, 4 * GIB);
        ck_assert_uint_eq(l.cpu_quota_per_sec_usec, 4000000);
        ck_assert_uint_eq(l.tasks_max, 512);
        ck_assert_uint_eq(l.output_max, 16 * MIB);

        check_ok("{\"timeout_sec\": 300.0}", &l);
        ck_assert_uint_eq(l.timeout_usec, 300 * USEC_PER_SEC);

        /* the minima */
        check_ok("{\"timeout_sec\": 0.000001, \"memory_max\": 33554432, \"cpu_quota_percent\": 1,"
                 " \"tasks_max\": 8, \"output_max\": 1024}", &l);
        ck_assert_uint_eq(l.timeout_usec, 1);
        ck_assert_uint_eq(l.memory_max, 33554432);
        ck_assert_uint_eq(l.cpu_quota_per_sec_usec, 10000);
        ck_assert_uint_eq(l.tasks_max, 8);
        ck_assert_uint_eq(l.output_max, 1024);
}
END_TEST

START_TEST(test_from_json_above) {
        check_fail("{\"memory_max\": 8589934592}",
                   "limits.memory_max: 8589934592 is above the maximum 4294967296 (MaxMemoryMax=)");
        check_fail("{\"memory_max\": 4294967297}",
                   "limits.memory_max: 4294967297 is above the maximum 4294967296 (MaxMemoryMax=)");
        check_fail("{\"timeout_sec\": 301}",
                   "limits.timeout_sec: 301 is above the maximum 300 (MaxTimeoutSec=)");
        check_fail("{\"timeout_sec\": 300.5}",
                   "limits.timeout_sec: 300.5 is above the maximum 300 (MaxTimeoutSec=)");
        check_fail("{\"timeout_sec\": 9223372036854775807}",
                   "limits.timeout_sec: 9223372036854775807 is above the maximum 300 (MaxTimeoutSec=)");
        check_fail("{\"timeout_sec\": 1e300}",
                   "limits.timeout_sec: 1e+300 is above the maximum 300 (MaxTimeoutSec=)");
        check_fail("{\"cpu_quota_percent\": 401}",
                   "limits.cpu_quota_percent: 401 is above the maximum 400 (MaxCPUQuota=)");
        check_fail("{\"cpu_quota_percent\": 9223372036854775807}",
                   "limits.cpu_quota_percent: 9223372036854775807 is above the maximum 400 (MaxCPUQuota=)");
        check_fail("{\"tasks_max\": 513}",
                   "limits.tasks_max: 513 is above the maximum 512 (MaxTasksMax=)");
        check_fail("{\"output_max\": 16777217}",
                   "limits.output_max: 16777217 is above the maximum 16777216 (MaxOutputMax=)");
}
END_TEST

START_TEST(test_from_json_below) {
        check_fail("{\"timeout_sec\": 0}", "limits.timeout_sec: 0 must be greater than 0");
        check_fail("{\"timeout_sec\": -1}", "limits.timeout_sec: -1 must be greater than 0");
        check_fail("{\"timeout_sec\": 0.0}", "limits.timeout_sec: 0 must be greater than 0");
        check_fail("{\"timeout_sec\": -0.5}", "limits.timeout_sec: -0.5 must be greater than 0");
        check_fail("{\"timeout_sec\": 1e-9}", "limits.timeout_sec: 1e-09 is below the minimum 0.000001");
        check_fail("{\"memory_max\": 0}", "limits.memory_max: 0 is below the minimum 33554432");
        check_fail("{\"memory_max\": 1}", "limits.memory_max: 1 is below the minimum 33554432");
        check_fail("{\"memory_max\": 33554431}", "limits.memory_max: 33554431 is below the minimum 33554432");
        check_fail("{\"tasks_max\": 7}", "limits.tasks_max: 7 is below the minimum 8");
        check_fail("{\"output_max\": 1023}", "limits.output_max: 1023 is below the minimum 1024");
        check_fail("{\"memory_max\": -4096}", "limits.memory_max: -4096 is below the minimum 33554432");
        check_fail("{\"cpu_quota_percent\": 0}", "limits.cpu_quota_percent: 0 is below the minimum 1");
        check_fail("{\"tasks_max\": -1}", "limits.tasks_max: -1 is below the minimum 8");
        check_fail("{\"output_max\": 0}", "limits.output_max: 0 is below the minimum 1024");
}
END_TEST

START_TEST(test_from_json_types) {
        check_fail("{\"memory_max\": 1.0}",
                   "limits.memory_max: must be an integer number of bytes from 33554432 to 4294967296, not a fractional number");
        check_fail("{\"memory_max\": \"512M\"}",
                   "limits.memory_max: must be an integer number of bytes from 33554432 to 4294967296, not a string");
        check_fail("{\"memory_max\": true}",
                   "limits.memory_max: must be an integer number of bytes from 33554432 to 4294967296, not a boolean");
        check_fail("{\"memory_max\": null}",
                   "limits.memory_max: must be an integer number of bytes from 33554432 to 4294967296, not null");
        check_fail("{\"timeout_sec\": \"30\"}",
                   "limits.timeout_sec: must be a number of seconds greater than 0 and at most 300, not a string");
        check_fail("{\"timeout_sec\": false}",
                   "limits.timeout_sec: must be a number of seconds greater than 0 and at most 300, not a boolean");
        check_fail("{\"timeout_sec\": [1]}",
                   "limits.timeout_sec: must be a number of seconds greater than 0 and at most 300, not an array");
        check_fail("{\"cpu_quota_percent\": 50.5}",
                   "limits.cpu_quota_percent: must be an integer percentage from 1 to 400, not a fractional number");
        check_fail("{\"tasks_max\": {}}",
                   "limits.tasks_max: must be an integer from 8 to 512, not an object");
        check_fail("{\"output_max\": 1e3}",
                   "limits.output_max: must be an integer number of bytes from 1024 to 16777216, not a fractional number");
}
END_TEST

START_TEST(test_from_json_unknown_and_shape) {
        check_fail("{\"memory\": 1}",
                   "limits.memory: unknown field (known: timeout_sec, memory_max, cpu_quota_percent, tasks_max, output_max)");
        check_fail("{\"file_size_max\": 1}",
                   "limits.file_size_max: unknown field (known: timeout_sec, memory_max, cpu_quota_percent, tasks_max, output_max)");
        /* the first bad member in request order is the one named */
        check_fail("{\"tasks_max\": 0, \"memory_max\": 0}", "limits.tasks_max: 0 is below the minimum 8");
        check_fail("[]", "limits: must be an object, not an array");
        check_fail("5", "limits: must be an object, not an integer");
}
END_TEST

START_TEST(test_to_json) {
        json_auto_t *j = NULL, *k = NULL;
        _cleanup_free_ char *s = NULL, *t = NULL;
        Limits l;

        limits_default(&l);
        j = limits_to_json(&l);
        ck_assert_ptr_nonnull(j);
        s = json_dumps(j, JSON_COMPACT);
        ck_assert_str_eq(s, "{\"timeout_sec\":30,\"memory_max\":536870912,\"cpu_quota_percent\":100,"
                            "\"tasks_max\":64,\"output_max\":1048576}");

        l.timeout_usec = 1500000;
        l.memory_max = UINT64_MAX;     /* clamped to what a JSON integer holds */
        k = limits_to_json(&l);
        ck_assert_ptr_nonnull(k);
        t = json_dumps(k, JSON_COMPACT);
        ck_assert_str_eq(t, "{\"timeout_sec\":1.5,\"memory_max\":9223372036854775807,\"cpu_quota_percent\":100,"
                            "\"tasks_max\":64,\"output_max\":1048576}");
}
END_TEST

START_TEST(test_to_json_roundtrip) {
        json_auto_t *j = NULL;
        Limits l, back, m;

        limits_default(&l);
        l.timeout_usec = 2500000;
        l.cpu_quota_per_sec_usec = 250 * 10000;
        limits_maximum(&m, 4);
        j = limits_to_json(&l);
        ck_assert_int_eq(limits_from_json(j, &l, &m, &back, NULL), 0);
        ck_assert_uint_eq(back.timeout_usec, 2500000);
        ck_assert_uint_eq(back.cpu_quota_per_sec_usec, 2500000);
        ck_assert_mem_eq(&back, &l, sizeof(l));
}
END_TEST

START_TEST(test_parse_size) {
        uint64_t v;

        ck_assert_int_eq(parse_size("1024", &v), 0);
        ck_assert_uint_eq(v, 1024);
        ck_assert_int_eq(parse_size("0", &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(parse_size("16K", &v), 0);
        ck_assert_uint_eq(v, 16384);
        ck_assert_int_eq(parse_size("512M", &v), 0);
        ck_assert_uint_eq(v, 512 * MIB);
        ck_assert_int_eq(parse_size("4G", &v), 0);
        ck_assert_uint_eq(v, 4 * GIB);
        ck_assert_int_eq(parse_size("2T", &v), 0);
        ck_assert_uint_eq(v, 2048 * GIB);
        ck_assert_int_eq(parse_size("1.5G", &v), 0);
        ck_assert_uint_eq(v, 1536 * MIB);
        ck_assert_int_eq(parse_size("100B", &v), 0);
        ck_assert_uint_eq(v, 100);
        ck_assert_int_eq(parse_size("15E", &v), 0);
        ck_assert_uint_eq(v, UINT64_C(15) << 60);

        ck_assert_int_eq(parse_size("16E", &v), -ERANGE);
        ck_assert_int_eq(parse_size("18446744073709551616", &v), -ERANGE);
        ck_assert_int_eq(parse_size("infinity", &v), -EINVAL);
        ck_assert_int_eq(parse_size("", &v), -EINVAL);
        ck_assert_int_eq(parse_size("-1", &v), -EINVAL);
        ck_assert_int_eq(parse_size("12X", &v), -EINVAL);
        ck_assert_int_eq(parse_size("1k", &v), -EINVAL);
        ck_assert_int_eq(parse_size("M", &v), -EINVAL);
        ck_assert_int_eq(parse_size("1.G", &v), -EINVAL);
        ck_assert_int_eq(parse_size("1G 2M", &v), -EINVAL);
        ck_assert_int_eq(parse_size(" 1G", &v), -EINVAL);
}
END_TEST

START_TEST(test_parse_sec) {
        uint64_t v;

        ck_assert_int_eq(parse_sec("30", &v), 0);
        ck_assert_uint_eq(v, 30 * USEC_PER_SEC);
        ck_assert_int_eq(parse_sec("30s", &v), 0);
        ck_assert_uint_eq(v, 30 * USEC_PER_SEC);
        ck_assert_int_eq(parse_sec("500ms", &v), 0);
        ck_assert_uint_eq(v, 500000);
        ck_assert_int_eq(parse_sec("2min", &v), 0);
        ck_assert_uint_eq(v, 120 * USEC_PER_SEC);
        ck_assert_int_eq(parse_sec("1h", &v), 0);
        ck_assert_uint_eq(v, 3600 * USEC_PER_SEC);
        ck_assert_int_eq(parse_sec("1.5s", &v), 0);
        ck_assert_uint_eq(v, 1500000);
        ck_assert_int_eq(parse_sec("1d", &v), 0);
        ck_assert_uint_eq(v, 86400 * USEC_PER_SEC);
        ck_assert_int_eq(parse_sec("1min 30s", &v), 0);
        ck_assert_uint_eq(v, 90 * USEC_PER_SEC);
        ck_assert_int_eq(parse_sec("1h30m", &v), 0);
        ck_assert_uint_eq(v, 5400 * USEC_PER_SEC);
        ck_assert_int_eq(parse_sec("5 min", &v), 0);
        ck_assert_uint_eq(v, 300 * USEC_PER_SEC);
        ck_assert_int_eq(parse_sec("250us", &v), 0);
        ck_assert_uint_eq(v, 250);
        ck_assert_int_eq(parse_sec("0", &v), 0);
        ck_assert_uint_eq(v, 0);

        ck_assert_int_eq(parse_sec("", &v), -EINVAL);
        ck_assert_int_eq(parse_sec("infinity", &v), -EINVAL);
        ck_assert_int_eq(parse_sec("-5s", &v), -EINVAL);
        ck_assert_int_eq(parse_sec("5x", &v), -EINVAL);
        ck_assert_int_eq(parse_sec("5 s x", &v), -EINVAL);
        ck_assert_int_eq(parse_sec("s", &v), -EINVAL);
        ck_assert_int_eq(parse_sec("99999999999999999y", &v), -ERANGE);
}
END_TEST

START_TEST(test_parse_percent_unsigned) {
        unsigned u;

        ck_assert_int_eq(parse_percent("100%", &u), 0);
        ck_assert_uint_eq(u, 100);
        ck_assert_int_eq(parse_percent("250%", &u), 0);
        ck_assert_uint_eq(u, 250);
        ck_assert_int_eq(parse_percent("0%", &u), 0);
        ck_assert_uint_eq(u, 0);
        ck_assert_int_eq(parse_percent("100", &u), -EINVAL);
        ck_assert_int_eq(parse_percent("%", &u), -EINVAL);
        ck_assert_int_eq(parse_percent("-5%", &u), -EINVAL);
        ck_assert_int_eq(parse_percent("12.5%", &u), -EINVAL);
        ck_assert_int_eq(parse_percent("100%%", &u), -EINVAL);
        ck_assert_int_eq(parse_percent("4294967296%", &u), -ERANGE);

        ck_assert_int_eq(parse_unsigned("0", &u), 0);
        ck_assert_uint_eq(u, 0);
        ck_assert_int_eq(parse_unsigned("4294967295", &u), 0);
        ck_assert_uint_eq(u, 4294967295u);
        ck_assert_int_eq(parse_unsigned("4294967296", &u), -ERANGE);
        ck_assert_int_eq(parse_unsigned("", &u), -EINVAL);
        ck_assert_int_eq(parse_unsigned("-1", &u), -EINVAL);
        ck_assert_int_eq(parse_unsigned("+1", &u), -EINVAL);
        ck_assert_int_eq(parse_unsigned("12a", &u), -EINVAL);
        ck_assert_int_eq(parse_unsigned("0x10", &u), -EINVAL);
}
END_TEST

START_TEST(test_verify) {
        _cleanup_free_ char *message = NULL;
        Limits d, max, l;

        limits_default(&d);
        limits_maximum(&max, 4);
        ck_assert_int_eq(limits_verify(&d, &max, &message), 0);
        ck_assert_ptr_null(message);
        ck_assert_int_eq(limits_verify(&max, &max, NULL), 0);

        l = d;
        l.memory_max = max.memory_max + 1;
        ck_assert_int_eq(limits_verify(&l, &max, &message), -EINVAL);
        ck_assert_str_eq(message, "limits.memory_max: 4294967297 is above the maximum 4294967296 (MaxMemoryMax=)");
        free(message);
        message = NULL;

        l = d;
        l.tasks_max = 2;
        ck_assert_int_eq(limits_verify(&l, &max, &message), -EINVAL);
        ck_assert_str_eq(message, "limits.tasks_max: 2 is below the minimum 8");
        free(message);
        message = NULL;

        l = d;
        l.timeout_usec = 3000 * USEC_PER_SEC;
        ck_assert_int_eq(limits_verify(&l, &max, &message), -EINVAL);
        ck_assert_str_eq(message, "limits.timeout_sec: 3000 is above the maximum 300 (MaxTimeoutSec=)");
}
END_TEST

static Suite *limits_suite(void) {
        Suite *s = suite_create("limits");
        TCase *tc = tcase_create("json");
        TCase *tp = tcase_create("parsers");

        tcase_add_test(tc, test_verify);
        tcase_add_test(tc, test_defaults_and_maxima);
        tcase_add_test(tc, test_from_json_ok);
        tcase_add_test(tc, test_from_json_above);
        tcase_add_test(tc, test_from_json_below);
        tcase_add_test(tc, test_from_json_types);
        tcase_add_test(tc, test_from_json_unknown_and_shape);
        tcase_add_test(tc, test_to_json);
        tcase_add_test(tc, test_to_json_roundtrip);
        suite_add_tcase(s, tc);

        tcase_add_test(tp, test_parse_size);
        tcase_add_test(tp, test_parse_sec);
        tcase_add_test(tp, test_parse_percent_unsigned);
        suite_add_tcase(s, tp);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(limits_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "shared/time-util.h"

START_TEST(test_rfc3339_known) {
        /* µs values computed once with Python's datetime (integer arithmetic). */
        static const struct {
                uint64_t usec;
                const char *text;
        } table[] = {
                { 0,                     "1970-01-01T00:00:00.000000Z" },
                { 946684800000001,       "2000-01-01T00:00:00.000001Z" },
                { 1709251199999999,      "2024-02-29T23:59:59.999999Z" },
                { 1795985012123456,      "2026-11-29T20:43:32.123456Z" },
                { 253402300799999999,    "9999-12-31T23:59:59.999999Z" },
        };
        char buf[RFC3339_MAX];

        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                memset(buf, 'x', sizeof(buf));
                ck_assert_ptr_eq(format_rfc3339(buf, sizeof(buf), table[i].usec), buf);
                ck_assert_str_eq(buf, table[i].text);
        }
}
END_TEST

START_TEST(test_rfc3339_limits) {
        char buf[RFC3339_MAX];

        ck_assert_uint_eq(RFC3339_MAX, 28);
        /* exactly fits, one byte less does not */
        ck_assert_ptr_nonnull(format_rfc3339(buf, RFC3339_MAX, 1));
        ck_assert_ptr_null(format_rfc3339(buf, RFC3339_MAX - 1, 1));
        ck_assert_ptr_null(format_rfc3339(buf, 0, 1));
        /* year 10000 has no RFC 3339 form */
        ck_assert_ptr_null(format_rfc3339(buf, sizeof(buf), 253402300800000000));
        ck_assert_ptr_null(format_rfc3339(buf, sizeof(buf), UINT64_MAX));
}
END_TEST

START_TEST(test_now) {
        uint64_t a, b;

        a = now_usec(CLOCK_REALTIME);
        /* after 2020-01-01, before 2100-01-01 */
        ck_assert_uint_gt(a, UINT64_C(1577836800000000));
        ck_assert_uint_lt(a, UINT64_C(4102444800000000));

        a = now_usec(CLOCK_MONOTONIC);
        b = now_usec(CLOCK_MONOTONIC);
        ck_assert_uint_gt(a, 0);
        ck_assert_uint_ge(b, a);
}
END_TEST

static Suite *time_suite(void) {
        Suite *s = suite_create("time-util");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_rfc3339_known);
        tcase_add_test(tc, test_rfc3339_limits);
        tcase_add_test(tc, test_now);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(time_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

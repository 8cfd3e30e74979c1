/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "shared/exec-id.h"

START_TEST(test_new) {
        char a[EXEC_ID_LEN + 1], b[EXEC_ID_LEN + 1];
        unsigned seen[16] = {};

        memset(a, 'X', sizeof(a));
        ck_assert_int_eq(exec_id_new(a), 0);
        ck_assert_uint_eq(strlen(a), EXEC_ID_LEN);
        ck_assert(exec_id_is_valid(a));
        ck_assert_int_eq(exec_id_new(b), 0);
        ck_assert(exec_id_is_valid(b));
        ck_assert_str_ne(a, b);

        /* 64 ids are 2048 hex digits: every digit value shows up (the
         * chance that one is missing is about 16 · (15/16)^2048 ≈ 1e-56). */
        for (int i = 0; i < 64; i++) {
                ck_assert_int_eq(exec_id_new(a), 0);
                for (size_t j = 0; j < EXEC_ID_LEN; j++)
                        seen[a[j] <= '9' ? a[j] - '0' : a[j] - 'a' + 10]++;
        }
        for (int i = 0; i < 16; i++)
                ck_assert_uint_gt(seen[i], 0);
}
END_TEST

START_TEST(test_valid) {
        ck_assert(exec_id_is_valid("0123456789abcdef0123456789abcdef"));
        ck_assert(exec_id_is_valid("ffffffffffffffffffffffffffffffff"));
        ck_assert(exec_id_is_valid("00000000000000000000000000000000"));

        ck_assert(!exec_id_is_valid(NULL));
        ck_assert(!exec_id_is_valid(""));
        ck_assert(!exec_id_is_valid("0123456789ABCDEF0123456789abcdef"));       /* uppercase */
        ck_assert(!exec_id_is_valid("0123456789abcdef0123456789abcdeF"));
        ck_assert(!exec_id_is_valid("0123456789abcdef0123456789abcde"));        /* 31 */
        ck_assert(!exec_id_is_valid("0123456789abcdef0123456789abcdef0"));      /* 33 */
        ck_assert(!exec_id_is_valid("0123456789abcdef0123456789abcdeg"));       /* non-hex */
        ck_assert(!exec_id_is_valid("0123456789abcdef-123456789abcdef"));
        ck_assert(!exec_id_is_valid("../../../../../../../../etc/pass"));
        ck_assert(!exec_id_is_valid("0123456789abcdef0123456789abcde "));
        ck_assert(!exec_id_is_valid("0123456789abcdef\n123456789abcdef"));
}
END_TEST

static Suite *exec_id_suite(void) {
        Suite *s = suite_create("exec-id");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_new);
        tcase_add_test(tc, test_valid);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(exec_id_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

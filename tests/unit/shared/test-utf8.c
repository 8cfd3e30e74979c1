/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "shared/utf8.h"

#define FFFD "\xef\xbf\xbd"

/* Repairs @in (final) and compares with @expected, both with explicit sizes. */
static void check_repair(const char *in, size_t in_size, const char *expected, size_t expected_size) {
        _cleanup_free_ char *out = NULL;
        size_t len = SIZE_MAX, consumed = SIZE_MAX;

        out = utf8_repair(in, in_size, true, &len, &consumed);
        ck_assert_ptr_nonnull(out);
        ck_assert_uint_eq(consumed, in_size);
        ck_assert_uint_eq(len, expected_size);
        ck_assert_mem_eq(out, expected, expected_size);
        ck_assert_int_eq(out[len], 0);
        ck_assert(utf8_is_valid(out, len));
}
#define CHECK_REPAIR(in, expected) check_repair(in, sizeof(in) - 1, expected, sizeof(expected) - 1)

START_TEST(test_c04_bytes) {
        /* Case C04: the exact bytes the cell writes. */
        CHECK_REPAIR("bad:\xff\xfe\xc3(\n", "bad:" FFFD FFFD FFFD "(\n");
        CHECK_REPAIR("\x80" "abc\n", FFFD "abc\n");
}
END_TEST

START_TEST(test_valid_untouched) {
        CHECK_REPAIR("", "");
        CHECK_REPAIR("plain ascii\n", "plain ascii\n");
        CHECK_REPAIR("a\0b", "a\0b");
        CHECK_REPAIR("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9");
        CHECK_REPAIR("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");           /* U+1F600 */
        CHECK_REPAIR("\xed\x9f\xbf", "\xed\x9f\xbf");                   /* U+D7FF, last before surrogates */
        CHECK_REPAIR("\xee\x80\x80", "\xee\x80\x80");                   /* U+E000, first after */
        CHECK_REPAIR("\xef\xbf\xbf", "\xef\xbf\xbf");                   /* U+FFFF */
        CHECK_REPAIR("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");           /* U+10FFFF */
}
END_TEST

/* Expectations produced once with /usr/bin/python3: bytes.decode("utf-8", "replace"). */
START_TEST(test_maximal_subparts) {
        CHECK_REPAIR("\xc0\xaf", FFFD FFFD);                            /* overlong '/' */
        CHECK_REPAIR("\xc1\xbf", FFFD FFFD);
        CHECK_REPAIR("\xe0\x80\xaf", FFFD FFFD FFFD);                   /* overlong, 3 bytes */
        CHECK_REPAIR("\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD);          /* overlong, 4 bytes */
        CHECK_REPAIR("\xed\xa0\x80", FFFD FFFD FFFD);                   /* surrogate U+D800 */
        CHECK_REPAIR("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);          /* U+110000 */
        CHECK_REPAIR("\xf5", FFFD);
        CHECK_REPAIR("\xfe\xff", FFFD FFFD);
        CHECK_REPAIR("\xe1\x80", FFFD);                                 /* truncated at the end: one */
        CHECK_REPAIR("\xe1\x80" "A", FFFD "A");
        CHECK_REPAIR("\xf0\x9f\x98", FFFD);
        CHECK_REPAIR("\xc2", FFFD);
        /* Unicode 15 §3.9, Table 3-8 */
        CHECK_REPAIR("a\xf1\x80\x80\xe1\x80\xc2" "b\x80" "c\x80\xbf" "d",
                     "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d");
}
END_TEST

START_TEST(test_split_sequences) {
        /* U+1F600 written in pieces: nothing is converted until it completes. */
        const char all[] = "x\xf0\x9f\x98\x80y";
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        size_t len, consumed;

        a = utf8_repair(all, 3, false, &len, &consumed);        /* "x\xf0\x9f" */
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(consumed, 1);
        ck_assert_uint_eq(len, 1);
        ck_assert_str_eq(a, "x");

        /* the caller passes the rest again with more data */
        b = utf8_repair(all + 1, 3, false, &len, &consumed);    /* "\xf0\x9f\x98" */
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(consumed, 0);
        ck_assert_uint_eq(len, 0);

        c = utf8_repair(all + 1, 5, false, &len, &consumed);    /* complete + "y" */
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(consumed, 5);
        ck_assert_uint_eq(len, 5);
        ck_assert_mem_eq(c, "\xf0\x9f\x98\x80y", 5);
}
END_TEST

START_TEST(test_split_invalid_not_held) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        size_t len, consumed;

        /* An invalid byte at the end is not a "so far valid" beginning. */
        a = utf8_repair("ab\x80", 3, false, &len, &consumed);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(consumed, 3);
        ck_assert_uint_eq(len, 2 + 3);
        ck_assert_mem_eq(a, "ab" FFFD, 5);

        /* E0 9F can never complete (overlong): converted at once. */
        b = utf8_repair("\xe0\x9f", 2, false, &len, &consumed);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(consumed, 2);
        ck_assert_uint_eq(len, 6);
        ck_assert_mem_eq(b, FFFD FFFD, 6);

        /* ED A0 (surrogate) likewise */
        c = utf8_repair("\xed\xa0", 2, false, &len, &consumed);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(consumed, 2);
        ck_assert_mem_eq(c, FFFD FFFD, 6);
}
END_TEST

START_TEST(test_final_flushes_tail) {
        _cleanup_free_ char *a = NULL;
        size_t len, consumed;

        a = utf8_repair("ok\xe2\x82", 4, true, &len, &consumed);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(consumed, 4);
        ck_assert_uint_eq(len, 5);
        ck_assert_mem_eq(a, "ok" FFFD, 5);
}
END_TEST

START_TEST(test_every_split_point) {
        /* Feeding C04's bytes in two pieces at every offset gives the same text
         * as one call. */
        static const char in[] = "bad:\xff\xfe\xc3(\n\xe2\x82\xac\xf0\x9f\x98\x80\x80" "abc\n";
        static const char expected[] = "bad:" FFFD FFFD FFFD "(\n\xe2\x82\xac\xf0\x9f\x98\x80" FFFD "abc\n";
        const size_t n = sizeof(in) - 1;

        for (size_t cut = 0; cut <= n; cut++) {
                _cleanup_free_ char *first = NULL, *second = NULL;
                char joined[128];
                size_t len1, len2, consumed1, consumed2;

                first = utf8_repair(in, cut, false, &len1, &consumed1);
                ck_assert_ptr_nonnull(first);
                ck_assert_uint_le(consumed1, cut);
                ck_assert_uint_ge(consumed1 + 3, cut);   /* at most 3 bytes held back */
                second = utf8_repair(in + consumed1, n - consumed1, true, &len2, &consumed2);
                ck_assert_ptr_nonnull(second);
                ck_assert_uint_eq(consumed2, n - consumed1);
                ck_assert_uint_eq(len1 + len2, sizeof(expected) - 1);
                memcpy(joined, first, len1);
                memcpy(joined + len1, second, len2);
                ck_assert_mem_eq(joined, expected, sizeof(expected) - 1);
        }
}
END_TEST

START_TEST(test_is_valid) {
        ck_assert(utf8_is_valid("", 0));
        ck_assert(utf8_is_valid("a\0b", 3));
        ck_assert(utf8_is_valid("\xf4\x8f\xbf\xbf", 4));
        ck_assert(!utf8_is_valid("\xf4\x90\x80\x80", 4));
        ck_assert(!utf8_is_valid("\xed\xa0\x80", 3));
        ck_assert(!utf8_is_valid("\xc0\xaf", 2));
        ck_assert(!utf8_is_valid("\xe2\x82", 2));       /* incomplete is invalid */
        ck_assert(!utf8_is_valid("abc\xff", 4));
}
END_TEST

static Suite *utf8_suite(void) {
        Suite *s = suite_create("utf8");
        TCase *tc = tcase_create("repair");

        tcase_add_test(tc, test_c04_bytes);
        tcase_add_test(tc, test_valid_untouched);
        tcase_add_test(tc, test_maximal_subparts);
        tcase_add_test(tc, test_split_sequences);
        tcase_add_test(tc, test_split_invalid_not_held);
        tcase_add_test(tc, test_final_flushes_tail);
        tcase_add_test(tc, test_every_split_point);
        tcase_add_test(tc, test_is_valid);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(utf8_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

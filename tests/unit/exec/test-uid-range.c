/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/uid-range.h"
#include "shared/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(UidAllocator *, uid_allocator_free);

static uid_t take(UidAllocator *a) {
        uid_t uid = 0;

        ck_assert_int_eq(uid_allocator_take(a, &uid), 0);
        ck_assert(uid_allocator_in_use(a, uid));
        return uid;
}

START_TEST(test_round_robin) {
        _cleanup_(uid_allocator_freep) UidAllocator *a = NULL;

        ck_assert_int_eq(uid_allocator_new(&a, 1000, 1004, 0), 0);
        ck_assert_uint_eq(uid_allocator_n_used(a), 0);

        /* In order, and a freed uid is not given again before the others. */
        ck_assert_uint_eq(take(a), 1000);
        ck_assert_uint_eq(take(a), 1001);
        ck_assert_int_eq(uid_allocator_release(a, 1000), 0);
        ck_assert(!uid_allocator_in_use(a, 1000));
        ck_assert_uint_eq(take(a), 1002);
        ck_assert_uint_eq(take(a), 1003);
        ck_assert_uint_eq(take(a), 1004);
        ck_assert_uint_eq(uid_allocator_n_used(a), 4);

        /* Wraps around, skipping what is in use (1001..1004). */
        ck_assert_uint_eq(take(a), 1000);
        ck_assert_uint_eq(uid_allocator_n_used(a), 5);

        /* Full. */
        uid_t u = 4242;
        ck_assert_int_eq(uid_allocator_take(a, &u), -EBUSY);
        ck_assert_uint_eq(u, 4242);

        /* Only what is in use can be released, once. */
        ck_assert_int_eq(uid_allocator_release(a, 1003), 0);
        ck_assert_int_eq(uid_allocator_release(a, 1003), -ENOENT);
        ck_assert_int_eq(uid_allocator_release(a, 999), -ENOENT);
        ck_assert_uint_eq(take(a), 1003);

        /* After the last given (1003), skipping 1004 and 1000–1002 in use… */
        ck_assert_int_eq(uid_allocator_release(a, 1002), 0);
        ck_assert_int_eq(uid_allocator_release(a, 1001), 0);
        ck_assert_uint_eq(take(a), 1001);
        ck_assert_uint_eq(take(a), 1002);
}
END_TEST

START_TEST(test_start) {
        _cleanup_(uid_allocator_freep) UidAllocator *a = NULL, *b = NULL, *c = NULL;

        /* The first uid is @start folded into the range. */
        ck_assert_int_eq(uid_allocator_new(&a, 1000, 1009, 7), 0);
        ck_assert_uint_eq(take(a), 1007);
        ck_assert_int_eq(uid_allocator_new(&b, 1000, 1009, 12345), 0);
        ck_assert_uint_eq(take(b), 1005);
        ck_assert_uint_eq(take(b), 1006);

        /* The whole uid_t range but -1, and one uid. */
        ck_assert_int_eq(uid_allocator_new(&c, 0, 4294967294u, 4294967294u), 0);
        ck_assert_uint_eq(take(c), 4294967294u);
        ck_assert_uint_eq(take(c), 0);
        c = uid_allocator_free(c);
        ck_assert_int_eq(uid_allocator_new(&c, 5, 5, 99), 0);
        ck_assert_uint_eq(take(c), 5);
        uid_t u;
        ck_assert_int_eq(uid_allocator_take(c, &u), -EBUSY);
        ck_assert_int_eq(uid_allocator_release(c, 5), 0);
        ck_assert_uint_eq(take(c), 5);

        c = uid_allocator_free(c);
        ck_assert_int_eq(uid_allocator_new(&c, 6, 5, 0), -EINVAL);
        ck_assert_ptr_null(uid_allocator_free(NULL));
}
END_TEST

START_TEST(test_many_distinct) {
        _cleanup_(uid_allocator_freep) UidAllocator *a = NULL;
        static bool seen[1000];
        uid_t first = 1879048192;

        /* Concurrent executions never share a uid: 1000 at once, then with
         * every other one given back, the next 500 go to the free ones. */
        ck_assert_int_eq(uid_allocator_new(&a, first, first + 999, 500), 0);
        for (size_t i = 0; i < 1000; i++) {
                uid_t u = take(a);
                ck_assert_uint_ge(u, first);
                ck_assert_uint_le(u, first + 999);
                ck_assert(!seen[u - first]);
                seen[u - first] = true;
        }
        for (uid_t u = first; u <= first + 999; u += 2)
                ck_assert_int_eq(uid_allocator_release(a, u), 0);
        ck_assert_uint_eq(uid_allocator_n_used(a), 500);
        for (size_t i = 0; i < 500; i++) {
                uid_t u = take(a);
                ck_assert_uint_eq((u - first) % 2, 0);
        }
        uid_t u;
        ck_assert_int_eq(uid_allocator_take(a, &u), -EBUSY);
}
END_TEST

START_TEST(test_userdb) {
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *want = NULL, *root = NULL;
        struct passwd *pw = getpwuid(0);
        struct group *g;

        /* (getpwuid()'s buffer is overwritten by the next lookup.) */
        ck_assert_ptr_nonnull(pw);
        root = strdup(pw->pw_name);
        ck_assert_ptr_nonnull(root);

        /* The default range is unused on this machine (and must be on any
         * machine pyexecd runs on). */
        ck_assert_int_eq(uid_range_check_userdb(1879048192, 1879113727, &m1), 0);
        ck_assert_ptr_null(m1);
        ck_assert_int_eq(uid_range_check_userdb(1879048192, 1879113727, NULL), 0);

        /* root at an end of the range: found by getpwuid(). */
        ck_assert_int_ge(asprintf(&want, "[Sandbox] UIDRange=0-0 holds user \"%s\" (0) of the user database; "
                                         "choose a range no user or group uses", root), 0);
        ck_assert_int_eq(uid_range_check_userdb(0, 0, &m2), -EEXIST);
        ck_assert_str_eq(m2, want);

        /* Inside the range, not at its ends: found by enumeration. Some
         * user with an id below 60000 exists on every Debian system
         * (daemon, bin, sys, …); the message names one of them. */
        ck_assert_int_eq(uid_range_check_userdb(1, 59999, &m3), -EEXIST);
        ck_assert_ptr_nonnull(m3);
        ck_assert_msg(strncmp(m3, "[Sandbox] UIDRange=1-59999 holds ", 33) == 0, "%s", m3);

        /* A group alone counts too: a range of one gid that only a group has. */
        setgrent();
        while ((g = getgrent()))
                if (g->gr_gid > 0 && !getpwuid((uid_t) g->gr_gid))
                        break;
        ck_assert_msg(g, "no group without a user of the same id (Debian has several: tty, disk, shadow, …)");
        {
                gid_t gid = g->gr_gid;
                _cleanup_free_ char *m4 = NULL, *w4 = NULL;

                ck_assert_int_ge(asprintf(&w4, "[Sandbox] UIDRange=%u-%u holds group \"%s\" (%u) of the user database; "
                                               "choose a range no user or group uses",
                                          (unsigned) gid, (unsigned) gid, g->gr_name, (unsigned) gid), 0);
                endgrent();
                ck_assert_int_eq(uid_range_check_userdb((uid_t) gid, (uid_t) gid, &m4), -EEXIST);
                ck_assert_str_eq(m4, w4);
        }
}
END_TEST

static Suite *uid_range_suite(void) {
        Suite *s = suite_create("uid-range");
        TCase *tc = tcase_create("uid-range");

        tcase_add_test(tc, test_round_robin);
        tcase_add_test(tc, test_start);
        tcase_add_test(tc, test_many_distinct);
        tcase_add_test(tc, test_userdb);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(uid_range_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

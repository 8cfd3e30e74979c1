/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* pyexecctl's command line, exit status table and figure formatting. */

#include <check.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pyexecctl/format.h"
#include "pyexecctl/pyexecctl.h"

/* Parses a NULL-terminated list of words (argv[0] included) into @a. */
static int parse(Arguments *a, const char **words) {
        static char *argv[32];
        int argc = 0;

        /* getopt_long() permutes the array, never the strings. */
        for (; words[argc]; argc++)
                argv[argc] = (char *) words[argc];
        argv[argc] = NULL;

        *a = ARGUMENTS_INIT;
        optind = 0;     /* glibc: a full reset, for a new argv */
        opterr = 0;     /* keep the test's output clean */
        return parse_argv(argc, argv, a);
}

#define PARSE(a, ...) parse((a), (const char *[]) { "pyexecctl", __VA_ARGS__, NULL })

START_TEST(test_default_verb) {
        Arguments a;

        ck_assert_int_eq(parse(&a, (const char *[]) { "pyexecctl", NULL }), 1);
        ck_assert_int_eq(a.verb, VERB_LIST);
        ck_assert(a.pager);
        ck_assert(a.legend);
        ck_assert(a.ask_password);
        ck_assert(!a.json);
        ck_assert_int_eq(a.n_args, 0);
}
END_TEST

START_TEST(test_run) {
        Arguments a;

        ck_assert_int_eq(PARSE(&a, "run", "cell.py"), 1);
        ck_assert_int_eq(a.verb, VERB_RUN);
        ck_assert_int_eq(a.n_args, 1);
        ck_assert_str_eq(a.args[0], "cell.py");
        ck_assert_uint_eq(a.timeout_usec, 0);
        ck_assert_int_eq(a.execution_count, -1);

        ck_assert_int_eq(PARSE(&a, "run"), 1);
        ck_assert_int_eq(a.n_args, 0);

        ck_assert_int_eq(PARSE(&a, "run", "-"), 1);
        ck_assert_str_eq(a.args[0], "-");

        /* Options after the verb and its argument, as getopt permutes them. */
        ck_assert_int_eq(PARSE(&a, "run", "cell.py", "--timeout=1.5s", "--memory-max=64M",
                               "--cpu-quota=50%", "--tasks-max=8", "--output-max=1K", "--stdin=in.txt",
                               "--cell-id=c", "--notebook-id=n", "--execution-count=0", "--json",
                               "--output-dir=/tmp", "-q", "--no-ask-password"), 1);
        ck_assert_str_eq(a.args[0], "cell.py");
        ck_assert_uint_eq(a.timeout_usec, 1500000);
        ck_assert_uint_eq(a.memory_max, 64 * 1024 * 1024);
        ck_assert_uint_eq(a.cpu_quota_percent, 50);
        ck_assert_uint_eq(a.tasks_max, 8);
        ck_assert_uint_eq(a.output_max, 1024);
        ck_assert_str_eq(a.stdin_file, "in.txt");
        ck_assert_str_eq(a.cell_id, "c");
        ck_assert_str_eq(a.notebook_id, "n");
        ck_assert_int_eq(a.execution_count, 0);
        ck_assert(a.json);
        ck_assert(a.quiet);
        ck_assert(!a.ask_password);
        ck_assert_str_eq(a.output_dir, "/tmp");

        ck_assert_int_eq(PARSE(&a, "--timeout=30", "--memory-max=67108864", "--cpu-quota=200", "run"), 1);
        ck_assert_uint_eq(a.timeout_usec, 30000000);
        ck_assert_uint_eq(a.memory_max, 67108864);
        ck_assert_uint_eq(a.cpu_quota_percent, 200);
        ck_assert_int_eq(PARSE(&a, "run", "--timeout=2min"), 1);
        ck_assert_uint_eq(a.timeout_usec, 120000000);
}
END_TEST

START_TEST(test_invalid) {
        Arguments a;

        ck_assert_int_eq(PARSE(&a, "frobnicate"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "--frobnicate"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "a.py", "b.py"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "status"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "status", "a", "b"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "cancel"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "list", "x"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "queue", "x"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--timeout=0"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--timeout=soon"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--timeout=-1"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--memory-max=lots"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--memory-max=0"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--cpu-quota=0%"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--cpu-quota=1.5%"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--tasks-max=-3"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--tasks-max=0"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--execution-count=-1"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--execution-count=3000000000"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--output-dir="), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--stdin="), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "run", "--timeout"), -EINVAL);   /* missing value */

        /* Options of run with another verb are a mistake worth saying. */
        ck_assert_int_eq(PARSE(&a, "status", "0123456789abcdef0123456789abcdef", "--timeout=3"), -EINVAL);
        ck_assert_int_eq(PARSE(&a, "list", "--stdin=x"), -EINVAL);

        /* What failed to parse leaves @a as it was. */
        ck_assert_int_eq(a.verb, VERB_LIST);
        ck_assert(a.stdin_file == NULL);
}
END_TEST

START_TEST(test_other_verbs) {
        Arguments a;

        ck_assert_int_eq(PARSE(&a, "status", "0123456789abcdef0123456789abcdef", "--json", "--no-pager"), 1);
        ck_assert_int_eq(a.verb, VERB_STATUS);
        ck_assert_str_eq(a.args[0], "0123456789abcdef0123456789abcdef");
        ck_assert(a.json);
        ck_assert(!a.pager);

        ck_assert_int_eq(PARSE(&a, "cancel", "x"), 1);
        ck_assert_int_eq(a.verb, VERB_CANCEL);
        ck_assert_int_eq(PARSE(&a, "list", "--no-legend"), 1);
        ck_assert_int_eq(a.verb, VERB_LIST);
        ck_assert(!a.legend);
        ck_assert_int_eq(PARSE(&a, "queue"), 1);
        ck_assert_int_eq(a.verb, VERB_QUEUE);
}
END_TEST

START_TEST(test_help_version) {
        Arguments a;

        /* Printed on stdout; parse_argv() says "done" with 0. */
        ck_assert_int_eq(PARSE(&a, "--help"), 0);
        ck_assert_int_eq(PARSE(&a, "-h", "run"), 0);
        ck_assert_int_eq(PARSE(&a, "--version"), 0);
        ck_assert_int_eq(PARSE(&a, "help"), 0);
}
END_TEST

START_TEST(test_verb_names) {
        for (Verb v = 0; v < _VERB_MAX; v++)
                ck_assert_int_eq(verb_from_string(verb_to_string(v)), v);
        ck_assert_int_eq(verb_from_string("Run"), _VERB_INVALID);
        ck_assert_int_eq(verb_from_string(NULL), _VERB_INVALID);
        ck_assert(verb_to_string(_VERB_MAX) == NULL);
}
END_TEST

START_TEST(test_exit_status) {
        /* The table of pyexecctl(1): each code one meaning. */
        ck_assert_int_eq(exit_status_from_state(EXEC_STATE_SUCCEEDED), 0);
        ck_assert_int_eq(exit_status_from_state(EXEC_STATE_FAILED), 1);
        ck_assert_int_eq(exit_status_from_state(EXEC_STATE_TIMEOUT), 2);
        ck_assert_int_eq(exit_status_from_state(EXEC_STATE_OOM), 3);
        ck_assert_int_eq(exit_status_from_state(EXEC_STATE_CANCELLED), 4);
        ck_assert_int_eq(exit_status_from_state(EXEC_STATE_ERROR), 5);
        ck_assert_int_eq(exit_status_from_state(EXEC_STATE_QUEUED), 6);
        ck_assert_int_eq(exit_status_from_state(EXEC_STATE_RUNNING), 6);
        ck_assert_int_eq(exit_status_from_state(_EXEC_STATE_INVALID), 6);
        ck_assert_int_eq(PYEXECCTL_EXIT_NOT_RUN, 6);
        ck_assert_int_eq(PYEXECCTL_EXIT_INTERRUPTED, 130);
}
END_TEST

START_TEST(test_format_bytes) {
        char buf[FORMAT_BYTES_MAX];

        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 0), "0B");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 1023), "1023B");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 1024), "1.0K");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 1536), "1.5K");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 45 * 1024 * 1024), "45.0M");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 512ULL * 1024 * 1024), "512.0M");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 4ULL << 30), "4.0G");
        /* Rounded down: never more than there is. */
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 2047), "1.9K");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), UINT64_MAX), "15.9E");
}
END_TEST

START_TEST(test_format_timespan) {
        char buf[FORMAT_TIMESPAN_MAX];

        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 0), "0");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 250), "250us");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 12345), "12ms");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 1000000), "1s");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 1503000), "1.503s");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 1500000), "1.5s");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 30000000), "30s");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 120000000), "2min");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 123500000), "2min 3.5s");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 3723000000ULL), "1h 2min 3s");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 90000000000ULL), "1d 1h 0min");
}
END_TEST

START_TEST(test_format_relative) {
        char buf[FORMAT_TIMESPAN_MAX];
        uint64_t now = 1800000000ULL * 1000000;

        ck_assert_str_eq(format_timestamp_relative(buf, sizeof(buf), now - 5000000, now), "5s ago");
        ck_assert_str_eq(format_timestamp_relative(buf, sizeof(buf), now - 250000, now), "250ms ago");
        ck_assert_str_eq(format_timestamp_relative(buf, sizeof(buf), now - 182000000, now), "3min 2s ago");
        ck_assert_str_eq(format_timestamp_relative(buf, sizeof(buf), now - 7500000000ULL, now), "2h 5min ago");
        ck_assert_str_eq(format_timestamp_relative(buf, sizeof(buf), now - 90000000000ULL, now), "1 day 1h ago");
        ck_assert_str_eq(format_timestamp_relative(buf, sizeof(buf), 0, now), "n/a");
        ck_assert_str_eq(format_timestamp_relative(buf, sizeof(buf), now + 1, now), "in the future");
}
END_TEST

START_TEST(test_format_timestamp) {
        char buf[FORMAT_TIMESTAMP_MAX];

        setenv("TZ", "UTC", 1);
        tzset();
        ck_assert_str_eq(format_timestamp(buf, sizeof(buf), 1795983032123456ULL), "Sun 2026-11-29 20:10:32 UTC");
        ck_assert_str_eq(format_timestamp(buf, sizeof(buf), 0), "n/a");
}
END_TEST

static Suite *args_suite(void) {
        Suite *s = suite_create("pyexecctl-args");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_default_verb);
        tcase_add_test(tc, test_run);
        tcase_add_test(tc, test_invalid);
        tcase_add_test(tc, test_other_verbs);
        tcase_add_test(tc, test_help_version);
        tcase_add_test(tc, test_verb_names);
        tcase_add_test(tc, test_exit_status);
        tcase_add_test(tc, test_format_bytes);
        tcase_add_test(tc, test_format_timespan);
        tcase_add_test(tc, test_format_relative);
        tcase_add_test(tc, test_format_timestamp);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(args_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

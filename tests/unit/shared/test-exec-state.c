/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <signal.h>
#include <stdlib.h>

#include "shared/exec-state.h"

START_TEST(test_strings) {
        static const struct {
                ExecState state;
                const char *name;
                bool terminal;
        } table[] = {
                { EXEC_STATE_QUEUED,    "queued",    false },
                { EXEC_STATE_RUNNING,   "running",   false },
                { EXEC_STATE_SUCCEEDED, "succeeded", true },
                { EXEC_STATE_FAILED,    "failed",    true },
                { EXEC_STATE_TIMEOUT,   "timeout",   true },
                { EXEC_STATE_OOM,       "oom",       true },
                { EXEC_STATE_CANCELLED, "cancelled", true },
                { EXEC_STATE_ERROR,     "error",     true },
        };

        ck_assert_int_eq(sizeof(table) / sizeof(table[0]), _EXEC_STATE_MAX);
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                ck_assert_str_eq(exec_state_to_string(table[i].state), table[i].name);
                ck_assert_int_eq(exec_state_from_string(table[i].name), table[i].state);
                ck_assert_int_eq(exec_state_is_terminal(table[i].state), table[i].terminal);
        }

        ck_assert_ptr_null(exec_state_to_string(_EXEC_STATE_MAX));
        ck_assert_ptr_null(exec_state_to_string(_EXEC_STATE_INVALID));
        ck_assert_int_eq(exec_state_from_string(NULL), _EXEC_STATE_INVALID);
        ck_assert_int_eq(exec_state_from_string(""), _EXEC_STATE_INVALID);
        ck_assert_int_eq(exec_state_from_string("Queued"), _EXEC_STATE_INVALID);
        ck_assert_int_eq(exec_state_from_string("succeeded "), _EXEC_STATE_INVALID);
        ck_assert(!exec_state_is_terminal(_EXEC_STATE_INVALID));
        ck_assert(!exec_state_is_terminal(_EXEC_STATE_MAX));
}
END_TEST

#define EXITED(code) .have_status = true, .exit_code = (code), .signal = 0
#define KILLED(sig) .have_status = true, .exit_code = -1, .signal = (sig)

START_TEST(test_termination_rows) {
        static const struct {
                ExecTermination t;
                ExecState expected;
                const char *why;
        } table[] = {
                /* error set or interrupted → error, whatever else */
                { { EXITED(0), .error = "scope failed" },                       EXEC_STATE_ERROR,     "error wins over success" },
                { { EXITED(0), .interrupted = true },                           EXEC_STATE_ERROR,     "interrupted" },
                { { KILLED(SIGKILL), .interrupted = true, .cancelled = true },  EXEC_STATE_ERROR,     "interrupted wins over cancelled" },
                { { .error = "spawn failed", .timed_out = true },               EXEC_STATE_ERROR,     "error wins over timeout" },
                /* cancelled */
                { { KILLED(SIGKILL), .cancelled = true, .timed_out = true },    EXEC_STATE_CANCELLED, "cancel wins over timeout" },
                { { EXITED(0), .cancelled = true },                             EXEC_STATE_CANCELLED, "cancelled while exiting 0" },
                { { .cancelled = true },                                        EXEC_STATE_CANCELLED, "cancelled, no status" },
                /* timeout */
                { { KILLED(SIGKILL), .timed_out = true, .oom_kills = 1 },       EXEC_STATE_TIMEOUT,   "timeout wins over oom" },
                { { EXITED(0), .timed_out = true },                             EXEC_STATE_TIMEOUT,   "timed out" },
                { { KILLED(SIGKILL), .timed_out = true, .output_limited = true }, EXEC_STATE_TIMEOUT, "timeout wins over output limit" },
                /* output limit (OutputLimitAction=kill) */
                { { KILLED(SIGKILL), .output_limited = true },                  EXEC_STATE_FAILED,    "killed at the output limit" },
                { { EXITED(0), .output_limited = true },                        EXEC_STATE_FAILED,    "exit 0, but over the output limit" },
                { { KILLED(SIGKILL), .output_limited = true, .oom_kills = 1 },  EXEC_STATE_FAILED,    "output limit wins over oom" },
                { { .output_limited = true },                                   EXEC_STATE_FAILED,    "output limit, no status" },
                { { KILLED(SIGKILL), .output_limited = true, .cancelled = true }, EXEC_STATE_CANCELLED, "cancel wins over output limit" },
                { { EXITED(0), .output_limited = true, .error = "x" },          EXEC_STATE_ERROR,     "error wins over output limit" },
                /* oom */
                { { KILLED(SIGKILL), .oom_kills = 1 },                          EXEC_STATE_OOM,       "SIGKILL + oom" },
                { { EXITED(1), .oom_kills = 2 },                                EXEC_STATE_OOM,       "a child was oom-killed, payload failed" },
                { { KILLED(SIGSEGV), .oom_kills = 1 },                          EXEC_STATE_OOM,       "any signal with oom" },
                { { .oom_kills = 1 },                                           EXEC_STATE_OOM,       "oom, no status" },
                { { EXITED(0), .oom_kills = 1 },                                EXEC_STATE_SUCCEEDED, "exit 0 despite an oom kill" },
                /* succeeded / failed */
                { { EXITED(0) },                                                EXEC_STATE_SUCCEEDED, "exit 0" },
                { { EXITED(1) },                                                EXEC_STATE_FAILED,    "exit 1" },
                { { EXITED(255) },                                              EXEC_STATE_FAILED,    "exit 255" },
                { { KILLED(SIGSEGV) },                                          EXEC_STATE_FAILED,    "SIGSEGV" },
                { { KILLED(SIGKILL) },                                          EXEC_STATE_FAILED,    "SIGKILL without oom" },
                /* nothing known */
                { { },                                                          EXEC_STATE_ERROR,     "no status" },
        };

        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                ck_assert_msg(exec_state_from_termination(&table[i].t) == table[i].expected,
                              "row %zu (%s): got %s, want %s", i, table[i].why,
                              exec_state_to_string(exec_state_from_termination(&table[i].t)),
                              exec_state_to_string(table[i].expected));
}
END_TEST

START_TEST(test_signal_names) {
        ck_assert_str_eq(signal_to_string(SIGSEGV), "SIGSEGV");
        ck_assert_str_eq(signal_to_string(SIGKILL), "SIGKILL");
        ck_assert_str_eq(signal_to_string(SIGTERM), "SIGTERM");
        ck_assert_str_eq(signal_to_string(SIGABRT), "SIGABRT");
        ck_assert_str_eq(signal_to_string(SIGHUP), "SIGHUP");
        ck_assert_str_eq(signal_to_string(SIGXCPU), "SIGXCPU");
        ck_assert_str_eq(signal_to_string(SIGXFSZ), "SIGXFSZ");
        ck_assert_str_eq(signal_to_string(SIGSYS), "SIGSYS");
        /* a second call gives the same text */
        ck_assert_str_eq(signal_to_string(SIGSEGV), "SIGSEGV");
        ck_assert_ptr_null(signal_to_string(0));
        ck_assert_ptr_null(signal_to_string(-1));
        ck_assert_ptr_null(signal_to_string(_NSIG));
        ck_assert_ptr_null(signal_to_string(1000));
}
END_TEST

static Suite *exec_state_suite(void) {
        Suite *s = suite_create("exec-state");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_strings);
        tcase_add_test(tc, test_termination_rows);
        tcase_add_test(tc, test_signal_names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(exec_state_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

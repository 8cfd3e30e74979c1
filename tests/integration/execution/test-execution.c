/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The executor against a real systemd (run inside the testbed): each test
 * drives execution_start() on a fresh sd-event loop and system bus
 * connection and checks what comes out, exactly.
 *
 * Environment: PYEXECD_SANDBOX (the built pyexecd-sandbox) and
 * PYEXECD_RUNNER (pyexecd_runner.py).
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/cgroup-stats.h"
#include "exec/execution.h"
#include "shared/config.h"
#include "shared/exec-id.h"
#include "shared/exec-state.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/output-model.h"
#include "shared/time-util.h"

#define MIB (UINT64_C(1024) * 1024)

typedef struct Run Run;

struct Run {
        sd_event *event;
        sd_bus *bus;
        char id[EXEC_ID_LEN + 1];
        char unit[64];
        ExecSpec spec;
        Execution *execution;

        json_t *events;                 /* [{"type": …, "data": …}, …] */
        unsigned n_started, n_finished;
        ExecTermination termination;
        char *error;
        ExecResources resources;
        bool truncated;
        ExecState state;

        /* Per-test hooks. */
        void (*on_started)(Run *r);
        void (*on_event)(Run *r, const char *type, json_t *data);
        const char *marker;             /* on_marker() when a stdout item holds this */
        void (*on_marker)(Run *r);
        bool marker_seen;

        /* Two executions on one loop: the loop ends when both finished. */
        Run *partner;

        /* Filled by the hooks of some tests. */
        char supervisor_ns[5][64];
        pid_t pids[64];
        size_t n_pids;
        uint64_t properties[4];
        char *slice;
};

static void on_started(Execution *e, void *userdata) {
        Run *r = userdata;

        ck_assert_ptr_eq(e, r->execution);
        ck_assert_uint_eq(r->n_finished, 0);
        r->n_started++;
        if (r->on_started)
                r->on_started(r);
}

static void on_event(Execution *e, const char *type, json_t *data, void *userdata) {
        Run *r = userdata;

        ck_assert_uint_eq(r->n_finished, 0);
        ck_assert_int_eq(output_event_verify(type, data), 0);
        ck_assert_int_eq(json_array_append_new(r->events, json_pack("{s:s,s:O}", "type", type, "data", data)), 0);

        if (r->on_event)
                r->on_event(r, type, data);

        json_t *text = json_object_get(data, "text");
        if (r->marker && !r->marker_seen && json_is_string(text) && strstr(json_string_value(text), r->marker)) {
                r->marker_seen = true;
                r->on_marker(r);
        }
}

static void on_finished(Execution *e, const ExecTermination *t, const ExecResources *res, bool truncated,
                        void *userdata) {
        Run *r = userdata;

        r->n_finished++;
        ck_assert_uint_eq(r->n_finished, 1);
        r->termination = *t;
        r->termination.error = NULL;
        r->error = t->error ? strdup(t->error) : NULL;
        r->resources = *res;
        r->truncated = truncated;
        r->state = exec_state_from_termination(t);
}

static const ExecutionHandlers handlers = {
        .started = on_started,
        .event = on_event,
        .finished = on_finished,
};

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        ck_abort_msg("the execution did not finish in time");
        return 0;
}

/* The uids these tests give their executions: from the default range,
 * but away from where the daemons of other test beds (started at a random
 * point) most likely are, and one of its own per execution. */
static uid_t next_uid(void) {
        static uid_t next = 0;

        if (next == 0)
                next = CONFIG_UID_RANGE_FIRST_DEFAULT + 32768 + (uid_t) (getpid() % 1024) * 16;
        return next++;
}

static void run_init(Run *r, const char *code) {
        sigset_t mask;

        /* What the daemon's main does: sd-event's child sources want
         * SIGCHLD blocked, and a write to a pipe whose reader died must
         * not kill the process. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        ck_assert_int_eq(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
        signal(SIGPIPE, SIG_IGN);

        *r = (Run) {};
        ck_assert_int_eq(sd_event_new(&r->event), 0);
        ck_assert_int_eq(sd_bus_open_system(&r->bus), 0);
        ck_assert_int_eq(sd_bus_attach_event(r->bus, r->event, SD_EVENT_PRIORITY_NORMAL), 0);
        ck_assert_ptr_nonnull(r->events = json_array());

        ck_assert_int_eq(exec_id_new(r->id), 0);
        snprintf(r->unit, sizeof r->unit, "pyexec-%s.scope", r->id);

        ck_assert_ptr_nonnull(getenv("PYEXECD_SANDBOX"));
        ck_assert_ptr_nonnull(getenv("PYEXECD_RUNNER"));
        r->spec = (ExecSpec) {
                .id = r->id,
                .code = code,
                .code_size = strlen(code),
                .limits = {
                        .timeout_usec = 30 * USEC_PER_SEC,
                        .memory_max = 512 * MIB,
                        .cpu_quota_per_sec_usec = USEC_PER_SEC,
                        .tasks_max = 64,
                        .output_max = 1 * MIB,
                        .file_size_max = 16 * MIB,
                },
                .sandbox_path = getenv("PYEXECD_SANDBOX"),
                .runner_path = getenv("PYEXECD_RUNNER"),
                .python_path = "/usr/bin/python3",
                .slice = "pyexec.slice",
                .uid = next_uid(),
        };
}

static void run_start(Run *r) {
        ck_assert_int_eq(execution_start(&r->execution, r->event, r->bus, &r->spec, &handlers, r), 0);
        ck_assert_str_eq(execution_get_id(r->execution), r->id);
        ck_assert_str_eq(execution_get_unit(r->execution), r->unit);
        ck_assert_int_gt(execution_get_supervisor_pid(r->execution), 0);
}

static void run_loop(Run *r) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *watchdog = NULL;

        ck_assert_int_eq(sd_event_add_time_relative(r->event, &watchdog, CLOCK_MONOTONIC,
                                                    r->spec.limits.timeout_usec + 60 * USEC_PER_SEC, 0,
                                                    on_watchdog, r), 0);
        /* Not sd_event_loop()/sd_event_exit(): an exit would also close the
         * attached bus, which the checks afterwards still use. A partner
         * that was never started is not waited for. */
        while (r->n_finished == 0 || (r->partner && r->partner->execution && r->partner->n_finished == 0))
                ck_assert_int_ge(sd_event_run(r->event, UINT64_MAX), 0);
        ck_assert_uint_eq(r->n_finished, 1);
}

static void run_start_and_wait(Run *r) {
        run_start(r);
        run_loop(r);
}

static void run_done(Run *r) {
        r->execution = execution_free(r->execution);
        json_decref(r->events);
        free(r->error);
        free(r->slice);
        sd_bus_flush_close_unref(r->bus);
        sd_event_unref(r->event);
}

/* The joined text of the stream items named @name. */
static char *stream_text(Run *r, const char *name, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        size_t i;
        json_t *ev;

        ck_assert_ptr_nonnull(f);
        json_array_foreach(r->events, i, ev) {
                json_t *d = json_object_get(ev, "data");
                if (strcmp(json_string_value(json_object_get(ev, "type")), "output") != 0 ||
                    strcmp(json_string_value(json_object_get(d, "output_type")), "stream") != 0 ||
                    strcmp(json_string_value(json_object_get(d, "name")), name) != 0)
                        continue;
                json_t *t = json_object_get(d, "text");
                fwrite(json_string_value(t), 1, json_string_length(t), f);
        }
        ck_assert_int_eq(fclose(f), 0);
        if (ret_size)
                *ret_size = size;
        return buf;
}

/* "stream:stdout,display_data,…" with adjacent stream items of one name merged,
 * as the cases describe sequences. */
static char *sequence(Run *r) {
        char *buf = NULL, last[64] = "";
        size_t size = 0, i;
        FILE *f = open_memstream(&buf, &size);
        json_t *ev;

        ck_assert_ptr_nonnull(f);
        json_array_foreach(r->events, i, ev) {
                json_t *d = json_object_get(ev, "data");
                char kind[64];

                if (strcmp(json_string_value(json_object_get(ev, "type")), "output") != 0)
                        snprintf(kind, sizeof kind, "%s", json_string_value(json_object_get(ev, "type")));
                else if (strcmp(json_string_value(json_object_get(d, "output_type")), "stream") == 0)
                        snprintf(kind, sizeof kind, "stream:%s", json_string_value(json_object_get(d, "name")));
                else
                        snprintf(kind, sizeof kind, "%s", json_string_value(json_object_get(d, "output_type")));

                if (strncmp(kind, "stream:", 7) == 0 && strcmp(kind, last) == 0)
                        continue;
                fprintf(f, "%s%s", ftell(f) > 0 ? "," : "", kind);
                snprintf(last, sizeof last, "%s", kind);
        }
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

static bool unit_exists(sd_bus *bus, const char *unit) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "GetUnit", &error, &reply, "s", unit);
        if (r >= 0)
                return true;
        ck_assert_msg(sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit"),
                      "GetUnit(%s): %s", unit, error.message);
        return false;
}

/* Units named pyexec-*, loaded in any state. */
static unsigned count_pyexec_units(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        unsigned n = 0;
        int r;

        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "ListUnitsByPatterns", &error, &reply, "asas",
                               0, 1, "pyexec-*");
        ck_assert_msg(r >= 0, "ListUnitsByPatterns: %s", error.message);
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "(ssssssouso)"), 0);
        while ((r = sd_bus_message_skip(reply, "(ssssssouso)")) > 0)
                n++;
        ck_assert_int_ge(r, 0);
        return n;
}

/* The scope goes away on its own (CollectMode, StopUnit): wait for that,
 * generously, and only fail if it never happens. */
static void assert_scope_gone(Run *r) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 15 * USEC_PER_SEC;

        while (unit_exists(r->bus, r->unit) || count_pyexec_units(r->bus) > 0) {
                ck_assert_msg(now_usec(CLOCK_MONOTONIC) < deadline, "scope %s is still there", r->unit);
                usleep(50 * 1000);
        }
}

static void assert_common_end(Run *r) {
        ck_assert_uint_eq(r->n_finished, 1);
        assert_scope_gone(r);
}

/*
 * Tests.
 */

START_TEST(test_hello) {
        Run r;

        run_init(&r, "print('hello')\n");
        run_start_and_wait(&r);

        ck_assert_msg(!r.error, "error: %s", r.error);
        ck_assert_uint_eq(r.n_started, 1);
        ck_assert(r.termination.have_status);
        ck_assert_int_eq(r.termination.exit_code, 0);
        ck_assert_int_eq(r.termination.signal, 0);
        ck_assert(!r.termination.timed_out && !r.termination.cancelled && !r.termination.interrupted);
        ck_assert_uint_eq(r.termination.oom_kills, 0);
        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        ck_assert(!r.truncated);

        /* Stdout stream items only, "hello\n" together. (The runner sends
         * print()'s text and its "\n" as they are written: one or two items.) */
        size_t i;
        json_t *ev;
        ck_assert_uint_ge(json_array_size(r.events), 1);
        ck_assert_uint_le(json_array_size(r.events), 2);
        json_array_foreach(r.events, i, ev) {
                json_t *d = json_object_get(ev, "data");
                ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "output");
                ck_assert_uint_eq(json_object_size(d), 3);
                ck_assert_str_eq(json_string_value(json_object_get(d, "output_type")), "stream");
                ck_assert_str_eq(json_string_value(json_object_get(d, "name")), "stdout");
        }
        _cleanup_free_ char *out = stream_text(&r, "stdout", NULL);
        ck_assert_str_eq(out, "hello\n");

        /* Resources: a Python start takes some CPU and memory, and not minutes. */
        ck_assert_uint_gt(r.resources.wall_usec, 0);
        ck_assert_uint_lt(r.resources.wall_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_gt(r.resources.cpu_usec, 0);
        ck_assert_uint_gt(r.resources.memory_peak_bytes, 1 * MIB);
        ck_assert_uint_le(r.resources.memory_peak_bytes, r.spec.limits.memory_max);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_order_c06) {
        _cleanup_free_ char *seq = NULL, *out = NULL, *err = NULL;
        Run r;

        run_init(&r,
                 "import sys\n"
                 "print(\"err1\", file=sys.stderr)\n"
                 "print(\"out1\")\n"
                 "print(\"err2\", file=sys.stderr)\n"
                 "print(\"out2\")\n");
        run_start_and_wait(&r);

        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        seq = sequence(&r);
        ck_assert_str_eq(seq, "stream:stderr,stream:stdout,stream:stderr,stream:stdout");
        out = stream_text(&r, "stdout", NULL);
        err = stream_text(&r, "stderr", NULL);
        ck_assert_str_eq(out, "out1\nout2\n");
        ck_assert_str_eq(err, "err1\nerr2\n");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

/* Where @text first appears in the stream items of @name: the item's index
 * times 2^20 plus the offset in its text (adjacent stream writes may be
 * merged into one item), or -1. */
static ssize_t event_position(Run *r, const char *name, const char *text) {
        size_t i;
        json_t *ev;

        json_array_foreach(r->events, i, ev) {
                json_t *d = json_object_get(ev, "data");
                const char *t = json_string_value(json_object_get(d, "text")) ?: "", *p;

                if (strcmp(json_string_value(json_object_get(d, "name")) ?: "", name) == 0 && (p = strstr(t, text)))
                        return (ssize_t) (i << 20) + (p - t);
        }
        return -1;
}

START_TEST(test_raw_fds_in_causal_order) {
        Run r;

        /* Raw writes to fd 1/2 and the runner's messages on fd 3: whatever
         * fd 1/2 got before a message was written comes out before it, even
         * though fd 3 is dispatched first. (Bytes written after a message
         * may come out before it: raw bytes carry no order mark.) */
        run_init(&r,
                 "import os\n"
                 "os.write(1, b'raw1\\n')\n"
                 "print('py1')\n"
                 "os.write(2, b'raw2\\n')\n"
                 "print('py2')\n");
        run_start_and_wait(&r);

        _cleanup_free_ char *out = NULL, *err = NULL;
        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        ssize_t raw1 = event_position(&r, "stdout", "raw1\n"), py1 = event_position(&r, "stdout", "py1"),
                raw2 = event_position(&r, "stderr", "raw2\n"), py2 = event_position(&r, "stdout", "py2");
        ck_assert_int_ge(raw1, 0);
        ck_assert_int_ge(raw2, 0);
        ck_assert_int_lt(raw1, py1);
        ck_assert_int_lt(raw2, py2);
        ck_assert_int_lt(py1, py2);
        out = stream_text(&r, "stdout", NULL);
        err = stream_text(&r, "stderr", NULL);
        ck_assert_str_eq(out, "raw1\npy1\npy2\n");
        ck_assert_str_eq(err, "raw2\n");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_invalid_utf8_repaired) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        size_t out_size, err_size;
        Run r;

        /* Invalid bytes become U+FFFD; a character split across two writes
         * (é = C3 A9) stays whole; an incomplete sequence at EOF is one U+FFFD. */
        run_init(&r,
                 "import os, time\n"
                 "os.write(1, b'ab\\xff\\xfecd\\xc3')\n"
                 "time.sleep(0.3)\n"
                 "os.write(1, b'\\xa9!\\x00z\\n')\n"
                 "os.write(2, b'end\\xe2\\x82')\n");
        run_start_and_wait(&r);

        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        out = stream_text(&r, "stdout", &out_size);
        err = stream_text(&r, "stderr", &err_size);
        static const char expected_out[] = "ab\xef\xbf\xbd\xef\xbf\xbd" "cd\xc3\xa9!\0z\n";
        ck_assert_uint_eq(out_size, sizeof expected_out - 1);
        ck_assert_mem_eq(out, expected_out, out_size);
        ck_assert_str_eq(err, "end\xef\xbf\xbd");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_exit_code) {
        _cleanup_free_ char *out = NULL;
        Run r;

        run_init(&r, "import sys\nprint('bye')\nsys.exit(3)\n");
        run_start_and_wait(&r);

        ck_assert_msg(!r.error, "error: %s", r.error);
        ck_assert(r.termination.have_status);
        ck_assert_int_eq(r.termination.exit_code, 3);
        ck_assert_int_eq(r.termination.signal, 0);
        ck_assert_int_eq(r.state, EXEC_STATE_FAILED);
        out = stream_text(&r, "stdout", NULL);
        ck_assert_str_eq(out, "bye\n");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_segfault_c12) {
        _cleanup_free_ char *out = NULL;
        Run r;

        run_init(&r, "print(\"about to crash\", flush=True)\nimport ctypes\nctypes.string_at(0)\n");
        run_start_and_wait(&r);

        ck_assert_msg(!r.error, "error: %s", r.error);
        ck_assert(r.termination.have_status);
        ck_assert_int_eq(r.termination.exit_code, -1);
        ck_assert_int_eq(r.termination.signal, SIGSEGV);
        ck_assert_str_eq(signal_to_string(r.termination.signal), "SIGSEGV");
        ck_assert_int_eq(r.state, EXEC_STATE_FAILED);
        out = stream_text(&r, "stdout", NULL);
        ck_assert_str_eq(out, "about to crash\n");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_stdin) {
        _cleanup_free_ char *out = NULL;
        Run r;

        run_init(&r,
                 "print(input())\n"
                 "try:\n"
                 "    input()\n"
                 "except EOFError:\n"
                 "    print('eof')\n");
        r.spec.stdin_data = "first line\n";
        r.spec.stdin_size = strlen(r.spec.stdin_data);
        run_start_and_wait(&r);

        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        out = stream_text(&r, "stdout", NULL);
        ck_assert_str_eq(out, "first line\neof\n");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_runner_messages_validated) {
        _cleanup_free_ char *seq = NULL;
        Run r;

        /* fd 3 straight from the code: a valid display_data, garbage, a
         * message of an unknown type, a valid clear_output. Only the valid
         * ones come out; the rest is dropped without harm. */
        run_init(&r,
                 "import os\n"
                 "os.write(3, b'{\"msg_type\": \"display_data\", \"content\": {\"data\": {\"text/plain\": \"x\"}, \"metadata\": {}}}\\n')\n"
                 "os.write(3, b'garbage\\n{\"msg_type\": \"nonsense\", \"content\": {}}\\n\\n')\n"
                 "os.write(3, b'{\"msg_type\": \"clear_output\", \"content\": {\"wait\": false}}\\n')\n"
                 "n = os.write(3, b'{\"msg_type\": \"stream\", \"content\": {\"name\": \"stdout\", \"text\": \"unterminated')\n");
        run_start_and_wait(&r);

        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        seq = sequence(&r);
        ck_assert_str_eq(seq, "display_data,clear_output");
        json_t *d = json_object_get(json_array_get(r.events, 0), "data");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "data"), "text/plain")), "x");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

static void read_pids_of_scope(Run *r) {
        _cleanup_free_ char *dir = NULL, *procs = NULL;
        FILE *f;
        int pid;

        /* The supervisor is in the scope's cgroup; so is everything it started. */
        if (cgroup_find_dir(NULL, execution_get_supervisor_pid(r->execution), &dir) < 0)
                ck_assert_int_eq(cgroup_find_dir("name=systemd", execution_get_supervisor_pid(r->execution), &dir), 0);
        ck_assert_ptr_nonnull(strstr(dir, r->unit));
        ck_assert_int_ge(asprintf(&procs, "%s/cgroup.procs", dir), 0);

        f = fopen(procs, "re");
        ck_assert_ptr_nonnull(f);
        while (fscanf(f, "%d", &pid) == 1) {
                ck_assert_uint_lt(r->n_pids, ELEMENTSOF(r->pids));
                r->pids[r->n_pids++] = pid;
        }
        fclose(f);
}

START_TEST(test_timeout_c15) {
        _cleanup_free_ char *out = NULL;
        uint64_t t0;
        Run r;

        run_init(&r, "import time\nprint(\"sleeping\", flush=True)\ntime.sleep(600)\nprint(\"woke\")\n");
        r.spec.limits.timeout_usec = 2 * USEC_PER_SEC;
        t0 = now_usec(CLOCK_MONOTONIC);
        run_start_and_wait(&r);

        ck_assert_msg(!r.error, "error: %s", r.error);
        ck_assert(r.termination.timed_out);
        ck_assert(!r.termination.cancelled);
        ck_assert(r.termination.have_status);
        ck_assert_int_eq(r.termination.signal, SIGKILL);
        ck_assert_int_eq(r.state, EXEC_STATE_TIMEOUT);
        out = stream_text(&r, "stdout", NULL);
        ck_assert_str_eq(out, "sleeping\n");

        /* The wall clock counts from the release: at least the limit. */
        ck_assert_uint_ge(r.resources.wall_usec, 2 * USEC_PER_SEC);
        ck_assert_uint_lt(now_usec(CLOCK_MONOTONIC) - t0, 8 * USEC_PER_SEC);
        /* It slept: little CPU (C15 allows 0.5 s). */
        ck_assert_uint_lt(r.resources.cpu_usec, 500 * USEC_PER_MSEC);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

static void on_orphan_ready(Run *r) {
        read_pids_of_scope(r);
}

START_TEST(test_setsid_grandchild_killed) {
        Run r;

        /* A grandchild in its own session, sleeping forever, and the payload
         * too: at the timeout, all of them go, and the scope with them. */
        run_init(&r,
                 "import os, time\n"
                 "r = os.fork()\n"
                 "if r == 0:\n"
                 "    os.setsid()\n"
                 "    if os.fork():\n"
                 "        os._exit(0)\n"
                 "    print('orphan ready', flush=True)\n"
                 "    while True:\n"
                 "        time.sleep(1000)\n"
                 "os.waitpid(r, 0)\n"
                 "time.sleep(600)\n");
        r.spec.limits.timeout_usec = 3 * USEC_PER_SEC;
        r.marker = "orphan ready";
        r.on_marker = on_orphan_ready;
        run_start_and_wait(&r);

        ck_assert(r.marker_seen);
        ck_assert(r.termination.timed_out);
        ck_assert_int_eq(r.state, EXEC_STATE_TIMEOUT);

        /* supervisor, init, payload, orphan */
        ck_assert_uint_ge(r.n_pids, 4);
        for (size_t i = 0; i < r.n_pids; i++) {
                /* The supervisor is reaped by sd-event after the child
                 * callback; everything in the PID namespace died with its init. */
                if (r.pids[i] == execution_get_supervisor_pid(r.execution))
                        continue;
                ck_assert_msg(kill(r.pids[i], 0) < 0 && errno == ESRCH, "process %d survived", (int) r.pids[i]);
        }

        assert_common_end(&r);
        ck_assert_uint_eq(count_pyexec_units(r.bus), 0);
        ck_assert_msg(kill(execution_get_supervisor_pid(r.execution), 0) < 0 && errno == ESRCH,
                      "the supervisor was not reaped");
        run_done(&r);
}
END_TEST

START_TEST(test_memory_limit_c13) {
        Run r;

        run_init(&r, "x = b'a' * (640 * 1024 * 1024)\nprint('unreachable')\n");
        r.spec.limits.memory_max = 64 * MIB;
        run_start_and_wait(&r);

        ck_assert_msg(!r.error, "error: %s", r.error);
        ck_assert(r.termination.have_status);
        ck_assert_int_eq(r.termination.signal, SIGKILL);
        ck_assert_uint_gt(r.termination.oom_kills, 0);
        ck_assert_int_eq(r.state, EXEC_STATE_OOM);
        ck_assert_uint_gt(r.resources.memory_peak_bytes, 32 * MIB);
        ck_assert_uint_le(r.resources.memory_peak_bytes, 64 * MIB);
        ck_assert_uint_eq(json_array_size(r.events), 0);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_tasks_max_c20) {
        _cleanup_free_ char *out = NULL;
        unsigned count;
        Run r;

        run_init(&r,
                 "import os, time\n"
                 "count = 0\n"
                 "try:\n"
                 "    for _ in range(10_000):\n"
                 "        pid = os.fork()\n"
                 "        if pid == 0:\n"
                 "            time.sleep(30)\n"
                 "            os._exit(0)\n"
                 "        count += 1\n"
                 "except OSError as e:\n"
                 "    print(f\"fork refused after {count} children: {type(e).__name__} errno={e.errno}\")\n");
        r.spec.limits.tasks_max = 16;
        run_start_and_wait(&r);

        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        out = stream_text(&r, "stdout", NULL);
        ck_assert_int_eq(sscanf(out, "fork refused after %u children: BlockingIOError errno=11\n", &count), 1);
        /* The supervisor, the init and Python count too. */
        ck_assert_uint_lt(count, 16);
        ck_assert_uint_gt(count, 0);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

static void read_scope_properties(Run *r) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        static const char *const names[] = { "MemoryMax", "CPUQuotaPerSecUSec", "TasksMax", "RuntimeMaxUSec" };
        const char *path;

        ck_assert_int_ge(sd_bus_call_method(r->bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                            "org.freedesktop.systemd1.Manager", "GetUnit", &error, &reply, "s",
                                            r->unit), 0);
        ck_assert_int_ge(sd_bus_message_read(reply, "o", &path), 0);

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                ck_assert_int_ge(sd_bus_get_property_trivial(r->bus, "org.freedesktop.systemd1", path,
                                                             "org.freedesktop.systemd1.Scope", names[i], &error, 't',
                                                             &r->properties[i]), 0);
        ck_assert_int_ge(sd_bus_get_property_string(r->bus, "org.freedesktop.systemd1", path,
                                                    "org.freedesktop.systemd1.Scope", "Slice", &error, &r->slice), 0);

        ck_assert_int_eq(execution_cancel(r->execution), 0);
        /* Idempotent. */
        ck_assert_int_eq(execution_cancel(r->execution), 0);
}

START_TEST(test_scope_properties) {
        Run r;

        run_init(&r, "import time\nprint('ready', flush=True)\ntime.sleep(600)\n");
        r.spec.limits.memory_max = 100 * MIB;
        r.spec.limits.cpu_quota_per_sec_usec = 500 * USEC_PER_MSEC;
        r.spec.limits.tasks_max = 42;
        r.spec.limits.timeout_usec = 20 * USEC_PER_SEC;
        r.marker = "ready";
        r.on_marker = read_scope_properties;
        run_start_and_wait(&r);

        ck_assert(r.marker_seen);
        ck_assert_uint_eq(r.properties[0], 100 * MIB);
        ck_assert_uint_eq(r.properties[1], 500 * USEC_PER_MSEC);
        ck_assert_uint_eq(r.properties[2], 42);
        ck_assert_uint_eq(r.properties[3], 20 * USEC_PER_SEC + EXECUTION_RUNTIME_GRACE_USEC);
        ck_assert_str_eq(r.slice, "pyexec.slice");

        /* Cancelled after the release: killed, and said so. */
        ck_assert(r.termination.cancelled);
        ck_assert(!r.termination.timed_out);
        ck_assert_msg(!r.error, "error: %s", r.error);
        ck_assert_int_eq(r.termination.signal, SIGKILL);
        ck_assert_int_eq(r.state, EXEC_STATE_CANCELLED);
        ck_assert_uint_lt(r.resources.wall_usec, 15 * USEC_PER_SEC);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

/* Sends SIGUSR1 to the sandbox's init: the supervisor's only child. */
static void signal_init(Run *r) {
        char path[128], buf[64] = "";
        pid_t supervisor = execution_get_supervisor_pid(r->execution), init;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int) supervisor, (int) supervisor);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
        fclose(f);
        init = (pid_t) strtol(buf, NULL, 10);
        ck_assert_int_gt(init, 0);
        ck_assert_int_eq(kill(init, SIGUSR1), 0);
}

START_TEST(test_init_forwards_signals) {
        _cleanup_free_ char *out = NULL;
        Run r;

        /* PID 1 of a namespace gets only signals it handles; the init passes
         * them on to the payload, which handles SIGUSR1 here. */
        run_init(&r,
                 "import signal, sys, time\n"
                 "def on_usr1(sig, frame):\n"
                 "    print('got SIGUSR1', flush=True)\n"
                 "    sys.exit(0)\n"
                 "signal.signal(signal.SIGUSR1, on_usr1)\n"
                 "print('ready', flush=True)\n"
                 "time.sleep(60)\n"
                 "print('not forwarded')\n");
        r.spec.limits.timeout_usec = 30 * USEC_PER_SEC;
        r.marker = "ready";
        r.on_marker = signal_init;
        run_start_and_wait(&r);

        ck_assert(r.marker_seen);
        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        out = stream_text(&r, "stdout", NULL);
        ck_assert_str_eq(out, "ready\ngot SIGUSR1\n");
        ck_assert_uint_lt(r.resources.wall_usec, 20 * USEC_PER_SEC);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_cancel_before_release) {
        Run r;

        run_init(&r, "open('/tmp/should-not-exist', 'w')\nprint('ran')\n");
        run_start(&r);
        /* Before the loop ran, the scope job cannot have finished. */
        ck_assert_int_eq(execution_cancel(r.execution), 0);
        run_loop(&r);

        ck_assert_uint_eq(r.n_started, 0);
        ck_assert(r.termination.cancelled);
        ck_assert(!r.termination.have_status);
        ck_assert_msg(!r.error, "error: %s", r.error);
        ck_assert_int_eq(r.state, EXEC_STATE_CANCELLED);
        ck_assert_uint_eq(json_array_size(r.events), 0);
        ck_assert_uint_eq(r.resources.wall_usec, 0);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

static void cancel_now(Run *r) {
        ck_assert_int_eq(execution_cancel(r->execution), 0);
}

START_TEST(test_cancel_after_release) {
        _cleanup_free_ char *out = NULL;
        Run r;

        run_init(&r, "import time\nprint('ready', flush=True)\ntime.sleep(600)\nprint('never')\n");
        r.marker = "ready";
        r.on_marker = cancel_now;
        run_start_and_wait(&r);

        ck_assert_uint_eq(r.n_started, 1);
        ck_assert(r.termination.cancelled);
        ck_assert_int_eq(r.termination.signal, SIGKILL);
        ck_assert_int_eq(r.state, EXEC_STATE_CANCELLED);
        out = stream_text(&r, "stdout", NULL);
        ck_assert_str_eq(out, "ready\n");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

static void interrupt_now(Run *r) {
        ck_assert_int_eq(execution_interrupt(r->execution), 0);
        /* The first reason stays. */
        ck_assert_int_eq(execution_cancel(r->execution), 0);
}

START_TEST(test_interrupt) {
        Run r;

        run_init(&r, "import time\nprint('ready', flush=True)\ntime.sleep(600)\n");
        r.marker = "ready";
        r.on_marker = interrupt_now;
        run_start_and_wait(&r);

        ck_assert(r.termination.interrupted);
        ck_assert(!r.termination.cancelled);
        ck_assert_int_eq(r.state, EXEC_STATE_ERROR);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

/* The stderr notice is the last event and names the limit and the loss. */
static void assert_notice(Run *r, uint64_t limit, uint64_t dropped) {
        json_t *last = json_object_get(json_array_get(r->events, json_array_size(r->events) - 1), "data");
        char expected[256];

        ck_assert_str_eq(json_string_value(json_object_get(last, "name")), "stderr");
        snprintf(expected, sizeof expected,
                 "\n[pyexecd] output limit of %" PRIu64 " bytes reached; %" PRIu64 " bytes of output were dropped\n",
                 limit, dropped);
        ck_assert_str_eq(json_string_value(json_object_get(last, "text")), expected);
}

START_TEST(test_output_max_cut) {
        _cleanup_free_ char *out = NULL;
        Run r;

        /* One write of five 31-byte lines, then more: three lines fit into
         * 100 bytes; the stored text ends at a line boundary. */
        run_init(&r, "import sys\nsys.stdout.write(('a' * 30 + '\\n') * 5)\nprint('more')\n");
        r.spec.limits.output_max = 100;
        run_start_and_wait(&r);

        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        ck_assert(r.truncated);
        out = stream_text(&r, "stdout", NULL);
        ck_assert_str_eq(out, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
        /* 155 + 5 bytes written, 93 delivered. */
        assert_notice(&r, 100, 67);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_output_max_no_line_break) {
        _cleanup_free_ char *out = NULL;
        Run r;

        /* Raw bytes without a line break that fits: nothing of them is
         * stored, rather than half a line. */
        run_init(&r, "import os\nn = os.write(1, ('é' * 100).encode())\n");
        r.spec.limits.output_max = 101;
        run_start_and_wait(&r);

        ck_assert(r.truncated);
        out = stream_text(&r, "stdout", NULL);
        ck_assert_str_eq(out, "");
        assert_notice(&r, 101, 200);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

static uint64_t proc_status_kib(const char *field) {
        char line[256];
        uint64_t v = 0;
        size_t n = strlen(field);
        FILE *f = fopen("/proc/self/status", "re");

        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof line, f))
                if (strncmp(line, field, n) == 0 && line[n] == ':')
                        v = strtoull(line + n + 1, NULL, 10);
        fclose(f);
        ck_assert_uint_gt(v, 0);
        return v;
}

START_TEST(test_metadata_counts_against_output_max) {
        size_t i, total = 0;
        json_t *ev;
        Run r;

        /* Display items with empty data but 1.5 MB of metadata each, written
         * to fd 3 by hand: the metadata counts against OutputMax (1 MiB),
         * so nearly nothing of it passes. */
        run_init(&r,
                 "import json, os\n"
                 "line = json.dumps({'msg_type': 'display_data', 'content': {'data': {'text/plain': 'i'},"
                 " 'metadata': {'x': 'A' * 1500000}}}) + '\\n'\n"
                 "for _ in range(40):\n"
                 "    os.write(3, line.encode())\n");
        r.spec.limits.output_max = 1024 * 1024;
        run_start_and_wait(&r);

        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        ck_assert(r.truncated);
        json_array_foreach(r.events, i, ev)
                total += json_dumpb(json_object_get(ev, "data"), NULL, 0, JSON_COMPACT);
        ck_assert_msg(total < 2 * 1024 * 1024, "%zu bytes of events passed", total);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_huge_outputs_bounded) {
        _cleanup_free_ char *out = NULL;
        uint64_t rss_before, hwm_after;
        Run r;

        /* A single 100 MB print (one 100 MB line on fd 3), then 100 MB of raw
         * stdout, then a line that is dropped too, as everything after the cap. */
        run_init(&r,
                 "import os\n"
                 "print('x' * 100_000_000)\n"
                 "os.write(1, b'y' * 100_000_000)\n"
                 "print('after')\n");
        r.spec.limits.memory_max = 2048 * MIB;
        r.spec.limits.timeout_usec = 120 * USEC_PER_SEC;
        rss_before = proc_status_kib("VmRSS");
        run_start_and_wait(&r);
        hwm_after = proc_status_kib("VmHWM");

        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        ck_assert(r.truncated);
        /* Whatever of the x's came out (the runner may split big writes),
         * no more than OutputMax of them, and nothing after. */
        out = stream_text(&r, "stdout", NULL);
        ck_assert_uint_le(strlen(out), 1048576);
        ck_assert_uint_eq(strspn(out, "x"), strlen(out));
        /* Dropped: the rest of 200000007 bytes (x's and "\n", y's, "after\n"),
         * plus the JSON framing of a line dropped whole. */
        json_t *last = json_object_get(json_array_get(r.events, json_array_size(r.events) - 1), "data");
        uint64_t dropped;
        ck_assert_int_eq(sscanf(json_string_value(json_object_get(last, "text")),
                                "\n[pyexecd] output limit of 1048576 bytes reached; %" SCNu64 " bytes of output were dropped\n",
                                &dropped), 1);
        ck_assert_uint_ge(dropped + strlen(out), 200000007);
        ck_assert_uint_lt(dropped + strlen(out), 200000007 + 200);

        /* The daemon's side never held the line: its peak RSS grew by a few MB at most. */
        ck_assert_msg(hwm_after < rss_before + 32 * 1024, "RSS peak %" PRIu64 " KiB, %" PRIu64 " KiB before",
                      hwm_after, rss_before);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_endless_output_c01) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        uint64_t rss_before, hwm_after;
        Run r;

        run_init(&r, "import sys\nline = \"flood \" * 10 + \"\\n\"\nwhile True:\n    sys.stdout.write(line)\n");
        r.spec.limits.timeout_usec = 3 * USEC_PER_SEC;
        r.spec.limits.output_max = 65536;
        rss_before = proc_status_kib("VmRSS");
        run_start_and_wait(&r);
        hwm_after = proc_status_kib("VmHWM");

        ck_assert_int_eq(r.state, EXEC_STATE_TIMEOUT);
        ck_assert(r.truncated);
        out = stream_text(&r, "stdout", NULL);
        /* Whole lines only: 1074 lines of 61 bytes fit into 65536 bytes. */
        ck_assert_uint_eq(strlen(out), 1074 * 61);
        for (size_t i = 0; i < 1074; i++)
                ck_assert_int_eq(strncmp(out + i * 61, "flood flood flood flood flood flood flood flood flood flood \n", 61), 0);
        err = stream_text(&r, "stderr", NULL);
        ck_assert_ptr_nonnull(strstr(err, "output limit of 65536 bytes reached"));
        ck_assert_msg(hwm_after < rss_before + 32 * 1024, "RSS peak %" PRIu64 " KiB, %" PRIu64 " KiB before",
                      hwm_after, rss_before);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_missing_python) {
        Run r;

        run_init(&r, "print('x')\n");
        r.spec.python_path = "/nonexistent/python3";
        run_start_and_wait(&r);

        ck_assert_ptr_nonnull(r.error);
        ck_assert_ptr_nonnull(strstr(r.error, "/nonexistent/python3"));
        ck_assert_int_eq(r.state, EXEC_STATE_ERROR);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_missing_supervisor) {
        Run r;

        /* The spawned child cannot execute the supervisor: it says so on the
         * report pipe and exits (while it still shares the daemon's memory,
         * CLONE_VM | CLONE_VFORK); the execution ends in an error, whether
         * PID 1 still took its pid into a scope or not, and nothing ran. */
        run_init(&r, "print('x')\n");
        r.spec.sandbox_path = "/nonexistent/pyexecd-sandbox";
        run_start_and_wait(&r);

        ck_assert_ptr_nonnull(r.error);
        ck_assert_msg(strstr(r.error, "could not execute the sandbox supervisor") ||
                      strncmp(r.error, "could not create scope: ", 24) == 0, "error: %s", r.error);
        ck_assert(!r.termination.have_status);
        ck_assert_int_eq(r.state, EXEC_STATE_ERROR);
        ck_assert_uint_eq(json_array_size(r.events), 0);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_scope_refused) {
        Run r;

        /* An invalid slice name: PID 1 refuses the unit, nothing runs. */
        run_init(&r, "print('x')\n");
        r.spec.slice = "not-a-slice.service";
        run_start_and_wait(&r);

        ck_assert_uint_eq(r.n_started, 0);
        ck_assert_ptr_nonnull(r.error);
        ck_assert_msg(strncmp(r.error, "could not create scope: ", 24) == 0, "error: %s", r.error);
        ck_assert(!r.termination.have_status);
        ck_assert_int_eq(r.state, EXEC_STATE_ERROR);
        ck_assert_uint_eq(json_array_size(r.events), 0);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

static void free_now(Run *r) {
        r->execution = execution_free(r->execution);
}

START_TEST(test_free_while_running) {
        Run r;

        /* Freed from inside its own event callback: no callback follows, and
         * nothing of it stays. The reaper and the KillUnit/StopUnit replies
         * need the loop, so it keeps running. */
        run_init(&r, "import time\nprint('ready', flush=True)\ntime.sleep(600)\n");
        r.marker = "ready";
        r.on_marker = free_now;
        run_start(&r);
        pid_t pid = execution_get_supervisor_pid(r.execution);

        for (uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 30 * USEC_PER_SEC;
             r.execution || kill(pid, 0) == 0 || unit_exists(r.bus, r.unit);) {
                ck_assert_msg(now_usec(CLOCK_MONOTONIC) < deadline, "execution, supervisor or scope still there");
                ck_assert_int_ge(sd_event_run(r.event, 50 * USEC_PER_MSEC), 0);
        }
        ck_assert(r.marker_seen);
        ck_assert_uint_eq(r.n_finished, 0);
        assert_scope_gone(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_free_before_release) {
        Run r;

        run_init(&r, "print('x')\n");
        run_start(&r);
        pid_t pid = execution_get_supervisor_pid(r.execution);
        r.execution = execution_free(r.execution);

        /* The abandoned start still finishes its job, stops the unit and
         * reaps the supervisor. */
        for (uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 15 * USEC_PER_SEC; kill(pid, 0) == 0;) {
                ck_assert_msg(now_usec(CLOCK_MONOTONIC) < deadline, "supervisor %d not reaped", (int) pid);
                ck_assert_int_ge(sd_event_run(r.event, 50 * USEC_PER_MSEC), 0);
        }
        ck_assert_uint_eq(r.n_finished, 0);
        assert_scope_gone(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_parallel) {
        _cleanup_free_ char *oa = NULL, *ob = NULL;
        Run a, b;

        /* Two executions on one loop and bus do not mix their outputs. */
        run_init(&a, "import time\nfor i in range(3):\n    print('a', i, flush=True)\n    time.sleep(0.1)\n");
        run_init(&b, "import time\nfor i in range(3):\n    print('b', i, flush=True)\n    time.sleep(0.1)\n");
        sd_bus_flush_close_unref(b.bus);
        sd_event_unref(b.event);
        b.bus = sd_bus_ref(a.bus);
        b.event = sd_event_ref(a.event);
        a.partner = &b;
        b.partner = &a;

        run_start(&a);
        run_start(&b);
        run_loop(&a);
        ck_assert_uint_eq(b.n_finished, 1);

        ck_assert_int_eq(a.state, EXEC_STATE_SUCCEEDED);
        ck_assert_int_eq(b.state, EXEC_STATE_SUCCEEDED);
        oa = stream_text(&a, "stdout", NULL);
        ob = stream_text(&b, "stdout", NULL);
        ck_assert_str_eq(oa, "a 0\na 1\na 2\n");
        ck_assert_str_eq(ob, "b 0\nb 1\nb 2\n");

        assert_common_end(&a);
        assert_common_end(&b);
        run_done(&a);
        run_done(&b);
}
END_TEST

/*
 * The sandbox (issue 3): each test runs a cell that reports what it sees
 * as one JSON object on stdout, and checks it here.
 */

/* The cell's stdout, parsed as one JSON object. */
static json_t *stdout_json(Run *r) {
        _cleanup_free_ char *out = stream_text(r, "stdout", NULL);
        json_error_t e;
        json_t *j = json_loads(out, 0, &e);

        ck_assert_msg(json_is_object(j), "stdout is not a JSON object (%s): %s", e.text, out);
        return j;
}

static void assert_succeeded(Run *r) {
        _cleanup_free_ char *err = stream_text(r, "stderr", NULL);

        ck_assert_msg(!r->error, "error: %s", r->error);
        ck_assert_msg(r->state == EXEC_STATE_SUCCEEDED, "state %s, stderr: %s", exec_state_to_string(r->state), err);
}

/* json value @key of @o as a compact string, for comparisons with one literal. */
static char *json_text(json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        char *s;

        ck_assert_msg(v, "no \"%s\"", key);
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        ck_assert_ptr_nonnull(s);
        return s;
}

static void assert_json_text(json_t *o, const char *key, const char *expected) {
        _cleanup_free_ char *s = json_text(o, key);

        ck_assert_msg(strcmp(s, expected) == 0, "%s: %s, expected %s", key, s, expected);
}

START_TEST(test_sandbox_identity) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        char expected[128];
        Run r;

        run_init(&r,
                 "import json, os, socket\n"
                 "st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())\n"
                 "print(json.dumps({\n"
                 "    'resuid': os.getresuid(), 'resgid': os.getresgid(), 'groups': os.getgroups(),\n"
                 "    'caps': [st[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')],\n"
                 "    'nnp': st['NoNewPrivs'].strip(), 'seccomp': st['Seccomp'].strip(),\n"
                 "    'hostname': socket.gethostname(), 'uname': os.uname().nodename,\n"
                 "    'pid': os.getpid(), 'ppid': os.getppid(), 'sid': os.getsid(0), 'pgid': os.getpgid(0),\n"
                 "}))\n");
        run_start_and_wait(&r);
        assert_succeeded(&r);

        j = stdout_json(&r);
        snprintf(expected, sizeof expected, "[%1$" PRIu32 ",%1$" PRIu32 ",%1$" PRIu32 "]", (uint32_t) r.spec.uid);
        assert_json_text(j, "resuid", expected);
        assert_json_text(j, "resgid", expected);
        assert_json_text(j, "groups", "[]");
        assert_json_text(j, "caps", "[\"0000000000000000\",\"0000000000000000\",\"0000000000000000\","
                                    "\"0000000000000000\",\"0000000000000000\"]");
        assert_json_text(j, "nnp", "\"1\"");
        /* 2: a filter is loaded (seccomp-policy.c). */
        assert_json_text(j, "seccomp", "\"2\"");
        assert_json_text(j, "hostname", "\"pyexec\"");
        assert_json_text(j, "uname", "\"pyexec\"");
        /* PID 2 of its own namespace (the init is 1), its own session. */
        assert_json_text(j, "pid", "2");
        assert_json_text(j, "ppid", "1");
        assert_json_text(j, "sid", "2");
        assert_json_text(j, "pgid", "2");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

/* The root entries the sandbox copies from the host, sorted, as JSON. */
static void expected_root(char *buf, size_t size) {
        /* strcmp order: bin dev etc lib lib32 lib64 libx32 proc sbin tmp usr */
        static const char *const names[] = { "bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr" };
        static const char *const always[] = { "dev", "etc", "proc", "tmp", "usr" };
        size_t n = 0;

        n += (size_t) snprintf(buf + n, size - n, "[");
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char path[32];
                struct stat st;
                bool want = false;

                for (size_t k = 0; k < ELEMENTSOF(always); k++)
                        want = want || strcmp(always[k], names[i]) == 0;
                snprintf(path, sizeof path, "/%s", names[i]);
                want = want || lstat(path, &st) == 0;
                if (want)
                        n += (size_t) snprintf(buf + n, size - n, "%s\"%s\"", buf[n - 1] == '[' ? "" : ",", names[i]);
        }
        snprintf(buf + n, size - n, "]");
}

/* The namespaces test_sandbox_namespaces() compares. */
static const char *const namespace_types[] = { "mnt", "net", "ipc", "uts", "pid" };

static void read_namespace(pid_t pid, const char *type, char *buf, size_t size) {
        char path[64];
        ssize_t n;

        if (pid > 0)
                snprintf(path, sizeof path, "/proc/%d/ns/%s", (int) pid, type);
        else
                snprintf(path, sizeof path, "/proc/self/ns/%s", type);
        n = readlink(path, buf, size - 1);
        ck_assert_msg(n > 0, "readlink(%s): %m", path);
        buf[n] = 0;
}

/* At the release: where the supervisor is. */
static void note_supervisor_namespaces(Run *r) {
        pid_t pid = execution_get_supervisor_pid(r->execution);

        for (size_t i = 0; i < ELEMENTSOF(namespace_types); i++)
                read_namespace(pid, namespace_types[i], r->supervisor_ns[i], sizeof r->supervisor_ns[i]);
}

START_TEST(test_sandbox_namespaces) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        Run r;

        /* Wherever the sandbox makes its namespaces (the supervisor makes
         * the network, IPC and UTS ones before its release, the init the
         * mount namespace), the payload must be in none of the host's. */
        run_init(&r,
                 "import json, os\n"
                 "print(json.dumps({t: os.readlink('/proc/self/ns/' + t)\n"
                 "                  for t in ('mnt', 'net', 'ipc', 'uts', 'pid')}))\n");
        r.on_started = note_supervisor_namespaces;
        run_start_and_wait(&r);
        assert_succeeded(&r);

        j = stdout_json(&r);
        for (size_t i = 0; i < ELEMENTSOF(namespace_types); i++) {
                const char *type = namespace_types[i];
                json_t *v = json_object_get(j, type);
                char host[64], prefix[16];

                read_namespace(0, type, host, sizeof host);
                snprintf(prefix, sizeof prefix, "%s:[", type);
                ck_assert_msg(json_is_string(v) && strncmp(json_string_value(v), prefix, strlen(prefix)) == 0,
                              "%s namespace of the payload: %s", type, json_string_value(v) ?: "missing");
                ck_assert_msg(strcmp(json_string_value(v), host) != 0, "the payload shares the host's %s namespace %s",
                              type, host);
        }

        /* The supervisor keeps the host's mount namespace (it reads its
         * scope's cgroup files there) and is itself in the host's PID
         * namespace; it is the init that gets the new mount namespace. */
        for (size_t i = 0; i < ELEMENTSOF(namespace_types); i++) {
                char host[64];

                if (strcmp(namespace_types[i], "mnt") != 0 && strcmp(namespace_types[i], "pid") != 0)
                        continue;
                read_namespace(0, namespace_types[i], host, sizeof host);
                ck_assert_msg(strcmp(r.supervisor_ns[i], host) == 0, "the supervisor left the host's %s namespace",
                              namespace_types[i]);
        }
        ck_assert_msg(strcmp(json_string_value(json_object_get(j, "mnt")), r.supervisor_ns[0]) != 0,
                      "the payload shares the supervisor's mount namespace");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_sandbox_filesystem) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        char expected[256];
        Run r;

        run_init(&r,
                 "import errno, json, os, stat\n"
                 "def attempt(f):\n"
                 "    try:\n"
                 "        f()\n"
                 "        return 'ok'\n"
                 "    except OSError as e:\n"
                 "        return f'{type(e).__name__} {errno.errorcode[e.errno]}'\n"
                 "def write(path):\n"
                 "    with open(path, 'w') as f:\n"
                 "        f.write('x')\n"
                 "st = os.stat('/tmp')\n"
                 "def size(path):\n"
                 "    v = os.statvfs(path)\n"
                 "    return v.f_blocks * v.f_frsize\n"
                 "print(json.dumps({\n"
                 "    'root': sorted(os.listdir('/')), 'dev': sorted(os.listdir('/dev')), 'proc': sorted(os.listdir('/proc')),\n"
                 "    'links': {n: os.readlink('/dev/' + n) for n in ('fd', 'stdin', 'stdout', 'stderr')},\n"
                 "    'cwd': os.getcwd(), 'home': os.environ['HOME'],\n"
                 "    'tmp': [st.st_uid, st.st_gid, oct(stat.S_IMODE(st.st_mode))],\n"
                 "    'sizes': [size('/tmp'), size('/dev/shm')],\n"
                 "    'tmp_write': attempt(lambda: write('/tmp/f')), 'shm_write': attempt(lambda: write('/dev/shm/f')),\n"
                 "    'shadow': attempt(lambda: open('/etc/shadow').read()),\n"
                 "    'usr_write': attempt(lambda: write('/usr/pyexecd-test')),\n"
                 "    'etc_write': attempt(lambda: write('/etc/pyexecd-test')),\n"
                 "    'root_write': attempt(lambda: write('/pyexecd-test')),\n"
                 "    'dev_write': attempt(lambda: write('/dev/pyexecd-test')),\n"
                 "    'null': attempt(lambda: write('/dev/null')),\n"
                 "    'urandom': len(open('/dev/urandom', 'rb').read(16)),\n"
                 "    'fd_dir': len(os.listdir('/dev/fd')) >= 5,\n"
                 "    'absent': [p for p in ('/run/pyexecd', '/var/lib/redis', '/root', '/home', '/run', '/var', '/sys',\n"
                 "                             '/proc/1', '/proc/sys', '/dev/tty', '/dev/pts', '/dev/console') if os.path.lexists(p)],\n"
                 "}))\n");
        run_start_and_wait(&r);
        assert_succeeded(&r);

        j = stdout_json(&r);
        expected_root(expected, sizeof expected);
        assert_json_text(j, "root", expected);
        assert_json_text(j, "dev", "[\"fd\",\"full\",\"null\",\"random\",\"shm\",\"stderr\",\"stdin\",\"stdout\",\"urandom\",\"zero\"]");
        /* Only the payload itself: the init (root) is invisible. */
        assert_json_text(j, "proc", "[\"2\",\"self\",\"thread-self\"]");
        assert_json_text(j, "links", "{\"fd\":\"/proc/self/fd\",\"stdin\":\"/proc/self/fd/0\",\"stdout\":\"/proc/self/fd/1\","
                                     "\"stderr\":\"/proc/self/fd/2\"}");
        assert_json_text(j, "cwd", "\"/tmp\"");
        assert_json_text(j, "home", "\"/tmp\"");
        snprintf(expected, sizeof expected, "[%1$" PRIu32 ",%1$" PRIu32 ",\"0o700\"]", (uint32_t) r.spec.uid);
        assert_json_text(j, "tmp", expected);
        /* Half of MemoryMax (512 MiB), and a quarter at most 64 MiB: a full
         * /tmp is ENOSPC, not an OOM kill. */
        assert_json_text(j, "sizes", "[268435456,67108864]");
        assert_json_text(j, "tmp_write", "\"ok\"");
        assert_json_text(j, "shm_write", "\"ok\"");
        assert_json_text(j, "shadow", "\"PermissionError EACCES\"");
        assert_json_text(j, "usr_write", "\"OSError EROFS\"");
        assert_json_text(j, "etc_write", "\"OSError EROFS\"");
        assert_json_text(j, "root_write", "\"OSError EROFS\"");
        assert_json_text(j, "dev_write", "\"OSError EROFS\"");
        assert_json_text(j, "null", "\"ok\"");
        assert_json_text(j, "urandom", "16");
        assert_json_text(j, "fd_dir", "true");
        assert_json_text(j, "absent", "[]");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_sandbox_network) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        _cleanup_free_ char *names = NULL;
        Run r;

        /* Only "lo", and down: nothing answers, not even the host's
         * loopback (Redis). With the seccomp filter, AF_INET and netlink
         * fail earlier (EAFNOSUPPORT): either way no connection. */
        run_init(&r,
                 "import errno, json, socket\n"
                 "def attempt(f):\n"
                 "    try:\n"
                 "        return ['ok', f()]\n"
                 "    except OSError as e:\n"
                 "        return [type(e).__name__, errno.errorcode.get(e.errno, str(e.errno))]\n"
                 "def connect(port):\n"
                 "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
                 "    s.settimeout(2)\n"
                 "    s.connect(('127.0.0.1', port))\n"
                 "print(json.dumps({\n"
                 "    'ifaces': attempt(lambda: [n for i, n in socket.if_nameindex()]),\n"
                 "    'redis': attempt(lambda: connect(6379)),\n"
                 "    'tcp': attempt(lambda: connect(80)),\n"
                 "    'unix_pair': attempt(lambda: len(socket.socketpair())),\n"
                 "}))\n");
        run_start_and_wait(&r);
        assert_succeeded(&r);

        j = stdout_json(&r);
        names = json_text(j, "ifaces");
        ck_assert_msg(strcmp(names, "[\"ok\",[\"lo\"]]") == 0 || strncmp(names, "[\"PermissionError\"", 18) == 0 ||
                      strcmp(names, "[\"OSError\",\"EAFNOSUPPORT\"]") == 0, "interfaces: %s", names);
        /* lo is down: ENETUNREACH; a refused socket(): EAFNOSUPPORT or EPERM. */
        _cleanup_free_ char *redis = json_text(j, "redis"), *tcp = json_text(j, "tcp");
        ck_assert_msg(strstr(redis, "ENETUNREACH") || strstr(redis, "EAFNOSUPPORT") || strstr(redis, "EPERM"), "redis: %s", redis);
        ck_assert_msg(strstr(tcp, "ENETUNREACH") || strstr(tcp, "EAFNOSUPPORT") || strstr(tcp, "EPERM"), "tcp: %s", tcp);
        assert_json_text(j, "unix_pair", "[\"ok\",2]");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_sandbox_rlimits) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        Run r;

        run_init(&r,
                 "import json, resource as R\n"
                 "print(json.dumps({n: R.getrlimit(getattr(R, 'RLIMIT_' + n))\n"
                 "                  for n in ('CORE', 'FSIZE', 'NOFILE', 'STACK', 'NPROC', 'MEMLOCK')}))\n");
        r.spec.limits.tasks_max = 48;
        r.spec.limits.file_size_max = 3 * MIB;
        run_start_and_wait(&r);
        assert_succeeded(&r);

        j = stdout_json(&r);
        assert_json_text(j, "CORE", "[0,0]");
        assert_json_text(j, "FSIZE", "[3145728,3145728]");
        assert_json_text(j, "NOFILE", "[1024,1024]");
        assert_json_text(j, "STACK", "[8388608,8388608]");
        assert_json_text(j, "NPROC", "[48,48]");
        assert_json_text(j, "MEMLOCK", "[65536,65536]");
        ck_assert_uint_eq(json_object_size(j), 6);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_sandbox_file_size_max) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        Run r;

        /* SIGXFSZ is ignored by CPython: the write fails with EFBIG (27),
         * and the file stops at the limit. */
        run_init(&r,
                 "import json, os\n"
                 "res = {}\n"
                 "try:\n"
                 "    with open('/tmp/big', 'wb') as f:\n"
                 "        f.write(b'x' * (3 * 1024 * 1024))\n"
                 "    res['error'] = None\n"
                 "except OSError as e:\n"
                 "    res['error'] = [type(e).__name__, e.errno]\n"
                 "res['size'] = os.path.getsize('/tmp/big')\n"
                 "print(json.dumps(res))\n");
        r.spec.limits.file_size_max = 1 * MIB;
        run_start_and_wait(&r);
        assert_succeeded(&r);

        j = stdout_json(&r);
        assert_json_text(j, "error", "[\"OSError\",27]");
        assert_json_text(j, "size", "1048576");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_sandbox_scientific_stack) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        Run r;

        /* What notebooks use, inside the sandbox: numpy (BLAS threads),
         * pandas, matplotlib to a PNG file, a process pool (semaphores in
         * /dev/shm) and threads; os.cpu_count() without /sys and /proc/stat. */
        run_init(&r,
                 "import json, multiprocessing, os, threading\n"
                 "import numpy as np, pandas as pd\n"
                 "import matplotlib\n"
                 "matplotlib.use('Agg')\n"
                 "import matplotlib.pyplot as plt\n"
                 "def square(x):\n"
                 "    return x * x\n"
                 "res = {'cpus': os.cpu_count(), 'mp_cpus': multiprocessing.cpu_count()}\n"
                 "a = np.arange(12.0).reshape(3, 4)\n"
                 "res['numpy'] = float((a @ a.T).trace())\n"
                 "res['pandas'] = pd.DataFrame({'x': [1, 2, 3]}).x.sum().item()\n"
                 "plt.plot([1, 2, 3], [1, 4, 9])\n"
                 "plt.savefig('/tmp/plot.png')\n"
                 "res['png'] = open('/tmp/plot.png', 'rb').read(8) == b'\\x89PNG\\r\\n\\x1a\\n'\n"
                 "plt.close('all')\n"
                 "with multiprocessing.Pool(2) as pool:\n"
                 "    res['pool'] = pool.map(square, range(5))\n"
                 "out = []\n"
                 "threads = [threading.Thread(target=out.append, args=(i,)) for i in range(8)]\n"
                 "[t.start() for t in threads]\n"
                 "[t.join() for t in threads]\n"
                 "res['threads'] = sorted(out)\n"
                 "print(json.dumps(res))\n");
        r.spec.limits.timeout_usec = 120 * USEC_PER_SEC;
        run_start_and_wait(&r);
        assert_succeeded(&r);

        j = stdout_json(&r);
        /* The same count as outside (sched_getaffinity() in the end). */
        ck_assert_int_eq(json_integer_value(json_object_get(j, "cpus")), sysconf(_SC_NPROCESSORS_ONLN));
        ck_assert_int_eq(json_integer_value(json_object_get(j, "mp_cpus")), sysconf(_SC_NPROCESSORS_ONLN));
        assert_json_text(j, "numpy", "506.0");      /* 0² + 1² + … + 11² */
        assert_json_text(j, "pandas", "6");
        assert_json_text(j, "png", "true");
        assert_json_text(j, "pool", "[0,1,4,9,16]");
        assert_json_text(j, "threads", "[0,1,2,3,4,5,6,7]");

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

static void start_partner(Run *r) {
        run_start(r->partner);
}

START_TEST(test_sandbox_two_executions) {
        _cleanup_(json_decrefp) json_t *ja = NULL, *jb = NULL;
        char expected[64];
        Run a, b;

        /* A leaves a file in its /tmp and waits; B, started meanwhile, does
         * not see it, nor A's processes; each runs as its own uid. */
        run_init(&a,
                 "import json, os, time\n"
                 "open('/tmp/secret-of-a', 'w').write('a')\n"
                 "print('a ready', flush=True)\n"
                 "time.sleep(2)\n"
                 "print(json.dumps({'uid': os.getuid(), 'tmp': sorted(os.listdir('/tmp'))}))\n");
        run_init(&b,
                 "import json, os\n"
                 "print(json.dumps({'uid': os.getuid(), 'tmp': sorted(os.listdir('/tmp')), 'proc': sorted(os.listdir('/proc'))}))\n");
        sd_bus_flush_close_unref(b.bus);
        sd_event_unref(b.event);
        b.bus = sd_bus_ref(a.bus);
        b.event = sd_event_ref(a.event);
        a.partner = &b;
        b.partner = &a;
        a.marker = "a ready";
        a.on_marker = start_partner;
        ck_assert_uint_ne(a.spec.uid, b.spec.uid);

        run_start(&a);
        run_loop(&a);
        ck_assert(a.marker_seen);
        ck_assert_uint_eq(b.n_finished, 1);

        /* B ran while A slept: A's output ends after B's. */
        ck_assert_uint_eq(json_array_size(b.events) > 0, 1);
        assert_succeeded(&a);
        assert_succeeded(&b);

        /* (A printed "a ready" first; its JSON is the last line.) */
        _cleanup_free_ char *out_a = stream_text(&a, "stdout", NULL);
        ck_assert_int_eq(strncmp(out_a, "a ready\n", 8), 0);
        ja = json_loads(out_a + 8, 0, NULL);
        ck_assert_ptr_nonnull(ja);
        jb = stdout_json(&b);

        snprintf(expected, sizeof expected, "%" PRIu32, (uint32_t) a.spec.uid);
        assert_json_text(ja, "uid", expected);
        assert_json_text(ja, "tmp", "[\"secret-of-a\"]");
        snprintf(expected, sizeof expected, "%" PRIu32, (uint32_t) b.spec.uid);
        assert_json_text(jb, "uid", expected);
        assert_json_text(jb, "tmp", "[]");
        assert_json_text(jb, "proc", "[\"2\",\"self\",\"thread-self\"]");

        assert_common_end(&a);
        assert_common_end(&b);
        run_done(&a);
        run_done(&b);
}
END_TEST

START_TEST(test_sandbox_disabled) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        _cleanup_free_ char *cwd = NULL, *dir = NULL;
        char hostname[256];
        Run r;

        /* [Sandbox] Enabled=no: root, the host's file system and network
         * namespace, only the PID namespace and the rlimits of its own, in a
         * temporary directory that is gone afterwards. */
        run_init(&r,
                 "import json, os, resource, socket\n"
                 "open('left-behind', 'w').write('x')\n"
                 "os.mkdir('subdir')\n"
                 "print(json.dumps({'uid': os.getuid(), 'pid': os.getpid(), 'cwd': os.getcwd(),\n"
                 "                  'home': os.environ['HOME'], 'tmpdir': os.environ['TMPDIR'],\n"
                 "                  'hostname': socket.gethostname(), 'core': resource.getrlimit(resource.RLIMIT_CORE),\n"
                 "                  'usr': os.path.isdir('/usr/lib'), 'run': os.path.isdir('/run/systemd')}))\n");
        r.spec.sandbox_disabled = true;
        r.spec.uid = 0;         /* ignored without the sandbox */
        run_start_and_wait(&r);
        assert_succeeded(&r);

        j = stdout_json(&r);
        assert_json_text(j, "uid", "0");
        assert_json_text(j, "pid", "2");
        assert_json_text(j, "core", "[0,0]");
        assert_json_text(j, "run", "true");
        ck_assert_int_eq(gethostname(hostname, sizeof hostname), 0);
        ck_assert_str_eq(json_string_value(json_object_get(j, "hostname")), hostname);
        cwd = json_text(j, "cwd");
        ck_assert_msg(strncmp(cwd, "\"/tmp/pyexecd-", 14) == 0, "cwd %s", cwd);
        assert_json_text(j, "home", cwd);
        assert_json_text(j, "tmpdir", cwd);

        /* Removed with everything in it. */
        dir = strndup(cwd + 1, strlen(cwd) - 2);
        ck_assert_ptr_nonnull(dir);
        ck_assert_msg(access(dir, F_OK) < 0 && errno == ENOENT, "%s is still there", dir);

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_sandbox_uid_required) {
        Run r;

        /* The sandbox never runs code as root. */
        run_init(&r, "print('x')\n");
        r.spec.uid = 0;
        ck_assert_int_eq(execution_start(&r.execution, r.event, r.bus, &r.spec, &handlers, &r), -EINVAL);
        r.spec.uid = (uid_t) -1;
        ck_assert_int_eq(execution_start(&r.execution, r.event, r.bus, &r.spec, &handlers, &r), -EINVAL);
        ck_assert_ptr_null(r.execution);
        ck_assert_uint_eq(count_pyexec_units(r.bus), 0);
        run_done(&r);
}
END_TEST

START_TEST(test_output_limit_kill) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        uint64_t t0;
        Run r;

        /* OutputLimitAction=kill: the payload is ended at OutputMax, long
         * before its timeout, and the execution fails. */
        run_init(&r, "import sys\nwhile True:\n    sys.stdout.write('flood ' * 10 + '\\n')\n");
        r.spec.limits.output_max = 65536;
        r.spec.limits.timeout_usec = 60 * USEC_PER_SEC;
        r.spec.kill_on_output_limit = true;
        t0 = now_usec(CLOCK_MONOTONIC);
        run_start_and_wait(&r);

        ck_assert_msg(!r.error, "error: %s", r.error);
        ck_assert(r.termination.output_limited);
        ck_assert(!r.termination.timed_out && !r.termination.cancelled);
        ck_assert(r.termination.have_status);
        ck_assert_int_eq(r.termination.signal, SIGKILL);
        ck_assert_int_eq(r.state, EXEC_STATE_FAILED);
        ck_assert(r.truncated);
        ck_assert_uint_lt(now_usec(CLOCK_MONOTONIC) - t0, 30 * USEC_PER_SEC);
        out = stream_text(&r, "stdout", NULL);
        ck_assert_uint_eq(strlen(out), 1074 * 61);
        err = stream_text(&r, "stderr", NULL);
        ck_assert_ptr_nonnull(strstr(err, "[pyexecd] output limit of 65536 bytes reached; "));

        assert_common_end(&r);
        run_done(&r);
}
END_TEST

START_TEST(test_output_limit_kill_after_exit) {
        Run r;

        /* Over the limit, even if the payload was done before the daemon
         * read the excess: failed, deterministically. Under it: succeeded. */
        run_init(&r, "print('x' * 200)\n");
        r.spec.limits.output_max = 100;
        r.spec.kill_on_output_limit = true;
        run_start_and_wait(&r);
        ck_assert(r.truncated);
        ck_assert(r.termination.output_limited);
        ck_assert_int_eq(r.state, EXEC_STATE_FAILED);
        assert_common_end(&r);
        run_done(&r);

        run_init(&r, "print('x' * 50)\n");
        r.spec.limits.output_max = 100;
        r.spec.kill_on_output_limit = true;
        run_start_and_wait(&r);
        ck_assert(!r.truncated);
        ck_assert(!r.termination.output_limited);
        ck_assert_int_eq(r.state, EXEC_STATE_SUCCEEDED);
        assert_common_end(&r);
        run_done(&r);
}
END_TEST

static Suite *execution_suite(void) {
        Suite *s = suite_create("execution");
        TCase *tc = tcase_create("execution");

        /* Each test boots Python in a scope; the slow ones wait for limits. */
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_hello);
        tcase_add_test(tc, test_order_c06);
        tcase_add_test(tc, test_raw_fds_in_causal_order);
        tcase_add_test(tc, test_invalid_utf8_repaired);
        tcase_add_test(tc, test_exit_code);
        tcase_add_test(tc, test_segfault_c12);
        tcase_add_test(tc, test_stdin);
        tcase_add_test(tc, test_runner_messages_validated);
        tcase_add_test(tc, test_timeout_c15);
        tcase_add_test(tc, test_setsid_grandchild_killed);
        tcase_add_test(tc, test_memory_limit_c13);
        tcase_add_test(tc, test_tasks_max_c20);
        tcase_add_test(tc, test_scope_properties);
        tcase_add_test(tc, test_cancel_before_release);
        tcase_add_test(tc, test_cancel_after_release);
        tcase_add_test(tc, test_interrupt);
        tcase_add_test(tc, test_init_forwards_signals);
        tcase_add_test(tc, test_output_max_cut);
        tcase_add_test(tc, test_output_max_no_line_break);
        tcase_add_test(tc, test_metadata_counts_against_output_max);
        tcase_add_test(tc, test_huge_outputs_bounded);
        tcase_add_test(tc, test_endless_output_c01);
        tcase_add_test(tc, test_missing_python);
        tcase_add_test(tc, test_missing_supervisor);
        tcase_add_test(tc, test_scope_refused);
        tcase_add_test(tc, test_free_while_running);
        tcase_add_test(tc, test_free_before_release);
        tcase_add_test(tc, test_parallel);
        tcase_add_test(tc, test_sandbox_identity);
        tcase_add_test(tc, test_sandbox_namespaces);
        tcase_add_test(tc, test_sandbox_filesystem);
        tcase_add_test(tc, test_sandbox_network);
        tcase_add_test(tc, test_sandbox_rlimits);
        tcase_add_test(tc, test_sandbox_file_size_max);
        tcase_add_test(tc, test_sandbox_scientific_stack);
        tcase_add_test(tc, test_sandbox_two_executions);
        tcase_add_test(tc, test_sandbox_disabled);
        tcase_add_test(tc, test_sandbox_uid_required);
        tcase_add_test(tc, test_output_limit_kill);
        tcase_add_test(tc, test_output_limit_kill_after_exit);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(execution_suite());
        int failed;

        if (getenv("PYEXECD_DEBUG"))
                log_set_max_level(LOG_DEBUG);

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

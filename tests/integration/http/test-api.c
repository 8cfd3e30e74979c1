/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * pyexecd's HTTP API end to end, against the real daemon in the testbed:
 * every endpoint's answers and their fields, every state an execution can
 * end in, cancellation (queued and running), the queue limit, Server-Sent
 * Events (live, replay, resume, two readers, rich outputs), and what the
 * transient scope really enforces (limits, killing setsid'd processes).
 */

#include <check.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "integ-util.h"

#define SEC USEC_PER_SEC

/* A cell that says it started and then sleeps for a minute. */
#define CODE_SLEEPER "import time\nprint(\"started\", flush=True)\ntime.sleep(60)\n"

static bool regex_full_match(const char *pattern, const char *text) {
        _cleanup_free_ char *anchored = strprintf("^(%s)$", pattern);
        regex_t re;
        bool m;

        ck_assert(regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) == 0);
        m = text && regexec(&re, text, 0, NULL, 0) == 0;
        regfree(&re);
        return m;
}

static uint64_t wall_clock_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* The status of @st is @want; else fails with the whole object. */
static void assert_state(const json_t *st, const char *want) {
        const char *got = json_object_get_string(st, "status");
        _cleanup_free_ char *d = NULL;

        if (got && strcmp(got, want) == 0)
                return;
        d = json_describe(st);
        ck_abort_msg("status \"%s\", want \"%s\": %s", got ?: "(none)", want, d);
}

/* Asserts @key of @o is JSON null. */
static void assert_null(const json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        _cleanup_free_ char *d = NULL;

        if (v && json_is_null(v))
                return;
        d = json_describe(o);
        ck_abort_msg("\"%s\" should be null (and present): %s", key, d);
}

/* Asserts @key of @o is an RFC 3339 "…Z" time; returns it in µs. */
static uint64_t assert_time(const json_t *o, const char *key) {
        const char *s = json_object_get_string(o, key);
        uint64_t t = 0;
        _cleanup_free_ char *d = NULL;

        if (s && regex_full_match("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z", s) &&
            rfc3339_parse(s, &t))
                return t;
        d = json_describe(o);
        ck_abort_msg("\"%s\" is not an RFC 3339 UTC time (\"…Z\"): %s", key, d);
}

static json_int_t assert_int(const json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        _cleanup_free_ char *d = NULL;

        if (json_is_integer(v))
                return json_integer_value(v);
        d = json_describe(o);
        ck_abort_msg("\"%s\" should be an integer: %s", key, d);
}

/*
 * The fields every status object has, with their types: all documented keys
 * present; strings, integers or null where the contract says so.
 */
static void assert_status_shape(const json_t *st, const char *id) {
        static const struct {
                const char *key;
                const char *types; /* s string, i integer, n null, b bool, a array, o object */
        } fields[] = {
                { "execution_id", "s" },  { "status", "s" },      { "cell_id", "sn" },
                { "notebook_id", "sn" },  { "execution_count", "in" }, { "created_at", "s" },
                { "started_at", "sn" },   { "finished_at", "sn" }, { "exit_code", "in" },
                { "signal", "sn" },       { "error", "sn" },      { "truncated", "b" },
                { "outputs", "a" },       { "resources", "on" },  { "limits", "o" },
        };
        _cleanup_free_ char *d = json_describe(st);

        ck_assert_msg(json_is_object(st), "status is not an object: %s", d);
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                json_t *v = json_object_get(st, fields[i].key);
                bool ok = false;

                ck_assert_msg(v, "status lacks \"%s\": %s", fields[i].key, d);
                for (const char *t = fields[i].types; *t; t++)
                        ok = ok || (*t == 's' && json_is_string(v)) || (*t == 'i' && json_is_integer(v)) ||
                             (*t == 'n' && json_is_null(v)) || (*t == 'b' && json_is_boolean(v)) ||
                             (*t == 'a' && json_is_array(v)) || (*t == 'o' && json_is_object(v));
                ck_assert_msg(ok, "status field \"%s\" has the wrong type (want %s): %s", fields[i].key,
                              fields[i].types, d);
        }
        ck_assert_msg(strcmp(json_object_get_string(st, "execution_id"), id) == 0, "execution_id is not %s: %s", id,
                      d);
        assert_time(st, "created_at");
}

/* Stored stdout (joined) of @st equals @want. */
static void assert_stdout(const json_t *st, const char *name, const char *want) {
        _cleanup_free_ char *got = outputs_stream_text(json_object_get(st, "outputs"), name), *d = NULL;

        if (strcmp(got, want) == 0)
                return;
        d = json_describe(st);
        ck_abort_msg("%s is \"%s\", want \"%s\": %s", name, got, want, d);
}

static json_t *limits_new(double timeout_sec, json_int_t memory_max, json_int_t cpu_quota_percent,
                          json_int_t tasks_max, json_int_t output_max) {
        json_t *l = json_object();

        ck_assert(l);
        if (timeout_sec > 0)
                json_object_set_new(l, "timeout_sec", timeout_sec == (json_int_t) timeout_sec
                                                              ? json_integer((json_int_t) timeout_sec)
                                                              : json_real(timeout_sec));
        if (memory_max > 0)
                json_object_set_new(l, "memory_max", json_integer(memory_max));
        if (cpu_quota_percent > 0)
                json_object_set_new(l, "cpu_quota_percent", json_integer(cpu_quota_percent));
        if (tasks_max > 0)
                json_object_set_new(l, "tasks_max", json_integer(tasks_max));
        if (output_max > 0)
                json_object_set_new(l, "output_max", json_integer(output_max));
        return l;
}

/* Waits until no unit of execution @id is loaded any more (its scope went away). */
static void assert_scope_gone(const char *id, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                _cleanup_free_ char *units = units_matching(id);

                if (!*units)
                        return;
                ck_assert_msg(now_usec() < deadline, "unit(s) of execution %s still loaded after it ended: %s", id,
                              units);
                sleep_usec(100 * USEC_PER_MSEC);
        }
}

/* POST /initialize */

START_TEST(test_initialize) {
        _cleanup_free_ char *python = NULL;
        int r;

        r = run_commandl(&python, "/usr/bin/python3", "-c", "import platform; print(platform.python_version())",
                         NULL);
        ck_assert_msg(r == 0, "/usr/bin/python3 does not run here: %d", r);
        python[strcspn(python, "\n")] = 0;

        /* Twice: it is idempotent. */
        for (int i = 0; i < 2; i++) {
                _cleanup_(http_response_freep) HttpResponse *resp = NULL;
                _cleanup_free_ char *d = NULL;
                const char *ctype;

                resp = http_request("POST", API_BASE "/initialize", NULL, NULL, 0, NULL);
                d = http_response_describe(resp);
                ck_assert_msg(resp->status == 200, "POST /initialize: want 200, got %s", d);
                ctype = http_response_header(resp, "Content-Type");
                ck_assert_msg(ctype && strncmp(ctype, "application/json", 16) == 0, "Content-Type %s", ctype ?: "-");
                ck_assert_msg(json_is_true(json_object_get(resp->json, "ready")), "not ready: %s", d);
                ck_assert_msg(json_object_get_string(resp->json, "python") &&
                                      regex_full_match("3\\.[0-9]+\\.[0-9]+", json_object_get_string(resp->json, "python")) &&
                                      strcmp(json_object_get_string(resp->json, "python"), python) == 0,
                              "\"python\" should be \"%s\" (/usr/bin/python3's version): %s", python, d);
                ck_assert_msg(json_object_get(resp->json, "redis") && !json_is_null(json_object_get(resp->json, "redis")),
                              "no \"redis\" report: %s", d);
                ck_assert_msg(json_object_get(resp->json, "systemd") &&
                                      !json_is_null(json_object_get(resp->json, "systemd")),
                              "no \"systemd\" report: %s", d);
                ck_assert_msg(json_is_object(json_object_get(resp->json, "limits")) &&
                                      json_object_size(json_object_get(resp->json, "limits")) > 0,
                              "no \"limits\" (defaults and maxima): %s", d);
        }
}
END_TEST

/*
 * POST /initialize is idempotent: calling it while everything works must not
 * disturb anyone else. Another client's GET /status meanwhile always gets 200.
 */
START_TEST(test_initialize_concurrent) {
        _cleanup_free_ char *id = submit_code("print('x')\n", NULL), *path = NULL, *first_bad = NULL;
        json_auto_t *st = wait_terminal(id, 60 * SEC);
        unsigned n_bad = 0, n = 0;
        int status;
        pid_t pid;

        path = strprintf(API_BASE "/status/%s", id);
        fflush(NULL);
        pid = fork();
        ck_assert_msg(pid >= 0, "fork: %m");
        if (pid == 0) {
                /* The other client: initialise over and over. */
                for (int i = 0; i < 40; i++)
                        http_response_free(http_request("POST", API_BASE "/initialize", NULL, NULL, 0, NULL));
                _exit(EXIT_SUCCESS);
        }

        for (;;) {
                _cleanup_(http_response_freep) HttpResponse *r = http_get(path);
                pid_t p;

                n++;
                if (r->status != 200) {
                        n_bad++;
                        if (!first_bad)
                                first_bad = http_response_describe(r);
                }
                p = waitpid(pid, &status, WNOHANG);
                ck_assert_msg(p >= 0, "waitpid: %m");
                if (p == pid)
                        break;
        }
        ck_assert_msg(n_bad == 0,
                      "%u of %u GET /status answers failed while another client called POST /initialize; first: %s",
                      n_bad, n, first_bad);
}
END_TEST

/* POST /execute */

START_TEST(test_execute_answer) {
        char *ids[2] = {}; /* freed at the end; a failed test ends its process */

        for (int i = 0; i < 2; i++) {
                _cleanup_(http_response_freep) HttpResponse *r = NULL;
                _cleanup_free_ char *d = NULL, *want = NULL;
                json_auto_t *req = json_pack("{s:s}", "code", "print('hi')\n");
                const char *id, *ctype;
                json_t *links;
                static const char *const names[] = { "status", "stream", "cancel" };

                r = http_post_json(API_BASE "/execute", req, 0);
                d = http_response_describe(r);
                ck_assert_msg(r->status == 202, "POST /execute: want 202, got %s", d);
                ctype = http_response_header(r, "Content-Type");
                ck_assert_msg(ctype && strncmp(ctype, "application/json", 16) == 0, "Content-Type %s", ctype ?: "-");
                id = json_object_get_string(r->json, "execution_id");
                ck_assert_msg(is_exec_id(id), "execution_id is not 32 lowercase hex digits: %s", d);
                ck_assert_msg(json_object_get_string(r->json, "status") &&
                                      strcmp(json_object_get_string(r->json, "status"), "queued") == 0,
                              "status is not \"queued\": %s", d);
                ck_assert_msg(json_is_integer(json_object_get(r->json, "queue_position")) &&
                                      json_integer_value(json_object_get(r->json, "queue_position")) >= 1,
                              "queue_position is not an integer >= 1: %s", d);
                links = json_object_get(r->json, "links");
                ck_assert_msg(json_is_object(links), "no links: %s", d);
                for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                        const char *l = json_object_get_string(links, names[k]);

                        free(want);
                        want = strprintf("/%s/%s", names[k], id);
                        ck_assert_msg(l && strlen(l) >= strlen(want) && strcmp(l + strlen(l) - strlen(want), want) == 0,
                                      "links.%s should end in %s: %s", names[k], want, d);
                }
                ids[i] = strdup(id);
        }
        ck_assert_msg(strcmp(ids[0], ids[1]) != 0, "two executions got one id %s", ids[0]);

        for (int i = 0; i < 2; i++) {
                json_auto_t *st = wait_terminal(ids[i], 60 * SEC);

                assert_status_shape(st, ids[i]);
                assert_state(st, "succeeded");
                assert_stdout(st, "stdout", "hi\n");
                /* Not given in the request: null. */
                assert_null(st, "cell_id");
                assert_null(st, "notebook_id");
                assert_null(st, "execution_count");
        }
        free(ids[0]);
        free(ids[1]);
}
END_TEST

/* GET /status: every field, while running and at the end. */

START_TEST(test_status_fields) {
        json_auto_t *req = NULL, *limits = NULL, *running = NULL, *st = NULL;
        _cleanup_free_ char *id = NULL, *d = NULL;
        uint64_t before, created, started, finished, started_r;
        json_t *res, *lim;

        limits = limits_new(20, 268435456, 50, 32, 100000);
        /* Raw UTF-8 in the body (run-cases sends \u escapes; both must work). */
        req = json_pack("{s:s,s:s,s:s,s:i,s:O}", "code",
                        "import time\nprint(\"h\xc3\xa9llo\", flush=True)\ntime.sleep(1.5)\nprint(\"done\")\n",
                        "cell_id", "cell-7", "notebook_id", "nb-1", "execution_count", 7, "limits", limits);
        before = wall_clock_usec();
        id = submit(req);

        running = wait_running(id, "h\xc3\xa9llo\n", 30 * SEC);
        assert_status_shape(running, id);
        started_r = assert_time(running, "started_at");
        assert_null(running, "finished_at");
        assert_null(running, "exit_code");
        assert_null(running, "signal");

        st = wait_terminal(id, 60 * SEC);
        d = json_describe(st);
        assert_status_shape(st, id);
        assert_state(st, "succeeded");
        ck_assert_msg(strcmp(json_object_get_string(st, "cell_id") ?: "", "cell-7") == 0, "cell_id: %s", d);
        ck_assert_msg(strcmp(json_object_get_string(st, "notebook_id") ?: "", "nb-1") == 0, "notebook_id: %s", d);
        ck_assert_msg(assert_int(st, "execution_count") == 7, "execution_count: %s", d);
        ck_assert_msg(assert_int(st, "exit_code") == 0, "exit_code: %s", d);
        assert_null(st, "signal");
        assert_null(st, "error");
        ck_assert_msg(json_is_false(json_object_get(st, "truncated")), "truncated: %s", d);
        assert_stdout(st, "stdout", "h\xc3\xa9llo\ndone\n");

        created = assert_time(st, "created_at");
        started = assert_time(st, "started_at");
        finished = assert_time(st, "finished_at");
        ck_assert_msg(started == started_r, "started_at changed between running and the end: %s", d);
        /* One clock (the same machine); a generous window around our own. */
        ck_assert_msg(created + 2 * SEC >= before && created <= wall_clock_usec() + 2 * SEC,
                      "created_at is not now: %s", d);
        ck_assert_msg(created <= started && started <= finished, "times out of order: %s", d);
        ck_assert_msg(finished - started >= 1500000, "finished_at - started_at < the 1.5 s the cell slept: %s", d);

        res = json_object_get(st, "resources");
        ck_assert_msg(json_is_object(res), "resources: %s", d);
        ck_assert_msg(assert_int(res, "wall_usec") >= 1500000, "resources.wall_usec < 1.5 s: %s", d);
        ck_assert_msg(assert_int(res, "cpu_usec") > 0, "resources.cpu_usec: %s", d);
        ck_assert_msg(assert_int(res, "memory_peak_bytes") > 1024 * 1024 &&
                              assert_int(res, "memory_peak_bytes") <= 268435456,
                      "resources.memory_peak_bytes not in (1 MiB, memory_max]: %s", d);

        /* The limits the request set, echoed as given. */
        lim = json_object_get(st, "limits");
        ck_assert_msg(json_is_number(json_object_get(lim, "timeout_sec")) &&
                              json_number_value(json_object_get(lim, "timeout_sec")) == 20,
                      "limits.timeout_sec: %s", d);
        ck_assert_msg(assert_int(lim, "memory_max") == 268435456, "limits.memory_max: %s", d);
        ck_assert_msg(assert_int(lim, "cpu_quota_percent") == 50, "limits.cpu_quota_percent: %s", d);
        ck_assert_msg(assert_int(lim, "tasks_max") == 32, "limits.tasks_max: %s", d);
        ck_assert_msg(assert_int(lim, "output_max") == 100000, "limits.output_max: %s", d);
}
END_TEST

START_TEST(test_stdin) {
        json_auto_t *req = NULL, *st = NULL;
        _cleanup_free_ char *id = NULL;

        req = json_pack("{s:s,s:s}", "code", "name = input()\nrest = input()\nprint('hello', name, rest)\n", "stdin",
                        "Ada\nLovelace\n");
        id = submit(req);
        st = wait_terminal(id, 60 * SEC);
        assert_state(st, "succeeded");
        assert_stdout(st, "stdout", "hello Ada Lovelace\n");
}
END_TEST

/* GET /queue/status, default configuration. */

START_TEST(test_queue_status) {
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        _cleanup_free_ char *d = NULL;

        r = http_get(API_BASE "/queue/status");
        d = http_response_describe(r);
        ck_assert_msg(r->status == 200 && json_is_object(r->json), "GET /queue/status: %s", d);
        ck_assert_msg(assert_int(r->json, "queued") >= 0, "queued: %s", d);
        ck_assert_msg(assert_int(r->json, "running") >= 0, "running: %s", d);
        ck_assert_msg(assert_int(r->json, "max_concurrent") >= 1, "max_concurrent: %s", d);
        /* Built-in MaxQueued=100. */
        ck_assert_msg(assert_int(r->json, "max_queued") == 100, "max_queued (default 100): %s", d);
        ck_assert_msg(json_is_object(json_object_get(r->json, "node")), "node: %s", d);
}
END_TEST

/* Terminal states. */

START_TEST(test_state_failed) {
        _cleanup_free_ char *id = submit_code("print('before')\nraise ValueError('bad value')\n", NULL), *d = NULL;
        json_auto_t *st = wait_terminal(id, 60 * SEC);
        json_t *outs = json_object_get(st, "outputs"), *last;

        d = json_describe(st);
        assert_state(st, "failed");
        assert_null(st, "signal");
        assert_stdout(st, "stdout", "before\n");
        last = json_array_get(outs, json_array_size(outs) - 1);
        ck_assert_msg(strcmp(json_object_get_string(last, "output_type") ?: "", "error") == 0 &&
                              strcmp(json_object_get_string(last, "ename") ?: "", "ValueError") == 0 &&
                              strcmp(json_object_get_string(last, "evalue") ?: "", "bad value") == 0 &&
                              json_is_array(json_object_get(last, "traceback")) &&
                              json_array_size(json_object_get(last, "traceback")) > 0,
                      "last output should be the ValueError item: %s", d);
}
END_TEST

START_TEST(test_state_timeout) {
        json_auto_t *limits = limits_new(1, 0, 0, 0, 0), *st = NULL;
        _cleanup_free_ char *id = submit_code(CODE_SLEEPER, limits), *d = NULL;

        st = wait_terminal(id, 30 * SEC);
        d = json_describe(st);
        assert_state(st, "timeout");
        assert_null(st, "exit_code");
        ck_assert_msg(strcmp(json_object_get_string(st, "signal") ?: "", "SIGKILL") == 0, "signal: %s", d);
        assert_stdout(st, "stdout", "started\n");
        ck_assert_msg(assert_int(json_object_get(st, "resources"), "wall_usec") >= 1000000,
                      "ran less than its 1 s limit: %s", d);
        assert_scope_gone(id, 5 * SEC);
}
END_TEST

START_TEST(test_state_oom) {
        json_auto_t *limits = limits_new(30, 134217728, 0, 0, 0), *st = NULL;
        _cleanup_free_ char *id = NULL, *d = NULL;
        json_int_t peak;

        id = submit_code("chunks = []\n"
                         "for i in range(1, 65):\n"
                         "    chunks.append(bytearray(16 * 1024 * 1024))\n"
                         "    chunks[-1][::4096] = b'x' * (16 * 1024 * 1024 // 4096)\n"
                         "    print(f'{i * 16} MiB', flush=True)\n"
                         "print('unreachable')\n",
                         limits);
        st = wait_terminal(id, 60 * SEC);
        d = json_describe(st);
        assert_state(st, "oom");
        ck_assert_msg(strcmp(json_object_get_string(st, "signal") ?: "", "SIGKILL") == 0, "signal: %s", d);
        assert_null(st, "exit_code");
        peak = assert_int(json_object_get(st, "resources"), "memory_peak_bytes");
        ck_assert_msg(peak >= 64 * 1024 * 1024 && peak <= 134217728,
                      "memory_peak_bytes not in [64 MiB, memory_max=128 MiB]: %s", d);
        {
                _cleanup_free_ char *out = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
                ck_assert_msg(strstr(out, "16 MiB\n") && !strstr(out, "unreachable"),
                              "stdout up to the kill should be kept: %s", d);
        }
}
END_TEST

/* DELETE /cancel */

START_TEST(test_cancel_running) {
        json_auto_t *limits = limits_new(120, 0, 0, 0, 0), *running = NULL, *st = NULL;
        _cleanup_(http_response_freep) HttpResponse *again = NULL;
        _cleanup_free_ char *id = submit_code(CODE_SLEEPER, limits), *path = NULL, *d = NULL;

        running = wait_running(id, "started\n", 30 * SEC);
        cancel_ok(id);

        st = wait_terminal(id, 20 * SEC);
        d = json_describe(st);
        assert_state(st, "cancelled");
        assert_stdout(st, "stdout", "started\n");
        assert_time(st, "started_at");
        assert_time(st, "finished_at");
        /* A signal ended it. */
        assert_null(st, "exit_code");
        assert_scope_gone(id, 5 * SEC);

        path = strprintf(API_BASE "/cancel/%s", id);
        again = http_delete(path);
        assert_error_response(again, 409, "wrong_state");
}
END_TEST

START_TEST(test_cancel_finished) {
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        _cleanup_free_ char *id = submit_code("print('done')\n", NULL), *path = NULL;
        json_auto_t *st = wait_terminal(id, 60 * SEC), *after = NULL;

        assert_state(st, "succeeded");
        path = strprintf(API_BASE "/cancel/%s", id);
        r = http_delete(path);
        assert_error_response(r, 409, "wrong_state");

        after = get_status(id);
        assert_state(after, "succeeded");
        assert_stdout(after, "stdout", "done\n");
}
END_TEST

/* SSE */

static bool is_event_name(const char *n) {
        static const char *const names[] = { "output", "update_display_data", "clear_output", "status", "end" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(n, names[i]) == 0)
                        return true;
        return false;
}

/*
 * What every complete stream must look like: 200, text/event-stream, each
 * event with an id, ids increasing, a known name, JSON object data, "end"
 * once and last, and the server closing the response after it.
 */
static void assert_stream_complete(const SseStream *s) {
        _cleanup_free_ char *d = sse_stream_describe(s);

        ck_assert_msg(s->status == 200, "stream: want 200:\n%s", d);
        ck_assert_msg(s->content_type && strncmp(s->content_type, "text/event-stream", 17) == 0,
                      "stream Content-Type %s, want text/event-stream:\n%s", s->content_type ?: "(none)", d);
        for (size_t i = 0; i < s->n_events; i++) {
                const SseEvent *e = &s->events[i];
                bool valid;

                ck_assert_msg(e->id && *e->id, "event %zu has no id:\n%s", i, d);
                ck_assert_msg(is_event_name(e->event), "event %zu has an unknown name:\n%s", i, d);
                ck_assert_msg(json_is_object(e->json), "event %zu's data is not a JSON object:\n%s", i, d);
                if (i > 0) {
                        int c = redis_stream_id_compare(s->events[i - 1].id, e->id, &valid);
                        ck_assert_msg(valid && c < 0, "event ids not increasing Redis stream ids at %zu:\n%s", i, d);
                }
                ck_assert_msg(strcmp(e->event, "end") != 0 || i == s->n_events - 1,
                              "\"end\" is not the last event:\n%s", d);
        }
        ck_assert_msg(s->ended, "no \"end\" event:\n%s", d);
        ck_assert_msg(s->closed, "the server did not close the stream after \"end\":\n%s", d);
}

/* Events @a[a_from…] and @b[…] are the same list (ids, names, data). */
static void assert_same_events(const SseStream *a, size_t a_from, const SseStream *b, const char *what) {
        _cleanup_free_ char *da = sse_stream_describe(a), *db = sse_stream_describe(b);

        ck_assert_msg(a->n_events >= a_from && a->n_events - a_from == b->n_events,
                      "%s: %zu events, want %zu:\nwant (from %zu):\n%s\ngot:\n%s", what, b->n_events,
                      a->n_events - a_from, a_from, da, db);
        for (size_t i = 0; i < b->n_events; i++) {
                const SseEvent *x = &a->events[a_from + i], *y = &b->events[i];

                ck_assert_msg(strcmp(x->id ?: "", y->id ?: "") == 0 && strcmp(x->event, y->event) == 0 &&
                                      x->json && y->json && json_equal(x->json, y->json),
                              "%s: event %zu differs:\nwant (from %zu):\n%s\ngot:\n%s", what, i, a_from, da, db);
        }
}

/* The output items of @s's "output" events, in order (new reference). */
static json_t *stream_outputs(const SseStream *s) {
        json_t *list = json_array();

        for (size_t i = 0; i < s->n_events; i++)
                if (strcmp(s->events[i].event, "output") == 0)
                        json_array_append(list, s->events[i].json);
        return list;
}

/* Adjacent stream items of one name merged, as stored outputs are (new reference). */
static json_t *merge_streams(const json_t *items) {
        json_t *merged = json_array(), *o;
        size_t i;

        json_array_foreach(items, i, o) {
                json_t *last = json_array_get(merged, json_array_size(merged) - 1);

                if (last && strcmp(json_object_get_string(o, "output_type") ?: "", "stream") == 0 &&
                    strcmp(json_object_get_string(last, "output_type") ?: "", "stream") == 0 &&
                    strcmp(json_object_get_string(o, "name") ?: "", json_object_get_string(last, "name") ?: "") == 0) {
                        _cleanup_free_ char *t = strprintf("%s%s", json_object_get_string(last, "text") ?: "",
                                                          json_object_get_string(o, "text") ?: "");
                        json_object_set_new(last, "text", json_string(t));
                } else
                        json_array_append_new(merged, json_deep_copy(o));
        }
        return merged;
}

#define CODE_THREE_LINES "import time\nfor i in range(3):\n    print(f\"line {i}\", flush=True)\n    time.sleep(1)\n"

START_TEST(test_stream_live_replay_resume) {
        _cleanup_(sse_stream_freep) SseStream *live = NULL, *replay = NULL, *resume = NULL, *after_end = NULL;
        _cleanup_free_ char *id = submit_code(CODE_THREE_LINES, NULL), *path = NULL, *d = NULL, *text = NULL;
        json_auto_t *st = NULL, *outs = NULL;
        const SseEvent *end, *first_output = NULL;
        size_t i_running = SIZE_MAX, i_first_output = SIZE_MAX;

        path = strprintf(API_BASE "/stream/%s", id);
        live = sse_collect(path, NULL, 60 * SEC);
        d = sse_stream_describe(live);
        assert_stream_complete(live);

        for (size_t i = 0; i < live->n_events; i++) {
                const SseEvent *e = &live->events[i];

                if (strcmp(e->event, "status") == 0 &&
                    strcmp(json_object_get_string(e->json, "status") ?: "", "running") == 0 && i_running == SIZE_MAX)
                        i_running = i;
                if (strcmp(e->event, "output") == 0 && !first_output) {
                        first_output = e;
                        i_first_output = i;
                }
                if (strcmp(e->event, "status") == 0)
                        ck_assert_msg(json_object_get_string(e->json, "status"),
                                      "status event without a \"status\" string:\n%s", d);
        }
        ck_assert_msg(i_running != SIZE_MAX, "no status event {\"status\": \"running\"}:\n%s", d);
        ck_assert_msg(first_output && i_running < i_first_output, "no output after the running status:\n%s", d);

        outs = stream_outputs(live);
        text = outputs_stream_text(outs, "stdout");
        ck_assert_msg(strcmp(text, "line 0\nline 1\nline 2\n") == 0, "output events' stdout \"%s\":\n%s", text, d);
        {
                json_auto_t *merged = merge_streams(outs);
                ck_assert_msg(json_array_size(merged) == 1, "output events are not all stdout stream items:\n%s", d);
        }

        /* Live: the first line arrives while the cell still runs (it sleeps 1 s
         * after each line), not all at the end. */
        end = &live->events[live->n_events - 1];
        ck_assert_msg(end->recv_usec >= first_output->recv_usec + 1 * SEC,
                      "the output was not delivered live: first output %.2f s before the end",
                      (double) (end->recv_usec - first_output->recv_usec) / SEC);

        /* "end" carries the final status object. */
        st = get_status(id);
        assert_state(st, "succeeded");
        {
                _cleanup_free_ char *ds = json_describe(st), *de = json_describe(end->json);
                ck_assert_msg(json_equal(end->json, st), "end event data differs from GET /status:\nend: %s\nstatus: %s",
                              de, ds);
        }

        /* A finished execution replays everything and closes. */
        replay = sse_collect(path, NULL, 30 * SEC);
        assert_stream_complete(replay);
        assert_same_events(live, 0, replay, "replay of the finished execution");

        /* Last-Event-ID = the 2nd event: only the later ones. */
        ck_assert_msg(live->n_events >= 3, "too few events to resume:\n%s", d);
        resume = sse_collect(path, live->events[1].id, 30 * SEC);
        assert_stream_complete(resume);
        assert_same_events(live, 2, resume, "resume after the 2nd event");

        /* Last-Event-ID = the end event: nothing later, and it closes. */
        after_end = sse_collect(path, end->id, 10 * SEC);
        {
                _cleanup_free_ char *da = sse_stream_describe(after_end);
                ck_assert_msg(after_end->status == 200 && after_end->closed && after_end->n_events == 0,
                              "resume after \"end\" should give no event and close:\n%s", da);
        }
}
END_TEST

START_TEST(test_stream_two_clients) {
        _cleanup_(sse_stream_freep) SseStream *a = NULL, *b = NULL;
        _cleanup_free_ char *id = submit_code(CODE_THREE_LINES, NULL), *path = NULL;
        SseStream *both[2];

        path = strprintf(API_BASE "/stream/%s", id);
        a = sse_stream_new(path, NULL);
        b = sse_stream_new(path, NULL);
        both[0] = a;
        both[1] = b;
        sse_follow(both, 2, 60 * SEC);

        assert_stream_complete(a);
        assert_stream_complete(b);
        assert_same_events(a, 0, b, "second client");
}
END_TEST

/* An idle stream gets a comment line every 15 s (keep-alive); the cell is silent for 18 s. */
START_TEST(test_stream_keepalive) {
        _cleanup_(sse_stream_freep) SseStream *s = NULL;
        _cleanup_free_ char *id = NULL, *path = NULL, *d = NULL;

        id = submit_code("import time\nprint('start', flush=True)\ntime.sleep(18)\nprint('end')\n", NULL);
        path = strprintf(API_BASE "/stream/%s", id);
        s = sse_collect(path, NULL, 60 * SEC);
        d = sse_stream_describe(s);
        assert_stream_complete(s);
        ck_assert_msg(s->n_comments >= 1, "no keep-alive comment during 18 s of silence:\n%s", d);
}
END_TEST

/* Every kind of output in one cell, through the stream and in the stored outputs. */
START_TEST(test_rich_outputs) {
        _cleanup_(sse_stream_freep) SseStream *live = NULL;
        _cleanup_free_ char *id = NULL, *path = NULL, *d = NULL, *ds = NULL, *seq = NULL;
        json_auto_t *st = NULL, *live_outs = NULL, *merged = NULL;
        json_t *outs, *png, *html, *err;

        id = submit_code("import sys\n"
                         "import matplotlib.pyplot as plt\n"
                         "import pandas as pd\n"
                         "from IPython.display import display\n"
                         "print('to stdout')\n"
                         "sys.stderr.write('to stderr\\n')\n"
                         "fig, ax = plt.subplots()\n"
                         "ax.plot([1, 2, 3], [3, 1, 2])\n"
                         "plt.show()\n"
                         "display(pd.DataFrame({'x': [1, 2], 'y': ['a', 'b']}))\n"
                         "raise RuntimeError('end of cell')\n",
                         NULL);
        path = strprintf(API_BASE "/stream/%s", id);
        live = sse_collect(path, NULL, 90 * SEC);
        d = sse_stream_describe(live);
        assert_stream_complete(live);

        st = wait_terminal(id, 30 * SEC);
        ds = json_describe(st);
        assert_state(st, "failed");
        outs = json_object_get(st, "outputs");

        seq = outputs_sequence(outs);
        ck_assert_msg(strcmp(seq, "stream:stdout stream:stderr display_data display_data error") == 0,
                      "stored sequence \"%s\": %s", seq, ds);
        assert_stdout(st, "stdout", "to stdout\n");
        assert_stdout(st, "stderr", "to stderr\n");

        png = json_object_get(json_object_get(json_array_get(outs, 2), "data"), "image/png");
        ck_assert_msg(json_is_string(png) && strncmp(json_string_value(png), "iVBORw0KGgo", 11) == 0,
                      "the figure is not a base64 PNG: %s", ds);
        ck_assert_msg(json_is_object(json_object_get(json_array_get(outs, 2), "metadata")), "no metadata: %s", ds);
        html = json_object_get(json_object_get(json_array_get(outs, 3), "data"), "text/html");
        ck_assert_msg(json_is_string(html) && strstr(json_string_value(html), "<table"),
                      "the DataFrame has no HTML table: %s", ds);
        ck_assert_msg(json_is_string(json_object_get(json_object_get(json_array_get(outs, 3), "data"), "text/plain")),
                      "the DataFrame has no text/plain: %s", ds);
        err = json_array_get(outs, 4);
        ck_assert_msg(strcmp(json_object_get_string(err, "ename") ?: "", "RuntimeError") == 0 &&
                              strcmp(json_object_get_string(err, "evalue") ?: "", "end of cell") == 0 &&
                              json_is_array(json_object_get(err, "traceback")),
                      "error item: %s", ds);

        /* The live items, merged as a notebook saves them, are the stored outputs. */
        live_outs = stream_outputs(live);
        merged = merge_streams(live_outs);
        {
                _cleanup_free_ char *dm = json_describe(merged);
                ck_assert_msg(json_equal(merged, outs), "output events (merged) differ from stored outputs:\nevents: %s\nstored: %s",
                              dm, ds);
        }
}
END_TEST

/* The sandbox and the scope */

START_TEST(test_setsid_killed_at_timeout) {
        _cleanup_free_ char *hex = random_hex(16), *marker = NULL, *code = NULL, *id = NULL, *d = NULL;
        json_auto_t *limits = limits_new(4, 0, 0, 0, 0), *running = NULL, *st = NULL;
        uint64_t deadline;

        /* The grandchild leaves the session and re-execs with a unique argument we can find in /proc. */
        marker = strprintf("pyexecd-test-marker-%s", hex);
        code = strprintf("import os, sys, time\n"
                         "pid = os.fork()\n"
                         "if pid == 0:\n"
                         "    os.setsid()\n"
                         "    if os.fork():\n"
                         "        os._exit(0)\n"
                         "    os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', '%s'])\n"
                         "os.waitpid(pid, 0)\n"
                         "print('forked', flush=True)\n"
                         "time.sleep(600)\n",
                         marker);
        id = submit_code(code, limits);
        running = wait_running(id, "forked\n", 30 * SEC);

        /* Make sure the check below can fail: the grandchild is there now. */
        deadline = now_usec() + 10 * SEC;
        while (!process_with_arg_exists(marker)) {
                ck_assert_msg(now_usec() < deadline, "the setsid'd grandchild (%s) never showed up in /proc", marker);
                sleep_usec(50 * USEC_PER_MSEC);
        }
        {
                _cleanup_free_ char *units = units_matching(id);
                ck_assert_msg(strstr(units, "pyexec-") && strstr(units, ".scope"),
                              "no scope unit for the running execution %s: \"%s\"", id, units);
        }

        st = wait_terminal(id, 30 * SEC);
        d = json_describe(st);
        assert_state(st, "timeout");
        ck_assert_msg(strcmp(json_object_get_string(st, "signal") ?: "", "SIGKILL") == 0, "signal: %s", d);
        assert_null(st, "exit_code");

        deadline = now_usec() + 5 * SEC;
        while (process_with_arg_exists(marker)) {
                ck_assert_msg(now_usec() < deadline, "the setsid'd grandchild (%s) survived the execution's end", marker);
                sleep_usec(50 * USEC_PER_MSEC);
        }
        assert_scope_gone(id, 5 * SEC);
}
END_TEST

static uint64_t scope_property_u64(const char *id, const char *property) {
        _cleanup_free_ char *v = scope_property(id, property);
        unsigned long long n;
        char extra;

        ck_assert_msg(v, "busctl get-property %s of pyexec-%s.scope failed", property, id);
        ck_assert_msg(sscanf(v, "t %llu%c", &n, &extra) == 1, "%s of pyexec-%s.scope is \"%s\", not \"t N\"",
                      property, id, v);
        return n;
}

START_TEST(test_scope_limits) {
        json_auto_t *limits = limits_new(30, 201326592, 50, 40, 0), *running = NULL, *st = NULL;
        _cleanup_free_ char *id = submit_code(CODE_SLEEPER, limits), *slice = NULL;
        uint64_t v;

        running = wait_running(id, "started\n", 30 * SEC);

        v = scope_property_u64(id, "MemoryMax");
        ck_assert_msg(v == 201326592, "scope MemoryMax %" PRIu64 ", want memory_max 201326592", v);
        v = scope_property_u64(id, "CPUQuotaPerSecUSec");
        ck_assert_msg(v == 50 * 10000, "scope CPUQuotaPerSecUSec %" PRIu64 ", want 50%% = 500000", v);
        v = scope_property_u64(id, "TasksMax");
        ck_assert_msg(v == 40, "scope TasksMax %" PRIu64 ", want tasks_max 40", v);
        v = scope_property_u64(id, "RuntimeMaxUSec");
        ck_assert_msg(v >= 30 * SEC && v != UINT64_MAX, "scope RuntimeMaxUSec %" PRIu64 ", want >= timeout 30 s", v);
        slice = scope_property(id, "Slice");
        ck_assert_msg(slice && strcmp(slice, "s \"pyexec.slice\"") == 0, "scope Slice %s, want pyexec.slice",
                      slice ?: "(failed)");

        cancel_ok(id);
        st = wait_terminal(id, 20 * SEC);
        assert_state(st, "cancelled");
}
END_TEST

/* With MaxConcurrent=1 MaxQueued=2 (queue tcase). */

#define QUEUE_DROPIN "[Queue]\nMaxConcurrent=1\nMaxQueued=2\n"

static void queue_setup(void) {
        daemon_reset(QUEUE_DROPIN);
}

static void queue_teardown(void) {
        daemon_reset(NULL);
}

static void assert_queue_counts(json_int_t queued, json_int_t running) {
        _cleanup_(http_response_freep) HttpResponse *r = http_get(API_BASE "/queue/status");
        _cleanup_free_ char *d = http_response_describe(r);

        ck_assert_msg(r->status == 200, "GET /queue/status: %s", d);
        ck_assert_msg(assert_int(r->json, "queued") == queued && assert_int(r->json, "running") == running &&
                              assert_int(r->json, "max_concurrent") == 1 && assert_int(r->json, "max_queued") == 2,
                      "queue status, want queued=%lld running=%lld max_concurrent=1 max_queued=2: %s",
                      (long long) queued, (long long) running, d);
}

static char *submit_expect_position(const char *code, json_int_t position) {
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        json_auto_t *req = json_pack("{s:s}", "code", code);
        _cleanup_free_ char *d = NULL;

        r = http_post_json(API_BASE "/execute", req, 0);
        d = http_response_describe(r);
        ck_assert_msg(r->status == 202 && is_exec_id(json_object_get_string(r->json, "execution_id")),
                      "POST /execute: %s", d);
        ck_assert_msg(json_integer_value(json_object_get(r->json, "queue_position")) == position,
                      "queue_position, want %lld: %s", (long long) position, d);
        return strdup(json_object_get_string(r->json, "execution_id"));
}

START_TEST(test_cancel_queued) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *path = NULL, *d = NULL;
        _cleanup_(http_response_freep) HttpResponse *again = NULL;
        json_auto_t *ra = NULL, *sb = NULL, *sc = NULL, *sb2 = NULL, *sa = NULL, *sb3 = NULL;

        a = submit_code(CODE_SLEEPER, NULL);
        ra = wait_running(a, "started\n", 30 * SEC);

        b = submit_expect_position("print('B ran')\n", 1);
        c = submit_expect_position("print('C ran')\n", 2);

        sb = get_status(b);
        d = json_describe(sb);
        assert_status_shape(sb, b);
        assert_state(sb, "queued");
        assert_null(sb, "started_at");
        assert_null(sb, "finished_at");
        assert_null(sb, "exit_code");
        ck_assert_msg(json_array_size(json_object_get(sb, "outputs")) == 0, "queued with outputs: %s", d);
        assert_queue_counts(2, 1);

        cancel_ok(b);
        sb2 = get_status(b);
        free(d);
        d = json_describe(sb2);
        assert_state(sb2, "cancelled");
        assert_null(sb2, "started_at");
        assert_time(sb2, "finished_at");
        ck_assert_msg(json_array_size(json_object_get(sb2, "outputs")) == 0, "cancelled queued with outputs: %s", d);
        assert_queue_counts(1, 1);

        path = strprintf(API_BASE "/cancel/%s", b);
        again = http_delete(path);
        assert_error_response(again, 409, "wrong_state");

        /* Its stream: no output, and an end that says cancelled. */
        {
                _cleanup_(sse_stream_freep) SseStream *s = NULL;
                _cleanup_free_ char *spath = strprintf(API_BASE "/stream/%s", b), *ds = NULL;

                s = sse_collect(spath, NULL, 30 * SEC);
                ds = sse_stream_describe(s);
                assert_stream_complete(s);
                for (size_t i = 0; i < s->n_events; i++)
                        ck_assert_msg(strcmp(s->events[i].event, "output") != 0,
                                      "a cancelled queued execution has output events:\n%s", ds);
                ck_assert_msg(strcmp(json_object_get_string(s->events[s->n_events - 1].json, "status") ?: "",
                                     "cancelled") == 0,
                              "end of the cancelled queued execution does not say cancelled:\n%s", ds);
        }

        /* Free the slot: C runs next, B never does. */
        cancel_ok(a);
        sa = wait_terminal(a, 20 * SEC);
        assert_state(sa, "cancelled");
        sc = wait_terminal(c, 60 * SEC);
        assert_state(sc, "succeeded");
        assert_stdout(sc, "stdout", "C ran\n");

        sb3 = get_status(b);
        free(d);
        d = json_describe(sb3);
        assert_state(sb3, "cancelled");
        assert_null(sb3, "started_at");
        ck_assert_msg(json_array_size(json_object_get(sb3, "outputs")) == 0, "the cancelled execution ran: %s", d);
        assert_queue_counts(0, 0);
}
END_TEST

START_TEST(test_queue_full) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *e = NULL;
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        json_auto_t *ra = NULL, *req = json_pack("{s:s}", "code", "print('D')\n"), *se = NULL;
        const char *retry;

        a = submit_code(CODE_SLEEPER, NULL);
        ra = wait_running(a, "started\n", 30 * SEC);
        b = submit_expect_position(CODE_SLEEPER, 1);
        c = submit_expect_position(CODE_SLEEPER, 2);
        assert_queue_counts(2, 1);

        r = http_post_json(API_BASE "/execute", req, 0);
        assert_error_response(r, 429, "queue_full");
        retry = http_response_header(r, "Retry-After");
        ck_assert_msg(retry && *retry && strspn(retry, "0123456789") == strlen(retry),
                      "429 without a Retry-After of delta-seconds: %s", retry ?: "(none)");
        assert_queue_counts(2, 1);

        /* Room again after a cancel. */
        cancel_ok(b);
        e = submit_expect_position("print('E ran')\n", 2);
        cancel_ok(c);
        cancel_ok(a);
        se = wait_terminal(e, 60 * SEC);
        assert_state(se, "succeeded");
        assert_stdout(se, "stdout", "E ran\n");
}
END_TEST

static Suite *api_suite(void) {
        Suite *s = suite_create("http-api");
        TCase *tc;

        tc = tcase_create("endpoints");
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_initialize);
        tcase_add_test(tc, test_initialize_concurrent);
        tcase_add_test(tc, test_execute_answer);
        tcase_add_test(tc, test_status_fields);
        tcase_add_test(tc, test_stdin);
        tcase_add_test(tc, test_queue_status);
        suite_add_tcase(s, tc);

        tc = tcase_create("states");
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_state_failed);
        tcase_add_test(tc, test_state_timeout);
        tcase_add_test(tc, test_state_oom);
        tcase_add_test(tc, test_cancel_running);
        tcase_add_test(tc, test_cancel_finished);
        suite_add_tcase(s, tc);

        tc = tcase_create("stream");
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_stream_live_replay_resume);
        tcase_add_test(tc, test_stream_two_clients);
        tcase_add_test(tc, test_stream_keepalive);
        tcase_add_test(tc, test_rich_outputs);
        suite_add_tcase(s, tc);

        tc = tcase_create("scope");
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_setsid_killed_at_timeout);
        tcase_add_test(tc, test_scope_limits);
        suite_add_tcase(s, tc);

        /* Last: these restart the daemon with a small queue, and restore it after. */
        tc = tcase_create("queue");
        tcase_set_timeout(tc, 240);
        tcase_add_checked_fixture(tc, queue_setup, NULL);
        tcase_add_unchecked_fixture(tc, NULL, queue_teardown);
        tcase_add_test(tc, test_cancel_queued);
        tcase_add_test(tc, test_queue_full);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        int r;

        curl_global_init(CURL_GLOBAL_ALL);
        r = run_suite(api_suite());
        curl_global_cleanup();
        return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * What pyexecd's HTTP API does with requests it must refuse: bad JSON and
 * bad fields (400), unknown or malformed ids (404), wrong methods (405),
 * unknown paths (404), bodies too large (413), wrong content types (415),
 * and Redis going away (503, then recovery). Every refusal is an error
 * body {"error": {"code", "message"}}, and at the end the daemon still
 * serves and never restarted.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "integ-util.h"

#define SEC USEC_PER_SEC

/* 400 */

typedef struct BadBody {
        const char *name;
        const char *body;       /* NUL-terminated unless size is given */
        size_t size;            /* 0: strlen(body) */
        const char *codes;      /* accepted error codes, "|"-separated */
        const char *field;      /* the message must name it, for invalid_field answers; NULL: no check */
} BadBody;

/* A literal with its size, for bodies that hold a NUL. */
#define RAW(s) s, sizeof(s) - 1

static const BadBody bad_bodies[] = {
        { "unterminated object", "{\"code\": \"print(1)\"", 0, "invalid_json", NULL },
        { "trailing garbage", "{\"code\": \"print(1)\"} x", 0, "invalid_json", NULL },
        { "empty body", "", 0, "invalid_json", NULL },
        { "not JSON", "print(1)", 0, "invalid_json", NULL },
        { "invalid UTF-8", "{\"code\": \"print('\xff\xfe')\"}", 0, "invalid_json", NULL },
        { "overlong UTF-8", "{\"code\": \"print('\xc0\xaf')\"}", 0, "invalid_json", NULL },
        /* Valid JSON of the wrong shape: either code fits the contract. */
        { "array", "[\"print(1)\"]", 0, "invalid_json|invalid_field", NULL },
        { "string", "\"print(1)\"", 0, "invalid_json|invalid_field", NULL },
        { "null", "null", 0, "invalid_json|invalid_field", NULL },
        { "missing code", "{\"cell_id\": \"c1\"}", 0, "invalid_field", "code" },
        { "code is a number", "{\"code\": 1}", 0, "invalid_field", "code" },
        { "code is null", "{\"code\": null}", 0, "invalid_field", "code" },
        { "code is a list", "{\"code\": [\"print(1)\"]}", 0, "invalid_field", "code" },
        { "limits is a list", "{\"code\": \"1\", \"limits\": []}", 0, "invalid_field", "limits" },
        { "limits is a string", "{\"code\": \"1\", \"limits\": \"big\"}", 0, "invalid_field", "limits" },
        { "execution_count is a string", "{\"code\": \"1\", \"execution_count\": \"x\"}", 0, "invalid_field",
          "execution_count" },
        { "execution_count is a float", "{\"code\": \"1\", \"execution_count\": 1.5}", 0, "invalid_field",
          "execution_count" },
        { "cell_id is a number", "{\"code\": \"1\", \"cell_id\": 5}", 0, "invalid_field", "cell_id" },
        { "notebook_id is an object", "{\"code\": \"1\", \"notebook_id\": {}}", 0, "invalid_field", "notebook_id" },
        { "stdin is a number", "{\"code\": \"1\", \"stdin\": 5}", 0, "invalid_field", "stdin" },
        { "unknown limit", "{\"code\": \"1\", \"limits\": {\"bogus_limit\": 1}}", 0, "invalid_field", "bogus_limit" },
        { "timeout_sec is a string", "{\"code\": \"1\", \"limits\": {\"timeout_sec\": \"10\"}}", 0, "invalid_field",
          "timeout_sec" },
        { "memory_max is a float", "{\"code\": \"1\", \"limits\": {\"memory_max\": 1.5e8}}", 0, "invalid_field",
          "memory_max" },
        { "tasks_max is a bool", "{\"code\": \"1\", \"limits\": {\"tasks_max\": true}}", 0, "invalid_field",
          "tasks_max" },
        { "negative timeout_sec", "{\"code\": \"1\", \"limits\": {\"timeout_sec\": -1}}", 0, "invalid_field",
          "timeout_sec" },
        { "negative memory_max", "{\"code\": \"1\", \"limits\": {\"memory_max\": -1}}", 0, "invalid_field",
          "memory_max" },
        { "negative cpu_quota_percent", "{\"code\": \"1\", \"limits\": {\"cpu_quota_percent\": -10}}", 0,
          "invalid_field", "cpu_quota_percent" },
        { "negative tasks_max", "{\"code\": \"1\", \"limits\": {\"tasks_max\": -1}}", 0, "invalid_field",
          "tasks_max" },
        { "negative output_max", "{\"code\": \"1\", \"limits\": {\"output_max\": -1}}", 0, "invalid_field",
          "output_max" },
        { "zero timeout_sec", "{\"code\": \"1\", \"limits\": {\"timeout_sec\": 0}}", 0, "invalid_field",
          "timeout_sec" },
        { "zero memory_max", "{\"code\": \"1\", \"limits\": {\"memory_max\": 0}}", 0, "invalid_field", "memory_max" },
        { "zero cpu_quota_percent", "{\"code\": \"1\", \"limits\": {\"cpu_quota_percent\": 0}}", 0, "invalid_field",
          "cpu_quota_percent" },
        { "zero tasks_max", "{\"code\": \"1\", \"limits\": {\"tasks_max\": 0}}", 0, "invalid_field", "tasks_max" },
        { "zero output_max", "{\"code\": \"1\", \"limits\": {\"output_max\": 0}}", 0, "invalid_field", "output_max" },
        { "timeout_sec over 300", "{\"code\": \"1\", \"limits\": {\"timeout_sec\": 301}}", 0, "invalid_field",
          "timeout_sec" },
        { "memory_max 8 GiB over 4G", "{\"code\": \"1\", \"limits\": {\"memory_max\": 8589934592}}", 0,
          "invalid_field", "memory_max" },
        { "cpu_quota_percent far over CPUs", "{\"code\": \"1\", \"limits\": {\"cpu_quota_percent\": 100000}}", 0,
          "invalid_field", "cpu_quota_percent" },
        { "tasks_max over 512", "{\"code\": \"1\", \"limits\": {\"tasks_max\": 513}}", 0, "invalid_field",
          "tasks_max" },
        { "output_max over 16M", "{\"code\": \"1\", \"limits\": {\"output_max\": 16777217}}", 0, "invalid_field",
          "output_max" },
        { "memory_max beyond int64", "{\"code\": \"1\", \"limits\": {\"memory_max\": 99999999999999999999999}}", 0,
          "invalid_json|invalid_field", NULL },
        /* jansson refuses \u0000 unless told otherwise; either way it is a 400, and a field
         * error must say which field. */
        { "code with U+0000", "{\"code\": \"print(1)\\u0000\"}", 0, "invalid_json|invalid_field", "code" },
        { "code with a raw NUL", RAW("{\"code\": \"print(1)\0\"}"), "invalid_json|invalid_field", "code" },
};

START_TEST(test_bad_body) {
        const BadBody *b = &bad_bodies[_i];
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        const char *message, *code;

        r = http_request("POST", API_BASE "/execute", "application/json", b->body, b->size ?: strlen(b->body), NULL);
        {
                _cleanup_free_ char *d = http_response_describe(r);
                ck_assert_msg(r->status == 400, "%s: want 400 %s, got %s", b->name, b->codes, d);
        }
        message = assert_error_response(r, 400, b->codes);
        code = json_object_get_string(json_object_get(r->json, "error"), "code");
        if (b->field && strcmp(code, "invalid_field") == 0)
                ck_assert_msg(strstr(message, b->field), "%s: the message does not name \"%s\": \"%s\"", b->name,
                              b->field, message);
        printf("%s: %s \"%s\"\n", b->name, code, message);
}
END_TEST

/* The maxima themselves are allowed, and not lowered. */
START_TEST(test_limits_at_maxima) {
        json_auto_t *req = NULL, *st = NULL;
        _cleanup_free_ char *id = NULL, *d = NULL;
        json_t *lim;

        req = json_pack("{s:s,s:{s:i,s:I,s:i,s:I}}", "code", "print('at the maxima')\n", "limits", "timeout_sec", 300,
                        "memory_max", (json_int_t) 4294967296, "tasks_max", 512, "output_max", (json_int_t) 16777216);
        id = submit(req);
        st = wait_terminal(id, 60 * SEC);
        d = json_describe(st);
        ck_assert_msg(strcmp(json_object_get_string(st, "status") ?: "", "succeeded") == 0, "status: %s", d);
        lim = json_object_get(st, "limits");
        ck_assert_msg(json_number_value(json_object_get(lim, "timeout_sec")) == 300 &&
                              json_integer_value(json_object_get(lim, "memory_max")) == 4294967296 &&
                              json_integer_value(json_object_get(lim, "tasks_max")) == 512 &&
                              json_integer_value(json_object_get(lim, "output_max")) == 16777216,
                      "limits at the maxima not kept as requested: %s", d);
}
END_TEST

/* Content types. */

START_TEST(test_content_type) {
        static const char body[] = "{\"code\": \"print(1)\"}";
        static const char *const wrong[] = { "text/plain", "application/x-www-form-urlencoded", "text/json" };
        _cleanup_(http_response_freep) HttpResponse *ok = NULL;

        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                _cleanup_(http_response_freep) HttpResponse *r = NULL;

                r = http_request("POST", API_BASE "/execute", wrong[i], body, strlen(body), NULL);
                printf("Content-Type %s:\n", wrong[i]);
                assert_error_response(r, 415, "unsupported_media_type");
        }

        /* Parameters are fine, and media types are case-insensitive. */
        static const char *const right[] = { "application/json; charset=utf-8", "Application/JSON" };
        for (size_t i = 0; i < ELEMENTSOF(right); i++) {
                _cleanup_free_ char *d = NULL;

                ok = http_response_free(ok);
                ok = http_request("POST", API_BASE "/execute", right[i], body, strlen(body), NULL);
                d = http_response_describe(ok);
                ck_assert_msg(ok->status == 202, "Content-Type %s: want 202, got %s", right[i], d);
        }
}
END_TEST

/* 413 */

START_TEST(test_too_large) {
        size_t size = 2 * 1024 * 1024;
        _cleanup_free_ char *body = malloc(size + 1), *small = NULL;
        _cleanup_(http_response_freep) HttpResponse *r = NULL, *ok = NULL;
        _cleanup_free_ char *id = NULL;
        json_auto_t *st = NULL;

        /* Valid JSON of 2 MiB: {"code": "#xxxx…"} */
        ck_assert(body);
        memset(body, 'x', size);
        memcpy(body, "{\"code\": \"#", 11);
        memcpy(body + size - 2, "\"}", 2);
        body[size] = 0;
        r = http_request("POST", API_BASE "/execute", "application/json", body, size, NULL);
        assert_error_response(r, 413, "too_large");

        /* 900 kB is under the default MaxRequestBytes=1M. */
        small = strprintf("{\"code\": \"#%0*d\\nprint('big ok')\\n\"}", 900000, 0);
        ok = http_request("POST", API_BASE "/execute", "application/json", small, strlen(small), NULL);
        {
                _cleanup_free_ char *d = http_response_describe(ok);
                ck_assert_msg(ok->status == 202, "a 900 kB body: want 202, got %s", d);
        }
        id = strdup(json_object_get_string(ok->json, "execution_id"));
        st = wait_terminal(id, 60 * SEC);
        {
                _cleanup_free_ char *out = outputs_stream_text(json_object_get(st, "outputs"), "stdout"),
                                    *d = json_describe(st);
                ck_assert_msg(strcmp(out, "big ok\n") == 0, "the 900 kB cell: %s", d);
        }
}
END_TEST

/* 404 for ids */

START_TEST(test_bad_ids) {
        _cleanup_free_ char *real = NULL, *upper = NULL, *unknown = random_hex(32), *short_id = random_hex(31),
                            *long_id = random_hex(33), *nonhex = NULL;
        json_auto_t *st = NULL;

        real = submit_code("print('id test')\n", NULL);
        st = wait_terminal(real, 60 * SEC);
        upper = strdup(real);
        for (char *c = upper; *c; c++)
                if (*c >= 'a' && *c <= 'f')
                        *c -= 'a' - 'A';
        if (strcmp(upper, real) == 0) /* all digits: make one uppercase for sure */
                upper[0] = 'A';
        nonhex = strdup(unknown);
        nonhex[7] = 'g';

        const char *ids[] = { unknown, short_id, long_id, upper, nonhex, "not-an-id", "..%2Fqueue%2Fstatus" };
        const char *prefixes[][2] = { { "GET", "/status/" }, { "GET", "/stream/" }, { "DELETE", "/cancel/" } };

        for (size_t p = 0; p < ELEMENTSOF(prefixes); p++)
                for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                        _cleanup_(http_response_freep) HttpResponse *r = NULL;
                        _cleanup_free_ char *path = strprintf(API_BASE "%s%s", prefixes[p][1], ids[i]);

                        r = http_request(prefixes[p][0], path, NULL, NULL, 0, NULL);
                        printf("%s %s:\n", prefixes[p][0], path);
                        assert_error_response(r, 404, "not_found");
                }

        /* The control: the real id in lowercase is found. */
        {
                json_auto_t *again = get_status(real);
                ck_assert_str_eq(json_object_get_string(again, "status"), "succeeded");
        }
}
END_TEST

/* Sends @request as is over the unix socket and returns what came back
 * (at most what fits in @buf), or fails the test after 10 s. */
static size_t raw_exchange(const char *request, size_t size, char *buf, size_t buf_size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/pyexecd/http.sock" };
        struct timeval tv = { .tv_sec = 10 };
        size_t got = 0;
        int fd;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(send(fd, request, size, MSG_NOSIGNAL), (ssize_t) size);
        for (;;) {
                ssize_t n = recv(fd, buf + got, buf_size - 1 - got, 0);
                if (n <= 0)
                        break;
                got += (size_t) n;
                /* The whole answer: a JSON body ends with "}\n". */
                if (got >= 2 && memmem(buf, got, "}\n", 2))
                        break;
        }
        close(fd);
        buf[got] = '\0';
        return got;
}

START_TEST(test_non_utf8_request_line) {
        /* Bytes that are not UTF-8 in the path, an id or a header must get a
         * proper answer (error bodies quote them, and JSON must be UTF-8),
         * never a crash or a connection left hanging. */
        static const struct {
                const char *request;
                const char *status;
        } cases[] = {
                { "GET /\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "404" },
                { "GET /api/v1/\xfe\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "404" },
                { "GET " API_BASE "/status/\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "404" },
                { "DELETE " API_BASE "/cancel/\xc3( HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "404" },
                { "PUT " API_BASE "/status/\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "405" },
                { "GET " API_BASE "/stream/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\n"
                  "Last-Event-ID: \xff\r\nConnection: close\r\n\r\n", "400" },
        };
        char buf[8192];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_auto_t *body = NULL;
                json_error_t error;
                const char *json;

                raw_exchange(cases[i].request, strlen(cases[i].request), buf, sizeof(buf));
                printf("case %zu answered: %.120s\n", i, buf);
                ck_assert_msg(strncmp(buf, "HTTP/1.1 ", 9) == 0 && strncmp(buf + 9, cases[i].status, 3) == 0,
                              "case %zu: want %s, got \"%.200s\"", i, cases[i].status, buf);
                json = strstr(buf, "\r\n\r\n");
                ck_assert_ptr_nonnull(json);
                body = json_loads(json + 4, JSON_DISABLE_EOF_CHECK, &error);
                ck_assert_msg(body, "case %zu: body is not JSON: %s", i, error.text);
                ck_assert_ptr_nonnull(json_object_get(json_object_get(body, "error"), "message"));
        }
}
END_TEST

/* 405 and unknown paths */

START_TEST(test_wrong_method) {
        _cleanup_free_ char *id = random_hex(32);
        const struct {
                const char *method;
                const char *path;
                const char *allowed;
        } cases[] = {
                { "GET", API_BASE "/execute", "POST" },
                { "PUT", API_BASE "/execute", "POST" },
                { "PUT", API_BASE "/status/", "GET" }, /* + id below */
                { "DELETE", API_BASE "/status/", "GET" },
                { "POST", API_BASE "/queue/status", "GET" },
                { "GET", API_BASE "/initialize", "POST" },
                { "POST", API_BASE "/cancel/", "DELETE" },
                { "DELETE", API_BASE "/stream/", "GET" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(http_response_freep) HttpResponse *r = NULL;
                _cleanup_free_ char *path = NULL;
                const char *allow;
                bool listed = false;
                size_t l = strlen(cases[i].path);

                path = cases[i].path[l - 1] == '/' ? strprintf("%s%s", cases[i].path, id) : strdup(cases[i].path);
                r = http_request(cases[i].method, path, NULL, NULL, 0, NULL);
                printf("%s %s:\n", cases[i].method, path);
                assert_error_response(r, 405, "method_not_allowed");
                allow = http_response_header(r, "Allow");
                ck_assert_msg(allow, "%s %s: 405 without an Allow header", cases[i].method, path);
                /* Allow is a comma-separated list of methods. */
                for (const char *p = allow; *p;) {
                        size_t n = strcspn(p, ", ");
                        if (n == strlen(cases[i].allowed) && strncmp(p, cases[i].allowed, n) == 0)
                                listed = true;
                        p += n;
                        p += strspn(p, ", ");
                }
                ck_assert_msg(listed, "%s %s: Allow \"%s\" does not list %s", cases[i].method, path, allow,
                              cases[i].allowed);
        }
}
END_TEST

START_TEST(test_unknown_path) {
        static const char *const paths[][2] = {
                { "GET", API_BASE "/nope" },
                { "POST", API_BASE "/nope" },
                { "GET", API_BASE },
                { "GET", API_BASE "/" },
                { "GET", "/" },
                { "GET", "/api/v2/execution/queue/status" },
                { "POST", "/api/v1/execution/execute/extra" },
                { "GET", API_BASE "/queue/status/extra" },
                { "GET", API_BASE "/status" },
        };

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_(http_response_freep) HttpResponse *r = NULL;

                r = http_request(paths[i][0], paths[i][1], NULL, NULL, 0, NULL);
                printf("%s %s:\n", paths[i][0], paths[i][1]);
                assert_error_response(r, 404, "not_found");
        }
}
END_TEST

/* Redis away and back. */

static void redis_restore(void) {
        /* Unchecked teardown: whatever happened, Redis runs again for the next tests. */
        (void) run_commandl(NULL, "systemctl", "start", "redis-server.service", NULL);
}

static bool mentions_redis(const char *message) {
        return message && strcasestr(message, "redis");
}

START_TEST(test_redis_down) {
        _cleanup_free_ char *known = NULL, *status_path = NULL, *last = NULL;
        json_auto_t *st = NULL, *st2 = NULL;
        uint64_t deadline;

        known = submit_code("print('before redis stopped')\n", NULL);
        st = wait_terminal(known, 60 * SEC);
        status_path = strprintf(API_BASE "/status/%s", known);

        systemctl_ok("stop", "redis-server.service");

        {
                _cleanup_(http_response_freep) HttpResponse *r = NULL;
                json_auto_t *req = json_pack("{s:s}", "code", "print(1)\n");
                const char *m;

                r = http_post_json(API_BASE "/execute", req, 0);
                printf("POST /execute without Redis:\n");
                m = assert_error_response(r, 503, "unavailable");
                ck_assert_msg(mentions_redis(m), "503 message does not name Redis: \"%s\"", m);
        }
        {
                _cleanup_(http_response_freep) HttpResponse *r = http_get(status_path);
                const char *m;

                printf("GET %s without Redis:\n", status_path);
                m = assert_error_response(r, 503, "unavailable");
                ck_assert_msg(mentions_redis(m), "503 message does not name Redis: \"%s\"", m);
        }
        {
                _cleanup_(http_response_freep) HttpResponse *r = http_get(API_BASE "/queue/status");
                const char *m;

                printf("GET /queue/status without Redis:\n");
                m = assert_error_response(r, 503, "unavailable");
                ck_assert_msg(mentions_redis(m), "503 message does not name Redis: \"%s\"", m);
        }
        {
                _cleanup_(http_response_freep) HttpResponse *r = NULL;
                _cleanup_free_ char *d = NULL;

                r = http_request("POST", API_BASE "/initialize", NULL, NULL, 0, NULL);
                d = http_response_describe(r);
                ck_assert_msg(r->status == 503 && json_is_object(r->json) &&
                                      json_is_false(json_object_get(r->json, "ready")),
                              "POST /initialize without Redis: want 503 {\"ready\": false, …}, got %s", d);
        }

        systemctl_ok("start", "redis-server.service");

        /* Requests work again within a few seconds, without anyone calling /initialize. */
        deadline = now_usec() + 15 * SEC;
        for (;;) {
                _cleanup_(http_response_freep) HttpResponse *r = http_get(status_path);

                if (r->status == 200)
                        break;
                free(last);
                last = http_response_describe(r);
                ck_assert_msg(now_usec() < deadline, "GET /status still failing 15 s after Redis came back: %s", last);
                sleep_usec(200 * USEC_PER_MSEC);
        }

        {
                _cleanup_free_ char *id = submit_code("print('after redis came back')\n", NULL), *d = NULL;

                st2 = wait_terminal(id, 60 * SEC);
                d = json_describe(st2);
                ck_assert_msg(strcmp(json_object_get_string(st2, "status") ?: "", "succeeded") == 0,
                              "a cell after Redis came back: %s", d);
        }
}
END_TEST

/* Last: after all of that the daemon serves and never crashed. */
START_TEST(test_forged_limits_refused) {
        _cleanup_free_ char *blocker = NULL, *victim = NULL, *key = NULL, *d = NULL;
        json_auto_t *st = NULL;
        int r;

        /* One slot: the second cell waits in the queue, where someone who
         * can write to Redis raises its memory limit past the maximum. The
         * daemon checks again what it takes from the queue. */
        daemon_reset("[Queue]\nMaxConcurrent=1\n");
        blocker = submit_code("import time\nprint('blocking', flush=True)\ntime.sleep(3)\n", NULL);
        json_decref(wait_running(blocker, "blocking", 60 * SEC));
        victim = submit_code("print('should not run')\n", NULL);
        key = strprintf("pyexecd:exec:%s", victim);
        r = run_commandl(NULL, "redis-cli", "HSET", key, "memory_max", "17179869184", NULL);
        ck_assert_int_eq(r, 0);

        st = wait_terminal(victim, 60 * SEC);
        d = json_describe(st);
        ck_assert_msg(strcmp(json_object_get_string(st, "status") ?: "", "error") == 0, "status: %s", d);
        ck_assert_msg(strstr(json_object_get_string(st, "error") ?: "", "limits.memory_max: 17179869184 is above the maximum"),
                      "error: %s", d);
        ck_assert_msg(json_array_size(json_object_get(st, "outputs")) == 0, "it ran: %s", d);
        json_decref(wait_terminal(blocker, 60 * SEC));
        daemon_reset(NULL);
}
END_TEST

START_TEST(test_still_serving) {
        _cleanup_free_ char *id = submit_code("print(6 * 7)\n", NULL), *restarts = NULL, *journal = NULL, *d = NULL;
        json_auto_t *st = wait_terminal(id, 60 * SEC);
        int r;

        d = json_describe(st);
        ck_assert_msg(strcmp(json_object_get_string(st, "status") ?: "", "succeeded") == 0, "status: %s", d);
        {
                _cleanup_free_ char *out = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
                ck_assert_msg(strcmp(out, "42\n") == 0, "stdout: %s", d);
        }

        restarts = unit_property("pyexecd.service", "NRestarts");
        ck_assert_msg(strcmp(restarts, "0") == 0, "pyexecd.service restarted %s times (it crashed)", restarts);

        /* Restart=on-failure counts crashes; a crash that socket activation papered over
         * would still show in the journal. */
        (void) run_commandl(NULL, "journalctl", "--sync", NULL);
        r = run_commandl(&journal, "journalctl", "--no-pager", "-o", "cat", "-u", "pyexecd.service", NULL);
        if (r == 0) {
                /* The journal is readable (else the check below proves nothing). */
                ck_assert_msg(strstr(journal, "Started pyexecd.service"),
                              "journal of pyexecd.service lacks its start:\n%s", journal);
                ck_assert_msg(!strstr(journal, "Failed with result") && !strstr(journal, "code=dumped") &&
                                      !strstr(journal, "code=killed"),
                              "pyexecd.service failed at some point:\n%s", journal);
        } else
                printf("journalctl -u pyexecd.service failed (%d); only NRestarts checked.\n", r);
}
END_TEST

static Suite *bad_input_suite(void) {
        Suite *s = suite_create("http-bad-input");
        TCase *tc;

        tc = tcase_create("bodies");
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, test_bad_body, 0, ELEMENTSOF(bad_bodies));
        tcase_add_test(tc, test_limits_at_maxima);
        tcase_add_test(tc, test_content_type);
        tcase_add_test(tc, test_too_large);
        suite_add_tcase(s, tc);

        tc = tcase_create("routes");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_bad_ids);
        tcase_add_test(tc, test_wrong_method);
        tcase_add_test(tc, test_unknown_path);
        tcase_add_test(tc, test_non_utf8_request_line);
        suite_add_tcase(s, tc);

        tc = tcase_create("redis");
        tcase_set_timeout(tc, 180);
        tcase_add_unchecked_fixture(tc, NULL, redis_restore);
        tcase_add_test(tc, test_redis_down);
        suite_add_tcase(s, tc);

        tc = tcase_create("queue");
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_forged_limits_refused);
        suite_add_tcase(s, tc);

        tc = tcase_create("survival");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_still_serving);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        int r;

        curl_global_init(CURL_GLOBAL_ALL);
        r = run_suite(bad_input_suite());
        curl_global_cleanup();
        return r;
}

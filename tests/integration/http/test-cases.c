/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Every case of tests/cases.jsonl (cells that other execution services got
 * wrong, with the behaviour pyexecd must show) run through the real daemon
 * in the testbed, each as its own Check test, and checked exactly as
 * /work/shared/tools/run-cases checks them (case-check.c).
 *
 * $PYEXECD_SOURCE_ROOT locates the corpus; $PYEXECD_CASES (space-separated
 * ids) runs only some.
 */

#include <check.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case-check.h"
#include "integ-util.h"

#define STATUS_POLL_USEC (50 * USEC_PER_MSEC)
/* run-cases waits for max_wall_s (default 60) + 5 s. */
#define DEFAULT_WAIT_S 60.0
#define EXTRA_WAIT_S 5.0

static json_t *cases; /* array of case objects, set once in main() */

static const char *const request_keys[] = { "limits", "stdin", "cell_id", "notebook_id", "execution_count" };

/* Runs one case as run-cases' run_case() does, up to its final status (asserts it gets there). */
static json_t *run_case(const json_t *c, const char *id, double *ret_wall) {
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        json_auto_t *body = NULL;
        const json_t *exp = json_object_get(c, "expect");
        const char *eid;
        double wait_s;
        uint64_t t0, deadline;
        json_t *st = NULL;

        body = json_pack("{s:O}", "code", json_object_get(c, "code"));
        ck_assert(body);
        for (size_t i = 0; i < ELEMENTSOF(request_keys); i++) {
                json_t *v = json_object_get(c, request_keys[i]);
                if (v)
                        ck_assert(json_object_set(body, request_keys[i], v) == 0);
        }

        t0 = now_usec();
        /* json.dumps() escapes non-ASCII: do as run-cases does. */
        r = http_post_json(API_BASE "/execute", body, JSON_ENSURE_ASCII);
        eid = json_object_get_string(r->json, "execution_id");
        if (r->status != 202 || !json_is_object(r->json) || !eid) {
                _cleanup_free_ char *d = http_response_describe(r);
                ck_abort_msg("%s: execute answered %s", id, d);
        }

        wait_s = json_object_get(exp, "max_wall_s") ? json_number_value(json_object_get(exp, "max_wall_s"))
                                                   : DEFAULT_WAIT_S;
        deadline = t0 + (uint64_t) ((wait_s + EXTRA_WAIT_S) * USEC_PER_SEC);

        for (;;) {
                _cleanup_(http_response_freep) HttpResponse *s = NULL;
                _cleanup_free_ char *path = strprintf(API_BASE "/status/%s", eid);

                s = http_get(path);
                if (s->status != 200) {
                        _cleanup_free_ char *d = http_response_describe(s);
                        ck_abort_msg("%s: status answered %s", id, d);
                }
                if (state_is_terminal(json_object_get_string(s->json, "status"))) {
                        st = json_incref(s->json);
                        break;
                }
                if (now_usec() > deadline)
                        ck_abort_msg("%s: still %s after %.0f s (execution %s)", id,
                                     json_object_get_string(s->json, "status") ?: "?",
                                     (double) (now_usec() - t0) / USEC_PER_SEC, eid);
                sleep_usec(STATUS_POLL_USEC);
        }

        *ret_wall = (double) (now_usec() - t0) / USEC_PER_SEC;
        return st;
}

START_TEST(test_case) {
        const json_t *c = json_array_get(cases, _i);
        const char *id = json_object_get_string(c, "id") ?: "?";
        _cleanup_(strv_freep) char **faults = NULL;
        json_auto_t *st = NULL;
        _cleanup_free_ char *msg = NULL;
        double wall = 0;
        size_t n, size = 0;

        st = run_case(c, id, &wall);
        n = case_check(st, json_object_get(c, "expect"), wall, &faults);

        if (n == 0) {
                printf("%s: holds (%s, %.1f s)\n", id, json_object_get_string(st, "status"), wall);
                return;
        }

        /* "ID: fault; fault; …" like run-cases, plus the status object to read. */
        for (char **f = faults; f && *f; f++)
                size += strlen(*f) + 2;
        msg = calloc(1, size + 1);
        ck_assert(msg);
        for (char **f = faults; f && *f; f++) {
                if (f != faults)
                        strcat(msg, "; ");
                strcat(msg, *f);
        }
        {
                _cleanup_free_ char *d = json_describe(st);
                fprintf(stderr, "%s: %s\n  (execution %s, %.1f s) final status: %s\n", id, msg,
                        json_object_get_string(st, "execution_id") ?: "?", wall, d);
        }
        ck_abort_msg("%s: %s", id, msg);
}
END_TEST

static json_t *load_cases(const char *path, const char *only) {
        _cleanup_free_ char *line = NULL;
        size_t alloc = 0;
        json_t *list;
        FILE *f;
        unsigned lineno = 0;

        f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "Cannot open %s: %m\n", path);
                exit(EXIT_FAILURE);
        }
        list = json_array();
        while (getline(&line, &alloc, f) >= 0) {
                json_error_t err;
                json_t *c;

                lineno++;
                if (strspn(line, " \t\r\n") == strlen(line))
                        continue;
                c = json_loads(line, 0, &err);
                if (!c || !json_is_object(c) || !json_object_get_string(c, "id") ||
                    !json_object_get_string(c, "code")) {
                        fprintf(stderr, "%s:%u: not a case: %s\n", path, lineno, c ? "no id or code" : err.text);
                        exit(EXIT_FAILURE);
                }
                if (only && *only) {
                        const char *id = json_object_get_string(c, "id");
                        size_t l = strlen(id);
                        bool wanted = false;

                        for (const char *p = only; *p; p += strcspn(p, " ,"), p += strspn(p, " ,"))
                                if (strcspn(p, " ,") == l && strncmp(p, id, l) == 0)
                                        wanted = true;
                        if (!wanted) {
                                json_decref(c);
                                continue;
                        }
                }
                json_array_append_new(list, c);
        }
        fclose(f);
        return list;
}

int main(void) {
        _cleanup_free_ char *path = NULL;
        const char *root;
        Suite *s;
        TCase *tc;
        int r;

        /* '.' of a regular expression is a character, as in Python, not a byte. */
        if (!setlocale(LC_CTYPE, "C.UTF-8"))
                fprintf(stderr, "Warning: no C.UTF-8 locale; regular expressions match bytes.\n");

        root = getenv("PYEXECD_SOURCE_ROOT");
        path = strprintf("%s/tests/cases.jsonl", root && *root ? root : ".");
        cases = load_cases(path, getenv("PYEXECD_CASES"));
        if (json_array_size(cases) == 0) {
                fprintf(stderr, "No cases in %s.\n", path);
                return EXIT_FAILURE;
        }

        curl_global_init(CURL_GLOBAL_ALL);

        s = suite_create("cases");
        tc = tcase_create("cases");
        /* A case may wait max_wall_s (default 60 s) + 5 s for its end. */
        tcase_set_timeout(tc, 180);
        tcase_add_loop_test(tc, test_case, 0, (int) json_array_size(cases));
        suite_add_tcase(s, tc);

        r = run_suite(s);
        json_decref(cases);
        curl_global_cleanup();
        return r;
}

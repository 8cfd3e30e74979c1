/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* pyexecctl's rendering of output events: text, images, HTML, JSON lines. */

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyexecctl/format.h"
#include "pyexecctl/render.h"
#include "shared/macro.h"

#define PNG_1X1 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
#define ID "0123456789abcdef0123456789abcdef"

/* A renderer writing into two memory buffers, images into a fresh folder. */
typedef struct Fixture {
        char *out_buf, *err_buf;
        size_t out_size, err_size;
        FILE *out, *err;
        char dir[64];
        Renderer *r;
} Fixture;

static Fixture f;

static void fixture_open(bool json) {
        memset(&f, 0, sizeof(f));
        f.out = open_memstream(&f.out_buf, &f.out_size);
        f.err = open_memstream(&f.err_buf, &f.err_size);
        ck_assert(f.out && f.err);
        strcpy(f.dir, "/tmp/test-pyexecctl-render.XXXXXX");
        ck_assert(mkdtemp(f.dir));
        f.r = renderer_new(f.out, f.err, json, f.dir, ID);
        ck_assert(f.r);
}

static void setup_text(void) {
        fixture_open(false);
}

static void setup_json(void) {
        fixture_open(true);
}

static void teardown(void) {
        char cmd[128];

        renderer_free(f.r);
        fclose(f.out);
        fclose(f.err);
        free(f.out_buf);
        free(f.err_buf);
        (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f.dir);
        ck_assert_int_eq(system(cmd), 0);
}

static void event(const char *type, const char *json) {
        ck_assert_int_eq(renderer_event(f.r, type, json), 0);
}

static void assert_out(const char *want) {
        fflush(f.out);
        ck_assert_str_eq(f.out_buf, want);
}

static void assert_err(const char *want) {
        fflush(f.err);
        ck_assert_str_eq(f.err_buf, want);
}

START_TEST(test_streams) {
        event("stream", "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"one\\n\"}");
        event("stream", "{\"output_type\":\"stream\",\"name\":\"stderr\",\"text\":\"warn\\n\"}");
        /* Progress bars keep their carriage returns: the terminal applies them. */
        event("stream", "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"\\r 10%\\r 20%\"}");
        assert_out("one\n\r 10%\r 20%");
        assert_err("warn\n");

        /* A block after an open line starts on a new one. */
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"x\"},\"metadata\":{}}");
        assert_out("one\n\r 10%\r 20%\nx\n");

        /* NUL bytes of stream text are written, not cut. */
        event("stream", "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"a\\u0000b\\n\"}");
        fflush(f.out);
        ck_assert_uint_eq(f.out_size, strlen("one\n\r 10%\r 20%\nx\n") + 4);
        ck_assert(memcmp(f.out_buf + f.out_size - 4, "a\0b\n", 4) == 0);
}
END_TEST

START_TEST(test_finish) {
        event("stream", "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"50%\"}");
        event("stream", "{\"output_type\":\"stream\",\"name\":\"stderr\",\"text\":\"e\"}");
        ck_assert_int_eq(renderer_finish(f.r), 0);
        assert_out("50%\n");
        assert_err("e\n");
        /* Nothing open: nothing added. */
        ck_assert_int_eq(renderer_finish(f.r), 0);
        assert_out("50%\n");
}
END_TEST

START_TEST(test_execute_result) {
        event("execute_result", "{\"output_type\":\"execute_result\",\"execution_count\":3,"
                                "\"data\":{\"text/plain\":\"42\"},\"metadata\":{}}");
        /* Several lines: the value starts under "Out[N]:", as in IPython. */
        event("execute_result", "{\"output_type\":\"execute_result\",\"execution_count\":4,"
                                "\"data\":{\"text/plain\":\"a\\nb\",\"text/html\":\"<table></table>\"},\"metadata\":{}}");
        event("execute_result", "{\"output_type\":\"execute_result\",\"execution_count\":null,"
                                "\"data\":{\"text/plain\":\"7\"},\"metadata\":{}}");
        assert_out("Out[3]: 42\nOut[4]:\na\nb\n7\n");
        assert_err("");
}
END_TEST

START_TEST(test_error) {
        event("stream", "{\"output_type\":\"stream\",\"name\":\"stderr\",\"text\":\"partial\"}");
        event("error", "{\"output_type\":\"error\",\"ename\":\"ZeroDivisionError\",\"evalue\":\"division by zero\","
                       "\"traceback\":[\"Traceback (most recent call last):\",\"  File \\\"<cell>\\\", line 8\\n    x\\n\","
                       "\"ZeroDivisionError: division by zero\"]}");
        event("error", "{\"output_type\":\"error\",\"ename\":\"KeyError\",\"evalue\":\"'k'\",\"traceback\":[]}");
        assert_err("partial\nTraceback (most recent call last):\n  File \"<cell>\", line 8\n    x\n"
                   "ZeroDivisionError: division by zero\nKeyError: 'k'\n");
        assert_out("");
}
END_TEST

static void assert_file(const char *path, const void *data, size_t size) {
        char buf[4096];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        ck_assert_msg(fd >= 0, "%s missing", path);
        n = read(fd, buf, sizeof(buf));
        close(fd);
        ck_assert_int_eq(n, (ssize_t) size);
        ck_assert(memcmp(buf, data, size) == 0);
}

START_TEST(test_images) {
        unsigned char *png;
        size_t png_size;
        char want[512], path[256];

        ck_assert_int_eq(base64_decode(PNG_1X1, strlen(PNG_1X1), &png, &png_size), 0);
        ck_assert_uint_eq(png_size, 70);

        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"image/png\":\"" PNG_1X1 "\","
                              "\"text/plain\":\"<Figure size 640x480 with 1 Axes>\"},\"metadata\":{}}");
        /* PNG wins over SVG; numbering goes on across items. */
        event("execute_result", "{\"output_type\":\"execute_result\",\"execution_count\":2,\"data\":{"
                                "\"image/svg+xml\":\"<svg/>\",\"image/png\":\"" PNG_1X1 "\"},\"metadata\":{}}");
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"image/svg+xml\":\"<svg>1</svg>\"},\"metadata\":{}}");
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"image/jpeg\":\"/9j/4AAQ\"},\"metadata\":{}}");

        (void) snprintf(want, sizeof(want),
                        "[image/png 1x1] %1$s/" ID "-1.png\n"
                        "Out[2]: [image/png 1x1] %1$s/" ID "-2.png\n"
                        "[image/svg+xml] %1$s/" ID "-3.svg\n"
                        "[image/jpeg] %1$s/" ID "-4.jpg\n", f.dir);
        assert_out(want);
        ck_assert_uint_eq(renderer_n_images(f.r), 4);

        (void) snprintf(path, sizeof(path), "%s/" ID "-1.png", f.dir);
        assert_file(path, png, png_size);
        (void) snprintf(path, sizeof(path), "%s/" ID "-3.svg", f.dir);
        assert_file(path, "<svg>1</svg>", 12);
        (void) snprintf(path, sizeof(path), "%s/" ID "-4.jpg", f.dir);
        assert_file(path, "\xff\xd8\xff\xe0\x00\x10", 6);
        free(png);
}
END_TEST

START_TEST(test_image_failures) {
        char target[128], link[128], want[256];

        /* Not base64: the image is skipped, the text shown instead. */
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"image/png\":\"not*base64\","
                              "\"text/plain\":\"fallback\"},\"metadata\":{}}");
        assert_out("fallback\n");
        ck_assert_uint_eq(renderer_n_images(f.r), 0);

        /* A symlink where the image goes is not followed. */
        (void) snprintf(target, sizeof(target), "%s/target", f.dir);
        (void) snprintf(link, sizeof(link), "%s/" ID "-1.png", f.dir);
        ck_assert_int_eq(symlink(target, link), 0);
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"image/png\":\"" PNG_1X1 "\"},\"metadata\":{}}");
        ck_assert_int_eq(access(target, F_OK), -1);
        (void) snprintf(want, sizeof(want), "fallback\n[image/png]\n");
        assert_out(want);
}
END_TEST

START_TEST(test_bundles) {
        /* A default repr says nothing: HTML, Markdown and JSON say more. */
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"<IPython.core.display.HTML object>\","
                              "\"text/html\":\"<b>finished</b> in <i>3</i> steps\"},\"metadata\":{}}");
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"<x.Y object at 0x7f00>\","
                              "\"text/markdown\":\"**status:** starting\"},\"metadata\":{}}");
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"application/json\":{\"a\":[1,2]}},\"metadata\":{}}");
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"text/latex\":\"$x^2$\"},\"metadata\":{}}");
        /* Nothing a terminal shows: named. */
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"application/vnd.foo\":\"…\"},\"metadata\":{}}");
        /* Only a default repr: shown after all. */
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"text/plain\":\"<foo.Bar object>\"},\"metadata\":{}}");
        /* Empty data: nothing. */
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{},\"metadata\":{}}");
        event("update_display_data", "{\"data\":{\"text/plain\":\"v2\"},\"metadata\":{},\"transient\":{\"display_id\":\"d\"}}");
        event("clear_output", "{\"wait\":false}");
        assert_out("[HTML] finished in 3 steps\n"
                   "**status:** starting\n"
                   "{\"a\":[1,2]}\n"
                   "$x^2$\n"
                   "[application/vnd.foo]\n"
                   "<foo.Bar object>\n"
                   "[update] v2\n"
                   "[output cleared]\n");
        assert_err("");
}
END_TEST

START_TEST(test_malformed) {
        /* Skipped (and logged), never shown half, never fatal. */
        event("stream", "not json");
        event("stream", "{\"output_type\":\"display_data\",\"data\":{},\"metadata\":{}}");
        event("stream", "{\"output_type\":\"stream\",\"name\":\"stdout\"}");
        event("error", "{\"output_type\":\"error\",\"ename\":1}");
        event("execute_result", "[]");
        event("frobnicate", "{}");
        event("clear_output", "{\"wait\":\"yes\"}");
        assert_out("");
        assert_err("");
}
END_TEST

START_TEST(test_outputs_list) {
        json_t *outputs = json_loads("[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"a\\n\"},"
                                     "{\"output_type\":\"execute_result\",\"execution_count\":1,\"data\":{\"text/plain\":\"1\"},\"metadata\":{}},"
                                     "{\"no_type\":1}]", 0, NULL);

        ck_assert(outputs);
        ck_assert_int_eq(renderer_outputs(f.r, outputs), 0);
        assert_out("a\nOut[1]: 1\n");
        json_decref(outputs);
}
END_TEST

START_TEST(test_json_lines) {
        event("stream", "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"a\\u0000\\u00e9\\n\"}");
        event("display_data", "{\"output_type\":\"display_data\",\"data\":{\"image/png\":\"" PNG_1X1 "\"},"
                              "\"metadata\":{},\"transient\":{\"display_id\":\"d1\"}}");
        event("update_display_data", "{\"data\":{\"text/plain\":\"v2\"},\"metadata\":{},\"transient\":{\"display_id\":\"d1\"}}");
        event("clear_output", "{\"wait\":true}");
        event("stream", "bad");
        event("error", "{\"output_type\":\"error\",\"ename\":\"E\",\"evalue\":\"v\",\"traceback\":[\"t\"]}");

        fflush(f.out);
        ck_assert_str_eq(f.out_buf,
                         "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"a\\u0000\xc3\xa9\\n\"}\n"
                         "{\"output_type\":\"display_data\",\"data\":{\"image/png\":\"" PNG_1X1 "\"},\"metadata\":{}}\n"
                         "{\"data\":{\"text/plain\":\"v2\"},\"metadata\":{},\"transient\":{\"display_id\":\"d1\"},\"msg_type\":\"update_display_data\"}\n"
                         "{\"wait\":true,\"msg_type\":\"clear_output\"}\n"
                         "{\"output_type\":\"error\",\"ename\":\"E\",\"evalue\":\"v\",\"traceback\":[\"t\"]}\n");
        assert_err("");
        /* JSON mode saves no files. */
        ck_assert_uint_eq(renderer_n_images(f.r), 0);
}
END_TEST

START_TEST(test_html_summary) {
        static const char pandas[] =
                "<div><style scoped>.dataframe tbody tr th { vertical-align: top; }</style>"
                "<table border=\"1\" class=\"dataframe\"><thead>"
                "<tr style=\"text-align: right;\"><th></th><th>count</th><th>sum</th></tr>"
                "<tr><th>region</th><th></th><th></th></tr></thead><tbody>"
                "<tr><th>east</th><td>2</td><td>165.5</td></tr>"
                "<tr><th>north</th><td>2</td><td>254.75</td></tr>"
                "<tr><th>south</th><td>2</td><td>199.75</td></tr>"
                "</tbody></table></div>";
        char *s;

        s = html_summary(pandas);
        ck_assert_str_eq(s, "[HTML table, 3 rows]");
        free(s);
        s = html_summary("<TABLE><TR><TD>1</TD></TR></TABLE>");
        ck_assert_str_eq(s, "[HTML table, 1 row]");
        free(s);
        s = html_summary("<p>Fish &amp; chips</p><p>&lt;tasty&gt;</p>");
        ck_assert_str_eq(s, "[HTML] Fish & chips <tasty>");
        free(s);
        s = html_summary("<script>alert(1)</script><style>p{}</style>  hello\n\n   world ");
        ck_assert_str_eq(s, "[HTML] hello world");
        free(s);
        s = html_summary("<img src=x>");
        ck_assert_str_eq(s, "[HTML]");
        free(s);
        /* Cut after 60 bytes, never inside a UTF-8 sequence. */
        s = html_summary("<p>ééééééééééééééééééééééééééééééééééééééééé</p>");
        ck_assert_str_eq(s, "[HTML] éééééééééééééééééééééééééééééé…");
        free(s);
        s = html_summary("<p>aéééééééééééééééééééééééééééééééééééééééééé</p>");
        ck_assert_str_eq(s, "[HTML] aééééééééééééééééééééééééééééé…");
        free(s);
}
END_TEST

START_TEST(test_default_repr) {
        ck_assert(object_repr_is_default("<IPython.core.display.HTML object>"));
        ck_assert(object_repr_is_default("<__main__.Foo object at 0x7f3a2c1b0d90>"));
        ck_assert(!object_repr_is_default("<Figure size 640x480 with 1 Axes>"));
        ck_assert(!object_repr_is_default("42"));
        ck_assert(!object_repr_is_default("<a object>\n<b object>"));
        ck_assert(!object_repr_is_default(""));
        ck_assert(!object_repr_is_default(NULL));
}
END_TEST

START_TEST(test_base64) {
        unsigned char *d;
        size_t n;

        ck_assert_int_eq(base64_decode("aGVsbG8=", 8, &d, &n), 0);
        ck_assert_uint_eq(n, 5);
        ck_assert(memcmp(d, "hello", 5) == 0);
        free(d);
        /* Lines, as nbformat may store them; padding optional. */
        ck_assert_int_eq(base64_decode("aGVs\nbG8", 8, &d, &n), 0);
        ck_assert_uint_eq(n, 5);
        free(d);
        ck_assert_int_eq(base64_decode("", 0, &d, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(d);
        ck_assert_int_eq(base64_decode("aGVsbG8*", 8, &d, &n), -EINVAL);
        ck_assert_int_eq(base64_decode("aGVsbG9=", 8, &d, &n), -EINVAL);     /* stray bits */
        ck_assert_int_eq(base64_decode("aG=Vs", 5, &d, &n), -EINVAL);        /* data after padding */
        ck_assert_int_eq(base64_decode("a", 1, &d, &n), -EINVAL);            /* 6 bits are no byte */
}
END_TEST

START_TEST(test_cescape) {
        _cleanup_free_ char *a = cescape("c\033]2;PWNED\a\033[2J"), *b = cescape("plain ü\\x"), *c = cescape("");

        ck_assert_str_eq(a, "c\\x1b]2;PWNED\\x07\\x1b[2J");
        ck_assert_str_eq(b, "plain ü\\\\x");
        ck_assert_str_eq(c, "");
}
END_TEST

static Suite *render_suite(void) {
        Suite *s = suite_create("pyexecctl-render");
        TCase *tc = tcase_create("text");
        TCase *tj = tcase_create("json");
        TCase *tu = tcase_create("util");

        tcase_add_checked_fixture(tc, setup_text, teardown);
        tcase_add_test(tc, test_streams);
        tcase_add_test(tc, test_finish);
        tcase_add_test(tc, test_execute_result);
        tcase_add_test(tc, test_error);
        tcase_add_test(tc, test_images);
        tcase_add_test(tc, test_image_failures);
        tcase_add_test(tc, test_bundles);
        tcase_add_test(tc, test_malformed);
        tcase_add_test(tc, test_outputs_list);
        suite_add_tcase(s, tc);

        tcase_add_checked_fixture(tj, setup_json, teardown);
        tcase_add_test(tj, test_json_lines);
        suite_add_tcase(s, tj);

        tcase_add_test(tu, test_html_summary);
        tcase_add_test(tu, test_default_repr);
        tcase_add_test(tu, test_base64);
        tcase_add_test(tu, test_cescape);
        suite_add_tcase(s, tu);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(render_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * A port of check() in /work/shared/tools/run-cases. Where Python semantics
 * matter they are reproduced: a missing key compares as None, truthiness of
 * "truncated" and "no_error", json.dumps()'s size, str.rstrip()'s notion of
 * whitespace, re.fullmatch(…, re.S). Messages follow the tool's, with C
 * string quoting instead of Python's repr().
 */

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case-check.h"
#include "shared/macro.h"

static _printf_(2, 3) void fault(char ***faults, const char *fmt, ...) {
        size_t n = 0;
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                abort();
        while (*faults && (*faults)[n])
                n++;
        *faults = realloc(*faults, (n + 2) * sizeof(char *));
        if (!*faults)
                abort();
        (*faults)[n] = s;
        (*faults)[n + 1] = NULL;
}

/* @s quoted and escaped, cut after @max bytes (at a character boundary), malloc'd. */
static char *quote(const char *s, size_t max) {
        size_t n, cut;
        char *q, *p;

        if (!s)
                return strdup("None");
        n = strlen(s);
        cut = MIN(n, max);
        while (cut < n && cut > 0 && ((unsigned char) s[cut] & 0xc0) == 0x80)
                cut--;
        q = malloc(cut * 4 + 8);
        if (!q)
                abort();
        p = q;
        *p++ = '"';
        for (size_t i = 0; i < cut; i++) {
                unsigned char c = s[i];

                switch (c) {
                case '\n': p = stpcpy(p, "\\n"); break;
                case '\r': p = stpcpy(p, "\\r"); break;
                case '\t': p = stpcpy(p, "\\t"); break;
                case '"':  p = stpcpy(p, "\\\""); break;
                case '\\': p = stpcpy(p, "\\\\"); break;
                default:
                        if (c < 0x20 || c == 0x7f)
                                p += sprintf(p, "\\x%02x", c);
                        else
                                *p++ = c;
                }
        }
        *p++ = '"';
        if (cut < n)
                p = stpcpy(p, "…");
        *p = 0;
        return q;
}

/* Compact dump of any JSON value for messages ("None" for null or a missing one, as the tool says). */
static char *dump(const json_t *j) {
        char *s;

        if (!j || json_is_null(j))
                return strdup("None");
        s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
                abort();
        if (strlen(s) > 160)
                strcpy(s + 157, "…");
        return s;
}

/* Python's ==, for the JSON values that occur here (None for a missing key). */
static bool py_equal(const json_t *a, const json_t *b) {
        if (!a)
                a = json_null();
        if (!b)
                b = json_null();
        if (json_is_number(a) && json_is_number(b)) {
                if (json_is_integer(a) && json_is_integer(b))
                        return json_integer_value(a) == json_integer_value(b);
                return json_number_value(a) == json_number_value(b);
        }
        return json_equal((json_t *) a, (json_t *) b);
}

/* Python's bool(). */
static bool py_truthy(const json_t *j) {
        if (!j || json_is_null(j) || json_is_false(j))
                return false;
        if (json_is_integer(j))
                return json_integer_value(j) != 0;
        if (json_is_real(j))
                return json_real_value(j) != 0.0;
        if (json_is_string(j))
                return json_string_length(j) > 0;
        if (json_is_array(j))
                return json_array_size(j) > 0;
        if (json_is_object(j))
                return json_object_size(j) > 0;
        return true;
}

static const char *get_str(const json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

static bool str_is(const char *a, const char *b) {
        return a && strcmp(a, b) == 0;
}

/* The joined text of the stream items named @name; sets *bad when a text is not a string
 * (run-cases would die on it with a TypeError, a failure all the same). */
static char *joined(const json_t *outs, const char *name, bool *bad) {
        size_t i, size = 0;
        json_t *o;
        char *s;

        s = calloc(1, 1);
        if (!s)
                abort();
        json_array_foreach(outs, i, o) {
                json_t *t;

                if (!str_is(get_str(o, "output_type"), "stream") || !str_is(get_str(o, "name"), name))
                        continue;
                t = json_object_get(o, "text");
                if (!t)
                        continue;
                if (!json_is_string(t)) {
                        *bad = true;
                        continue;
                }
                s = realloc(s, size + json_string_length(t) + 1);
                if (!s)
                        abort();
                memcpy(s + size, json_string_value(t), json_string_length(t));
                size += json_string_length(t);
                s[size] = 0;
        }
        return s;
}

/* Python's str.isspace() for one code point. */
static bool py_isspace(unsigned cp) {
        return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
               cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
               cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Length of @s[0..len) after str.rstrip() (valid UTF-8 assumed). */
static size_t py_rstrip_len(const char *s, size_t len) {
        while (len > 0) {
                size_t start = len - 1;
                unsigned cp;

                while (start > 0 && ((unsigned char) s[start] & 0xc0) == 0x80 && len - start < 4)
                        start--;
                cp = (unsigned char) s[start];
                if (cp >= 0xf0)
                        cp &= 0x07;
                else if (cp >= 0xe0)
                        cp &= 0x0f;
                else if (cp >= 0xc0)
                        cp &= 0x1f;
                for (size_t i = start + 1; i < len; i++)
                        cp = (cp << 6) | ((unsigned char) s[i] & 0x3f);
                if (!py_isspace(cp))
                        break;
                len = start;
        }
        return len;
}

/* run-cases' ws(): every line right-stripped, then the whole. */
static char *ws(const char *t) {
        size_t n = strlen(t), o = 0;
        const char *line = t;
        char *r;

        r = malloc(n + 1);
        if (!r)
                abort();
        for (;;) {
                const char *nl = strchr(line, '\n');
                size_t l = nl ? (size_t) (nl - line) : strlen(line);

                l = py_rstrip_len(line, l);
                memcpy(r + o, line, l);
                o += l;
                if (!nl)
                        break;
                r[o++] = '\n';
                line = nl + 1;
        }
        o = py_rstrip_len(r, o);
        r[o] = 0;
        return r;
}

/* re.fullmatch(@pattern, @text, re.S) with POSIX extended syntax. Returns 1, 0, or -1 (bad pattern). */
static int fullmatch(const char *pattern, const char *text) {
        _cleanup_free_ char *anchored = NULL;
        regex_t re;
        int r;

        if (asprintf(&anchored, "^(%s)$", pattern) < 0)
                abort();
        /* Without REG_NEWLINE '.' matches a newline and ^ $ match only at the ends,
         * as re.S and fullmatch do. */
        if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0)
                return -1;
        r = regexec(&re, text, 0, NULL, 0);
        regfree(&re);
        return r == 0;
}

/* as_list(): a string or a list of strings; runs the statements with @s set to each. */
#define FOREACH_STRING(v, s, ...)                                               \
        do {                                                                    \
                if (json_is_string(v)) {                                        \
                        const char *s = json_string_value(v);                   \
                        __VA_ARGS__;                                            \
                } else if (json_is_array(v)) {                                  \
                        size_t _i;                                              \
                        json_t *_e;                                             \
                        json_array_foreach(v, _i, _e) {                         \
                                const char *s = json_string_value(_e);          \
                                if (!s)                                         \
                                        continue;                               \
                                __VA_ARGS__;                                    \
                        }                                                       \
                }                                                               \
        } while (0)

static int dump_count(const char *buffer, size_t size, void *data) {
        size_t *n = data;

        *n += size;
        /* jansson writes U+007F as it is; Python's ensure_ascii writes "\u007f". */
        for (size_t i = 0; i < size; i++)
                if (buffer[i] == 0x7f)
                        *n += 5;
        return 0;
}

size_t python_json_dumps_size(const json_t *j) {
        size_t n = 0;

        /* jansson's default separators without JSON_COMPACT are ", " and ": ", as
         * Python's; JSON_ENSURE_ASCII escapes as ensure_ascii does (surrogate
         * pairs included). Floats may be spelt differently; outputs hold none
         * but in rare application/json data. */
        if (json_dump_callback(j, dump_count, &n, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) < 0)
                return (size_t) -1;
        return n;
}

static bool is_rich(const json_t *o) {
        const char *t = get_str(o, "output_type");
        return str_is(t, "display_data") || str_is(t, "execute_result");
}

static const json_t *last_of_type(const json_t *outs, const char *type) {
        const json_t *last = NULL;
        size_t i;
        json_t *o;

        json_array_foreach(outs, i, o)
                if (str_is(get_str(o, "output_type"), type))
                        last = o;
        return last;
}

static const char *const known_keys[] = {
        "status", "exit_code", "stdout", "stderr", "stdout_ws", "stderr_ws", "stdout_contains",
        "stderr_contains", "stdout_lacks", "stderr_lacks", "stdout_regex", "stderr_regex", "ename",
        "evalue_contains", "traceback_contains", "error_contains", "cpu_usec_range", "signal", "truncated",
        "sequence", "no_error", "result_text", "result_text_ws", "has_png", "png_count", "has_html",
        "max_wall_s", "outputs_max_bytes",
};

size_t case_check(const json_t *js, const json_t *exp, double wall, char ***ret_faults) {
        char **faults = *ret_faults;
        size_t before = 0, after = 0;
        json_auto_t *empty = json_array();
        const json_t *outs, *e, *last_err;
        size_t i;
        const char *key;
        json_t *v, *o;
        size_t n_errs = 0;

        while (faults && faults[before])
                before++;

        json_object_foreach((json_t *) exp, key, v) {
                bool known = false;
                for (size_t k = 0; k < ELEMENTSOF(known_keys); k++)
                        known = known || strcmp(key, known_keys[k]) == 0;
                if (!known)
                        fault(&faults, "expectation key \"%s\" is unknown to this checker", key);
        }

        outs = json_object_get(js, "outputs");
        if (!py_truthy(outs))
                outs = NULL;
        else if (!json_is_array(outs)) {
                _cleanup_free_ char *d = dump(outs);
                fault(&faults, "outputs is not a list: %s", d);
                outs = NULL;
        }
        if (!outs)
                outs = empty;

        if ((e = json_object_get(exp, "status")) && !py_equal(json_object_get(js, "status"), e)) {
                _cleanup_free_ char *g = dump(json_object_get(js, "status")), *w = dump(e);
                fault(&faults, "status %s, want %s", g, w);
        }
        if ((e = json_object_get(exp, "exit_code")) && !py_equal(json_object_get(js, "exit_code"), e)) {
                _cleanup_free_ char *g = dump(json_object_get(js, "exit_code")), *w = dump(e);
                fault(&faults, "exit_code %s, want %s", g, w);
        }

        for (int s = 0; s < 2; s++) {
                const char *name = s == 0 ? "stdout" : "stderr";
                _cleanup_free_ char *text = NULL;
                bool bad = false;
                char k[32];

                text = joined(outs, name, &bad);
                if (bad)
                        fault(&faults, "a %s stream item's text is not a string", name);

                if ((e = json_object_get(exp, name)) && !(json_is_string(e) && strcmp(text, json_string_value(e)) == 0)) {
                        _cleanup_free_ char *g = quote(text, 120), *w = quote(json_string_value(e), 120);
                        fault(&faults, "%s %s, want %s", name, g, w);
                }

                (void) snprintf(k, sizeof(k), "%s_ws", name);
                if ((e = json_object_get(exp, k))) {
                        _cleanup_free_ char *a = ws(text), *b = ws(json_string_value(e) ?: "");
                        if (strcmp(a, b) != 0) {
                                _cleanup_free_ char *g = quote(text, 120), *w = quote(json_string_value(e), 120);
                                fault(&faults, "%s %s, want %s (whitespace-normalised)", name, g, w);
                        }
                }

                (void) snprintf(k, sizeof(k), "%s_contains", name);
                e = json_object_get(exp, k);
                FOREACH_STRING(e, sub, {
                        if (!strstr(text, sub)) {
                                _cleanup_free_ char *q = quote(sub, 200), *g = quote(text, 120);
                                fault(&faults, "%s lacks %s (got %s)", name, q, g);
                        }
                });

                (void) snprintf(k, sizeof(k), "%s_lacks", name);
                e = json_object_get(exp, k);
                FOREACH_STRING(e, sub, {
                        if (strstr(text, sub)) {
                                _cleanup_free_ char *q = quote(sub, 200);
                                fault(&faults, "%s has %s", name, q);
                        }
                });

                (void) snprintf(k, sizeof(k), "%s_regex", name);
                if ((e = json_object_get(exp, k))) {
                        const char *pattern = json_string_value(e) ?: "";
                        int r = fullmatch(pattern, text);

                        if (r < 0)
                                fault(&faults, "%s_regex %s is not a POSIX extended regular expression", name,
                                      pattern);
                        else if (r == 0) {
                                _cleanup_free_ char *g = quote(text, 160), *w = quote(pattern, 80);
                                fault(&faults, "%s %s (%zu bytes) does not match %s", name, g, strlen(text), w);
                        }
                }
        }

        json_array_foreach(outs, i, o)
                if (str_is(get_str(o, "output_type"), "error"))
                        n_errs++;
        last_err = last_of_type(outs, "error");

        if ((e = json_object_get(exp, "ename"))) {
                if (!last_err || !py_equal(json_object_get(last_err, "ename"), e)) {
                        _cleanup_free_ char *g = dump(last_err ? json_object_get(last_err, "ename") : NULL),
                                            *w = dump(e);
                        fault(&faults, "error ename %s, want %s", g, w);
                }
        }
        if ((e = json_object_get(exp, "evalue_contains"))) {
                const char *sub = json_string_value(e) ?: "";
                bool found = false;

                json_array_foreach(outs, i, o)
                        if (str_is(get_str(o, "output_type"), "error") && strstr(get_str(o, "evalue") ?: "", sub))
                                found = true;
                if (!found) {
                        _cleanup_free_ char *q = quote(sub, 200);
                        fault(&faults, "no error evalue containing %s", q);
                }
        }
        if ((e = json_object_get(exp, "traceback_contains"))) {
                _cleanup_free_ char *tb = NULL;
                size_t size = 0;

                tb = calloc(1, 1);
                if (!tb)
                        abort();
                if (last_err) {
                        json_t *l;
                        json_array_foreach(json_object_get(last_err, "traceback"), i, l) {
                                const char *s = json_string_value(l) ?: "";
                                size_t n = strlen(s);

                                tb = realloc(tb, size + n + 2);
                                if (!tb)
                                        abort();
                                if (i > 0)
                                        tb[size++] = '\n';
                                memcpy(tb + size, s, n);
                                size += n;
                                tb[size] = 0;
                        }
                }
                if (!strstr(tb, json_string_value(e) ?: "")) {
                        _cleanup_free_ char *q = quote(json_string_value(e), 200);
                        fault(&faults, "traceback lacks %s", q);
                }
        }
        if ((e = json_object_get(exp, "error_contains"))) {
                json_t *err = json_object_get(js, "error");
                _cleanup_free_ char *s = NULL;

                /* str(js.get("error") or "") */
                if (!py_truthy(err))
                        s = strdup("");
                else if (json_is_string(err))
                        s = strdup(json_string_value(err));
                else
                        s = dump(err);
                if (!strstr(s, json_string_value(e) ?: "")) {
                        _cleanup_free_ char *g = quote(s, 100), *w = quote(json_string_value(e), 200);
                        fault(&faults, "error field %s lacks %s", g, w);
                }
        }
        if ((e = json_object_get(exp, "cpu_usec_range"))) {
                json_t *cpu = json_object_get(json_object_get(js, "resources"), "cpu_usec");
                json_int_t lo = json_integer_value(json_array_get(e, 0)), hi = json_integer_value(json_array_get(e, 1));

                if (!json_is_integer(cpu) || json_integer_value(cpu) < lo || json_integer_value(cpu) > hi) {
                        _cleanup_free_ char *g = dump(cpu);
                        fault(&faults, "cpu_usec %s not in [%lld, %lld]", g, (long long) lo, (long long) hi);
                }
        }
        if ((e = json_object_get(exp, "signal")) && !py_equal(json_object_get(js, "signal"), e)) {
                _cleanup_free_ char *g = dump(json_object_get(js, "signal")), *w = dump(e);
                fault(&faults, "signal %s, want %s", g, w);
        }
        if ((e = json_object_get(exp, "truncated")) && py_truthy(json_object_get(js, "truncated")) != py_truthy(e)) {
                _cleanup_free_ char *g = dump(json_object_get(js, "truncated")), *w = dump(e);
                fault(&faults, "truncated %s, want %s", g, w);
        }
        if ((e = json_object_get(exp, "sequence"))) {
                json_auto_t *seq = json_array();
                json_t *last = NULL;

                json_array_foreach(outs, i, o) {
                        const char *type = get_str(o, "output_type") ?: "?";
                        _cleanup_free_ char *k = NULL;

                        if (strcmp(type, "stream") == 0) {
                                if (asprintf(&k, "stream:%s", get_str(o, "name") ?: "") < 0)
                                        abort();
                        } else
                                k = strdup(type);
                        if (last && strncmp(k, "stream:", 7) == 0 && str_is(json_string_value(last), k))
                                continue;
                        last = json_string(k);
                        json_array_append_new(seq, last);
                }
                if (!json_equal(seq, e)) {
                        _cleanup_free_ char *g = dump(seq), *w = dump(e);
                        fault(&faults, "sequence %s, want %s", g, w);
                }
        }
        if (py_truthy(json_object_get(exp, "no_error")) && n_errs > 0) {
                const json_t *first = NULL;
                json_array_foreach(outs, i, o)
                        if (!first && str_is(get_str(o, "output_type"), "error"))
                                first = o;
                _cleanup_free_ char *g = dump(json_object_get(first, "ename"));
                fault(&faults, "unexpected error item %s", g);
        }
        if ((e = json_object_get(exp, "result_text")) || json_object_get(exp, "result_text_ws")) {
                const json_t *res = last_of_type(outs, "execute_result");
                json_t *got = res ? json_object_get(json_object_get(res, "data"), "text/plain") : NULL;

                if (e && !py_equal(got, e)) {
                        _cleanup_free_ char *g = json_is_string(got) ? quote(json_string_value(got), 200) : dump(got),
                                            *w = quote(json_string_value(e), 200);
                        fault(&faults, "execute_result %s, want %s", g, w);
                }
                if ((e = json_object_get(exp, "result_text_ws"))) {
                        bool ok = false;

                        if (json_is_string(got)) {
                                _cleanup_free_ char *a = ws(json_string_value(got)),
                                                    *b = ws(json_string_value(e) ?: "");
                                ok = strcmp(a, b) == 0;
                        }
                        if (!ok) {
                                _cleanup_free_ char *g = json_is_string(got) ? quote(json_string_value(got), 120)
                                                                              : strdup("\"\""),
                                                    *w = quote(json_string_value(e), 120);
                                fault(&faults, "execute_result %s, want %s", g, w);
                        }
                }
        }
        if ((e = json_object_get(exp, "has_png"))) {
                size_t n = 0;
                json_t *count = json_object_get(exp, "png_count");

                json_array_foreach(outs, i, o)
                        if (is_rich(o) && json_object_get(json_object_get(o, "data"), "image/png"))
                                n++;
                if ((n > 0) != py_truthy(e) ||
                    (count && !(json_is_integer(count) && (json_int_t) n == json_integer_value(count))))
                        fault(&faults, "%zu image/png items", n);
        }
        if ((e = json_object_get(exp, "has_html"))) {
                bool any = false;

                json_array_foreach(outs, i, o)
                        if (is_rich(o) && json_object_get(json_object_get(o, "data"), "text/html"))
                                any = true;
                if (any != py_truthy(e))
                        fault(&faults, "text/html presence wrong");
        }
        if ((e = json_object_get(exp, "max_wall_s")) && wall > json_number_value(e))
                fault(&faults, "took %.1f s, limit %g", wall, json_number_value(e));
        if ((e = json_object_get(exp, "outputs_max_bytes"))) {
                size_t size = python_json_dumps_size(outs);

                if ((double) size > json_number_value(e))
                        fault(&faults, "stored outputs %zu bytes", size);
        }

        while (faults && faults[after])
                after++;
        *ret_faults = faults;
        return after - before;
}

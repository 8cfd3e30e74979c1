/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "integ-util.h"

extern char **environ;

#define READY_POLL_USEC (100 * USEC_PER_MSEC)
#define STATUS_POLL_USEC (50 * USEC_PER_MSEC)

char *strprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                abort();
        return s;
}

void sleep_usec(uint64_t usec) {
        struct timespec ts = {
                .tv_sec = usec / USEC_PER_SEC,
                .tv_nsec = (usec % USEC_PER_SEC) * 1000,
        };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int run_command(const char *const *argv, char **ret_output) {
        _cleanup_close_pair_ int pipefd[2] = { -1, -1 };
        posix_spawn_file_actions_t fa;
        char *out = NULL;
        size_t size = 0, alloc = 0;
        pid_t pid;
        int r, status;

        if (ret_output && pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;

        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        if (ret_output)
                (void) posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        else
                /* Keep our stdout's buffered lines in order with the child's. */
                fflush(stdout);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *) argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return -r;

        if (ret_output) {
                pipefd[1] = safe_close(pipefd[1]);
                for (;;) {
                        ssize_t n;

                        if (size + 4096 + 1 > alloc) {
                                alloc = MAX(alloc * 2, size + 4096 + 1);
                                out = realloc(out, alloc);
                                if (!out)
                                        abort();
                        }
                        n = read(pipefd[0], out + size, alloc - size - 1);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        size += n;
                }
                if (!out) {
                        out = malloc(1);
                        if (!out)
                                abort();
                }
                out[size] = 0;
        }

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        free(out);
                        return -errno;
                }

        if (ret_output)
                *ret_output = out;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

int run_commandl(char **ret_output, const char *arg0, ...) {
        const char *argv[32];
        size_t n = 0;
        va_list ap;

        argv[n++] = arg0;
        va_start(ap, arg0);
        while (n < ELEMENTSOF(argv) - 1) {
                const char *a = va_arg(ap, const char *);
                if (!a)
                        break;
                argv[n++] = a;
        }
        va_end(ap);
        argv[n] = NULL;
        return run_command(argv, ret_output);
}

static void strip_trailing_newlines(char *s) {
        size_t n = strlen(s);

        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                s[--n] = 0;
}

void systemctl_ok(const char *verb, const char *unit) {
        int r;

        r = run_commandl(NULL, "systemctl", verb, unit, NULL);
        ck_assert_msg(r == 0, "systemctl %s %s failed: %d", verb, unit, r);
}

char *unit_property(const char *unit, const char *property) {
        char *out = NULL;
        int r;

        r = run_commandl(&out, "systemctl", "show", "-p", property, "--value", unit, NULL);
        ck_assert_msg(r == 0, "systemctl show -p %s %s failed: %d", property, unit, r);
        strip_trailing_newlines(out);
        return out;
}

char *unit_object_path(const char *unit_name) {
        static const char hex[] = "0123456789abcdef";
        size_t n = strlen(unit_name);
        char *p, *q;

        p = malloc(strlen("/org/freedesktop/systemd1/unit/") + n * 3 + 1);
        if (!p)
                abort();
        q = stpcpy(p, "/org/freedesktop/systemd1/unit/");
        for (const char *c = unit_name; *c; c++) {
                /* sd_bus_path_encode(): [A-Za-z0-9] stay (a leading digit does
                 * not), anything else becomes _XX. */
                if (isalnum((unsigned char) *c) && !(c == unit_name && isdigit((unsigned char) *c)))
                        *q++ = *c;
                else {
                        *q++ = '_';
                        *q++ = hex[(unsigned char) *c >> 4];
                        *q++ = hex[(unsigned char) *c & 15];
                }
        }
        *q = 0;
        return p;
}

char *scope_property(const char *id, const char *property) {
        _cleanup_free_ char *unit = NULL, *path = NULL;
        char *out = NULL;
        int r;

        unit = strprintf("pyexec-%s.scope", id);
        path = unit_object_path(unit);
        r = run_commandl(&out, "busctl", "--system", "get-property", "org.freedesktop.systemd1", path,
                         "org.freedesktop.systemd1.Scope", property, NULL);
        if (r != 0) {
                free(out);
                return NULL;
        }
        strip_trailing_newlines(out);
        return out;
}

char *units_matching(const char *id) {
        _cleanup_free_ char *out = NULL;
        char *result, *q;
        int r;

        r = run_commandl(&out, "systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager",
                         "pyexec-*", NULL);
        ck_assert_msg(r == 0, "systemctl list-units failed: %d", r);

        result = calloc(1, strlen(out) + 1);
        if (!result)
                abort();
        q = result;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                char *name = line + strspn(line, " ●*");
                size_t len = strcspn(name, " ");

                if (memmem(name, len, id, strlen(id))) {
                        if (q != result)
                                *q++ = ' ';
                        q = mempcpy(q, name, len);
                }
        }
        *q = 0;
        return result;
}

void dropin_write(const char *name, const char *text) {
        _cleanup_free_ char *path = NULL;
        FILE *f;

        (void) mkdir("/etc/pyexecd", 0755);
        ck_assert_msg(mkdir(DROPIN_DIR, 0755) == 0 || errno == EEXIST, "mkdir %s: %m", DROPIN_DIR);
        path = strprintf(DROPIN_DIR "/%s.conf", name);
        f = fopen(path, "we");
        ck_assert_msg(f, "open %s: %m", path);
        fputs(text, f);
        ck_assert_msg(fclose(f) == 0, "write %s: %m", path);
}

void dropin_remove(const char *name) {
        _cleanup_free_ char *path = strprintf(DROPIN_DIR "/%s.conf", name);

        ck_assert_msg(unlink(path) == 0 || errno == ENOENT, "unlink %s: %m", path);
}

void daemon_wait_ready(uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;
        _cleanup_free_ char *last = NULL;

        for (;;) {
                _cleanup_(http_response_freep) HttpResponse *r = NULL;

                r = http_request("POST", API_BASE "/initialize", NULL, NULL, 0, NULL);
                if (r->status == 200 && r->json && json_is_true(json_object_get(r->json, "ready")))
                        return;
                free(last);
                last = http_response_describe(r);
                ck_assert_msg(now_usec() < deadline, "pyexecd not ready after %" PRIu64 " s: POST /initialize: %s",
                              timeout_usec / USEC_PER_SEC, last);
                sleep_usec(READY_POLL_USEC);
        }
}

void daemon_reset(const char *dropin_text) {
        _cleanup_free_ char *out = NULL;
        int r;

        systemctl_ok("stop", "pyexecd.service");
        r = run_commandl(&out, "redis-cli", "-h", "127.0.0.1", "-p", "6379", "FLUSHALL", NULL);
        ck_assert_msg(r == 0 && strncmp(out, "OK", 2) == 0, "redis-cli FLUSHALL failed: %d %s", r, out ?: "");
        if (dropin_text)
                dropin_write("test-http", dropin_text);
        else
                dropin_remove("test-http");
        systemctl_ok("start", "pyexecd.service");
        daemon_wait_ready(60 * USEC_PER_SEC);
}

bool is_exec_id(const char *s) {
        if (!s || strlen(s) != 32)
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        return true;
}

char *random_hex(size_t n) {
        static const char hex[] = "0123456789abcdef";
        unsigned char buf[64];
        char *s;
        int fd;

        ck_assert(n <= 2 * sizeof(buf));
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "open /dev/urandom: %m");
        ck_assert(read(fd, buf, sizeof(buf)) == (ssize_t) sizeof(buf));
        (void) close(fd);
        s = malloc(n + 1);
        if (!s)
                abort();
        for (size_t i = 0; i < n; i++)
                s[i] = hex[(buf[i / 2] >> (i % 2 ? 0 : 4)) & 15];
        s[n] = 0;
        return s;
}

bool state_is_terminal(const char *s) {
        static const char *const terminal[] = { "succeeded", "failed", "timeout", "oom", "cancelled", "error" };

        if (!s)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(terminal); i++)
                if (strcmp(s, terminal[i]) == 0)
                        return true;
        return false;
}

const char *json_object_get_string(const json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

char *json_describe(const json_t *j) {
        char *s;

        if (!j)
                return strprintf("(nothing)");
        s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
                abort();
        if (strlen(s) > 1500)
                strcpy(s + 1497, "…");
        return s;
}

char *submit(const json_t *request) {
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        _cleanup_free_ char *d = NULL;
        const char *id;

        r = http_post_json(API_BASE "/execute", request, 0);
        d = http_response_describe(r);
        ck_assert_msg(r->status == 202, "POST /execute: want 202, got %s", d);
        id = json_object_get_string(r->json, "execution_id");
        ck_assert_msg(is_exec_id(id), "POST /execute: execution_id is not 32 lowercase hex digits: %s", d);
        return strdup(id);
}

char *submit_code(const char *code, const json_t *limits) {
        json_auto_t *req = NULL;

        req = json_pack("{s:s}", "code", code);
        ck_assert(req);
        if (limits)
                ck_assert(json_object_set(req, "limits", (json_t *) limits) == 0);
        return submit(req);
}

json_t *get_status(const char *id) {
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        _cleanup_free_ char *path = NULL, *d = NULL;

        path = strprintf(API_BASE "/status/%s", id);
        r = http_get(path);
        d = http_response_describe(r);
        ck_assert_msg(r->status == 200 && json_is_object(r->json), "GET %s: want 200 and an object, got %s", path, d);
        return json_incref(r->json);
}

json_t *wait_terminal(const char *id, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                json_t *st = get_status(id);
                const char *state = json_object_get_string(st, "status");

                if (state_is_terminal(state))
                        return st;
                if (now_usec() >= deadline) {
                        _cleanup_free_ char *d = json_describe(st);
                        json_decref(st);
                        ck_abort_msg("execution %s still not finished after %" PRIu64 " s: %s", id,
                                     timeout_usec / USEC_PER_SEC, d);
                }
                json_decref(st);
                sleep_usec(STATUS_POLL_USEC);
        }
}

json_t *wait_running(const char *id, const char *stdout_part, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                json_t *st = get_status(id);
                const char *state = json_object_get_string(st, "status");
                _cleanup_free_ char *out = NULL, *d = NULL;

                if (state && strcmp(state, "running") == 0) {
                        out = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
                        if (!stdout_part || strstr(out, stdout_part))
                                return st;
                }
                /* @state points into @st: decide before dropping it. */
                bool ended = state_is_terminal(state);
                d = json_describe(st);
                json_decref(st);
                ck_assert_msg(!ended, "execution %s ended while we waited for it to run%s%s: %s",
                              id, stdout_part ? " and print " : "", stdout_part ?: "", d);
                ck_assert_msg(now_usec() < deadline, "execution %s not running%s%s after %" PRIu64 " s: %s", id,
                              stdout_part ? " with stdout " : "", stdout_part ?: "", timeout_usec / USEC_PER_SEC, d);
                sleep_usec(STATUS_POLL_USEC);
        }
}

void cancel_ok(const char *id) {
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        _cleanup_free_ char *path = NULL, *d = NULL;

        path = strprintf(API_BASE "/cancel/%s", id);
        r = http_delete(path);
        d = http_response_describe(r);
        ck_assert_msg(r->status == 200, "DELETE %s: want 200, got %s", path, d);
        ck_assert_msg(json_is_object(r->json) && json_object_size(r->json) == 2 &&
                      json_object_get_string(r->json, "execution_id") &&
                      strcmp(json_object_get_string(r->json, "execution_id"), id) == 0 &&
                      json_object_get_string(r->json, "status") &&
                      strcmp(json_object_get_string(r->json, "status"), "cancelled") == 0,
                      "DELETE %s: want {\"execution_id\":\"%s\",\"status\":\"cancelled\"}, got %s", path, id, d);
}

char *outputs_stream_text(const json_t *outputs, const char *name) {
        size_t i, size = 0;
        json_t *o;
        char *s;

        s = calloc(1, 1);
        if (!s)
                abort();
        json_array_foreach(outputs, i, o) {
                const char *t = json_object_get_string(o, "text");
                const char *type = json_object_get_string(o, "output_type");
                const char *n = json_object_get_string(o, "name");
                size_t l;

                if (!type || strcmp(type, "stream") != 0 || !n || strcmp(n, name) != 0 || !t)
                        continue;
                l = json_string_length(json_object_get(o, "text"));
                s = realloc(s, size + l + 1);
                if (!s)
                        abort();
                memcpy(s + size, t, l);
                size += l;
                s[size] = 0;
        }
        return s;
}

char *outputs_sequence(const json_t *outputs) {
        char *s = NULL, *last = NULL;
        size_t i;
        json_t *o;

        s = strprintf("%s", "");
        json_array_foreach(outputs, i, o) {
                const char *type = json_object_get_string(o, "output_type") ?: "?";
                _cleanup_free_ char *k = NULL;
                char *t;

                if (strcmp(type, "stream") == 0)
                        k = strprintf("stream:%s", json_object_get_string(o, "name") ?: "");
                else
                        k = strprintf("%s", type);
                if (last && strncmp(k, "stream:", 7) == 0 && strcmp(last, k) == 0)
                        continue;
                t = strprintf("%s%s%s", s, *s ? " " : "", k);
                free(s);
                s = t;
                free(last);
                last = TAKE_PTR(k);
        }
        free(last);
        return s;
}

static bool code_matches(const char *code, const char *alternatives) {
        size_t n = strlen(code);

        for (const char *p = alternatives; *p;) {
                size_t l = strcspn(p, "|");

                if (l == n && strncmp(p, code, n) == 0)
                        return true;
                p += l;
                p += *p == '|';
        }
        return false;
}

const char *assert_error_response(const HttpResponse *r, long status, const char *code) {
        _cleanup_free_ char *d = http_response_describe(r);
        const char *ctype, *c, *m;
        json_t *e;

        ck_assert_msg(r->status == status, "want status %ld (%s), got %s", status, code, d);
        ctype = http_response_header(r, "Content-Type");
        ck_assert_msg(ctype && strncmp(ctype, "application/json", 16) == 0,
                      "error answer's Content-Type %s, want application/json: %s", ctype ?: "(none)", d);
        ck_assert_msg(json_is_object(r->json) && json_object_size(r->json) == 1,
                      "error body is not {\"error\": {...}} alone: %s", d);
        e = json_object_get(r->json, "error");
        ck_assert_msg(json_is_object(e), "error body lacks the \"error\" object: %s", d);
        c = json_object_get_string(e, "code");
        m = json_object_get_string(e, "message");
        ck_assert_msg(c && m && json_object_size(e) == 2,
                      "error object must be {\"code\": str, \"message\": str}: %s", d);
        ck_assert_msg(code_matches(c, code), "error.code \"%s\", want %s: %s", c, code, d);
        ck_assert_msg(*m, "error.message is empty: %s", d);
        return m;
}

bool rfc3339_parse(const char *s, uint64_t *ret_usec) {
        struct tm tm = {};
        const char *p;
        uint64_t frac = 0, scale = USEC_PER_SEC;
        time_t t;

        if (!s)
                return false;
        /* Strictly "YYYY-MM-DDTHH:MM:SS", optional fraction, "Z". */
        for (size_t i = 0; i < 19; i++) {
                static const char pattern[] = "dddd-dd-ddTdd:dd:dd";
                if (pattern[i] == 'd' ? !isdigit((unsigned char) s[i]) : s[i] != pattern[i])
                        return false;
        }
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p || p != s + 19)
                return false;
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char) *p))
                        return false;
                for (; isdigit((unsigned char) *p); p++)
                        if (scale > 1) {
                                scale /= 10;
                                frac += (uint64_t) (*p - '0') * scale;
                        }
        }
        if (strcmp(p, "Z") != 0)
                return false;
        t = timegm(&tm);
        if (t < 0)
                return false;
        *ret_usec = (uint64_t) t * USEC_PER_SEC + frac;
        return true;
}

bool process_with_arg_exists(const char *arg) {
        DIR *d;
        struct dirent *de;
        bool found = false;

        d = opendir("/proc");
        ck_assert_msg(d, "opendir /proc: %m");
        while (!found && (de = readdir(d))) {
                char path[PATH_MAX], buf[4096];
                ssize_t n;
                int fd;

                if (!isdigit((unsigned char) de->d_name[0]))
                        continue;
                (void) snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                n = read(fd, buf, sizeof(buf) - 1);
                (void) close(fd);
                if (n <= 0)
                        continue;
                buf[n] = 0;
                for (char *a = buf; a < buf + n; a += strlen(a) + 1)
                        if (strcmp(a, arg) == 0) {
                                found = true;
                                break;
                        }
        }
        closedir(d);
        return found;
}

int run_suite(Suite *s) {
        SRunner *sr;
        int failed;

        /* Our progress lines must survive a test process that a failed assertion ends. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

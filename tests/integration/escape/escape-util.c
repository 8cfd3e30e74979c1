/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape-util.h"

const char escape_prelude[] =
        "import ctypes as _ct, json as _json, os as _os\n"
        "\n"
        "def report(**kw):\n"
        "    print('" REPORT_PREFIX "' + _json.dumps(kw, sort_keys=True, default=repr), flush=True)\n"
        "\n"
        "def _failure(e):\n"
        "    return {'ok': False, 'exc': type(e).__name__, 'errno': getattr(e, 'errno', None), 'msg': str(e)[:300]}\n"
        "\n"
        "def attempt(fn, *a, **k):\n"
        "    try:\n"
        "        v = fn(*a, **k)\n"
        "        return {'ok': True, 'value': repr(v)[:300]}\n"
        "    except BaseException as e:\n"
        "        return _failure(e)\n"
        "\n"
        "libc = _ct.CDLL(None, use_errno=True)\n"
        "libc.syscall.restype = _ct.c_long\n"
        "\n"
        "def ccall(fn, *a):\n"
        "    _ct.set_errno(0)\n"
        "    r = fn(*a)\n"
        "    return {'ret': r, 'errno': _ct.get_errno()}\n"
        "\n"
        "def in_child(fn):\n"
        "    r, w = _os.pipe()\n"
        "    pid = _os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            _os.close(r)\n"
        "            try:\n"
        "                res = fn()\n"
        "            except BaseException as e:\n"
        "                res = _failure(e)\n"
        "            _os.write(w, _json.dumps(res, default=repr).encode())\n"
        "        finally:\n"
        "            _os._exit(0)\n"
        "    _os.close(w)\n"
        "    data = b''\n"
        "    while True:\n"
        "        b = _os.read(r, 65536)\n"
        "        if not b:\n"
        "            break\n"
        "        data += b\n"
        "    _os.close(r)\n"
        "    _, status = _os.waitpid(pid, 0)\n"
        "    return {'result': _json.loads(data) if data else None, 'status': status}\n"
        "\n";

char *cell_code(const char *body) {
        return strprintf("%s%s", escape_prelude, body);
}

static json_t *parse_reports(const json_t *st, bool must) {
        _cleanup_free_ char *out = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
        json_t *merged = NULL;
        char *saveptr = NULL;

        for (char *line = strtok_r(out, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                json_error_t e;
                json_t *j;

                if (strncmp(line, REPORT_PREFIX, strlen(REPORT_PREFIX)) != 0)
                        continue;
                j = json_loads(line + strlen(REPORT_PREFIX), JSON_ALLOW_NUL, &e);
                if (!json_is_object(j)) {
                        _cleanup_free_ char *d = json_describe(st);
                        ck_abort_msg("a report line of the cell is no JSON object (%s): %s\nstatus: %s", e.text, line,
                                     d);
                }
                if (!merged)
                        merged = json_object();
                ck_assert(merged && json_object_update(merged, j) == 0);
                json_decref(j);
        }
        if (!merged && must) {
                _cleanup_free_ char *d = json_describe(st);
                ck_abort_msg("the cell printed no \"" REPORT_PREFIX "\" report line: %s", d);
        }
        return merged;
}

json_t *cell_report(const json_t *st) {
        return parse_reports(st, true);
}

json_t *cell_report_maybe(const json_t *st) {
        return parse_reports(st, false);
}

static bool alternative_matches(const char *s, const char *alternatives) {
        size_t n = strlen(s);

        for (const char *p = alternatives; *p;) {
                size_t l = strcspn(p, "|");

                if (l == n && strncmp(p, s, n) == 0)
                        return true;
                p += l;
                p += *p == '|';
        }
        return false;
}

void faults_add(Faults *f, const char *format, ...) {
        _cleanup_free_ char *line = NULL;
        va_list ap;
        char *t;
        int r;

        va_start(ap, format);
        r = vasprintf(&line, format, ap);
        va_end(ap);
        if (r < 0)
                abort();
        if (strlen(line) > 600)
                strcpy(line + 597, "…");
        t = strprintf("%s- %s\n", f->text ?: "", line);
        free(f->text);
        f->text = t;
        f->n++;
}

void faults_assert(Faults *f, const json_t *st) {
        _cleanup_free_ char *d = NULL, *text = TAKE_PTR(f->text);

        if (f->n == 0)
                return;
        d = json_describe(st);
        ck_abort_msg("%zu fault(s):\n%sstatus: %s", f->n, text, d);
}

bool check_attempt_failed(Faults *f, const json_t *attempt, const char *exc, int err, const char *what) {
        _cleanup_free_ char *a = json_describe(attempt);
        const char *got;

        if (!json_is_object(attempt)) {
                faults_add(f, "%s: no result in the cell's report", what);
                return false;
        }
        if (!json_is_false(json_object_get(attempt, "ok"))) {
                faults_add(f, "%s SUCCEEDED inside the sandbox: %s", what, a);
                return false;
        }
        got = json_object_get_string(attempt, "exc");
        if (!got || !alternative_matches(got, exc) ||
            (err != 0 && !(json_is_integer(json_object_get(attempt, "errno")) &&
                           json_integer_value(json_object_get(attempt, "errno")) == err))) {
                if (err != 0)
                        faults_add(f, "%s: want %s with errno %s (%d), got %s", what, exc, strerrorname_np(err), err, a);
                else
                        faults_add(f, "%s: want %s, got %s", what, exc, a);
                return false;
        }
        return true;
}

bool check_ccall_failed(Faults *f, const json_t *r, int err, const char *what) {
        _cleanup_free_ char *d = json_describe(r);

        if (json_is_object(r) && json_is_integer(json_object_get(r, "ret")) &&
            json_integer_value(json_object_get(r, "ret")) == -1 && json_integer_value(json_object_get(r, "errno")) == err)
                return true;
        if (json_is_object(r) && json_integer_value(json_object_get(r, "ret")) >= 0)
                faults_add(f, "%s SUCCEEDED inside the sandbox: %s", what, d);
        else
                faults_add(f, "%s: want -1 with errno %s (%d), got %s", what, strerrorname_np(err), err, d);
        return false;
}

bool check_child_ccall_failed(Faults *f, const json_t *r, int err, const char *what) {
        _cleanup_free_ char *d = json_describe(r);

        if (!json_is_object(r) || json_integer_value(json_object_get(r, "status")) != 0 ||
            !json_is_integer(json_object_get(r, "status"))) {
                faults_add(f, "%s: the probing child did not exit normally: %s", what, d);
                return false;
        }
        return check_ccall_failed(f, json_object_get(r, "result"), err, what);
}

bool check_state_in(Faults *f, const json_t *st, const char *states) {
        const char *s = json_object_get_string(st, "status");

        if (s && alternative_matches(s, states))
                return true;
        faults_add(f, "status \"%s\", want %s", s ?: "(none)", states);
        return false;
}

json_t *wait_running_output(const char *id, const char *stdout_part, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                json_t *st = get_status(id);
                const char *state = json_object_get_string(st, "status");
                _cleanup_free_ char *out = outputs_stream_text(json_object_get(st, "outputs"), "stdout"), *d = NULL;

                if (state && strcmp(state, "running") == 0 && strstr(out, stdout_part))
                        return st;
                d = json_describe(st);
                if (state_is_terminal(state)) {
                        json_decref(st);
                        ck_abort_msg("execution %s ended while we waited for it to run and print \"%s\": %s", id,
                                     stdout_part, d);
                }
                json_decref(st);
                ck_assert_msg(now_usec() < deadline, "execution %s not running with stdout \"%s\" after %" PRIu64 " s: %s",
                              id, stdout_part, timeout_usec / SEC, d);
                sleep_usec(50 * USEC_PER_MSEC);
        }
}

json_int_t report_int(const json_t *o, const char *key, const json_t *st) {
        json_t *v = json_object_get(o, key);

        if (!json_is_integer(v)) {
                _cleanup_free_ char *d = json_describe(st);
                ck_abort_msg("the cell's report lacks the integer \"%s\": %s", key, d);
        }
        return json_integer_value(v);
}

void assert_no_pyexec_units(uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                /* units_matching() lists the loaded units matching pyexec-* (all
                 * states) whose name contains the string given. */
                _cleanup_free_ char *units = units_matching("pyexec-");

                if (!*units)
                        return;
                ck_assert_msg(now_usec() < deadline, "pyexec-* units still loaded after %" PRIu64 " s: %s",
                              timeout_usec / SEC, units);
                sleep_usec(100 * USEC_PER_MSEC);
        }
}

static pid_t daemon_main_pid(void) {
        _cleanup_free_ char *v = unit_property("pyexecd.service", "MainPID");
        char *end;
        long p;

        errno = 0;
        p = strtol(v, &end, 10);
        ck_assert_msg(errno == 0 && *v && !*end, "MainPID of pyexecd.service is \"%s\"", v);
        return (pid_t) p;
}

pid_t health_begin(void) {
        pid_t pid;

        /* A hostile cell of an earlier, failed test may still be running;
         * every cell here has a timeout of at most 120 s. */
        assert_no_pyexec_units(130 * SEC);
        daemon_wait_ready(60 * SEC);
        pid = daemon_main_pid();
        ck_assert_msg(pid > 0, "pyexecd.service has no main process after POST /initialize");
        return pid;
}

void health_end(pid_t main_pid) {
        _cleanup_free_ char *id = NULL, *restarts = NULL, *active = NULL, *out = NULL;
        json_auto_t *st = NULL;
        uint64_t deadline = now_usec() + 15 * SEC;
        pid_t now;

        /* The queue answers and has nothing left of the hostile cell. */
        for (;;) {
                _cleanup_(http_response_freep) HttpResponse *r = http_get(API_BASE "/queue/status");
                _cleanup_free_ char *d = http_response_describe(r);

                ck_assert_msg(r->status == 200 && json_is_object(r->json), "GET /queue/status after the cell: %s", d);
                if (json_integer_value(json_object_get(r->json, "running")) == 0 &&
                    json_integer_value(json_object_get(r->json, "queued")) == 0 &&
                    json_is_integer(json_object_get(r->json, "running")))
                        break;
                ck_assert_msg(now_usec() < deadline, "queue not empty 15 s after the cell ended: %s", d);
                sleep_usec(100 * USEC_PER_MSEC);
        }

        /* It still runs code. */
        id = submit_code("print('still alive')\n", NULL);
        st = wait_terminal(id, 60 * SEC);
        out = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
        {
                _cleanup_free_ char *d = json_describe(st);
                ck_assert_msg(strcmp(json_object_get_string(st, "status") ?: "", "succeeded") == 0 &&
                                      strcmp(out, "still alive\n") == 0,
                              "a plain print() after the hostile cell did not succeed: %s", d);
        }

        /* Same process: it neither crashed nor was restarted. */
        now = daemon_main_pid();
        active = unit_property("pyexecd.service", "ActiveState");
        restarts = unit_property("pyexecd.service", "NRestarts");
        ck_assert_msg(strcmp(active, "active") == 0, "pyexecd.service is %s", active);
        ck_assert_msg(now == main_pid, "pyexecd's main process changed from %d to %d during the test", (int) main_pid,
                      (int) now);
        ck_assert_msg(strcmp(restarts, "0") == 0, "pyexecd.service NRestarts=%s", restarts);

        assert_no_pyexec_units(15 * SEC);
}

/* Calls @f for each numeric /proc entry until it returns true. */
static void foreach_pid(bool (*f)(pid_t pid, void *userdata), void *userdata) {
        DIR *d = opendir("/proc");
        struct dirent *de;

        ck_assert_msg(d, "opendir /proc: %m");
        while ((de = readdir(d))) {
                if (!isdigit((unsigned char) de->d_name[0]))
                        continue;
                if (f((pid_t) atoi(de->d_name), userdata))
                        break;
        }
        closedir(d);
}

/* Reads /proc/@pid/@name into @buf (NUL-terminated); false if the process is gone. */
static bool read_proc_file(pid_t pid, const char *name, char *buf, size_t size) {
        char path[64];
        ssize_t n;
        int fd;

        (void) snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, size - 1);
        (void) close(fd);
        if (n < 0)
                return false;
        buf[n] = 0;
        return true;
}

typedef struct ScopeScan {
        char needle[96];
        pid_t *pids;
        size_t n;
} ScopeScan;

static bool scope_scan_one(pid_t pid, void *userdata) {
        ScopeScan *s = userdata;
        char buf[4096];

        /* Lines "N:controllers:/pyexec.slice/pyexec-<id>.scope[/…]"; the id
         * (32 hex digits) makes the name unique. */
        if (!read_proc_file(pid, "cgroup", buf, sizeof buf) || !strstr(buf, s->needle))
                return false;
        s->pids = realloc(s->pids, (s->n + 1) * sizeof(pid_t));
        if (!s->pids)
                abort();
        s->pids[s->n++] = pid;
        return false;
}

size_t scope_pids(const char *id, pid_t **ret_pids) {
        ScopeScan s = {};

        (void) snprintf(s.needle, sizeof s.needle, "/pyexec-%s.scope", id);
        foreach_pid(scope_scan_one, &s);
        *ret_pids = s.pids;
        return s.n;
}

typedef struct UidScan {
        uid_t uid;
        size_t n;
} UidScan;

static bool uid_scan_one(pid_t pid, void *userdata) {
        UidScan *s = userdata;
        char buf[8192], *l;
        unsigned long u[4];

        if (!read_proc_file(pid, "status", buf, sizeof buf))
                return false;
        l = strstr(buf, "\nUid:");
        if (!l || sscanf(l + 5, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) != 4)
                return false;
        for (size_t i = 0; i < 4; i++)
                if (u[i] == (unsigned long) s->uid) {
                        s->n++;
                        break;
                }
        return false;
}

size_t processes_of_uid(uid_t uid) {
        UidScan s = { .uid = uid };

        foreach_pid(uid_scan_one, &s);
        return s.n;
}

pid_t scope_pid_with_file(const char *id, const char *path, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = scope_pids(id, &pids);

                for (size_t i = 0; i < n; i++) {
                        char p[PATH_MAX];
                        struct stat sb;

                        (void) snprintf(p, sizeof p, "/proc/%d/root%s", (int) pids[i], path);
                        if (stat(p, &sb) == 0)
                                return pids[i];
                }
                ck_assert_msg(now_usec() < deadline,
                              "no process of execution %s (%zu in its scope) sees %s in its file system", id, n, path);
                sleep_usec(50 * USEC_PER_MSEC);
        }
}

void create_file_in(pid_t pid, const char *path) {
        char p[PATH_MAX];
        int fd;

        (void) snprintf(p, sizeof p, "/proc/%d/root%s", (int) pid, path);
        fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        ck_assert_msg(fd >= 0, "creating %s: %m", p);
        (void) close(fd);
}

bool scope_cgroup_u64(const char *id, const char *controller, const char *file, uint64_t *ret) {
        char paths[2][PATH_MAX];

        /* The v1 hierarchy of @controller, or the unified one. */
        (void) snprintf(paths[0], sizeof paths[0], "/sys/fs/cgroup/%s/pyexec.slice/pyexec-%s.scope/%s", controller, id,
                        file);
        (void) snprintf(paths[1], sizeof paths[1], "/sys/fs/cgroup/pyexec.slice/pyexec-%s.scope/%s", id, file);
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                unsigned long long v;
                char buf[64];
                FILE *f;
                bool ok;

                f = fopen(paths[i], "re");
                if (!f)
                        continue;
                ok = fgets(buf, sizeof buf, f) && sscanf(buf, "%llu", &v) == 1;
                fclose(f);
                if (ok) {
                        *ret = v;
                        return true;
                }
        }
        return false;
}

void assert_null_member(const json_t *st, const char *key) {
        json_t *v = json_object_get(st, key);
        _cleanup_free_ char *d = NULL;

        if (v && json_is_null(v))
                return;
        d = json_describe(st);
        ck_abort_msg("\"%s\" should be null: %s", key, d);
}

void assert_state_in(const json_t *st, const char *states) {
        const char *s = json_object_get_string(st, "status");
        _cleanup_free_ char *d = NULL;

        if (s && alternative_matches(s, states))
                return;
        d = json_describe(st);
        ck_abort_msg("status \"%s\", want %s: %s", s ?: "(none)", states, d);
}

void assert_string_member(const json_t *st, const char *key, const char *want) {
        const char *s = json_object_get_string(st, key);
        _cleanup_free_ char *d = NULL;

        if (s && strcmp(s, want) == 0)
                return;
        d = json_describe(st);
        ck_abort_msg("\"%s\" is %s%s%s, want \"%s\": %s", key, s ? "\"" : "", s ?: "not a string", s ? "\"" : "",
                     want, d);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The escape test suite: hostile cells submitted through the HTTP API of
 * the real, socket-activated pyexecd in the testbed, each trying one way out
 * of the sandbox (issue 3, notes/systemd-sandbox-facts.md §5.3–5.6), with
 * an assertion on what must happen instead. The cells report what they saw
 * as JSON lines (escape-util.h); the test also looks from the testbed's side
 * (it sees every process of the testbed, the cells' too): nothing of an
 * execution may be left after it, and after every test the daemon is the
 * same process, answers, and still runs code.
 *
 * The syscall numbers are x86_64's: the suite refuses to run elsewhere
 * rather than skip (this project's CI is x86_64).
 */

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "case-check.h"
#include "escape-util.h"

/* The configuration every test runs with: two executions must run at once
 * (the cross-execution tests), whatever the number of CPUs. */
#define ESCAPE_DROPIN_NAME "test-escape"
#define ESCAPE_DROPIN "[Queue]\nMaxConcurrent=4\n"

/* DESIGN.md's default FileSizeMax. */
#define FILE_SIZE_MAX_DEFAULT (UINT64_C(16) << 20)

/* Helpers */

static void escape_setup(void) {
        _cleanup_free_ char *path = strprintf(DROPIN_DIR "/" ESCAPE_DROPIN_NAME ".conf");
        char buf[256] = {};
        FILE *f;

        /* Once per testbed: the first test installs the drop-in and restarts. */
        f = fopen(path, "re");
        if (f) {
                size_t n = fread(buf, 1, sizeof buf - 1, f);
                buf[n] = 0;
                fclose(f);
                if (strcmp(buf, ESCAPE_DROPIN) == 0)
                        return;
        }
        dropin_write(ESCAPE_DROPIN_NAME, ESCAPE_DROPIN);
        systemctl_ok("restart", "pyexecd.service");
        daemon_wait_ready(60 * SEC);
}

static json_t *limits_of(json_int_t timeout_sec, json_int_t memory_max, json_int_t tasks_max) {
        json_t *l = json_object();

        ck_assert(l);
        if (timeout_sec > 0)
                ck_assert(json_object_set_new(l, "timeout_sec", json_integer(timeout_sec)) == 0);
        if (memory_max > 0)
                ck_assert(json_object_set_new(l, "memory_max", json_integer(memory_max)) == 0);
        if (tasks_max > 0)
                ck_assert(json_object_set_new(l, "tasks_max", json_integer(tasks_max)) == 0);
        return l;
}

/* Submits the prelude + @body with @limits (may be NULL); returns the id. */
static char *submit_cell(const char *body, const json_t *limits) {
        _cleanup_free_ char *code = cell_code(body);

        return submit_code(code, limits);
}

/* submit_cell() and wait for the end (at most @wait_s). */
static json_t *run_cell(const char *body, const json_t *limits, unsigned wait_s, char **ret_id) {
        _cleanup_free_ char *id = submit_cell(body, limits);
        json_t *st = wait_terminal(id, wait_s * SEC);

        if (ret_id)
                *ret_id = TAKE_PTR(id);
        return st;
}

static const json_t *member(const json_t *o, const char *key) {
        return json_object_get(o, key);
}

/* The cell's report, or an empty object and a fault when it printed none (e.g. killed first). */
static json_t *report_or_fault(Faults *f, const json_t *st) {
        json_t *r = cell_report_maybe(st);

        if (r)
                return r;
        faults_add(f, "the cell printed no report line");
        r = json_object();
        ck_assert(r);
        return r;
}

/* Waits until neither a unit nor a process of execution @id is left, and none of @uid (unless 0). */
static void assert_nothing_left(const char *id, uid_t uid, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                _cleanup_free_ char *units = units_matching(id);
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = scope_pids(id, &pids), nu = uid != 0 ? processes_of_uid(uid) : 0;

                if (!*units && n == 0 && nu == 0)
                        return;
                ck_assert_msg(now_usec() < deadline,
                              "execution %s left something behind %" PRIu64 " s after its end: units \"%s\", "
                              "%zu process(es) in its scope (first %d), %zu process(es) of its uid %u",
                              id, timeout_usec / SEC, units, n, n > 0 ? (int) pids[0] : 0, nu, (unsigned) uid);
                sleep_usec(100 * USEC_PER_MSEC);
        }
}

/* The pid, as the testbed sees it, of the process of execution @id whose own PID namespace calls it @ns_pid. */
static pid_t scope_pid_by_ns_pid(const char *id, pid_t ns_pid, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = scope_pids(id, &pids);

                for (size_t i = 0; i < n; i++) {
                        char path[64], buf[8192], *l;
                        FILE *f;
                        size_t k;

                        (void) snprintf(path, sizeof path, "/proc/%d/status", (int) pids[i]);
                        f = fopen(path, "re");
                        if (!f)
                                continue;
                        k = fread(buf, 1, sizeof buf - 1, f);
                        fclose(f);
                        buf[k] = 0;
                        l = strstr(buf, "\nNSpid:");
                        if (!l)
                                continue;
                        l += strlen("\nNSpid:");
                        {
                                /* The last field is the pid in its innermost namespace. */
                                char *end = l + strcspn(l, "\n"), *last = NULL;
                                int fields = 0;

                                *end = 0;
                                for (char *t = strtok(l, " \t"); t; t = strtok(NULL, " \t")) {
                                        last = t;
                                        fields++;
                                }
                                if (fields >= 2 && last && atoi(last) == (int) ns_pid)
                                        return pids[i];
                        }
                }
                ck_assert_msg(now_usec() < deadline, "no process of execution %s has pid %d in a PID namespace of its own",
                              id, (int) ns_pid);
                sleep_usec(50 * USEC_PER_MSEC);
        }
}

static void assert_x86_64(void) {
        struct utsname u;

        ck_assert(uname(&u) == 0);
        ck_assert_msg(strcmp(u.machine, "x86_64") == 0,
                      "the escape tests use x86_64 syscall numbers and must run on x86_64, not %s", u.machine);
}

/* Resources: processes, memory, files, threads, the stack */

/*
 * `while True: os.fork()` (children too): it must hit the scope's TasksMax,
 * end failed or timeout, never stop the daemon from answering, and leave
 * nothing behind.
 */
START_TEST(test_fork_bomb) {
        pid_t main_pid = health_begin();
        json_auto_t *limits = limits_of(10, 0, 32), *st = NULL, *rep = NULL;
        _cleanup_free_ char *id = NULL, *d = NULL;
        uint64_t max_current = 0, v, deadline;
        unsigned answers_during = 0;
        uid_t uid;

        /* The bomb is safe only under a pids controller; say so rather than melt the host. */
        ck_assert_msg(access("/sys/fs/cgroup/pids", F_OK) == 0 || access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0,
                      "no pids cgroup controller in the testbed: refusing to run a fork bomb");

        id = submit_cell("import os, time\n"
                         "report(uid=os.getuid(), pid=os.getpid())\n"
                         "while True:\n"
                         "    try:\n"
                         "        os.fork()\n"
                         "    except OSError:\n"
                         "        time.sleep(0.001)\n",
                         limits);

        {
                json_auto_t *running = wait_running_output(id, REPORT_PREFIX, 30 * SEC);
                json_auto_t *r = cell_report(running);
                uid = (uid_t) report_int(r, "uid", running);
        }

        /* While it runs: the daemon answers, and the bomb is there but bounded. */
        deadline = now_usec() + 60 * SEC;
        for (;;) {
                _cleanup_(http_response_freep) HttpResponse *q = NULL;
                json_auto_t *before = get_status(id), *after = NULL;
                bool running_before = strcmp(json_object_get_string(before, "status") ?: "", "running") == 0;

                if (scope_cgroup_u64(id, "pids", "pids.current", &v))
                        max_current = MAX(max_current, v);

                q = http_get(API_BASE "/queue/status");
                {
                        _cleanup_free_ char *dq = http_response_describe(q);
                        ck_assert_msg(q->status == 200 && json_is_object(q->json),
                                      "GET /queue/status during the fork bomb: %s", dq);
                }
                after = get_status(id);
                if (running_before && strcmp(json_object_get_string(after, "status") ?: "", "running") == 0) {
                        _cleanup_free_ char *dq = http_response_describe(q);

                        ck_assert_msg(json_integer_value(json_object_get(q->json, "running")) >= 1,
                                      "/queue/status says nothing runs during the fork bomb: %s", dq);
                        answers_during++;
                }
                if (state_is_terminal(json_object_get_string(after, "status")))
                        break;
                ck_assert_msg(now_usec() < deadline, "the fork bomb still runs 60 s later (timeout_sec 10)");
                sleep_usec(200 * USEC_PER_MSEC);
        }

        st = wait_terminal(id, 10 * SEC);
        d = json_describe(st);
        ck_assert_msg(answers_during >= 2, "only %u /queue/status answers while the bomb ran: %s", answers_during, d);
        ck_assert_msg(max_current >= 8, "the bomb never had 8 tasks (max pids.current seen %" PRIu64 "): %s",
                      max_current, d);
        ck_assert_msg(max_current <= 32, "pids.current %" PRIu64 " above tasks_max 32: %s", max_current, d);
        assert_state_in(st, "failed|timeout");
        if (strcmp(json_object_get_string(st, "status"), "timeout") == 0) {
                assert_string_member(st, "signal", "SIGKILL");
                assert_null_member(st, "exit_code");
        }
        rep = cell_report(st);
        ck_assert_msg(report_int(rep, "uid", st) == (json_int_t) uid, "uid changed: %s", d);

        assert_nothing_left(id, uid, 10 * SEC);
        health_end(main_pid);
}
END_TEST

/* os.setsid() + double fork + sleep past the timeout: nothing survives. */
START_TEST(test_setsid_double_fork) {
        pid_t main_pid = health_begin();
        _cleanup_free_ char *hex = random_hex(16), *marker = NULL, *body = NULL, *id = NULL, *d = NULL;
        json_auto_t *limits = limits_of(4, 0, 0), *running = NULL, *rep = NULL, *st = NULL;
        uint64_t deadline;
        uid_t uid;

        /* The grandchild re-executes itself with an argument we find in /proc. */
        marker = strprintf("pyexecd-escape-marker-%s", hex);
        body = strprintf("import os, sys, time\n"
                         "report(uid=os.getuid())\n"
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
        id = submit_cell(body, limits);
        running = wait_running_output(id, "forked\n", 30 * SEC);
        rep = cell_report(running);
        uid = (uid_t) report_int(rep, "uid", running);

        /* The check below can fail: the detached grandchild is there now. */
        deadline = now_usec() + 10 * SEC;
        while (!process_with_arg_exists(marker)) {
                ck_assert_msg(now_usec() < deadline, "the setsid'd grandchild (%s) never showed up in /proc", marker);
                sleep_usec(50 * USEC_PER_MSEC);
        }

        st = wait_terminal(id, 30 * SEC);
        d = json_describe(st);
        assert_state_in(st, "timeout");
        assert_string_member(st, "signal", "SIGKILL");
        assert_null_member(st, "exit_code");

        deadline = now_usec() + 5 * SEC;
        while (process_with_arg_exists(marker)) {
                ck_assert_msg(now_usec() < deadline, "the setsid'd grandchild (%s) survived the execution's end: %s",
                              marker, d);
                sleep_usec(50 * USEC_PER_MSEC);
        }
        assert_nothing_left(id, uid, 5 * SEC);
        health_end(main_pid);
}
END_TEST

/* Allocating ten times MemoryMax: killed by the memory limit, reported as oom. */
START_TEST(test_memory_10x) {
        pid_t main_pid = health_begin();
        const json_int_t memory_max = 64 << 20;
        json_auto_t *limits = limits_of(60, memory_max, 0), *st = NULL;
        _cleanup_free_ char *id = NULL, *d = NULL, *out = NULL;
        json_int_t peak;

        st = run_cell("chunks = []\n"
                      "for i in range(1, 41):\n" /* 40 × 16 MiB = 640 MiB = 10 × 64 MiB */
                      "    chunks.append(bytearray(16 << 20))\n"
                      "    chunks[-1][::4096] = b'x' * ((16 << 20) // 4096)\n"
                      "    print(f'{i * 16} MiB', flush=True)\n"
                      "print('unreachable')\n",
                      limits, 90, &id);
        d = json_describe(st);
        assert_state_in(st, "oom");
        assert_string_member(st, "signal", "SIGKILL");
        assert_null_member(st, "exit_code");
        out = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
        ck_assert_msg(strstr(out, "16 MiB\n") && !strstr(out, "unreachable") && !strstr(out, "640 MiB"),
                      "stdout should show the allocation up to the kill: %s", d);
        peak = json_integer_value(json_object_get(json_object_get(st, "resources"), "memory_peak_bytes"));
        ck_assert_msg(peak > 0 && peak <= memory_max, "memory_peak_bytes not in (0, memory_max]: %s", d);
        assert_nothing_left(id, 0, 5 * SEC);
        health_end(main_pid);
}
END_TEST

/* A file bigger than FileSizeMax (default 16 MiB): EFBIG at exactly that size. */
START_TEST(test_file_size_max) {
        pid_t main_pid = health_begin();
        json_auto_t *st = NULL, *rep = NULL;
        _cleanup_free_ char *out = NULL;
        Faults f = {};

        st = run_cell("fd = _os.open('/tmp/escape-big', _os.O_WRONLY | _os.O_CREAT | _os.O_TRUNC, 0o600)\n"
                      "chunk = b'x' * (1 << 20)\n"
                      "written = 0\n"
                      "err = None\n"
                      "try:\n"
                      "    for i in range(64):\n"
                      "        written += _os.write(fd, chunk)\n"
                      "except OSError as e:\n"
                      "    err = _failure(e)\n"
                      "    print(repr(e))\n"
                      "report(err=err, written=written, size=_os.fstat(fd).st_size)\n",
                      NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);
        check_attempt_failed(&f, member(rep, "err"), "OSError", EFBIG, "writing 64 MiB with FileSizeMax=16M");
        if (json_integer_value(member(rep, "size")) != (json_int_t) FILE_SIZE_MAX_DEFAULT ||
            json_integer_value(member(rep, "written")) != (json_int_t) FILE_SIZE_MAX_DEFAULT)
                faults_add(&f, "the file should stop at exactly FileSizeMax (16 MiB): size %lld, written %lld",
                           (long long) json_integer_value(member(rep, "size")),
                           (long long) json_integer_value(member(rep, "written")));
        out = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
        if (!strstr(out, "[Errno 27] File too large"))
                faults_add(&f, "the cell should print the EFBIG error");
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* Filling /tmp: ENOSPC inside (not an OOM kill), the testbed's /tmp untouched. */
START_TEST(test_fill_tmp) {
        pid_t main_pid = health_begin();
        _cleanup_free_ char *hex = random_hex(16), *body = NULL, *leak = NULL;
        json_auto_t *st = NULL, *rep = NULL;
        struct statvfs before, after;
        uint64_t used_before, used_after;
        Faults f = {};

        ck_assert_msg(statvfs("/tmp", &before) == 0, "statvfs /tmp: %m");
        body = strprintf("chunk = b'y' * (1 << 20)\n"
                         "total = 0\n"
                         "n = 0\n"
                         "err = None\n"
                         "try:\n"
                         /* Files of 8 MiB stay below FileSizeMax; 8 GiB is a bound should nothing stop it. */
                         "    while total < (8 << 30):\n"
                         "        with open('/tmp/escape-fill-%s-%%d' %% n, 'wb', buffering=0) as f:\n"
                         "            for i in range(8):\n"
                         "                total += f.write(chunk)\n"
                         "        n += 1\n"
                         "except OSError as e:\n"
                         "    err = _failure(e)\n"
                         "    print(repr(e))\n"
                         "report(err=err, total=total, files=n)\n",
                         hex);
        st = run_cell(body, NULL, 90, NULL);
        /* A /tmp as big as MemoryMax would end in an OOM kill instead. */
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);
        check_attempt_failed(&f, member(rep, "err"), "OSError", ENOSPC, "filling /tmp");
        if (json_integer_value(member(rep, "total")) <= 0)
                faults_add(&f, "nothing was written to /tmp");

        /* The cell's /tmp was its own. */
        ck_assert_msg(statvfs("/tmp", &after) == 0, "statvfs /tmp: %m");
        used_before = (uint64_t) (before.f_blocks - before.f_bfree) * before.f_frsize;
        used_after = (uint64_t) (after.f_blocks - after.f_bfree) * after.f_frsize;
        if (used_after >= used_before + (UINT64_C(1) << 20))
                faults_add(&f, "the testbed's /tmp grew from %" PRIu64 " to %" PRIu64 " bytes used", used_before,
                           used_after);
        leak = strprintf("/tmp/escape-fill-%s-0", hex);
        if (access(leak, F_OK) == 0)
                faults_add(&f, "%s is in the testbed's /tmp", leak);
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* 10,000 threads: RuntimeError caught inside at about TasksMax. */
START_TEST(test_threads) {
        pid_t main_pid = health_begin();
        const json_int_t tasks_max = 48;
        json_auto_t *limits = limits_of(60, 0, tasks_max), *st = NULL, *rep = NULL;
        json_int_t started;
        const json_t *err;
        Faults f = {};

        st = run_cell("import threading\n"
                      "ev = threading.Event()\n"
                      "ts = []\n"
                      "err = None\n"
                      "try:\n"
                      "    for i in range(10000):\n"
                      "        t = threading.Thread(target=ev.wait, daemon=True)\n"
                      "        t.start()\n"
                      "        ts.append(t)\n"
                      "except RuntimeError as e:\n"
                      "    err = _failure(e)\n"
                      "    print(repr(e))\n"
                      "ev.set()\n"
                      "for t in ts:\n"
                      "    t.join()\n"
                      "report(started=len(ts), err=err)\n",
                      limits, 90, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);
        err = member(rep, "err");
        if (check_attempt_failed(&f, err, "RuntimeError", 0, "starting 10,000 threads") &&
            strcmp(json_object_get_string(err, "msg") ?: "", "can't start new thread") != 0)
                faults_add(&f, "want RuntimeError(\"can't start new thread\")");
        started = json_integer_value(member(rep, "started"));
        /* The scope's supervisor, the sandbox init and the main thread count too. */
        if (started < 16 || started >= tasks_max)
                faults_add(&f, "%lld threads started, want some (>= 16), and fewer than tasks_max %lld",
                           (long long) started, (long long) tasks_max);
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* Infinite recursion: one clean RecursionError item, small outputs. */
START_TEST(test_recursion) {
        pid_t main_pid = health_begin();
        _cleanup_free_ char *id = submit_code("def f(n):\n    return f(n + 1)\n\nf(0)\n", NULL), *d = NULL;
        json_auto_t *st = wait_terminal(id, 60 * SEC);
        json_t *outs = json_object_get(st, "outputs"), *e;
        size_t size;

        d = json_describe(st);
        assert_state_in(st, "failed");
        assert_null_member(st, "signal");
        ck_assert_msg(json_array_size(outs) == 1, "want exactly one output item: %s", d);
        e = json_array_get(outs, 0);
        ck_assert_msg(strcmp(json_object_get_string(e, "output_type") ?: "", "error") == 0 &&
                              strcmp(json_object_get_string(e, "ename") ?: "", "RecursionError") == 0,
                      "want one RecursionError item: %s", d);
        size = python_json_dumps_size(outs);
        ck_assert_msg(size < 20000, "outputs are %zu bytes of JSON, want < 20000: %s", size, d);
        health_end(main_pid);
}
END_TEST

/* Ends of its own making */

START_TEST(test_exit_3) {
        pid_t main_pid = health_begin();
        _cleanup_free_ char *id = submit_code("import os\nprint('bye', flush=True)\nos._exit(3)\n", NULL), *d = NULL;
        json_auto_t *st = wait_terminal(id, 60 * SEC);

        d = json_describe(st);
        assert_state_in(st, "failed");
        ck_assert_msg(json_is_integer(json_object_get(st, "exit_code")) &&
                              json_integer_value(json_object_get(st, "exit_code")) == 3,
                      "exit_code should be 3: %s", d);
        assert_null_member(st, "signal");
        health_end(main_pid);
}
END_TEST

START_TEST(test_sigkill_self) {
        pid_t main_pid = health_begin();
        _cleanup_free_ char *id = NULL, *d = NULL, *out = NULL;
        json_auto_t *st = NULL;

        id = submit_code("import os, signal\n"
                         "print('before', flush=True)\n"
                         "os.kill(os.getpid(), signal.SIGKILL)\n"
                         "print('after')\n",
                         NULL);
        st = wait_terminal(id, 60 * SEC);
        d = json_describe(st);
        assert_state_in(st, "failed");
        assert_string_member(st, "signal", "SIGKILL");
        assert_null_member(st, "exit_code");
        out = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
        ck_assert_msg(strcmp(out, "before\n") == 0, "stdout should be \"before\\n\": %s", d);
        health_end(main_pid);
}
END_TEST

/* Network */

/* An error that says no route, no family or no permission, not "refused" by a reachable peer. */
static bool errno_is_no_network(json_int_t e) {
        return e == EPERM || e == EACCES || e == EAFNOSUPPORT || e == ENETUNREACH;
}

START_TEST(test_network) {
        pid_t main_pid = health_begin();
        static const char *const tcp[] = { "redis", "http", "redis6" };
        static const char *const families[] = { "udp", "netlink" };
        json_auto_t *st = NULL, *rep = NULL;
        const json_t *ifs;
        Faults f = {};

        /* Redis does listen there: a cell that reached it would connect. */
        {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(6379) };
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

                ck_assert(inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr) == 1);
                ck_assert_msg(fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0,
                              "Redis does not answer on 127.0.0.1:6379 in the testbed: %m");
                (void) close(fd);
        }

        st = run_cell("import socket\n"
                      "def tcp(host, port, fam=socket.AF_INET):\n"
                      "    s = socket.socket(fam, socket.SOCK_STREAM)\n"
                      "    try:\n"
                      "        s.settimeout(5)\n"
                      "        s.connect((host, port))\n"
                      "        return 'connected'\n"
                      "    finally:\n"
                      "        s.close()\n"
                      "r = {}\n"
                      "r['redis'] = attempt(tcp, '127.0.0.1', 6379)\n"
                      "r['http'] = attempt(tcp, '127.0.0.1', 80)\n"
                      "r['redis6'] = attempt(tcp, '::1', 6379, socket.AF_INET6)\n"
                      "r['udp'] = attempt(socket.socket, socket.AF_INET, socket.SOCK_DGRAM)\n"
                      "r['netlink'] = attempt(socket.socket, socket.AF_NETLINK, socket.SOCK_RAW, 0)\n"
                      "try:\n"
                      "    r['ifs'] = {'ok': True, 'names': [n for _, n in socket.if_nameindex()]}\n"
                      "except OSError as e:\n"
                      "    r['ifs'] = _failure(e)\n"
                      "r['pair'] = attempt(socket.socketpair)\n"
                      "for k in ('redis', 'http', 'redis6', 'udp', 'netlink'):\n"
                      "    print(k, r[k].get('exc'), r[k].get('msg'))\n"
                      "report(**r)\n",
                      NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);

        for (size_t i = 0; i < ELEMENTSOF(tcp); i++) {
                const json_t *a = member(rep, tcp[i]);
                _cleanup_free_ char *da = json_describe(a);

                if (!json_is_false(member(a, "ok")))
                        faults_add(&f, "TCP %s: CONNECTED from inside the sandbox: %s", tcp[i], da);
                else if (!errno_is_no_network(json_integer_value(member(a, "errno"))))
                        faults_add(&f, "TCP %s: want PermissionError or errno EAFNOSUPPORT/ENETUNREACH, got %s", tcp[i],
                                   da);
        }
        /* Families other than AF_UNIX are refused outright. */
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                const json_t *a = member(rep, families[i]);
                _cleanup_free_ char *da = json_describe(a);
                json_int_t e = json_integer_value(member(a, "errno"));

                if (!json_is_false(member(a, "ok")) || (e != EAFNOSUPPORT && e != EPERM))
                        faults_add(&f, "socket(%s) should fail with EAFNOSUPPORT or EPERM: %s",
                                   i == 0 ? "AF_INET, SOCK_DGRAM" : "AF_NETLINK", da);
        }
        ifs = member(rep, "ifs");
        if (json_is_true(member(ifs, "ok"))) {
                _cleanup_free_ char *di = json_describe(ifs);
                size_t i;
                json_t *n;

                json_array_foreach(member(ifs, "names"), i, n)
                        if (strcmp(json_string_value(n) ?: "", "lo") != 0)
                                faults_add(&f, "if_nameindex() shows an interface other than lo: %s", di);
        } else if (!json_is_string(member(ifs, "exc")))
                faults_add(&f, "if_nameindex() gave no answer");
        /* What must keep working. */
        if (!json_is_true(member(member(rep, "pair"), "ok")))
                faults_add(&f, "AF_UNIX socketpair() fails");
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* Files: secrets, the daemon's sockets, the host's homes, a read-only root */

START_TEST(test_filesystem) {
        pid_t main_pid = health_begin();
        static const char *const hidden[] = { "ls:/root",  "ls:/home", "ls:/run", "ls:/var/lib/redis", "ls:/var/run",
                                              "stat:/run/pyexecd/http.sock", "connect:/run/pyexecd/http.sock",
                                              "stat:/run/dbus/system_bus_socket",
                                              "connect:/run/dbus/system_bus_socket" };
        static const char *const readonly[] = { "write:/usr", "write:/etc" };
        _cleanup_free_ char *hex = random_hex(16), *body = NULL;
        json_auto_t *st = NULL, *rep = NULL;
        Faults f = {};

        body = strprintf("import socket\n"
                         "def read(p):\n"
                         "    with open(p, 'rb') as f:\n"
                         "        return len(f.read())\n"
                         "def unix(p):\n"
                         "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
                         "    try:\n"
                         "        s.connect(p)\n"
                         "        return 'connected'\n"
                         "    finally:\n"
                         "        s.close()\n"
                         "def write(d):\n"
                         "    p = d + '/escape-%s'\n"
                         "    with open(p, 'x') as f:\n"
                         "        f.write('x')\n"
                         "    _os.unlink(p)\n"
                         "    return 'written'\n"
                         "r = {'shadow': attempt(read, '/etc/shadow')}\n"
                         "for p in ('/root', '/home', '/run', '/var/lib/redis', '/var/run'):\n"
                         "    r['ls:' + p] = attempt(lambda: len(_os.listdir(p)))\n"
                         "for p in ('/run/pyexecd/http.sock', '/run/dbus/system_bus_socket'):\n"
                         "    r['stat:' + p] = attempt(lambda: _os.stat(p).st_mode)\n"
                         "    r['connect:' + p] = attempt(unix, p)\n"
                         "for p in ('/usr', '/etc'):\n"
                         "    r['write:' + p] = attempt(write, p)\n"
                         "report(**r)\n",
                         hex);
        st = run_cell(body, NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);

        /* EACCES as in §5.6; a minimal /etc without the file hides it too. */
        check_attempt_failed(&f, member(rep, "shadow"), "PermissionError|FileNotFoundError", 0, "reading /etc/shadow");
        for (size_t i = 0; i < ELEMENTSOF(hidden); i++)
                check_attempt_failed(&f, member(rep, hidden[i]), "FileNotFoundError", ENOENT, hidden[i]);
        for (size_t i = 0; i < ELEMENTSOF(readonly); i++) {
                const json_t *a = member(rep, readonly[i]);
                _cleanup_free_ char *da = json_describe(a);
                json_int_t e = json_integer_value(member(a, "errno"));

                if (!json_is_false(member(a, "ok")) || (e != EROFS && e != EACCES))
                        faults_add(&f, "%s: want EROFS (or EACCES), got %s", readonly[i], da);
        }
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* /proc: only the cell's own processes; not the testbed's PID 1. */
START_TEST(test_proc) {
        pid_t main_pid = health_begin();
        json_auto_t *st = NULL, *rep = NULL;
        char host_env[8192];
        const json_t *env, *pids;
        json_int_t me;
        bool seen_me = false;
        ssize_t n;
        size_t i;
        json_t *p;
        Faults f = {};
        int fd;

        /* The testbed's PID 1 environment, which the cell must not see. */
        fd = open("/proc/1/environ", O_RDONLY | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "open /proc/1/environ: %m");
        n = read(fd, host_env, sizeof host_env - 1);
        (void) close(fd);
        ck_assert(n > 0);
        host_env[n] = 0;
        ck_assert_msg(memmem(host_env, (size_t) n, "container=", 10),
                      "the testbed's PID 1 has no container= variable: nothing to look for");

        st = run_cell("pids = sorted(int(p) for p in _os.listdir('/proc') if p.isdigit())\n"
                      "def env():\n"
                      "    with open('/proc/1/environ', 'rb') as f:\n"
                      "        return f.read().decode('latin-1').split('\\0')\n"
                      "try:\n"
                      "    e = {'ok': True, 'vars': env()}\n"
                      "except OSError as ex:\n"
                      "    e = _failure(ex)\n"
                      "report(pids=pids, me=_os.getpid(), environ=e)\n",
                      NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);

        env = member(rep, "environ");
        if (json_is_true(member(env, "ok"))) {
                /* Then it must be the sandbox's own init, without a trace of the testbed. */
                json_array_foreach(member(env, "vars"), i, p) {
                        const char *v = json_string_value(p) ?: "";

                        if (strncmp(v, "container=", 10) == 0 || strncmp(v, "SYSTEMD_", 8) == 0)
                                faults_add(&f, "/proc/1/environ inside shows the testbed's PID 1 (%s)", v);
                }
        } else
                check_attempt_failed(&f, env, "FileNotFoundError|PermissionError", 0, "reading /proc/1/environ");

        me = json_integer_value(member(rep, "me"));
        pids = member(rep, "pids");
        json_array_foreach(pids, i, p) {
                json_int_t v = json_integer_value(p);

                seen_me = seen_me || v == me;
                if (v != me && v != 1) {
                        faults_add(&f, "/proc inside lists pid %lld, which is not the cell's own (%lld), and %zu pids in all",
                                   (long long) v, (long long) me, json_array_size(pids));
                        break;
                }
        }
        if (!seen_me)
                faults_add(&f, "/proc inside does not list the cell's own pid %lld", (long long) me);
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* TIOCSTI and the devices: no terminal to push input into, a minimal /dev. */
START_TEST(test_tiocsti_dev) {
        pid_t main_pid = health_begin();
        static const char *const required[] = { "null", "zero", "full", "random", "urandom" };
        /* Besides those: the /proc/self/fd links and a private shm / mqueue. */
        static const char *const allowed[] = { "null", "zero",  "full",   "random", "urandom", "fd",
                                               "stdin", "stdout", "stderr", "shm",    "mqueue" };
        json_auto_t *st = NULL, *rep = NULL;
        const json_t *ti, *dev;
        json_int_t e;
        size_t i;
        json_t *n;
        Faults f = {};

        st = run_cell("import fcntl, termios\n"
                      "def opentty():\n"
                      "    fd = _os.open('/dev/tty', _os.O_RDWR | _os.O_NOCTTY)\n"
                      "    _os.close(fd)\n"
                      "    return 'opened'\n"
                      "report(tiocsti=attempt(fcntl.ioctl, 0, termios.TIOCSTI, b'x'),\n"
                      "       tty=attempt(opentty), dev=sorted(_os.listdir('/dev')))\n",
                      NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);

        ti = member(rep, "tiocsti");
        e = json_integer_value(member(ti, "errno"));
        if (!json_is_false(member(ti, "ok")) || (e != EPERM && e != ENOTTY)) {
                _cleanup_free_ char *dt = json_describe(ti);
                faults_add(&f, "ioctl(0, TIOCSTI): want EPERM (or ENOTTY, fd 0 being no tty), got %s", dt);
        }
        /* ENOTTY is only fine without any terminal to reach: no /dev/tty. */
        check_attempt_failed(&f, member(rep, "tty"), "FileNotFoundError", ENOENT, "opening /dev/tty");

        dev = member(rep, "dev");
        for (size_t k = 0; k < ELEMENTSOF(required); k++) {
                bool found = false;

                json_array_foreach(dev, i, n)
                        found = found || strcmp(json_string_value(n) ?: "", required[k]) == 0;
                if (!found)
                        faults_add(&f, "/dev inside lacks %s", required[k]);
        }
        json_array_foreach(dev, i, n) {
                bool ok = false;

                for (size_t k = 0; k < ELEMENTSOF(allowed); k++)
                        ok = ok || strcmp(json_string_value(n) ?: "", allowed[k]) == 0;
                if (!ok)
                        faults_add(&f, "/dev inside has /dev/%s, which a minimal tty-less /dev does not",
                                   json_string_value(n) ?: "?");
        }
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* Identity */

START_TEST(test_hostname) {
        pid_t main_pid = health_begin();
        char before[256] = {}, after[256] = {};
        json_auto_t *st = NULL, *rep = NULL;
        Faults f = {};

        ck_assert(gethostname(before, sizeof before - 1) == 0);
        st = run_cell("import socket\n"
                      "b = socket.gethostname()\n"
                      "s = attempt(socket.sethostname, 'evil')\n"
                      "dn = ccall(libc.setdomainname, b'evil', 4)\n"
                      "report(before=b, set=s, setdomainname=dn, after=socket.gethostname())\n",
                      NULL, 60, NULL);
        ck_assert(gethostname(after, sizeof after - 1) == 0);
        if (strcmp(before, after) != 0) {
                /* Put the testbed right for the tests that follow. */
                (void) sethostname(before, strlen(before));
                faults_add(&f, "the cell changed the testbed's hostname from \"%s\" to \"%s\"", before, after);
        }
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);
        check_attempt_failed(&f, member(rep, "set"), "PermissionError", EPERM, "sethostname(\"evil\")");
        check_ccall_failed(&f, member(rep, "setdomainname"), EPERM, "setdomainname(\"evil\")");
        if (strcmp(json_object_get_string(rep, "before") ?: "", "pyexec") != 0 ||
            strcmp(json_object_get_string(rep, "after") ?: "", "pyexec") != 0)
                faults_add(&f, "the hostname inside should be \"pyexec\" before and after: \"%s\", \"%s\"",
                           json_object_get_string(rep, "before") ?: "?", json_object_get_string(rep, "after") ?: "?");
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* The Seccomp_filters count of /proc/@pid/status, or -1. */
static long long seccomp_filters_of(pid_t pid) {
        char path[64], buf[8192], *l;
        FILE *f;
        size_t k;

        (void) snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        l = strstr(buf, "\nSeccomp_filters:");
        return l ? atoll(l + strlen("\nSeccomp_filters:")) : -1;
}

/* Own unprivileged uid, no groups, no capabilities, no new privileges, a seccomp filter of its own. */
START_TEST(test_privileges) {
        pid_t main_pid = health_begin();
        static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
        json_auto_t *st = NULL, *rep = NULL;
        const json_t *status;
        json_int_t uid, gid;
        long long filters, daemon_filters;
        struct passwd *pw;
        Faults f = {};

        st = run_cell("status = {}\n"
                      "for line in open('/proc/self/status'):\n"
                      "    key, _, value = line.partition(':')\n"
                      "    status[key] = value.strip()\n"
                      "report(uid=_os.getuid(), gid=_os.getgid(), resuid=list(_os.getresuid()),\n"
                      "       resgid=list(_os.getresgid()), groups=_os.getgroups(), status=status,\n"
                      "       setuid=attempt(_os.setuid, 0), setgid=attempt(_os.setgid, 0),\n"
                      "       setgroups=attempt(_os.setgroups, [0]))\n",
                      NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);

        uid = json_integer_value(member(rep, "uid"));
        gid = json_integer_value(member(rep, "gid"));
        if (uid == 0 || gid == 0)
                faults_add(&f, "the cell runs as uid %lld gid %lld", (long long) uid, (long long) gid);
        for (size_t i = 0; i < 3; i++)
                if (json_integer_value(json_array_get(member(rep, "resuid"), i)) != uid ||
                    json_integer_value(json_array_get(member(rep, "resgid"), i)) != gid) {
                        faults_add(&f, "real, effective and saved ids differ");
                        break;
                }
        if (!json_is_array(member(rep, "groups")) || json_array_size(member(rep, "groups")) != 0)
                faults_add(&f, "supplementary groups should be []");
        /* Its uid is nobody's in the user database. */
        pw = getpwuid((uid_t) uid);
        if (pw)
                faults_add(&f, "the cell's uid %lld is a user of the testbed (%s)", (long long) uid, pw->pw_name);

        status = member(rep, "status");
        for (size_t i = 0; i < ELEMENTSOF(caps); i++)
                if (strcmp(json_object_get_string(status, caps[i]) ?: "", "0000000000000000") != 0)
                        faults_add(&f, "%s is %s, want 0", caps[i], json_object_get_string(status, caps[i]) ?: "(none)");
        if (strcmp(json_object_get_string(status, "NoNewPrivs") ?: "", "1") != 0)
                faults_add(&f, "NoNewPrivs is %s, want 1", json_object_get_string(status, "NoNewPrivs") ?: "(none)");
        if (strcmp(json_object_get_string(status, "Seccomp") ?: "", "2") != 0)
                faults_add(&f, "no seccomp filter (Seccomp is %s, want 2)",
                           json_object_get_string(status, "Seccomp") ?: "(none)");

        /* More filters than the daemon has: one of its own, not only inherited ones. */
        filters = atoll(json_object_get_string(status, "Seccomp_filters") ?: "-1");
        daemon_filters = seccomp_filters_of(main_pid);
        ck_assert_msg(daemon_filters >= 0, "no Seccomp_filters in /proc/%d/status (the daemon)", (int) main_pid);
        if (filters <= daemon_filters)
                faults_add(&f, "the cell has %lld seccomp filters, the daemon %lld: the sandbox loaded none of its own",
                           filters, daemon_filters);

        check_attempt_failed(&f, member(rep, "setuid"), "PermissionError", EPERM, "setuid(0)");
        check_attempt_failed(&f, member(rep, "setgid"), "PermissionError", EPERM, "setgid(0)");
        check_attempt_failed(&f, member(rep, "setgroups"), "PermissionError", EPERM, "setgroups([0])");
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* rlimits: no core files, FileSizeMax, and no raising them from inside. */
START_TEST(test_rlimits) {
        pid_t main_pid = health_begin();
        json_auto_t *st = NULL, *rep = NULL;
        const json_t *core, *fsize, *nofile;
        Faults f = {};

        st = run_cell("import resource\n"
                      "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
                      "report(core=list(resource.getrlimit(resource.RLIMIT_CORE)),\n"
                      "       fsize=list(resource.getrlimit(resource.RLIMIT_FSIZE)),\n"
                      "       nofile=[soft, hard],\n"
                      "       raise_nofile=attempt(resource.setrlimit, resource.RLIMIT_NOFILE,\n"
                      "                            (hard, hard + 1 if hard != resource.RLIM_INFINITY else hard)),\n"
                      "       raise_core=attempt(resource.setrlimit, resource.RLIMIT_CORE, (1 << 20, 1 << 20)))\n",
                      NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);

        core = member(rep, "core");
        if (json_array_size(core) != 2 || json_integer_value(json_array_get(core, 0)) != 0 ||
            json_integer_value(json_array_get(core, 1)) != 0)
                faults_add(&f, "RLIMIT_CORE should be (0, 0)");
        fsize = member(rep, "fsize");
        if (json_integer_value(json_array_get(fsize, 0)) != (json_int_t) FILE_SIZE_MAX_DEFAULT ||
            json_integer_value(json_array_get(fsize, 1)) != (json_int_t) FILE_SIZE_MAX_DEFAULT)
                faults_add(&f, "RLIMIT_FSIZE should be FileSizeMax (16 MiB)");
        nofile = member(rep, "nofile");
        if (json_integer_value(json_array_get(nofile, 1)) <= 0 || json_integer_value(json_array_get(nofile, 1)) > 65536)
                faults_add(&f, "RLIMIT_NOFILE's hard limit should be finite (<= 65536)");
        check_attempt_failed(&f, member(rep, "raise_nofile"), "ValueError", 0, "raising RLIMIT_NOFILE's hard limit");
        check_attempt_failed(&f, member(rep, "raise_core"), "ValueError", 0, "raising RLIMIT_CORE");
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* The kernel's attack surface */

/* unshare, mount, bpf through ctypes: EPERM. Each in a child of its own, so that one that works cannot change the next. */
START_TEST(test_unshare_mount_bpf) {
        pid_t main_pid = health_begin();
        static const char *const probes[] = { "unshare_user", "unshare_mnt", "unshare_net", "mount", "bpf", "chroot" };
        json_auto_t *st = NULL, *rep = NULL;
        Faults f = {};

        assert_x86_64();
        st = run_cell("L = _ct.c_long\n"
                      "_os.makedirs('/tmp/escape-mnt', exist_ok=True)\n"
                      "r = {}\n"
                      "r['unshare_user'] = in_child(lambda: ccall(libc.unshare, 0x10000000))\n" /* CLONE_NEWUSER */
                      "r['unshare_mnt'] = in_child(lambda: ccall(libc.unshare, 0x00020000))\n"  /* CLONE_NEWNS */
                      "r['unshare_net'] = in_child(lambda: ccall(libc.unshare, 0x40000000))\n"  /* CLONE_NEWNET */
                      "r['mount'] = in_child(lambda: ccall(libc.mount, b'none', b'/tmp/escape-mnt', b'tmpfs', L(0), None))\n"
                      /* bpf(BPF_MAP_CREATE, attr, sizeof attr) */
                      "r['bpf'] = in_child(lambda: ccall(libc.syscall, L(321), L(0), _ct.create_string_buffer(128), L(72)))\n"
                      "r['chroot'] = in_child(lambda: ccall(libc.chroot, b'/tmp'))\n"
                      "report(**r)\n",
                      NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);
        for (size_t i = 0; i < ELEMENTSOF(probes); i++)
                check_child_ccall_failed(&f, member(rep, probes[i]), EPERM, probes[i]);
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/*
 * The seccomp filter's explicit denials (EPERM), clone3 (ENOSYS so glibc
 * falls back to clone), and the x32 ABI (killed: foreign ABIs are refused).
 */
START_TEST(test_seccomp) {
        pid_t main_pid = health_begin();
        static const char *const denied[] = {
                "keyctl",        "add_key",        "request_key",     "userfaultfd", "perf_event_open",
                "io_uring_setup", "io_uring_enter", "io_uring_register", "process_vm_readv", "kexec_load",
                "init_module",   "finit_module",   "delete_module",   "open_by_handle_at", "fsopen",
                "setns",         "kcmp",           "swapoff",         "acct",        "syslog",
                "personality",
        };
        json_auto_t *st = NULL, *rep = NULL;
        const json_t *x32;
        json_int_t status;
        Faults f = {};

        assert_x86_64();
        st = run_cell("import platform\n"
                      "L = _ct.c_long\n"
                      "buf = _ct.create_string_buffer(512)\n"
                      "def sc(nr, *a):\n"
                      "    return ccall(libc.syscall, L(nr), *[L(x) if isinstance(x, int) else x for x in a])\n"
                      "r = {'machine': platform.machine()}\n"
                      "r['keyctl'] = sc(250, 0, -3, 0)\n"                       /* KEYCTL_GET_KEYRING_ID, session */
                      "r['add_key'] = sc(248, b'user', b'escape', b'x', 1, 0)\n"
                      "r['request_key'] = sc(249, b'user', b'escape-none', None, 0)\n"
                      "r['userfaultfd'] = sc(323, _os.O_CLOEXEC)\n"
                      "r['perf_event_open'] = sc(298, buf, 0, -1, -1, 0)\n"
                      "r['io_uring_setup'] = sc(425, 1, buf)\n"
                      "r['io_uring_enter'] = sc(426, -1, 0, 0, 0, None, 0)\n"
                      "r['io_uring_register'] = sc(427, -1, 0, None, 0)\n"
                      "r['process_vm_readv'] = sc(310, 1, None, 0, None, 0, 0)\n"
                      "r['kexec_load'] = sc(246, 0, 0, None, 0)\n"
                      "r['init_module'] = sc(175, None, 0, b'')\n"
                      "r['finit_module'] = sc(313, -1, b'', 0)\n"
                      "r['delete_module'] = sc(176, b'escape_none', _os.O_NONBLOCK)\n"
                      "r['open_by_handle_at'] = sc(304, -1, buf, 0)\n"
                      "r['fsopen'] = sc(430, b'tmpfs', 0)\n"
                      "r['setns'] = sc(308, -1, 0)\n"
                      "r['kcmp'] = sc(312, 1, 1, 0, 0, 0)\n"
                      "r['swapoff'] = sc(168, b'/escape-none')\n"
                      "r['acct'] = sc(163, None)\n"
                      "r['syslog'] = sc(103, 10, None, 0)\n"                    /* SYSLOG_ACTION_SIZE_BUFFER */
                      "r['personality'] = sc(135, 0x0400000)\n"                 /* READ_IMPLIES_EXEC */
                      "r['clone3'] = sc(435, None, 0)\n"
                      /* Close what a call that should have failed opened. */
                      "for k in ('userfaultfd', 'perf_event_open', 'io_uring_setup', 'fsopen'):\n"
                      "    if r[k]['ret'] >= 0:\n"
                      "        _os.close(r[k]['ret'])\n"
                      /* getpid through the x32 ABI (__X32_SYSCALL_BIT | 39) */
                      "r['x32'] = in_child(lambda: ccall(libc.syscall, L(0x40000000 | 39)))\n"
                      "report(**r)\n",
                      NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);
        if (strcmp(json_object_get_string(rep, "machine") ?: "", "x86_64") != 0)
                faults_add(&f, "not x86_64 inside");

        for (size_t i = 0; i < ELEMENTSOF(denied); i++)
                check_ccall_failed(&f, member(rep, denied[i]), EPERM, denied[i]);
        check_ccall_failed(&f, member(rep, "clone3"), ENOSYS, "clone3");

        x32 = member(rep, "x32");
        status = json_integer_value(member(x32, "status"));
        if (!json_is_integer(member(x32, "status")) || (status & 0x7f) != SIGSYS) {
                _cleanup_free_ char *dx = json_describe(x32);
                faults_add(&f, "an x32 syscall should kill the process with SIGSYS: %s", dx);
        }
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* Two executions at once */

/* The first cell of a pair: writes @hex's secret into its /tmp, reports, and waits for the go file. */
static char *first_cell_body(const char *hex) {
        return strprintf("import time\n"
                         "with open('/tmp/escape-secret-%s', 'w') as f:\n"
                         "    f.write('SECRET-%s')\n"
                         "report(pid=_os.getpid(), uid=_os.getuid())\n"
                         "deadline = time.monotonic() + 90\n"
                         "while not _os.path.exists('/tmp/escape-go-%s') and time.monotonic() < deadline:\n"
                         "    time.sleep(0.05)\n"
                         "with open('/tmp/escape-secret-%s') as f:\n"
                         "    intact = f.read() == 'SECRET-%s'\n"
                         "report(go=_os.path.exists('/tmp/escape-go-%s'), intact=intact)\n"
                         "print('first done')\n",
                         hex, hex, hex, hex, hex, hex);
}

typedef struct First {
        char *id;
        pid_t pid;      /* its payload, as the testbed sees it */
        json_int_t ns_pid, uid;
} First;

static void first_start(First *f, const char *hex) {
        _cleanup_free_ char *body = first_cell_body(hex), *secret = strprintf("/tmp/escape-secret-%s", hex);
        json_auto_t *limits = limits_of(100, 0, 0), *running = NULL, *rep = NULL;

        f->id = submit_cell(body, limits);
        running = wait_running_output(f->id, REPORT_PREFIX, 30 * SEC);
        rep = cell_report(running);
        f->ns_pid = report_int(rep, "pid", running);
        f->uid = report_int(rep, "uid", running);
        f->pid = scope_pid_by_ns_pid(f->id, (pid_t) f->ns_pid, 10 * SEC);
        /* A process of it sees the secret in its /tmp: the probes of the second can fail. */
        ck_assert_msg(scope_pid_with_file(f->id, secret, 10 * SEC) > 0, "the first cell's secret is not in its /tmp");
}

/*
 * Checks that the first cell outlived the second untouched, releases it
 * (also when the second found faults, so that it does not hold up the
 * tests that follow) and checks that it then ended normally.
 */
static void first_finish(First *first, const char *hex, Faults *f) {
        _cleanup_free_ char *go = strprintf("/tmp/escape-go-%s", hex), *out = NULL;
        json_auto_t *running = get_status(first->id), *st = NULL, *rep = NULL;

        if (strcmp(json_object_get_string(running, "status") ?: "", "running") != 0 || kill(first->pid, 0) < 0) {
                _cleanup_free_ char *dr = json_describe(running);
                faults_add(f, "the first cell (pid %d) did not survive the second: %s", (int) first->pid, dr);
                free(first->id);
                return;
        }
        create_file_in(first->pid, go);
        st = wait_terminal(first->id, 60 * SEC);
        free(first->id);
        if (strcmp(json_object_get_string(st, "status") ?: "", "succeeded") != 0) {
                _cleanup_free_ char *ds = json_describe(st);
                faults_add(f, "the first cell did not end succeeded: %s", ds);
                return;
        }
        rep = cell_report(st);
        out = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
        if (!json_is_true(member(rep, "go")) || !json_is_true(member(rep, "intact")) || !strstr(out, "first done\n")) {
                _cleanup_free_ char *ds = json_describe(st);
                faults_add(f, "the first cell should see the go file, its secret intact, and end normally: %s", ds);
        }
}

/* Another execution's /tmp: neither in one's own /tmp nor through /proc/PID/root. */
START_TEST(test_other_tmp) {
        pid_t main_pid = health_begin();
        _cleanup_free_ char *hex = random_hex(16), *body = NULL, *secret = NULL, *out = NULL, *name = NULL;
        json_auto_t *st = NULL, *rep = NULL;
        First first = {};
        const json_t *others;
        const char *k;
        json_t *v;
        size_t i;
        Faults f = {};

        first_start(&first, hex);

        body = strprintf("def read(p):\n"
                         "    with open(p) as f:\n"
                         "        return f.read()\n"
                         "me = _os.getpid()\n"
                         "others = {}\n"
                         "for p in range(1, 65):\n"
                         "    if p != me:\n"
                         "        others[str(p)] = attempt(read, '/proc/%%d/root/tmp/escape-secret-%s' %% p)\n"
                         "report(uid=_os.getuid(), me=me, tmp=sorted(_os.listdir('/tmp')),\n"
                         "       own_tmp=attempt(read, '/tmp/escape-secret-%s'),\n"
                         "       first_root=attempt(_os.listdir, '/proc/%d/root/tmp'),\n"
                         "       first_secret=attempt(read, '/proc/%d/root/tmp/escape-secret-%s'),\n"
                         "       others=others)\n",
                         hex, hex, (int) first.pid, (int) first.pid, hex);
        st = run_cell(body, NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);

        secret = strprintf("SECRET-%s", hex);
        out = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
        if (strstr(out, secret))
                faults_add(&f, "the second cell READ the first one's secret");
        name = strprintf("escape-secret-%s", hex);
        json_array_foreach(member(rep, "tmp"), i, v)
                if (strcmp(json_string_value(v) ?: "", name) == 0)
                        faults_add(&f, "the first cell's file is in the second's /tmp");
        check_attempt_failed(&f, member(rep, "own_tmp"), "FileNotFoundError", ENOENT, "the secret in one's own /tmp");
        check_attempt_failed(&f, member(rep, "first_root"), "FileNotFoundError", ENOENT,
                             "listing /proc/<first's pid>/root/tmp");
        check_attempt_failed(&f, member(rep, "first_secret"), "FileNotFoundError", ENOENT,
                             "reading the secret through /proc/<first's pid>/root");
        others = member(rep, "others");
        if (json_object_size(others) < 63)
                faults_add(&f, "not every pid 1…64 was tried");
        json_object_foreach((json_t *) others, k, v) {
                _cleanup_free_ char *what = strprintf("reading /proc/%s/root/tmp/escape-secret-…", k);
                check_attempt_failed(&f, v, "FileNotFoundError|PermissionError", 0, what);
        }

        first_finish(&first, hex, &f);
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

/* Signalling and ptracing another execution (and anything else in reach): nothing succeeds. */
START_TEST(test_ptrace_kill_other) {
        pid_t main_pid = health_begin();
        _cleanup_free_ char *hex = random_hex(16), *body = NULL;
        json_auto_t *st = NULL, *rep = NULL;
        First first = {};
        const json_t *kills, *traces;
        json_int_t me, uid;
        const char *k;
        json_t *v;
        Faults f = {};

        assert_x86_64();
        first_start(&first, hex);

        body = strprintf("import signal\n"
                         "me = _os.getpid()\n"
                         "targets = sorted((set(range(1, 65)) | {%d, %lld}) - {me})\n"
                         "libc.ptrace.restype = _ct.c_long\n"
                         "libc.ptrace.argtypes = [_ct.c_long, _ct.c_long, _ct.c_void_p, _ct.c_void_p]\n"
                         "def ptrace_attach(p):\n"
                         "    res = ccall(libc.ptrace, 16, p, None, None)\n" /* PTRACE_ATTACH */
                         "    if res['ret'] == 0:\n"
                         /* It worked: let the tracee go again (__WALL, PTRACE_DETACH, SIGCONT). */
                         "        try:\n"
                         "            _os.waitpid(p, 0x40000000)\n"
                         "        except OSError:\n"
                         "            pass\n"
                         "        libc.ptrace(17, p, None, None)\n"
                         "        attempt(_os.kill, p, signal.SIGCONT)\n"
                         "    return res\n"
                         "kills = {}\n"
                         "traces = {}\n"
                         "for p in targets:\n"
                         "    kills[str(p)] = attempt(_os.kill, p, 0)\n"
                         "    traces[str(p)] = ptrace_attach(p)\n"
                         "report(me=me, uid=_os.getuid(), kills=kills, traces=traces,\n"
                         "       kill9=attempt(_os.kill, %d, signal.SIGKILL))\n",
                         (int) first.pid, (long long) first.ns_pid, (int) first.pid);
        st = run_cell(body, NULL, 60, NULL);
        check_state_in(&f, st, "succeeded");
        rep = report_or_fault(&f, st);

        me = json_integer_value(member(rep, "me"));
        uid = json_integer_value(member(rep, "uid"));
        if (uid == first.uid)
                faults_add(&f, "both executions run as uid %lld: each needs its own", (long long) uid);
        kills = member(rep, "kills");
        traces = member(rep, "traces");
        if (json_object_size(kills) < 64 || json_object_size(traces) != json_object_size(kills))
                faults_add(&f, "not every pid was tried");
        json_object_foreach((json_t *) kills, k, v) {
                _cleanup_free_ char *what = strprintf("kill(%s, 0) from pid %lld", k, (long long) me);
                check_attempt_failed(&f, v, "ProcessLookupError|PermissionError", 0, what);
        }
        json_object_foreach((json_t *) traces, k, v) {
                _cleanup_free_ char *what = strprintf("ptrace(PTRACE_ATTACH, %s)", k);
                check_ccall_failed(&f, v, EPERM, what);
        }
        check_attempt_failed(&f, member(rep, "kill9"), "ProcessLookupError|PermissionError", 0,
                             "SIGKILL to the first cell's pid");

        first_finish(&first, hex, &f);
        faults_assert(&f, st);
        health_end(main_pid);
}
END_TEST

static Suite *escape_suite(void) {
        Suite *s = suite_create("escape");
        TCase *tc;

        /* Timeouts: health_begin() may wait up to 130 s for the cells of a
         * failed earlier test to end, plus the test's own waits. */
        tc = tcase_create("resources");
        tcase_set_timeout(tc, 400);
        tcase_add_checked_fixture(tc, escape_setup, NULL);
        tcase_add_test(tc, test_fork_bomb);
        tcase_add_test(tc, test_setsid_double_fork);
        tcase_add_test(tc, test_memory_10x);
        tcase_add_test(tc, test_file_size_max);
        tcase_add_test(tc, test_fill_tmp);
        tcase_add_test(tc, test_threads);
        tcase_add_test(tc, test_recursion);
        suite_add_tcase(s, tc);

        tc = tcase_create("exit");
        tcase_set_timeout(tc, 300);
        tcase_add_checked_fixture(tc, escape_setup, NULL);
        tcase_add_test(tc, test_exit_3);
        tcase_add_test(tc, test_sigkill_self);
        suite_add_tcase(s, tc);

        tc = tcase_create("isolation");
        tcase_set_timeout(tc, 300);
        tcase_add_checked_fixture(tc, escape_setup, NULL);
        tcase_add_test(tc, test_network);
        tcase_add_test(tc, test_filesystem);
        tcase_add_test(tc, test_proc);
        tcase_add_test(tc, test_tiocsti_dev);
        tcase_add_test(tc, test_hostname);
        suite_add_tcase(s, tc);

        tc = tcase_create("privileges");
        tcase_set_timeout(tc, 300);
        tcase_add_checked_fixture(tc, escape_setup, NULL);
        tcase_add_test(tc, test_privileges);
        tcase_add_test(tc, test_rlimits);
        tcase_add_test(tc, test_unshare_mount_bpf);
        tcase_add_test(tc, test_seccomp);
        suite_add_tcase(s, tc);

        tc = tcase_create("cross");
        tcase_set_timeout(tc, 400);
        tcase_add_checked_fixture(tc, escape_setup, NULL);
        tcase_add_test(tc, test_other_tmp);
        tcase_add_test(tc, test_ptrace_kill_other);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        int r;

        /* Room for every fault of a test and the status object. */
        check_set_max_msg_size(32768);
        curl_global_init(CURL_GLOBAL_ALL);
        r = run_suite(escape_suite());
        curl_global_cleanup();
        return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Helpers of the escape tests (test-escape.c), on top of the HTTP
 * integration helpers (tests/integration/http/integ-util.h): hostile cells
 * report what they saw as JSON lines on stdout, and the test checks from
 * the testbed's side (it sees every pid of the testbed, the cells' too)
 * that nothing of an execution is left and that the daemon is unharmed.
 * Functions that assert do so with Check, so they belong in test bodies.
 */

#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "integ-util.h"

#define SEC USEC_PER_SEC

/*
 * Python put in front of every hostile cell. It defines:
 *   report(**kw)     prints one line "@@ESCAPE {json}" (flushed); the keys of
 *                    all lines are merged by cell_report();
 *   attempt(fn, *a)  calls fn(*a): {"ok": true, "value": repr} or
 *                    {"ok": false, "exc": class name, "errno": n|null, "msg": str};
 *   libc             ctypes.CDLL(None, use_errno=True), syscall() returning c_long;
 *   ccall(fn, *a)    a libc call: {"ret": return value, "errno": errno after it};
 *   in_child(fn)     fn() run in a forked child that never returns to the
 *                    runner: {"result": fn's JSON result (or an attempt()-style
 *                    failure), "status": raw wait status}.
 */
extern const char escape_prelude[];

/* The marker that starts a report line. */
#define REPORT_PREFIX "@@ESCAPE "

/* escape_prelude followed by @body, malloc'd. */
char *cell_code(const char *body);

/*
 * The reports of a finished (or running) execution's status @st: every
 * stdout line that starts with REPORT_PREFIX parsed as a JSON object and
 * merged in order (later keys win). Asserts that at least one line was
 * there and that each parses. New reference.
 */
json_t *cell_report(const json_t *st);

/* As cell_report(), but returns NULL when no report line is there yet. */
json_t *cell_report_maybe(const json_t *st);

/*
 * The faults one test found, collected so that a failing test names every
 * probe that escaped, not only the first one.
 */
typedef struct Faults {
        char *text;             /* "- fault\n" lines */
        size_t n;
} Faults;

/* Records one fault (cut at 600 bytes). */
void faults_add(Faults *f, const char *format, ...) _printf_(2, 3);

/* Fails the test when @f holds any fault, listing them all and @st; frees @f's text. */
void faults_assert(Faults *f, const json_t *st);

/*
 * Records a fault unless @attempt (an attempt() result) failed with an
 * exception class among @exc ("A|B") and, unless @err is 0, errno @err.
 * @what names the probe. Returns whether it was as wanted.
 */
bool check_attempt_failed(Faults *f, const json_t *attempt, const char *exc, int err, const char *what);

/* Records a fault unless the ccall() result @r is {"ret": -1, "errno": @err}. */
bool check_ccall_failed(Faults *f, const json_t *r, int err, const char *what);

/* The same for an in_child() result whose child must have exited 0 with such a ccall() result. */
bool check_child_ccall_failed(Faults *f, const json_t *r, int err, const char *what);

/* Records a fault unless "status" of @st is one of @states ("failed|timeout"). */
bool check_state_in(Faults *f, const json_t *st, const char *states);

/*
 * Polls GET /status/@id until the execution runs and its stdout so far
 * contains @stdout_part, at most @timeout_usec; fails at once, with the
 * status, when it ended instead. Returns the status (new reference).
 */
json_t *wait_running_output(const char *id, const char *stdout_part, uint64_t timeout_usec);

/* Integer member @key of @o; asserts that it is there. */
json_int_t report_int(const json_t *o, const char *key, const json_t *st);

/*
 * The daemon before a hostile cell: POST /initialize answers, no pyexec-*
 * unit is loaded (waits for leftovers of earlier tests), and pyexecd.service
 * runs. Returns its MainPID, for health_end().
 */
pid_t health_begin(void);

/*
 * The daemon after it: still the same process @main_pid (no crash, no
 * restart: NRestarts=0), /queue/status answers with nothing running or
 * queued, a plain print() cell still succeeds, and after it no pyexec-*
 * unit is left (`systemctl list-units --all 'pyexec-*'` empty).
 */
void health_end(pid_t main_pid);

/* Waits until `systemctl list-units --all 'pyexec-*'` lists nothing; asserts it does within @timeout_usec. */
void assert_no_pyexec_units(uint64_t timeout_usec);

/*
 * Pids of the testbed's processes in execution @id's scope (any hierarchy
 * of /proc/PID/cgroup naming "/pyexec-<id>.scope"). Returns how many; the
 * array (malloc'd, may be NULL when none) in @ret_pids.
 */
size_t scope_pids(const char *id, pid_t **ret_pids);

/* How many processes of the testbed have @uid as real, effective, saved or fs uid. */
size_t processes_of_uid(uid_t uid);

/*
 * A pid of execution @id's scope whose root directory holds @path
 * (absolute, as the sandbox sees it), seen through /proc/PID/root; waits up
 * to @timeout_usec for one. Asserts.
 */
pid_t scope_pid_with_file(const char *id, const char *path, uint64_t timeout_usec);

/* Creates the empty file @path in the file system of process @pid (through /proc/PID/root). Asserts. */
void create_file_in(pid_t pid, const char *path);

/*
 * Reads the number in @file ("pids.current", …) of execution @id's scope's
 * cgroup in @controller's hierarchy (v1 "pids", or the unified one).
 * Returns false when there is no such cgroup (yet, or any more).
 */
bool scope_cgroup_u64(const char *id, const char *controller, const char *file, uint64_t *ret);

/* Asserts the named member of a status object is JSON null. */
void assert_null_member(const json_t *st, const char *key);

/* Asserts "status" of @st is one of @states ("failed|timeout"). */
void assert_state_in(const json_t *st, const char *states);

/* Asserts the member @key of @st is the string @want. */
void assert_string_member(const json_t *st, const char *key, const char *want);

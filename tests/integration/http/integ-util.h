/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Helpers of the HTTP integration tests, which run inside the testbed (a
 * real systemd as PID 1, with Redis and pyexecd socket-activated): running
 * commands (systemctl, busctl, redis-cli), changing pyexecd's configuration
 * with drop-ins, submitting cells and waiting for their end, and asserting
 * the shape of error answers. Functions that assert do so with Check's
 * ck_assert_msg(), so they belong in test bodies and checked fixtures.
 */

#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http-client.h"

#define DROPIN_DIR "/etc/pyexecd/pyexecd.conf.d"

/* Malloc'd printf; aborts on OOM. */
char *strprintf(const char *fmt, ...) _printf_(1, 2);

/*
 * Runs @argv (argv[0] looked up in $PATH) and waits for it. Its stdout is
 * captured into @ret_output (malloc'd, NUL-terminated) unless that is NULL,
 * in which case it goes to our stdout; stderr is ours. Returns the exit
 * status (0…255), 128+N when killed by signal N, or -errno when it could
 * not be started.
 */
int run_command(const char *const *argv, char **ret_output);

/* As run_command(), with the arguments listed, NULL-terminated. */
int run_commandl(char **ret_output, const char *arg0, ...) __attribute__((sentinel));

/* `systemctl VERB UNIT`, asserting success. */
void systemctl_ok(const char *verb, const char *unit);

/* `systemctl show -p PROPERTY --value UNIT`, trailing newline removed, malloc'd. */
char *unit_property(const char *unit, const char *property);

/* D-Bus object path of unit @unit_name (systemd's escaping), malloc'd. */
char *unit_object_path(const char *unit_name);

/*
 * `busctl get-property` of the scope pyexec-<id>.scope's @property on
 * org.freedesktop.systemd1.Scope, e.g. "t 268435456", malloc'd; NULL when
 * busctl failed (no such unit).
 */
char *scope_property(const char *id, const char *property);

/* Names of loaded units whose name contains @id (`systemctl list-units --all`), malloc'd, "" if none. */
char *units_matching(const char *id);

/* Writes DROPIN_DIR/@name.conf with @text / removes it (missing is fine). Asserts. */
void dropin_write(const char *name, const char *text);
void dropin_remove(const char *name);

/*
 * Brings pyexecd to a known state: stops the service, flushes the
 * testbed's (private) Redis, installs the drop-in "test-http.conf" with
 * @dropin_text (or removes it when NULL), starts the service and waits
 * until POST /initialize answers ready. Asserts.
 */
void daemon_reset(const char *dropin_text);

/* Polls POST /initialize until it answers 200 {"ready": true}, at most @timeout_usec. Asserts. */
void daemon_wait_ready(uint64_t timeout_usec);

/* 32 lowercase hex digits? */
bool is_exec_id(const char *s);

/* @n random lowercase hex digits, malloc'd. */
char *random_hex(size_t n);

/* Is @s a terminal state name? */
bool state_is_terminal(const char *s);

/* POSTs @request to /execute, asserts 202 and a valid id, returns the id (malloc'd). */
char *submit(const json_t *request);

/* submit() of {"code": @code} plus "limits": @limits when not NULL (borrowed). */
char *submit_code(const char *code, const json_t *limits);

/* GET /status/@id, asserting 200 and a JSON object; returns it (new reference). */
json_t *get_status(const char *id);

/* Polls GET /status/@id every 50 ms until a terminal state, at most @timeout_usec. Asserts. */
json_t *wait_terminal(const char *id, uint64_t timeout_usec);

/*
 * Polls until the execution runs and its stdout so far contains @stdout_part
 * (NULL: just running), at most @timeout_usec. Asserts; returns the status.
 */
json_t *wait_running(const char *id, const char *stdout_part, uint64_t timeout_usec);

/* DELETE /cancel/@id, asserting 200 {"execution_id": @id, "status": "cancelled"}. */
void cancel_ok(const char *id);

/* Joined "text" of the stream items named @name in @outputs (an array), malloc'd. */
char *outputs_stream_text(const json_t *outputs, const char *name);

/* Output kinds of @outputs: "stream:stdout", "display_data", …, adjacent streams of one name merged. */
char *outputs_sequence(const json_t *outputs);

/*
 * Asserts that @r is an error answer: status @status, JSON body exactly
 * {"error": {"code": @code, "message": non-empty string}}. @code may list
 * alternatives separated by "|". Returns the message (points into @r).
 */
const char *assert_error_response(const HttpResponse *r, long status, const char *code);

/* Parses RFC 3339 UTC "YYYY-MM-DDTHH:MM:SS[.frac]Z" into µs since the epoch. */
bool rfc3339_parse(const char *s, uint64_t *ret_usec);

/* Is some process's command line (any argument) exactly @arg? Scans /proc. */
bool process_with_arg_exists(const char *arg);

/* The @key of object @o as a string, or NULL if absent or not a string. */
const char *json_object_get_string(const json_t *o, const char *key);

/* Compact dump of @j for messages, cut at 1500 bytes, malloc'd. */
char *json_describe(const json_t *j);

/* Sleeps @usec. */
void sleep_usec(uint64_t usec);

/* Check's main boilerplate: runs @s with CK_ENV, returns the exit code for main(). */
int run_suite(Suite *suite);

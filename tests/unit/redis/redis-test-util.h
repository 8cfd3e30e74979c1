/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A private redis-server per test: unix socket in its own temporary
 * directory, no TCP port, no persistence, so tests run in parallel with
 * anything. The server gets PR_SET_PDEATHSIG, so it dies with the test
 * process even when a failing test never reaches its teardown; the base
 * directory (made in the parent, before Check forks) is removed at the end
 * of the run whatever happened.
 */

#include <check.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#define REDIS_SERVER_PATH "/usr/bin/redis-server"

typedef struct TestRedis {
        char dir[PATH_MAX];
        char socket[PATH_MAX];
        char conf[PATH_MAX];            /* a redis.conf in dir, or "" */
        const char *const *extra;       /* more arguments (borrowed), or NULL */
        pid_t pid;
} TestRedis;

/* The per-run base directory (unchecked fixture, parent process). */
void test_base_dir_setup(void);
void test_base_dir_teardown(void);

/* Makes a directory under the base directory and starts a server there;
 * returns once it answers PING. Aborts the test on failure. */
void test_redis_start(TestRedis *t);
/* The same, with @conf written to a redis.conf in its directory (NULL: none)
 * and the NULL-terminated arguments @extra added (NULL: none; borrowed, must
 * outlive the server: restarts use them again), e.g. "--requirepass". A
 * server that wants a password counts as up once it answers PING with
 * NOAUTH. */
void test_redis_start_full(TestRedis *t, const char *conf, const char *const *extra);
/* Starts the server again, on the same socket, after test_redis_kill(). */
void test_redis_restart(TestRedis *t);
/* SIGKILL and reap (no-op when not running). */
void test_redis_kill(TestRedis *t);
/* Stops the server (SIGSTOP) and waits until it is stopped; and back. */
void test_redis_pause(TestRedis *t);
void test_redis_resume(TestRedis *t);
/* Kills the server and removes its directory. */
void test_redis_stop(TestRedis *t);

/* A blocking connection for looking at the data directly. */
redisContext *test_redis_connect(TestRedis *t);
/* The same, sending "AUTH @password" or "AUTH @user @password" first (@user may be NULL). */
redisContext *test_redis_connect_auth(TestRedis *t, const char *user, const char *password);
/* Runs a command on @c (redisCommand() format) and returns the reply; aborts the test on I/O errors. */
redisReply *test_redis_command(redisContext *c, const char *format, ...);

#define TEST_RUN_TIMEOUT_USEC (10 * 1000000ULL)

/* Runs @e until @cond holds; fails the test after 10 s (a bug, not slowness:
 * the loop wakes at least every 100 ms to look). */
#define TEST_RUN_UNTIL(e, cond)                                                         \
        do {                                                                            \
                uint64_t _deadline = test_now_usec() + TEST_RUN_TIMEOUT_USEC;           \
                while (!(cond)) {                                                       \
                        ck_assert_int_ge(sd_event_run((e), 100000), 0);                 \
                        ck_assert_msg(test_now_usec() < _deadline,                      \
                                      "timed out waiting for: %s", #cond);              \
                }                                                                       \
        } while (0)
/* Runs @e for a few iterations without waiting (to let deferred work happen). */
void test_run_idle(sd_event *e);

uint64_t test_now_usec(void);

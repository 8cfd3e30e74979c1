/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The store against a redis-server that wants a password: requirepass, or
 * an ACL user with the default user disabled (one private server per
 * test). Also the format of the credential "redis-password".
 */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis-test-util.h"
#include "redis/redis-store.h"
#include "shared/exec-id.h"
#include "shared/macro.h"

#define P "pyexecd:"
#define PASSWORD "s3cret pass"          /* a space: only the "USER PASSWORD" form can say it */
#define ACL_CONF "user alice on >pw ~* &* +@all\nuser default off\n"

static const char *const requirepass[] = { "--requirepass", PASSWORD, NULL };

static TestRedis redis;
static sd_event *event;
static RedisStore *store;
static redisContext *direct;
static unsigned n_up, n_down;

typedef struct Result {
        bool done;
        int r;
        uint64_t position;
        ExecState state;
        char *cell_id;
} Result;

static void on_state(RedisStore *s, bool connected, void *userdata) {
        ck_assert(connected == redis_store_is_connected(s));
        if (connected)
                n_up++;
        else
                n_down++;
}

static void on_submit(RedisStore *s, int r, uint64_t position, void *userdata) {
        Result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
        res->position = position;
}

static void on_get(RedisStore *s, int r, const ExecRecord *rec, json_t *outputs, void *userdata) {
        Result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
        if (rec) {
                res->state = rec->state;
                res->cell_id = rec->cell_id ? strdup(rec->cell_id) : NULL;
        }
}

static void on_done(RedisStore *s, int r, void *userdata) {
        Result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
}

/* ---- fixture ---- */

static void setup(void) {
        n_up = n_down = 0;
        ck_assert_int_ge(sd_event_new(&event), 0);
}

static void teardown(void) {
        store = redis_store_free(store);
        event = sd_event_unref(event);
        if (direct)
                redisFree(direct);
        direct = NULL;
        test_redis_stop(&redis);
}

/* A store with these credentials (@password NULL: none), not yet run. */
static void store_start(const char *user, const char *password) {
        ck_assert_int_eq(redis_store_new(&store, event, redis.socket, P, "node-a"), 0);
        redis_store_set_timeouts(store, 0, 0, 20 * 1000);
        redis_store_set_state_handler(store, on_state, NULL);
        ck_assert_int_eq(redis_store_set_auth(store, user, password), 0);
}

/* Connections the server accepted so far (each of the store's attempts is one). */
static long long connections_received(void) {
        redisReply *reply = test_redis_command(direct, "INFO stats");
        const char *p;
        long long n;

        ck_assert_int_eq(reply->type, REDIS_REPLY_STRING);
        p = strstr(reply->str, "total_connections_received:");
        ck_assert_ptr_nonnull(p);
        n = strtoll(p + strlen("total_connections_received:"), NULL, 10);
        freeReplyObject(reply);
        return n;
}

/* The attempt under way (or the next one) fails with -EACCES, and the
 * store goes on trying: three more connections reach the server. */
static void assert_refused_and_retrying(void) {
        Result res = {};
        long long before;

        ck_assert_int_eq(redis_store_reconnect(store, on_done, &res), 0);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_eq(res.r, -EACCES);
        ck_assert(!redis_store_is_connected(store));
        ck_assert_ptr_nonnull(redis_store_last_error(store));

        before = connections_received();
        TEST_RUN_UNTIL(event, connections_received() >= before + 3);
        ck_assert(!redis_store_is_connected(store));
        ck_assert_uint_eq(n_up, 0);
}

static void round_trip(void) {
        ExecRecord rec = EXEC_RECORD_INIT;
        Result res = {};
        redisReply *reply;
        char key[128];

        ck_assert_int_eq(exec_id_new(rec.id), 0);
        rec.cell_id = strdup("cell-auth");
        rec.created_usec = UINT64_C(1732900000123456);
        rec.limits = (Limits) {
                .timeout_usec = 30000000,
                .memory_max = 536870912,
                .cpu_quota_per_sec_usec = 1000000,
                .tasks_max = 64,
                .output_max = 1048576,
        };
        rec.owner_uid = 1000;

        ck_assert_int_eq(redis_store_submit(store, &rec, "print(1)", 8, NULL, 0, 10, on_submit, &res), 0);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert_uint_eq(res.position, 1);

        res = (Result) {};
        ck_assert_int_eq(redis_store_get(store, rec.id, on_get, &res), 0);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert_int_eq(res.state, EXEC_STATE_QUEUED);
        ck_assert_str_eq(res.cell_id, "cell-auth");
        free(res.cell_id);

        /* It is really there, for those who have the password. */
        (void) snprintf(key, sizeof(key), P "exec:%s:code", rec.id);
        reply = test_redis_command(direct, "GET %s", key);
        ck_assert_int_eq(reply->type, REDIS_REPLY_STRING);
        ck_assert_str_eq(reply->str, "print(1)");
        freeReplyObject(reply);

        exec_record_done(&rec);
}

/* ---- the credential's format ---- */

static void parse_ok(const char *text, size_t size, const char *user, const char *password) {
        RedisAuth a = {};

        ck_assert_int_eq(redis_auth_parse(text, size, &a), 0);
        if (user)
                ck_assert_str_eq(a.user, user);
        else
                ck_assert_ptr_null(a.user);
        ck_assert_str_eq(a.password, password);
        redis_auth_done(&a);
        ck_assert_ptr_null(a.user);
        ck_assert_ptr_null(a.password);
}

static void parse_fails(const char *text, size_t size, int error) {
        RedisAuth a = {};

        ck_assert_int_eq(redis_auth_parse(text, size, &a), error);
        ck_assert_ptr_null(a.user);
        ck_assert_ptr_null(a.password);
}

#define PARSE_OK(text, user, password) parse_ok(text, sizeof(text) - 1, user, password)
#define PARSE_FAILS(text, error) parse_fails(text, sizeof(text) - 1, error)

START_TEST(test_parse) {
        char long_line[REDIS_PASSWORD_MAX + 2];

        PARSE_OK("secret", NULL, "secret");
        PARSE_OK("secret\n", NULL, "secret");
        PARSE_OK("secret\r\n", NULL, "secret");
        PARSE_OK("alice pw\n", "alice", "pw");
        /* Split at the first space only: the password keeps its spaces. */
        PARSE_OK("default two words \n", "default", "two words ");
        PARSE_OK("x\ty", NULL, "x\ty");

        PARSE_FAILS("", -ENODATA);
        PARSE_FAILS("\n", -ENODATA);
        PARSE_FAILS("\r\n", -ENODATA);
        /* Only one newline is not part of it. */
        PARSE_FAILS("secret\n\n", -EBADMSG);
        PARSE_FAILS("alice\npw\n", -EBADMSG);
        PARSE_FAILS("secret\r", -EBADMSG);
        PARSE_FAILS("sec\0ret", -EBADMSG);
        PARSE_FAILS(" pw", -EBADMSG);
        PARSE_FAILS("alice \n", -EBADMSG);

        memset(long_line, 'x', sizeof(long_line));
        long_line[REDIS_PASSWORD_MAX] = '\n';
        {
                RedisAuth a = {};

                ck_assert_int_eq(redis_auth_parse(long_line, REDIS_PASSWORD_MAX + 1, &a), 0);
                ck_assert_uint_eq(strlen(a.password), REDIS_PASSWORD_MAX);
                redis_auth_done(&a);
        }
        long_line[REDIS_PASSWORD_MAX] = 'x';
        parse_fails(long_line, REDIS_PASSWORD_MAX + 1, -E2BIG);

        ck_assert_int_eq(redis_auth_parse(NULL, 0, &(RedisAuth) {}), -EINVAL);
}
END_TEST

static void write_file(const char *path, const char *text, size_t size) {
        FILE *f = fopen(path, "we");

        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(text, 1, size, f), size);
        ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_load_file) {
        char path[PATH_MAX + 32], big[3 * REDIS_PASSWORD_MAX];

        test_redis_start_full(&redis, NULL, requirepass);
        direct = test_redis_connect_auth(&redis, NULL, PASSWORD);
        ck_assert_int_eq(redis_store_new(&store, event, redis.socket, P, "node-a"), 0);
        (void) snprintf(path, sizeof(path), "%s/" REDIS_PASSWORD_CREDENTIAL, redis.dir);

        ck_assert_int_eq(redis_store_load_auth(store, path), -ENOENT);
        write_file(path, "", 0);
        ck_assert_int_eq(redis_store_load_auth(store, path), -ENODATA);
        write_file(path, "\n", 1);
        ck_assert_int_eq(redis_store_load_auth(store, path), -ENODATA);
        write_file(path, "a\nb\n", 4);
        ck_assert_int_eq(redis_store_load_auth(store, path), -EBADMSG);
        memset(big, 'x', sizeof(big));
        write_file(path, big, sizeof(big));
        ck_assert_int_eq(redis_store_load_auth(store, path), -E2BIG);

        /* As "echo 'default s3cret pass' > file" writes it: the requirepass
         * password, which holds a space, for the default user. */
        write_file(path, "default " PASSWORD "\n", strlen("default " PASSWORD "\n"));
        ck_assert_int_eq(redis_store_load_auth(store, path), 0);
        redis_store_set_state_handler(store, on_state, NULL);
        TEST_RUN_UNTIL(event, redis_store_is_connected(store));
        ck_assert_uint_eq(n_up, 1);
        round_trip();
}
END_TEST

/* ---- requirepass ---- */

START_TEST(test_no_password) {
        const char *e;

        test_redis_start_full(&redis, NULL, requirepass);
        direct = test_redis_connect_auth(&redis, NULL, PASSWORD);
        store_start(NULL, NULL);

        TEST_RUN_UNTIL(event, redis_store_last_error(store));
        ck_assert(!redis_store_is_connected(store));
        assert_refused_and_retrying();

        e = redis_store_last_error(store);
        ck_assert_msg(strstr(e, "NOAUTH"), "%s", e);
        ck_assert_msg(strstr(e, "requires a password"), "%s", e);
        ck_assert_msg(strstr(e, "credential redis-password"), "%s", e);
        ck_assert_msg(strstr(e, redis.socket), "%s", e);
}
END_TEST

START_TEST(test_right_password) {
        test_redis_start_full(&redis, NULL, requirepass);
        direct = test_redis_connect_auth(&redis, NULL, PASSWORD);
        store_start(NULL, PASSWORD);

        TEST_RUN_UNTIL(event, redis_store_is_connected(store));
        ck_assert_uint_eq(n_up, 1);
        ck_assert_ptr_null(redis_store_last_error(store));
        round_trip();

        /* Every connection authenticates again: after the server was
         * killed and restarted, and after it dropped us. */
        test_redis_kill(&redis);
        TEST_RUN_UNTIL(event, n_down == 1);
        test_redis_restart(&redis);
        TEST_RUN_UNTIL(event, n_up == 2);
        redisFree(direct);
        direct = test_redis_connect_auth(&redis, NULL, PASSWORD);
        freeReplyObject(test_redis_command(direct, "CLIENT KILL TYPE normal SKIPME yes"));
        TEST_RUN_UNTIL(event, n_up == 3);
        ck_assert_uint_eq(n_down, 2);
        round_trip();
}
END_TEST

START_TEST(test_wrong_password) {
        static const char wrong[] = "hunter2-not-it";
        char expected[PATH_MAX + 128];
        Result res = {};
        const char *e;

        test_redis_start_full(&redis, NULL, requirepass);
        direct = test_redis_connect_auth(&redis, NULL, PASSWORD);
        store_start(NULL, wrong);

        TEST_RUN_UNTIL(event, redis_store_last_error(store));
        assert_refused_and_retrying();

        e = redis_store_last_error(store);
        (void) snprintf(expected, sizeof(expected),
                        "Redis at %s refused the password (credential redis-password): "
                        "WRONGPASS invalid username-password pair or user is disabled.", redis.socket);
        ck_assert_str_eq(e, expected);
        ck_assert_msg(!strstr(e, wrong), "%s", e);

        /* The admin fixes Redis (or the credential): the retries get in. */
        freeReplyObject(test_redis_command(direct, "CONFIG SET requirepass %s", wrong));
        TEST_RUN_UNTIL(event, redis_store_is_connected(store));
        ck_assert_uint_eq(n_up, 1);
        ck_assert_ptr_null(redis_store_last_error(store));
        ck_assert_int_eq(redis_store_reconnect(store, on_done, &res), 0);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_eq(res.r, 0);
}
END_TEST

START_TEST(test_reply_withheld) {
        const char *e;

        /* Redis's refusal ("WRONGPASS invalid username-password pair …")
         * happens to hold this password: the message must leave it out. */
        test_redis_start_full(&redis, NULL, requirepass);
        direct = test_redis_connect_auth(&redis, NULL, PASSWORD);
        store_start(NULL, "invalid");

        TEST_RUN_UNTIL(event, redis_store_last_error(store));
        assert_refused_and_retrying();
        e = redis_store_last_error(store);
        ck_assert_msg(strstr(e, "refused the password (credential redis-password)"), "%s", e);
        ck_assert_msg(!strstr(e, "invalid"), "%s", e);
}
END_TEST

START_TEST(test_password_without_requirepass) {
        const char *e;

        /* A password for a Redis that asks for none is a configuration
         * mistake (Redis is open to everyone): say so, do not go on. */
        test_redis_start(&redis);
        direct = test_redis_connect(&redis);
        store_start(NULL, "secret");

        TEST_RUN_UNTIL(event, redis_store_last_error(store));
        assert_refused_and_retrying();
        e = redis_store_last_error(store);
        ck_assert_msg(strstr(e, "refused the password"), "%s", e);
        ck_assert_msg(strstr(e, "without any password configured"), "%s", e);
}
END_TEST

/* ---- ACL users (Redis 6+) ---- */

START_TEST(test_acl_user) {
        test_redis_start_full(&redis, ACL_CONF, NULL);
        direct = test_redis_connect_auth(&redis, "alice", "pw");
        store_start("alice", "pw");

        TEST_RUN_UNTIL(event, redis_store_is_connected(store));
        ck_assert_uint_eq(n_up, 1);
        round_trip();
}
END_TEST

START_TEST(test_acl_user_from_file) {
        char path[PATH_MAX + 32];

        test_redis_start_full(&redis, ACL_CONF, NULL);
        direct = test_redis_connect_auth(&redis, "alice", "pw");
        ck_assert_int_eq(redis_store_new(&store, event, redis.socket, P, "node-a"), 0);
        redis_store_set_state_handler(store, on_state, NULL);
        (void) snprintf(path, sizeof(path), "%s/" REDIS_PASSWORD_CREDENTIAL, redis.dir);
        write_file(path, "alice pw\n", 9);
        ck_assert_int_eq(redis_store_load_auth(store, path), 0);

        TEST_RUN_UNTIL(event, redis_store_is_connected(store));
        round_trip();
}
END_TEST

START_TEST(test_acl_refused) {
        const char *e;

        test_redis_start_full(&redis, ACL_CONF, NULL);
        direct = test_redis_connect_auth(&redis, "alice", "pw");

        /* Wrong password for alice. */
        store_start("alice", "nope-123");
        TEST_RUN_UNTIL(event, redis_store_last_error(store));
        assert_refused_and_retrying();
        e = redis_store_last_error(store);
        ck_assert_msg(strstr(e, "refused the password of user \"alice\" (credential redis-password): WRONGPASS"),
                      "%s", e);
        ck_assert_msg(!strstr(e, "nope-123"), "%s", e);
        store = redis_store_free(store);

        /* Alice's password without her name: that is the disabled default user. */
        store_start(NULL, "pw");
        TEST_RUN_UNTIL(event, redis_store_last_error(store));
        assert_refused_and_retrying();
        e = redis_store_last_error(store);
        ck_assert_msg(strstr(e, "refused the password (credential redis-password): WRONGPASS"), "%s", e);
        store = redis_store_free(store);

        /* Nothing at all. */
        store_start(NULL, NULL);
        TEST_RUN_UNTIL(event, redis_store_last_error(store));
        assert_refused_and_retrying();
        e = redis_store_last_error(store);
        ck_assert_msg(strstr(e, "NOAUTH"), "%s", e);
}
END_TEST

START_TEST(test_set_auth_args) {
        test_redis_start(&redis);
        ck_assert_int_eq(redis_store_new(&store, event, redis.socket, P, "node-a"), 0);

        ck_assert_int_eq(redis_store_set_auth(store, NULL, ""), -EINVAL);
        ck_assert_int_eq(redis_store_set_auth(store, "", "pw"), -EINVAL);
        ck_assert_int_eq(redis_store_set_auth(store, "alice", NULL), -EINVAL);
        ck_assert_int_eq(redis_store_set_auth(NULL, NULL, "pw"), -EINVAL);

        /* Set, then cleared again: no AUTH, so a Redis without password takes us. */
        ck_assert_int_eq(redis_store_set_auth(store, "alice", "pw"), 0);
        ck_assert_int_eq(redis_store_set_auth(store, NULL, NULL), 0);
        TEST_RUN_UNTIL(event, redis_store_is_connected(store));
}
END_TEST

static Suite *auth_suite(void) {
        Suite *s = suite_create("redis-auth");
        TCase *tc = tcase_create("core");

        tcase_add_unchecked_fixture(tc, test_base_dir_setup, test_base_dir_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_parse);
        tcase_add_test(tc, test_load_file);
        tcase_add_test(tc, test_no_password);
        tcase_add_test(tc, test_right_password);
        tcase_add_test(tc, test_wrong_password);
        tcase_add_test(tc, test_reply_withheld);
        tcase_add_test(tc, test_password_without_requirepass);
        tcase_add_test(tc, test_acl_user);
        tcase_add_test(tc, test_acl_user_from_file);
        tcase_add_test(tc, test_acl_refused);
        tcase_add_test(tc, test_set_auth_args);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(auth_suite());
        int failed;

        /* hiredis writes with write(2): a dead server must not kill us. */
        (void) signal(SIGPIPE, SIG_IGN);

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

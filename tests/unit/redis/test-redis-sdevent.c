/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hiredis ↔ sd-event adapter against a real redis-server. */

#include <check.h>
#include <errno.h>
#include <hiredis/async.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "redis-test-util.h"
#include "redis/redis-sdevent.h"

static TestRedis redis;
static sd_event *event;

typedef struct State {
        bool connected;
        int connect_status;
        bool disconnected;
        int disconnect_status;
        unsigned replies;
        unsigned null_replies;
        uint32_t events_in_callback;
        int enabled_in_callback;
        bool free_in_callback;
        bool disconnect_in_callback;
} State;

static void setup(void) {
        test_redis_start(&redis);
        ck_assert_int_ge(sd_event_new(&event), 0);
}

static void teardown(void) {
        event = sd_event_unref(event);
        test_redis_stop(&redis);
}

static void on_connect(const redisAsyncContext *ac, int status) {
        State *st = ac->data;

        st->connected = true;
        st->connect_status = status;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
        State *st = ac->data;

        st->disconnected = true;
        st->disconnect_status = status;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
        State *st = privdata;
        sd_event_source *src = redis_sdevent_get_source(ac);

        if (!reply) {
                st->null_replies++;
                return;
        }
        st->replies++;

        /* hiredis has written everything by now: only reading is left. */
        ck_assert_ptr_nonnull(src);
        ck_assert_int_ge(sd_event_source_get_io_events(src, &st->events_in_callback), 0);
        ck_assert_int_ge(sd_event_source_get_enabled(src, &st->enabled_in_callback), 0);

        if (st->free_in_callback) {
                st->free_in_callback = false;
                redisAsyncFree(ac);
        }
        if (st->disconnect_in_callback) {
                st->disconnect_in_callback = false;
                redisAsyncDisconnect(ac);
        }
}

static redisAsyncContext *connect_attached(State *st) {
        redisAsyncContext *ac = redisAsyncConnectUnix(redis.socket);

        ck_assert_ptr_nonnull(ac);
        ck_assert_int_eq(ac->err, 0);
        ac->data = st;
        ck_assert_int_eq(redis_sdevent_attach(ac, event), 0);
        ck_assert_int_eq(redis_sdevent_attach(ac, event), -EBUSY);
        ck_assert_int_eq(redisAsyncSetConnectCallback(ac, on_connect), REDIS_OK);
        ck_assert_int_eq(redisAsyncSetDisconnectCallback(ac, on_disconnect), REDIS_OK);
        return ac;
}

static void assert_source(redisAsyncContext *ac, uint32_t events, int enabled) {
        sd_event_source *src = redis_sdevent_get_source(ac);
        uint32_t e;
        int en;

        ck_assert_ptr_nonnull(src);
        ck_assert_int_ge(sd_event_source_get_enabled(src, &en), 0);
        ck_assert_int_eq(en, enabled);
        if (enabled != SD_EVENT_OFF) {
                ck_assert_int_ge(sd_event_source_get_io_events(src, &e), 0);
                ck_assert_uint_eq(e, events);
        }
}


START_TEST(test_toggle) {
        State st = {};
        redisAsyncContext *ac;

        ck_assert_ptr_null(redis_sdevent_get_source(NULL));

        ac = connect_attached(&st);
        /* Waiting for connect(2) to finish: write only. */
        assert_source(ac, EPOLLOUT, SD_EVENT_ON);

        TEST_RUN_UNTIL(event, st.connected);
        ck_assert_int_eq(st.connect_status, REDIS_OK);
        test_run_idle(event);
        /* Connected, nothing to send: read only. */
        assert_source(ac, EPOLLIN, SD_EVENT_ON);

        ck_assert_int_eq(redisAsyncCommand(ac, on_reply, &st, "PING"), REDIS_OK);
        /* Something to send: both, on the one source. */
        assert_source(ac, EPOLLIN | EPOLLOUT, SD_EVENT_ON);

        TEST_RUN_UNTIL(event, st.replies >= 1);
        ck_assert_uint_eq(st.events_in_callback, EPOLLIN);
        ck_assert_int_eq(st.enabled_in_callback, SD_EVENT_ON);
        assert_source(ac, EPOLLIN, SD_EVENT_ON);

        redisAsyncFree(ac);
        ck_assert(st.disconnected);
        ck_assert_int_eq(st.disconnect_status, REDIS_OK);
        ck_assert_uint_eq(st.null_replies, 0);
        test_run_idle(event);
}
END_TEST


START_TEST(test_free_in_callback) {
        State st = {};
        redisAsyncContext *ac = connect_attached(&st);

        TEST_RUN_UNTIL(event, st.connected);

        /* Two commands in flight, replies likely in one read: the first
         * callback frees the context while the adapter's handler is on the
         * stack; the second callback then sees NULL. */
        st.free_in_callback = true;
        ck_assert_int_eq(redisAsyncCommand(ac, on_reply, &st, "PING"), REDIS_OK);
        ck_assert_int_eq(redisAsyncCommand(ac, on_reply, &st, "PING"), REDIS_OK);

        TEST_RUN_UNTIL(event, st.disconnected);
        ck_assert_uint_eq(st.replies, 1);
        ck_assert_uint_eq(st.null_replies, 1);
        ck_assert_int_eq(st.disconnect_status, REDIS_OK);

        /* The loop goes on without the source (ASan/valgrind see any use after free). */
        test_run_idle(event);
}
END_TEST

START_TEST(test_disconnect_in_callback) {
        State st = {};
        redisAsyncContext *ac = connect_attached(&st);

        TEST_RUN_UNTIL(event, st.connected);

        /* A clean disconnect from inside the callback: hiredis frees the
         * context once the replies are done, from inside the read handler. */
        st.disconnect_in_callback = true;
        ck_assert_int_eq(redisAsyncCommand(ac, on_reply, &st, "PING"), REDIS_OK);

        TEST_RUN_UNTIL(event, st.disconnected);
        ck_assert_uint_eq(st.replies, 1);
        ck_assert_uint_eq(st.null_replies, 0);
        ck_assert_int_eq(st.disconnect_status, REDIS_OK);
        test_run_idle(event);
}
END_TEST

START_TEST(test_server_closes) {
        State st = {};
        redisAsyncContext *ac = connect_attached(&st);

        TEST_RUN_UNTIL(event, st.connected);

        /* The server goes away with a command pending: EOF in the read
         * handler, hiredis tears the context down there. */
        ck_assert_int_eq(redisAsyncCommand(ac, on_reply, &st, "PING"), REDIS_OK);
        test_redis_kill(&redis);

        TEST_RUN_UNTIL(event, st.disconnected);
        ck_assert_uint_eq(st.replies, 0);
        ck_assert_uint_eq(st.null_replies, 1);
        ck_assert_int_eq(st.disconnect_status, REDIS_ERR);
        test_run_idle(event);
}
END_TEST

START_TEST(test_connect_refused) {
        State st = {};
        redisAsyncContext *ac;

        /* Nobody listens any more: connect(2) on the stale socket fails
         * right away, or the first write event reports it. Either way no
         * source is left behind. */
        test_redis_kill(&redis);
        ac = redisAsyncConnectUnix(redis.socket);
        ck_assert_ptr_nonnull(ac);
        if (ac->err) {
                ck_assert(strlen(ac->errstr) > 0);
                redisAsyncFree(ac);
                return;
        }
        ac->data = &st;
        ck_assert_int_eq(redis_sdevent_attach(ac, event), 0);
        ck_assert_int_eq(redisAsyncSetConnectCallback(ac, on_connect), REDIS_OK);
        TEST_RUN_UNTIL(event, st.connected);
        ck_assert_int_eq(st.connect_status, REDIS_ERR);
        test_run_idle(event);
}
END_TEST

static Suite *sdevent_suite(void) {
        Suite *s = suite_create("redis-sdevent");
        TCase *tc = tcase_create("core");

        tcase_add_unchecked_fixture(tc, test_base_dir_setup, test_base_dir_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_toggle);
        tcase_add_test(tc, test_free_in_callback);
        tcase_add_test(tc, test_disconnect_in_callback);
        tcase_add_test(tc, test_server_closes);
        tcase_add_test(tc, test_connect_refused);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(sdevent_suite());
        int failed;

        /* hiredis writes with write(2): a dead peer must not kill us. */
        (void) signal(SIGPIPE, SIG_IGN);

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

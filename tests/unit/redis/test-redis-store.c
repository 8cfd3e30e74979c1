/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The Redis store against a real redis-server (one per test). Results are
 * checked twice: through the store's callbacks and by reading the keys
 * directly with a blocking hiredis connection.
 */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "redis-test-util.h"
#include "redis/redis-store.h"
#include "shared/exec-id.h"
#include "shared/macro.h"

#define P "pyexecd:"
#define CREATED_USEC UINT64_C(1732900000123456)

static TestRedis redis;
static sd_event *event;
static RedisStore *store;
static redisContext *direct;
static unsigned n_up, n_down;

typedef struct Result {
        bool done;
        int r;
        uint64_t position;
        ExecRecord rec;
        bool have_rec;
        char *outputs;                  /* compact JSON */
        char *code, *stdin_data;
        size_t code_size, stdin_size;
        char *entry_id;
        size_t n_events;
        char *ev_id[16], *ev_type[16], *ev_data[16];
        uint64_t queued, running;
        char *ids[16];
        size_t n_ids;
} Result;

static void result_done(Result *res) {
        exec_record_done(&res->rec);
        free(res->outputs);
        free(res->code);
        free(res->stdin_data);
        free(res->entry_id);
        for (size_t i = 0; i < res->n_events; i++) {
                free(res->ev_id[i]);
                free(res->ev_type[i]);
                free(res->ev_data[i]);
        }
        for (size_t i = 0; i < res->n_ids; i++)
                free(res->ids[i]);
        *res = (Result) {};
}

static char *memdup_nul(const char *p, size_t n) {
        char *c = malloc(n + 1);

        ck_assert_ptr_nonnull(c);
        memcpy(c, p, n);
        c[n] = 0;
        return c;
}

static void record_copy(ExecRecord *dst, const ExecRecord *src) {
        *dst = *src;
        dst->cell_id = src->cell_id ? strdup(src->cell_id) : NULL;
        dst->notebook_id = src->notebook_id ? strdup(src->notebook_id) : NULL;
        dst->error = src->error ? strdup(src->error) : NULL;
        dst->node = src->node ? strdup(src->node) : NULL;
        dst->queue_entry = src->queue_entry ? strdup(src->queue_entry) : NULL;
}

/* ---- callbacks ---- */

static void on_state(RedisStore *s, bool connected, void *userdata) {
        ck_assert_ptr_eq(s, store);
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
        if (r < 0) {
                ck_assert_ptr_null(rec);
                return;
        }
        record_copy(&res->rec, rec);
        res->have_rec = true;
        res->outputs = json_dumps(outputs, JSON_COMPACT);
        ck_assert_ptr_nonnull(res->outputs);
}

static void on_events(RedisStore *s, int r, const RedisEvent *events, size_t n, void *userdata) {
        Result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
        ck_assert_uint_le(n, ELEMENTSOF(res->ev_id));
        for (size_t i = 0; i < n; i++) {
                res->ev_id[i] = strdup(events[i].id);
                res->ev_type[i] = strdup(events[i].type);
                res->ev_data[i] = memdup_nul(events[i].data, events[i].data_size);
        }
        res->n_events = n;
}

static void on_append(RedisStore *s, int r, const char *entry_id, void *userdata) {
        Result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
        if (entry_id)
                res->entry_id = strdup(entry_id);
}

static void on_claim(RedisStore *s, int r, const ExecRecord *rec, const char *code, size_t code_size,
                     const char *stdin_data, size_t stdin_size, void *userdata) {
        Result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
        if (!rec)
                return;
        record_copy(&res->rec, rec);
        res->have_rec = true;
        res->code = memdup_nul(code, code_size);
        res->code_size = code_size;
        if (stdin_data) {
                res->stdin_data = memdup_nul(stdin_data, stdin_size);
                res->stdin_size = stdin_size;
        }
}

static void on_done(RedisStore *s, int r, void *userdata) {
        Result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
}

static void on_counts(RedisStore *s, int r, uint64_t queued, uint64_t running, void *userdata) {
        Result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
        res->queued = queued;
        res->running = running;
}

static void on_ids(RedisStore *s, int r, char *const *ids, void *userdata) {
        Result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
        for (size_t i = 0; ids && ids[i]; i++) {
                ck_assert_uint_lt(i, ELEMENTSOF(res->ids));
                res->ids[i] = strdup(ids[i]);
                res->n_ids = i + 1;
        }
}

/* ---- fixture ---- */

static RedisStore *store_new(const char *node) {
        RedisStore *s;

        ck_assert_int_eq(redis_store_new(&s, event, redis.socket, P, node), 0);
        /* Quick retries keep the loss tests short; the connect and command
         * timeouts stay at their defaults (5 s), so that a slow machine
         * never turns a late reply into a failure. */
        redis_store_set_timeouts(s, 0, 0, 50 * 1000);
        return s;
}

static void setup(void) {
        n_up = n_down = 0;
        test_redis_start(&redis);
        direct = test_redis_connect(&redis);
        ck_assert_int_ge(sd_event_new(&event), 0);
        store = store_new("node-a");
        redis_store_set_state_handler(store, on_state, NULL);
        ck_assert(!redis_store_is_connected(store));
        TEST_RUN_UNTIL(event, redis_store_is_connected(store));
        ck_assert_uint_eq(n_up, 1);
        ck_assert_ptr_null(redis_store_last_error(store));
}

static void teardown(void) {
        store = redis_store_free(store);
        event = sd_event_unref(event);
        if (direct)
                redisFree(direct);
        direct = NULL;
        test_redis_stop(&redis);
}

/* ---- helpers ---- */

static void record_new(ExecRecord *r, const char *cell_id) {
        *r = (ExecRecord) EXEC_RECORD_INIT;
        ck_assert_int_eq(exec_id_new(r->id), 0);
        r->cell_id = cell_id ? strdup(cell_id) : NULL;
        r->has_execution_count = true;
        r->execution_count = 3;
        r->created_usec = CREATED_USEC;
        r->limits = (Limits) {
                .timeout_usec = 30000000,
                .memory_max = 536870912,
                .cpu_quota_per_sec_usec = 1000000,
                .tasks_max = 64,
                .output_max = 1048576,
        };
        r->owner_uid = 1000;
}

static int submit(const ExecRecord *rec, const char *code, size_t code_size,
                  const char *stdin_data, size_t stdin_size, unsigned max_queued, uint64_t *ret_position) {
        Result res = {};

        ck_assert_int_eq(redis_store_submit(store, rec, code, code_size, stdin_data, stdin_size,
                                            max_queued, on_submit, &res), 0);
        /* Never from inside the call. */
        ck_assert(!res.done);
        TEST_RUN_UNTIL(event, res.done);
        if (ret_position)
                *ret_position = res.position;
        return res.r;
}

static void submit_ok(const ExecRecord *rec, const char *code, uint64_t expected_position) {
        uint64_t position = 0;

        ck_assert_int_eq(submit(rec, code, strlen(code), NULL, 0, 100, &position), 0);
        ck_assert_uint_eq(position, expected_position);
}

static void get(const char *id, Result *res) {
        *res = (Result) {};
        ck_assert_int_eq(redis_store_get(store, id, on_get, res), 0);
        ck_assert(!res->done);
        TEST_RUN_UNTIL(event, res->done);
}

static void claim(RedisStore *s, uint64_t now, Result *res) {
        *res = (Result) {};
        ck_assert_int_eq(redis_store_claim(s, now, on_claim, res), 0);
        ck_assert(!res->done);
        TEST_RUN_UNTIL(event, res->done);
}

static int finish(const ExecRecord *rec, ExecState expected, json_t *outputs, uint64_t ttl_usec) {
        Result res = {};

        ck_assert_int_eq(redis_store_finish(store, rec, expected, outputs, NULL, ttl_usec, on_done, &res), 0);
        ck_assert(!res.done);
        TEST_RUN_UNTIL(event, res.done);
        return res.r;
}

static void read_events(const char *id, const char *after, unsigned count, Result *res) {
        *res = (Result) {};
        ck_assert_int_eq(redis_store_read_events(store, id, after, count, on_events, res), 0);
        ck_assert(!res->done);
        TEST_RUN_UNTIL(event, res->done);
}

static char *append_event(const char *id, const char *type, const char *data) {
        Result res = {};

        ck_assert_int_eq(redis_store_append_event(store, id, type, data, strlen(data), on_append, &res), 0);
        ck_assert(!res.done);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert_ptr_nonnull(res.entry_id);
        return res.entry_id;
}

static void queue_counts(uint64_t queued, uint64_t running) {
        Result res = {};

        ck_assert_int_eq(redis_store_queue_counts(store, on_counts, &res), 0);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert_uint_eq(res.queued, queued);
        ck_assert_uint_eq(res.running, running);
}

/* Direct reads. */

static long long direct_integer(const char *format, const char *arg) {
        redisReply *reply = test_redis_command(direct, format, arg);
        long long v;

        ck_assert_msg(reply->type == REDIS_REPLY_INTEGER, "%s: not an integer", format);
        v = reply->integer;
        freeReplyObject(reply);
        return v;
}

static long long key_exists(const char *id, const char *suffix) {
        char key[256];

        (void) snprintf(key, sizeof(key), P "exec:%s%s", id, suffix);
        return direct_integer("EXISTS %s", key);
}

static long long key_pttl(const char *id, const char *suffix) {
        char key[256];

        (void) snprintf(key, sizeof(key), P "exec:%s%s", id, suffix);
        return direct_integer("PTTL %s", key);
}

/* The hash holds exactly these pairs (NULL-terminated). */
static void assert_hash(const char *id, const char *const *expected) {
        redisReply *reply = test_redis_command(direct, "HGETALL " P "exec:%s", id);
        size_t n = 0;

        while (expected[n])
                n++;
        ck_assert_int_eq(reply->type, REDIS_REPLY_ARRAY);
        ck_assert_uint_eq(reply->elements, n);
        for (size_t i = 0; i < n; i += 2) {
                bool found = false;

                for (size_t j = 0; j < reply->elements; j += 2)
                        if (strcmp(reply->element[j]->str, expected[i]) == 0) {
                                ck_assert_msg(strcmp(reply->element[j + 1]->str, expected[i + 1]) == 0,
                                              "field %s: \"%s\", expected \"%s\"",
                                              expected[i], reply->element[j + 1]->str, expected[i + 1]);
                                found = true;
                        }
                ck_assert_msg(found, "field %s missing", expected[i]);
        }
        freeReplyObject(reply);
}

/* The events stream holds exactly these type/data pairs. */
static void assert_events(const char *id, const char *const *expected) {
        redisReply *reply = test_redis_command(direct, "XRANGE " P "exec:%s:events - +", id);
        size_t n = 0;

        while (expected[n])
                n++;
        ck_assert_int_eq(reply->type, REDIS_REPLY_ARRAY);
        ck_assert_uint_eq(reply->elements * 2, n);
        for (size_t i = 0; i < reply->elements; i++) {
                redisReply *f = reply->element[i]->element[1];

                /* Exactly two fields: "type" and "data". */
                ck_assert_uint_eq(f->elements, 4);
                ck_assert_str_eq(f->element[0]->str, "type");
                ck_assert_str_eq(f->element[1]->str, expected[2 * i]);
                ck_assert_str_eq(f->element[2]->str, "data");
                ck_assert_str_eq(f->element[3]->str, expected[2 * i + 1]);
        }
        freeReplyObject(reply);
}

static char *queue_entry_of(const char *id) {
        redisReply *reply = test_redis_command(direct, "HGET " P "exec:%s queue_entry", id);
        char *e;

        ck_assert_int_eq(reply->type, REDIS_REPLY_STRING);
        e = strdup(reply->str);
        freeReplyObject(reply);
        return e;
}

/* ---- tests ---- */

START_TEST(test_round_trip) {
        ExecRecord a, b, fin;
        Result res;
        _cleanup_free_ char *entry = NULL, *out1 = NULL;
        json_auto_t *outputs = NULL;
        redisReply *reply;
        char created[32];

        record_new(&a, "cell-a");
        a.notebook_id = strdup("nb-1");
        record_new(&b, NULL);

        submit_ok(&a, "print(1)\n", 1);
        submit_ok(&b, "x = 2", 2);

        /* What submit wrote. */
        entry = queue_entry_of(a.id);
        (void) snprintf(created, sizeof(created), "%llu", (unsigned long long) CREATED_USEC);
        assert_hash(a.id, (const char *const[]) {
                "state", "queued", "cell_id", "cell-a", "notebook_id", "nb-1",
                "execution_count", "3", "created_usec", created, "truncated", "0",
                "timeout_usec", "30000000", "memory_max", "536870912",
                "cpu_quota_per_sec_usec", "1000000", "tasks_max", "64", "output_max", "1048576",
                "owner_uid", "1000", "queue_entry", entry, "has_stdin", "0", NULL });
        reply = test_redis_command(direct, "GET " P "exec:%s:code", a.id);
        ck_assert_int_eq(reply->type, REDIS_REPLY_STRING);
        ck_assert_str_eq(reply->str, "print(1)\n");
        freeReplyObject(reply);
        ck_assert_int_eq(key_exists(a.id, ":stdin"), 0);
        assert_events(a.id, (const char *const[]) { "status", "{\"status\":\"queued\"}", NULL });
        reply = test_redis_command(direct, "XRANGE " P "queue - +");
        ck_assert_uint_eq(reply->elements, 2);
        ck_assert_str_eq(reply->element[0]->element[0]->str, entry);
        ck_assert_uint_eq(reply->element[0]->element[1]->elements, 2);
        ck_assert_str_eq(reply->element[0]->element[1]->element[0]->str, "id");
        ck_assert_str_eq(reply->element[0]->element[1]->element[1]->str, a.id);
        freeReplyObject(reply);
        reply = test_redis_command(direct, "ZRANGE " P "queued 0 -1 WITHSCORES");
        ck_assert_uint_eq(reply->elements, 4);
        ck_assert_str_eq(reply->element[0]->str, a.id);
        ck_assert_str_eq(reply->element[1]->str, "1");
        ck_assert_str_eq(reply->element[2]->str, b.id);
        ck_assert_str_eq(reply->element[3]->str, "2");
        freeReplyObject(reply);
        queue_counts(2, 0);

        /* get while queued: the record, outputs from the events (none). */
        get(a.id, &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert_str_eq(res.rec.id, a.id);
        ck_assert_int_eq(res.rec.state, EXEC_STATE_QUEUED);
        ck_assert_str_eq(res.rec.cell_id, "cell-a");
        ck_assert_str_eq(res.rec.notebook_id, "nb-1");
        ck_assert_int_eq(res.rec.execution_count, 3);
        ck_assert_uint_eq(res.rec.created_usec, CREATED_USEC);
        ck_assert_uint_eq(res.rec.limits.memory_max, 536870912);
        ck_assert_uint_eq(res.rec.owner_uid, 1000);
        ck_assert_str_eq(res.rec.queue_entry, entry);
        ck_assert(!res.rec.has_stdin);
        ck_assert_str_eq(res.outputs, "[]");
        result_done(&res);

        /* claim: the oldest, now running on this node. */
        claim(store, CREATED_USEC + 1000000, &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert(res.have_rec);
        ck_assert_str_eq(res.rec.id, a.id);
        ck_assert_int_eq(res.rec.state, EXEC_STATE_RUNNING);
        ck_assert_uint_eq(res.rec.started_usec, CREATED_USEC + 1000000);
        ck_assert_str_eq(res.rec.node, "node-a");
        ck_assert_str_eq(res.rec.queue_entry, entry);
        ck_assert_uint_eq(res.code_size, strlen("print(1)\n"));
        ck_assert_str_eq(res.code, "print(1)\n");
        ck_assert_ptr_null(res.stdin_data);
        record_copy(&fin, &res.rec);
        result_done(&res);

        reply = test_redis_command(direct, "HGET " P "running %s", a.id);
        ck_assert_str_eq(reply->str, "node-a");
        freeReplyObject(reply);
        reply = test_redis_command(direct, "ZSCORE " P "queued %s", a.id);
        ck_assert_int_eq(reply->type, REDIS_REPLY_NIL);
        freeReplyObject(reply);
        queue_counts(1, 1);

        /* An output while running: status derives the outputs from the events. */
        out1 = append_event(a.id, "output", "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"1\\n\"}");
        get(a.id, &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert_int_eq(res.rec.state, EXEC_STATE_RUNNING);
        ck_assert_str_eq(res.outputs, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"1\\n\"}]");
        result_done(&res);

        /* finish: terminal fields, outputs, status and end events, TTL. */
        fin.state = EXEC_STATE_SUCCEEDED;
        fin.finished_usec = CREATED_USEC + 2500000;
        fin.has_exit_code = true;
        fin.exit_code = 0;
        fin.has_resources = true;
        fin.wall_usec = 1500000;
        fin.cpu_usec = 250000;
        fin.memory_peak_bytes = 10485760;
        outputs = json_loads("[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"1\\n\"}]", 0, NULL);
        ck_assert_int_eq(finish(&fin, EXEC_STATE_RUNNING, outputs, 86400 * USEC_PER_SEC), 0);

        {
                _cleanup_free_ char *status = NULL;
                json_auto_t *j = exec_record_to_status_json(&fin, outputs);
                char started[32], finished[32];

                status = json_dumps(j, JSON_COMPACT);
                (void) snprintf(started, sizeof(started), "%llu", (unsigned long long) CREATED_USEC + 1000000);
                (void) snprintf(finished, sizeof(finished), "%llu", (unsigned long long) CREATED_USEC + 2500000);
                assert_hash(a.id, (const char *const[]) {
                        "state", "succeeded", "cell_id", "cell-a", "notebook_id", "nb-1",
                        "execution_count", "3", "created_usec", created, "started_usec", started,
                        "finished_usec", finished, "exit_code", "0", "truncated", "0",
                        "wall_usec", "1500000", "cpu_usec", "250000", "memory_peak_bytes", "10485760",
                        "timeout_usec", "30000000", "memory_max", "536870912",
                        "cpu_quota_per_sec_usec", "1000000", "tasks_max", "64", "output_max", "1048576",
                        "owner_uid", "1000", "node", "node-a", "queue_entry", entry, "has_stdin", "0", NULL });
                assert_events(a.id, (const char *const[]) {
                        "status", "{\"status\":\"queued\"}",
                        "status", "{\"status\":\"running\"}",
                        "output", "{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"1\\n\"}",
                        "status", "{\"status\":\"succeeded\"}",
                        "end", status,
                        NULL });

                /* get after the end: the stored outputs, the same status object. */
                get(a.id, &res);
                ck_assert_int_eq(res.r, 0);
                ck_assert_str_eq(res.outputs, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"1\\n\"}]");
                {
                        json_auto_t *o = json_loads(res.outputs, 0, NULL);
                        json_auto_t *j2 = exec_record_to_status_json(&res.rec, o);
                        _cleanup_free_ char *status2 = json_dumps(j2, JSON_COMPACT);

                        ck_assert_str_eq(status2, status);
                        ck_assert_ptr_nonnull(strstr(status2, "\"status\":\"succeeded\""));
                        ck_assert_ptr_nonnull(strstr(status2, "\"started_at\":\"2024-11-29T17:06:41.123456Z\""));
                }
                result_done(&res);
        }

        reply = test_redis_command(direct, "GET " P "exec:%s:outputs", a.id);
        ck_assert_str_eq(reply->str, "[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"1\\n\"}]");
        freeReplyObject(reply);
        ck_assert_int_eq(direct_integer("HLEN %s", P "running"), 0);
        ck_assert_int_eq(direct_integer("XLEN %s", P "queue"), 1);
        reply = test_redis_command(direct, "XPENDING " P "queue pyexecd");
        ck_assert_int_eq(reply->element[0]->integer, 0);
        freeReplyObject(reply);
        queue_counts(1, 0);

        /* Every key of the execution expires; TTL is about a day. */
        ck_assert_int_gt(key_pttl(a.id, ""), 86000 * 1000LL);
        ck_assert_int_le(key_pttl(a.id, ""), 86400 * 1000LL);
        ck_assert_int_gt(key_pttl(a.id, ":code"), 0);
        ck_assert_int_gt(key_pttl(a.id, ":events"), 0);
        ck_assert_int_gt(key_pttl(a.id, ":outputs"), 0);
        /* The other one is untouched. */
        ck_assert_int_eq(key_pttl(b.id, ""), -1);

        /* Nothing may follow the end event. */
        {
                Result r2 = {};
                ck_assert_int_eq(redis_store_append_event(store, a.id, "output", "{}", 2, on_append, &r2), 0);
                TEST_RUN_UNTIL(event, r2.done);
                ck_assert_int_eq(r2.r, -EBUSY);
        }

        exec_record_done(&a);
        exec_record_done(&b);
        exec_record_done(&fin);
}
END_TEST

START_TEST(test_queue_full) {
        ExecRecord a, b;
        uint64_t position = 0;
        redisReply *reply;

        record_new(&a, NULL);
        record_new(&b, NULL);
        ck_assert_int_eq(submit(&a, "1", 1, NULL, 0, 1, &position), 0);
        ck_assert_uint_eq(position, 1);

        ck_assert_int_eq(submit(&b, "2", 1, "in", 2, 1, &position), -EBUSY);
        /* Nothing of b is stored, nothing else changed. */
        ck_assert_int_eq(key_exists(b.id, ""), 0);
        ck_assert_int_eq(key_exists(b.id, ":code"), 0);
        ck_assert_int_eq(key_exists(b.id, ":stdin"), 0);
        ck_assert_int_eq(key_exists(b.id, ":events"), 0);
        ck_assert_int_eq(direct_integer("XLEN %s", P "queue"), 1);
        ck_assert_int_eq(direct_integer("ZCARD %s", P "queued"), 1);
        reply = test_redis_command(direct, "GET " P "queue:seq");
        ck_assert_str_eq(reply->str, "1");
        freeReplyObject(reply);

        /* The same id twice is refused too. */
        ck_assert_int_eq(submit(&a, "1", 1, NULL, 0, 10, &position), -EEXIST);
        ck_assert_int_eq(direct_integer("XLEN %s", P "queue"), 1);

        exec_record_done(&a);
        exec_record_done(&b);
}
END_TEST

START_TEST(test_cancel_queued) {
        ExecRecord a, b, c, d;
        Result res;

        record_new(&a, NULL);
        record_new(&b, NULL);
        submit_ok(&a, "a", 1);
        submit_ok(&b, "b", 2);

        /* Cancel a while queued. */
        a.state = EXEC_STATE_CANCELLED;
        a.finished_usec = CREATED_USEC + 5;
        ck_assert_int_eq(finish(&a, EXEC_STATE_QUEUED, NULL, 60 * USEC_PER_SEC), 0);
        {
                json_auto_t *j = exec_record_to_status_json(&a, NULL);
                _cleanup_free_ char *end = json_dumps(j, JSON_COMPACT);

                ck_assert_ptr_nonnull(strstr(end, "\"status\":\"cancelled\""));
                ck_assert_ptr_nonnull(strstr(end, "\"outputs\":[]"));
                assert_events(a.id, (const char *const[]) {
                        "status", "{\"status\":\"queued\"}",
                        "status", "{\"status\":\"cancelled\"}",
                        "end", end,
                        NULL });
        }
        ck_assert_int_gt(key_pttl(a.id, ""), 0);
        ck_assert_int_eq(direct_integer("ZCARD %s", P "queued"), 1);
        ck_assert_int_eq(direct_integer("XLEN %s", P "queue"), 1);
        queue_counts(1, 0);

        /* Cancelling again (or finishing it as running) fails: it is no longer queued. */
        ck_assert_int_eq(finish(&a, EXEC_STATE_QUEUED, NULL, 60 * USEC_PER_SEC), -EBUSY);

        /* claim passes it by and takes b. */
        claim(store, CREATED_USEC + 10, &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert(res.have_rec);
        ck_assert_str_eq(res.rec.id, b.id);
        ck_assert_str_eq(res.code, "b");
        result_done(&res);

        /* Entries whose execution is not queued any more (changed behind the
         * queue's back) or is gone (expired) are skipped and removed. */
        record_new(&c, NULL);
        record_new(&d, NULL);
        submit_ok(&c, "c", 1);
        submit_ok(&d, "d", 2);
        freeReplyObject(test_redis_command(direct, "HSET " P "exec:%s state cancelled", c.id));
        freeReplyObject(test_redis_command(direct, "DEL " P "exec:%s", d.id));
        /* b's entry stays until b finishes. */
        ck_assert_int_eq(direct_integer("XLEN %s", P "queue"), 3);
        claim(store, CREATED_USEC + 20, &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert(!res.have_rec);
        ck_assert_int_eq(direct_integer("XLEN %s", P "queue"), 1);
        ck_assert_int_eq(direct_integer("ZCARD %s", P "queued"), 0);
        {
                redisReply *reply = test_redis_command(direct, "XPENDING " P "queue pyexecd");

                /* Only b's entry is pending (it runs). */
                ck_assert_int_eq(reply->element[0]->integer, 1);
                freeReplyObject(reply);
        }

        exec_record_done(&a);
        exec_record_done(&b);
        exec_record_done(&c);
        exec_record_done(&d);
}
END_TEST

START_TEST(test_finish_wrong_state) {
        ExecRecord a, ghost;
        redisReply *before, *after;

        record_new(&a, "x");
        submit_ok(&a, "a", 1);
        before = test_redis_command(direct, "HGETALL " P "exec:%s", a.id);

        a.state = EXEC_STATE_FAILED;
        a.has_exit_code = true;
        a.exit_code = 1;
        ck_assert_int_eq(finish(&a, EXEC_STATE_RUNNING, NULL, 60 * USEC_PER_SEC), -EBUSY);

        /* Nothing changed. */
        after = test_redis_command(direct, "HGETALL " P "exec:%s", a.id);
        ck_assert_uint_eq(after->elements, before->elements);
        for (size_t i = 0; i < before->elements; i++)
                ck_assert_str_eq(after->element[i]->str, before->element[i]->str);
        freeReplyObject(before);
        freeReplyObject(after);
        assert_events(a.id, (const char *const[]) { "status", "{\"status\":\"queued\"}", NULL });
        ck_assert_int_eq(key_exists(a.id, ":outputs"), 0);
        ck_assert_int_eq(key_pttl(a.id, ""), -1);
        ck_assert_int_eq(key_pttl(a.id, ":code"), -1);
        ck_assert_int_eq(direct_integer("ZCARD %s", P "queued"), 1);
        ck_assert_int_eq(direct_integer("XLEN %s", P "queue"), 1);

        /* Unknown execution. */
        record_new(&ghost, NULL);
        ghost.state = EXEC_STATE_CANCELLED;
        ck_assert_int_eq(finish(&ghost, EXEC_STATE_QUEUED, NULL, USEC_PER_SEC), -ENOENT);
        ck_assert_int_eq(key_exists(ghost.id, ""), 0);
        ck_assert_int_eq(key_exists(ghost.id, ":events"), 0);

        /* Not a terminal state, or a nonsense expectation: refused at once. */
        a.state = EXEC_STATE_RUNNING;
        ck_assert_int_eq(redis_store_finish(store, &a, EXEC_STATE_QUEUED, NULL, NULL, 1, NULL, NULL), -EINVAL);
        a.state = EXEC_STATE_FAILED;
        ck_assert_int_eq(redis_store_finish(store, &a, EXEC_STATE_FAILED, NULL, NULL, 1, NULL, NULL), -EINVAL);

        exec_record_done(&a);
        exec_record_done(&ghost);
}
END_TEST

START_TEST(test_read_events) {
        ExecRecord a;
        Result res;
        _cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL;
        char ghost[EXEC_ID_LEN + 1];

        record_new(&a, NULL);
        submit_ok(&a, "a", 1);
        e1 = append_event(a.id, "output", "{\"n\":1}");
        e2 = append_event(a.id, "clear_output", "{\"wait\":false}");
        e3 = append_event(a.id, "output", "{\"n\":3}");

        read_events(a.id, NULL, 0, &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert_uint_eq(res.n_events, 4);
        ck_assert_str_eq(res.ev_type[0], "status");
        ck_assert_str_eq(res.ev_data[0], "{\"status\":\"queued\"}");
        ck_assert_str_eq(res.ev_id[1], e1);
        ck_assert_str_eq(res.ev_id[3], e3);
        result_done(&res);

        /* Strictly after: the resume of an SSE stream. */
        read_events(a.id, e1, 0, &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert_uint_eq(res.n_events, 2);
        ck_assert_str_eq(res.ev_id[0], e2);
        ck_assert_str_eq(res.ev_type[0], "clear_output");
        ck_assert_str_eq(res.ev_data[0], "{\"wait\":false}");
        ck_assert_str_eq(res.ev_id[1], e3);
        ck_assert_str_eq(res.ev_data[1], "{\"n\":3}");
        result_done(&res);

        read_events(a.id, e1, 1, &res);
        ck_assert_uint_eq(res.n_events, 1);
        ck_assert_str_eq(res.ev_id[0], e2);
        result_done(&res);

        read_events(a.id, e3, 10, &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert_uint_eq(res.n_events, 0);
        result_done(&res);

        ck_assert_int_eq(exec_id_new(ghost), 0);
        read_events(ghost, NULL, 10, &res);
        ck_assert_int_eq(res.r, -ENOENT);
        result_done(&res);

        /* Refused at once: not an entry id, not an execution id. */
        ck_assert_int_eq(redis_store_read_events(store, a.id, "1-2-3", 1, on_events, &res), -EINVAL);
        ck_assert_int_eq(redis_store_read_events(store, a.id, "(1-2", 1, on_events, &res), -EINVAL);
        ck_assert_int_eq(redis_store_read_events(store, "x:code", NULL, 1, on_events, &res), -EINVAL);
        ck_assert_int_eq(redis_store_get(store, "0123", on_get, &res), -EINVAL);
        ck_assert(!res.done);

        get(ghost, &res);
        ck_assert_int_eq(res.r, -ENOENT);
        result_done(&res);

        exec_record_done(&a);
}
END_TEST

START_TEST(test_binary) {
        static const char code[] = "print('a\\0b')\0\xff\xfe\n\0";
        static const char input[] = "\0line\r\n\0\x80";
        ExecRecord a;
        Result res;
        redisReply *reply;

        record_new(&a, NULL);
        ck_assert_int_eq(submit(&a, code, sizeof(code), input, sizeof(input), 10, NULL), 0);

        reply = test_redis_command(direct, "GET " P "exec:%s:code", a.id);
        ck_assert_uint_eq(reply->len, sizeof(code));
        ck_assert(memcmp(reply->str, code, sizeof(code)) == 0);
        freeReplyObject(reply);
        reply = test_redis_command(direct, "HGET " P "exec:%s has_stdin", a.id);
        ck_assert_str_eq(reply->str, "1");
        freeReplyObject(reply);

        claim(store, CREATED_USEC, &res);
        ck_assert(res.have_rec);
        ck_assert(res.rec.has_stdin);
        ck_assert_uint_eq(res.code_size, sizeof(code));
        ck_assert(memcmp(res.code, code, sizeof(code)) == 0);
        ck_assert_ptr_nonnull(res.stdin_data);
        ck_assert_uint_eq(res.stdin_size, sizeof(input));
        ck_assert(memcmp(res.stdin_data, input, sizeof(input)) == 0);
        result_done(&res);

        /* An empty stdin is still a stdin. */
        {
                ExecRecord b;

                record_new(&b, NULL);
                ck_assert_int_eq(submit(&b, "", 0, "", 0, 10, NULL), 0);
                claim(store, CREATED_USEC, &res);
                ck_assert(res.have_rec);
                ck_assert(res.rec.has_stdin);
                ck_assert_uint_eq(res.code_size, 0);
                ck_assert_ptr_nonnull(res.stdin_data);
                ck_assert_uint_eq(res.stdin_size, 0);
                result_done(&res);
                exec_record_done(&b);
        }

        /* Every key expires once it ended, stdin included. */
        a.state = EXEC_STATE_ERROR;
        a.error = strdup("interrupted: service stopped");
        ck_assert_int_eq(finish(&a, EXEC_STATE_RUNNING, NULL, 10 * USEC_PER_SEC), 0);
        ck_assert_int_gt(key_pttl(a.id, ""), 0);
        ck_assert_int_gt(key_pttl(a.id, ":code"), 0);
        ck_assert_int_gt(key_pttl(a.id, ":stdin"), 0);
        ck_assert_int_gt(key_pttl(a.id, ":events"), 0);
        ck_assert_int_gt(key_pttl(a.id, ":outputs"), 0);
        ck_assert_int_le(key_pttl(a.id, ":stdin"), 10000);

        exec_record_done(&a);
}
END_TEST

START_TEST(test_running_on_node) {
        RedisStore *other;
        ExecRecord a, b;
        Result ra, rb, res;

        other = store_new("node-b");
        TEST_RUN_UNTIL(event, redis_store_is_connected(other));

        record_new(&a, NULL);
        record_new(&b, NULL);
        submit_ok(&a, "a", 1);
        submit_ok(&b, "b", 2);
        claim(store, 1, &ra);
        claim(other, 2, &rb);
        ck_assert_str_eq(ra.rec.id, a.id);
        ck_assert_str_eq(ra.rec.node, "node-a");
        ck_assert_str_eq(rb.rec.id, b.id);
        ck_assert_str_eq(rb.rec.node, "node-b");

        res = (Result) {};
        ck_assert_int_eq(redis_store_running_on_node(store, on_ids, &res), 0);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert_uint_eq(res.n_ids, 1);
        ck_assert_str_eq(res.ids[0], a.id);
        result_done(&res);

        ck_assert_int_eq(redis_store_running_on_node(other, on_ids, &res), 0);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_uint_eq(res.n_ids, 1);
        ck_assert_str_eq(res.ids[0], b.id);
        result_done(&res);
        queue_counts(0, 2);

        /* Finished: no longer running anywhere. */
        a.state = EXEC_STATE_SUCCEEDED;
        ck_assert_int_eq(finish(&a, EXEC_STATE_RUNNING, NULL, USEC_PER_SEC * 60), 0);
        ck_assert_int_eq(redis_store_running_on_node(store, on_ids, &res), 0);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert_uint_eq(res.n_ids, 0);
        result_done(&res);

        result_done(&ra);
        result_done(&rb);
        exec_record_done(&a);
        exec_record_done(&b);
        redis_store_free(other);
}
END_TEST

START_TEST(test_redis_killed) {
        ExecRecord a;
        Result res = {};
        char ghost[EXEC_ID_LEN + 1];

        /* A command is pending (not even sent: that needs the loop) when the
         * server dies; it cannot have answered. */
        ck_assert_int_eq(exec_id_new(ghost), 0);
        ck_assert_int_eq(redis_store_get(store, ghost, on_get, &res), 0);
        test_redis_kill(&redis);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_eq(res.r, -ECONNRESET);
        TEST_RUN_UNTIL(event, n_down == 1);
        ck_assert(!redis_store_is_connected(store));
        ck_assert_ptr_nonnull(redis_store_last_error(store));
        ck_assert(strncmp(redis_store_last_error(store), "Redis at ", 9) == 0);

        /* Refused at once while down. */
        res = (Result) {};
        ck_assert_int_eq(redis_store_get(store, ghost, on_get, &res), -ENOTCONN);
        ck_assert_int_eq(redis_store_queue_counts(store, on_counts, &res), -ENOTCONN);
        ck_assert(!res.done);

        /* Back on the same socket: the store finds it again by itself. */
        redisFree(direct);
        test_redis_restart(&redis);
        direct = test_redis_connect(&redis);
        TEST_RUN_UNTIL(event, n_up == 2);
        ck_assert(redis_store_is_connected(store));
        ck_assert_uint_eq(n_down, 1);
        ck_assert_ptr_null(redis_store_last_error(store));

        record_new(&a, NULL);
        submit_ok(&a, "after", 1);
        claim(store, 1, &res);
        ck_assert_str_eq(res.rec.id, a.id);
        result_done(&res);
        exec_record_done(&a);
}
END_TEST

START_TEST(test_command_timeout) {
        char ghost[EXEC_ID_LEN + 1];
        Result res = {}, res2 = {};

        ck_assert_int_eq(exec_id_new(ghost), 0);

        /* A stopped server accepts our bytes and never answers: whatever
         * the timeout, it passes. A short one keeps the test quick. */
        redis_store_set_timeouts(store, 0, 300 * 1000, 0);
        test_redis_pause(&redis);
        ck_assert_int_eq(redis_store_get(store, ghost, on_get, &res), 0);
        ck_assert_int_eq(redis_store_queue_counts(store, on_counts, &res2), 0);
        TEST_RUN_UNTIL(event, res.done && res2.done);
        ck_assert_int_eq(res.r, -ETIMEDOUT);
        ck_assert_int_eq(res2.r, -ETIMEDOUT);
        ck_assert_uint_eq(n_down, 1);
        ck_assert(!redis_store_is_connected(store));
        ck_assert_ptr_nonnull(strstr(redis_store_last_error(store), "No reply"));

        /* Once it runs again, the store reconnects. */
        test_redis_resume(&redis);
        TEST_RUN_UNTIL(event, n_up == 2);
        res = (Result) {};
        get(ghost, &res);
        ck_assert_int_eq(res.r, -ENOENT);
}
END_TEST

static void on_reconnect(RedisStore *s, int r, void *userdata) {
        Result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
}

START_TEST(test_reconnect) {
        Result res = {}, pending = {};
        char ghost[EXEC_ID_LEN + 1];

        ck_assert_int_eq(exec_id_new(ghost), 0);

        /* Connected: drops (pending requests see a reset) and comes back. */
        ck_assert_int_eq(redis_store_get(store, ghost, on_get, &pending), 0);
        ck_assert_int_eq(redis_store_reconnect(store, on_reconnect, &res), 0);
        ck_assert(!res.done);
        ck_assert(!pending.done);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_eq(res.r, 0);
        ck_assert(pending.done);
        ck_assert_int_eq(pending.r, -ECONNRESET);
        ck_assert_uint_eq(n_down, 1);
        ck_assert_uint_eq(n_up, 2);
        ck_assert(redis_store_is_connected(store));

        /* Redis gone: the attempt's failure answers. */
        test_redis_kill(&redis);
        TEST_RUN_UNTIL(event, n_down == 2);
        res = (Result) {};
        ck_assert_int_eq(redis_store_reconnect(store, on_reconnect, &res), 0);
        TEST_RUN_UNTIL(event, res.done);
        ck_assert_int_lt(res.r, 0);
        ck_assert_int_ne(res.r, -ECONNRESET);
        ck_assert_ptr_nonnull(redis_store_last_error(store));
}
END_TEST

START_TEST(test_unreachable) {
        RedisStore *s;
        char path[PATH_MAX];

        /* A socket that nobody listens on (yet). */
        ck_assert_int_lt(snprintf(path, sizeof(path), "%s/later.sock", redis.dir), 108);
        ck_assert_int_eq(redis_store_new(&s, event, path, P, "node-c"), 0);
        redis_store_set_timeouts(s, 0, 0, 50 * 1000);
        TEST_RUN_UNTIL(event, redis_store_last_error(s));
        ck_assert(!redis_store_is_connected(s));
        ck_assert_ptr_nonnull(strstr(redis_store_last_error(s), path));
        ck_assert_ptr_nonnull(strstr(redis_store_last_error(s), "No such file or directory"));

        /* It keeps trying, and connects once a server listens there. */
        {
                TestRedis later = { .pid = 0 };

                memcpy(later.dir, redis.dir, sizeof(later.dir));
                memcpy(later.socket, path, sizeof(later.socket));
                test_redis_restart(&later);
                TEST_RUN_UNTIL(event, redis_store_is_connected(s));
                ck_assert_ptr_null(redis_store_last_error(s));
                redis_store_free(s);
                test_redis_kill(&later);
        }
}
END_TEST

START_TEST(test_addresses) {
        static const char *const bad[] = {
                "", "host:", "host:0", "host:65536", "host:12ab", "host:-1", ":6379",
                "::1:6379", "[::1", "[]:6379", "[::1]x", "[::1]:", "/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        };
        static const char *const good[] = {
                "127.0.0.1:6379", "[::1]:6379", "[::1]", "localhost", "redis.example:1", "/run/redis.sock",
        };
        RedisStore *s;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(redis_store_new(&s, event, bad[i], P, "n") == -EINVAL, "accepted \"%s\"", bad[i]);
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                ck_assert_msg(redis_store_new(&s, event, good[i], P, "n") == 0, "refused \"%s\"", good[i]);
                /* Freed before its first attempt: nothing happens. */
                s = redis_store_free(s);
        }
        ck_assert_int_eq(redis_store_new(&s, event, "/x", P, ""), -EINVAL);
}
END_TEST

START_TEST(test_free_cancels) {
        Result a = {}, b = {};
        char ghost[EXEC_ID_LEN + 1];

        ck_assert_int_eq(exec_id_new(ghost), 0);
        ck_assert_int_eq(redis_store_get(store, ghost, on_get, &a), 0);
        ck_assert_int_eq(redis_store_reconnect(store, on_reconnect, &b), 0);
        store = redis_store_free(store);
        /* From inside redis_store_free(). */
        ck_assert(a.done);
        ck_assert_int_eq(a.r, -ECANCELED);
        ck_assert(b.done);
        ck_assert_int_eq(b.r, -ECANCELED);
        test_run_idle(event);
}
END_TEST

typedef struct FreeInCallback {
        Result first, second;
} FreeInCallback;

static void on_get_free(RedisStore *s, int r, const ExecRecord *rec, json_t *outputs, void *userdata) {
        FreeInCallback *f = userdata;

        on_get(s, r, rec, outputs, &f->first);
        /* The owner frees the store from inside a callback; the other pending
         * request is cancelled right here. */
        store = redis_store_free(store);
        ck_assert(f->second.done);
        ck_assert_int_eq(f->second.r, -ECANCELED);
}

START_TEST(test_free_in_callback) {
        FreeInCallback f = {};
        char ghost[EXEC_ID_LEN + 1];

        ck_assert_int_eq(exec_id_new(ghost), 0);
        ck_assert_int_eq(redis_store_get(store, ghost, on_get_free, &f), 0);
        ck_assert_int_eq(redis_store_get(store, ghost, on_get, &f.second), 0);
        TEST_RUN_UNTIL(event, f.first.done);
        ck_assert_int_eq(f.first.r, -ENOENT);
        ck_assert_ptr_null(store);
        test_run_idle(event);
}
END_TEST

START_TEST(test_script_flush) {
        ExecRecord a;
        Result res;

        /* Someone flushed the script cache: EVALSHA fails, EVAL takes over. */
        freeReplyObject(test_redis_command(direct, "SCRIPT FLUSH"));
        record_new(&a, NULL);
        submit_ok(&a, "a", 1);
        get(a.id, &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert_int_eq(res.rec.state, EXEC_STATE_QUEUED);
        result_done(&res);
        exec_record_done(&a);
}
END_TEST

START_TEST(test_not_connected) {
        RedisStore *s;
        ExecRecord a;
        Result res = {};

        /* Before the first connection is set up, everything is refused at once. */
        record_new(&a, NULL);
        ck_assert_int_eq(redis_store_new(&s, event, redis.socket, P, "node-d"), 0);
        ck_assert(!redis_store_is_connected(s));
        ck_assert_int_eq(redis_store_submit(s, &a, "x", 1, NULL, 0, 10, on_submit, &res), -ENOTCONN);
        ck_assert_int_eq(redis_store_get(s, a.id, on_get, &res), -ENOTCONN);
        ck_assert_int_eq(redis_store_claim(s, 1, on_claim, &res), -ENOTCONN);
        ck_assert_int_eq(redis_store_running_on_node(s, on_ids, &res), -ENOTCONN);
        ck_assert(!res.done);
        redis_store_free(s);
        exec_record_done(&a);
}
END_TEST

static Suite *store_suite(void) {
        Suite *s = suite_create("redis-store");
        TCase *tc = tcase_create("core");

        tcase_add_unchecked_fixture(tc, test_base_dir_setup, test_base_dir_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_queue_full);
        tcase_add_test(tc, test_cancel_queued);
        tcase_add_test(tc, test_finish_wrong_state);
        tcase_add_test(tc, test_read_events);
        tcase_add_test(tc, test_binary);
        tcase_add_test(tc, test_running_on_node);
        tcase_add_test(tc, test_redis_killed);
        tcase_add_test(tc, test_command_timeout);
        tcase_add_test(tc, test_reconnect);
        tcase_add_test(tc, test_unreachable);
        tcase_add_test(tc, test_addresses);
        tcase_add_test(tc, test_free_cancels);
        tcase_add_test(tc, test_free_in_callback);
        tcase_add_test(tc, test_script_flush);
        tcase_add_test(tc, test_not_connected);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(store_suite());
        int failed;

        /* hiredis writes with write(2): a dead server must not kill us. */
        (void) signal(SIGPIPE, SIG_IGN);

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The operations of the store (redis-store.h): each is one script call
 * (redis-scripts.c) sent as a Request, and the parsing of its reply into
 * the user's callback. Replies are parsed strictly: a shape we did not
 * write is -EBADMSG, never half-used.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "redis/redis-store-internal.h"
#include "shared/exec-id.h"
#include "shared/output-model.h"

#define STATUS_QUEUED "{\"status\":\"queued\"}"
#define STATUS_RUNNING "{\"status\":\"running\"}"

static void exec_record_donep(ExecRecord *r) {
        exec_record_done(r);
}

static int store_check(RedisStore *s) {
        if (!s || s->freed)
                return -EINVAL;
        if (s->state != STORE_READY)
                return -ENOTCONN;
        return 0;
}

int store_error_from_reply(RedisStore *s, const redisReply *reply) {
        static const struct {
                const char *code;
                int error;
        } table[] = {
                { "PYEXECD_FULL",   -EBUSY  },
                { "PYEXECD_STATE",  -EBUSY  },
                { "PYEXECD_NOENT",  -ENOENT },
                { "PYEXECD_EXISTS", -EEXIST },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t n = strlen(table[i].code);

                if (strncmp(reply->str, table[i].code, n) == 0 && (reply->str[n] == ' ' || reply->str[n] == 0))
                        return table[i].error;
        }

        store_set_error(s, "%s", reply->str);
        return -EPROTO;
}

/* ---- reply parsing ---- */

static bool reply_is(const redisReply *r, int type) {
        return r && r->type == type;
}

static bool reply_is_array_of_strings(const redisReply *r) {
        if (!reply_is(r, REDIS_REPLY_ARRAY))
                return false;
        for (size_t i = 0; i < r->elements; i++)
                if (!reply_is(r->element[i], REDIS_REPLY_STRING))
                        return false;
        return true;
}

/* Pointers into @r (an array of strings), NULL-terminated; free only the array. */
static int reply_string_pointers(const redisReply *r, char ***ret) {
        char **l;

        if (!reply_is_array_of_strings(r))
                return -EBADMSG;
        l = calloc(r->elements + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < r->elements; i++)
                l[i] = r->element[i]->str;
        *ret = l;
        return 0;
}

static int reply_to_record(const redisReply *r, const char *id, ExecRecord *rec) {
        _cleanup_free_ char **fields = NULL;
        int k;

        k = reply_string_pointers(r, &fields);
        if (k < 0)
                return k;
        return exec_record_from_fields(rec, id, fields, r->elements);
}

/* XRANGE's reply: [[id, [field, value, …]], …]. The events point into @r. */
static int reply_to_events(const redisReply *r, RedisEvent **ret, size_t *ret_n) {
        _cleanup_free_ RedisEvent *events = NULL;

        if (!reply_is(r, REDIS_REPLY_ARRAY))
                return -EBADMSG;

        events = calloc(MAX(r->elements, (size_t) 1), sizeof(RedisEvent));
        if (!events)
                return -ENOMEM;

        for (size_t i = 0; i < r->elements; i++) {
                const redisReply *e = r->element[i], *f;

                if (!reply_is(e, REDIS_REPLY_ARRAY) || e->elements != 2 ||
                    !reply_is(e->element[0], REDIS_REPLY_STRING) ||
                    !reply_is_array_of_strings(e->element[1]) || e->element[1]->elements % 2 != 0)
                        return -EBADMSG;

                events[i].id = e->element[0]->str;
                f = e->element[1];
                for (size_t j = 0; j < f->elements; j += 2) {
                        if (strcmp(f->element[j]->str, "type") == 0)
                                events[i].type = f->element[j + 1]->str;
                        else if (strcmp(f->element[j]->str, "data") == 0) {
                                events[i].data = f->element[j + 1]->str;
                                events[i].data_size = f->element[j + 1]->len;
                        }
                }
                if (!events[i].type || !events[i].data)
                        return -EBADMSG;
        }

        *ret = TAKE_PTR(events);
        *ret_n = r->elements;
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(OutputModel *, output_model_free);

/* The outputs a notebook would save, from the events so far. Events that
 * do not parse are skipped: a status must stay readable. */
static int outputs_from_events(const RedisEvent *events, size_t n, json_t **ret) {
        _cleanup_(output_model_freep) OutputModel *m = NULL;
        json_t *outputs;

        m = output_model_new();
        if (!m)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                json_auto_t *data = NULL;
                int r;

                if (strcmp(events[i].type, "status") == 0 || strcmp(events[i].type, "end") == 0)
                        continue;

                data = json_loadb(events[i].data, events[i].data_size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
                if (!data)
                        continue;
                r = output_model_apply(m, events[i].type, data);
                if (r == -ENOMEM)
                        return r;
        }

        outputs = output_model_outputs(m);
        if (!outputs)
                return -ENOMEM;
        *ret = outputs;
        return 0;
}

/* ---- completions ---- */

static void complete_submit(RedisStore *s, Request *req, int r, const redisReply *reply) {
        uint64_t position = 0;

        if (r >= 0) {
                if (reply_is(reply, REDIS_REPLY_ARRAY) && reply->elements >= 1 &&
                    reply_is(reply->element[0], REDIS_REPLY_INTEGER) && reply->element[0]->integer > 0)
                        position = (uint64_t) reply->element[0]->integer;
                else
                        r = -EBADMSG;
        }
        req->callback.submit(s, r, position, req->userdata);
}

static void complete_get(RedisStore *s, Request *req, int r, const redisReply *reply) {
        _cleanup_(exec_record_donep) ExecRecord rec = EXEC_RECORD_INIT;
        _cleanup_free_ RedisEvent *events = NULL;
        json_auto_t *outputs = NULL;
        size_t n = 0;

        if (r < 0)
                goto fail;

        if (!reply_is(reply, REDIS_REPLY_ARRAY) || reply->elements < 2) {
                r = -EBADMSG;
                goto fail;
        }
        r = reply_to_record(reply->element[0], req->id, &rec);
        if (r < 0)
                goto fail;

        if (reply_is(reply->element[1], REDIS_REPLY_STRING)) {
                outputs = json_loadb(reply->element[1]->str, reply->element[1]->len, JSON_ALLOW_NUL, NULL);
                if (!json_is_array(outputs)) {
                        r = -EBADMSG;
                        goto fail;
                }
        } else {
                if (reply->elements < 3) {
                        r = -EBADMSG;
                        goto fail;
                }
                r = reply_to_events(reply->element[2], &events, &n);
                if (r < 0)
                        goto fail;
                r = outputs_from_events(events, n, &outputs);
                if (r < 0)
                        goto fail;
        }

        req->callback.get(s, 0, &rec, outputs, req->userdata);
        return;

fail:
        req->callback.get(s, r, NULL, NULL, req->userdata);
}

static void complete_read_events(RedisStore *s, Request *req, int r, const redisReply *reply) {
        _cleanup_free_ RedisEvent *events = NULL;
        size_t n = 0;

        if (r >= 0)
                r = reply_to_events(reply, &events, &n);
        if (r < 0)
                req->callback.events(s, r, NULL, 0, req->userdata);
        else
                req->callback.events(s, 0, events, n, req->userdata);
}

static void complete_append_event(RedisStore *s, Request *req, int r, const redisReply *reply) {
        if (r >= 0 && !reply_is(reply, REDIS_REPLY_STRING))
                r = -EBADMSG;
        if (req->callback.append)
                req->callback.append(s, r, r >= 0 ? reply->str : NULL, req->userdata);
}

static void complete_claim(RedisStore *s, Request *req, int r, const redisReply *reply) {
        _cleanup_(exec_record_donep) ExecRecord rec = EXEC_RECORD_INIT;
        const redisReply *code, *stdin_reply;

        if (r < 0)
                goto fail;

        if (reply_is(reply, REDIS_REPLY_NIL)) {
                req->callback.claim(s, 0, NULL, NULL, 0, NULL, 0, req->userdata);
                return;
        }

        if (!reply_is(reply, REDIS_REPLY_ARRAY) || reply->elements != 4 ||
            !reply_is(reply->element[0], REDIS_REPLY_STRING)) {
                r = -EBADMSG;
                goto fail;
        }
        r = reply_to_record(reply->element[1], reply->element[0]->str, &rec);
        if (r < 0)
                goto fail;

        code = reply->element[2];
        stdin_reply = reply->element[3];
        if (!(reply_is(code, REDIS_REPLY_STRING) || reply_is(code, REDIS_REPLY_NIL)) ||
            !(reply_is(stdin_reply, REDIS_REPLY_STRING) || reply_is(stdin_reply, REDIS_REPLY_NIL))) {
                r = -EBADMSG;
                goto fail;
        }

        req->callback.claim(s, 0, &rec,
                            code->type == REDIS_REPLY_STRING ? code->str : "",
                            code->type == REDIS_REPLY_STRING ? code->len : 0,
                            stdin_reply->type == REDIS_REPLY_STRING ? stdin_reply->str : NULL,
                            stdin_reply->type == REDIS_REPLY_STRING ? stdin_reply->len : 0,
                            req->userdata);
        return;

fail:
        req->callback.claim(s, r, NULL, NULL, 0, NULL, 0, req->userdata);
}

static void complete_finish(RedisStore *s, Request *req, int r, const redisReply *reply) {
        if (r >= 0 && !reply_is(reply, REDIS_REPLY_STRING))
                r = -EBADMSG;
        if (req->callback.done)
                req->callback.done(s, r, req->userdata);
}

static void complete_queue_counts(RedisStore *s, Request *req, int r, const redisReply *reply) {
        if (r >= 0 && !(reply_is(reply, REDIS_REPLY_ARRAY) && reply->elements == 2 &&
                        reply_is(reply->element[0], REDIS_REPLY_INTEGER) && reply->element[0]->integer >= 0 &&
                        reply_is(reply->element[1], REDIS_REPLY_INTEGER) && reply->element[1]->integer >= 0))
                r = -EBADMSG;
        if (r < 0)
                req->callback.counts(s, r, 0, 0, req->userdata);
        else
                req->callback.counts(s, 0, (uint64_t) reply->element[0]->integer,
                                     (uint64_t) reply->element[1]->integer, req->userdata);
}

static void complete_running_on_node(RedisStore *s, Request *req, int r, const redisReply *reply) {
        _cleanup_free_ char **ids = NULL;

        if (r >= 0)
                r = reply_string_pointers(reply, &ids);
        req->callback.ids(s, r, r >= 0 ? ids : NULL, req->userdata);
}

static void complete_list(RedisStore *s, Request *req, int r, const redisReply *reply) {
        ExecRecord *recs = NULL;
        size_t n = 0;

        if (r >= 0 && !reply_is(reply, REDIS_REPLY_ARRAY))
                r = -EBADMSG;
        if (r >= 0) {
                recs = calloc(MAX(reply->elements, (size_t) 1), sizeof(ExecRecord));
                if (!recs)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < reply->elements; i++) {
                const redisReply *e = reply->element[i];

                if (!reply_is(e, REDIS_REPLY_ARRAY) || e->elements != 2 ||
                    !reply_is(e->element[0], REDIS_REPLY_STRING) || !exec_id_is_valid(e->element[0]->str)) {
                        r = -EBADMSG;
                        break;
                }
                recs[n] = (ExecRecord) EXEC_RECORD_INIT;
                r = reply_to_record(e->element[1], e->element[0]->str, &recs[n]);
                if (r == -EBADMSG) {
                        /* One record we cannot read must not hide the others. */
                        r = 0;
                        continue;
                }
                if (r >= 0)
                        n++;
        }

        if (r < 0)
                req->callback.list(s, r, NULL, 0, req->userdata);
        else
                req->callback.list(s, 0, recs, n, req->userdata);

        for (size_t i = 0; i < n; i++)
                exec_record_done(&recs[i]);
        free(recs);
}

void request_complete(RedisStore *s, Request *req, int r, const redisReply *reply) {
        if (r >= 0 && reply_is(reply, REDIS_REPLY_ERROR)) {
                r = store_error_from_reply(s, reply);
                reply = NULL;
        }

        switch (req->kind) {
        case REQUEST_SUBMIT:
                complete_submit(s, req, r, reply);
                break;
        case REQUEST_GET:
                complete_get(s, req, r, reply);
                break;
        case REQUEST_READ_EVENTS:
                complete_read_events(s, req, r, reply);
                break;
        case REQUEST_APPEND_EVENT:
                complete_append_event(s, req, r, reply);
                break;
        case REQUEST_CLAIM:
                complete_claim(s, req, r, reply);
                break;
        case REQUEST_FINISH:
                complete_finish(s, req, r, reply);
                break;
        case REQUEST_QUEUE_COUNTS:
                complete_queue_counts(s, req, r, reply);
                break;
        case REQUEST_RUNNING_ON_NODE:
                complete_running_on_node(s, req, r, reply);
                break;
        case REQUEST_LIST:
                complete_list(s, req, r, reply);
                break;
        default:
                break;
        }
}

/* ---- building requests ---- */

/* Adds the keys of execution @id with these suffixes ("" for the hash). */
static int args_add_exec_keys(RedisStore *s, Args *a, const char *id, const char *const *suffixes, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *k = store_exec_key(s, id, suffixes[i]);
                int r;

                if (!k)
                        return -ENOMEM;
                r = args_add_str(a, k);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int args_add_strv(Args *a, char **l) {
        for (char **i = l; i && *i; i++) {
                int r = args_add_str(a, *i);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int args_add_json(Args *a, const json_t *j) {
        _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

        if (!text)
                return -ENOMEM;
        return args_add_str(a, text);
}

/* Sends *@req; on success hiredis holds it until its callback. */
static int request_send_take(RedisStore *s, Request **req) {
        int r;

        r = request_send(s, *req);
        if (r < 0)
                return r;
        *req = NULL;
        return 0;
}

int redis_store_submit(RedisStore *s, const ExecRecord *rec, const char *code, size_t code_size,
                       const char *stdin_data, size_t stdin_size, unsigned max_queued,
                       redis_store_submit_t callback, void *userdata) {
        static const char *const suffixes[] = { "", ":code", ":stdin", ":events" };
        _cleanup_(request_freep) Request *req = NULL;
        _cleanup_strv_free_ char **fields = NULL;
        _cleanup_free_ char *owner_index = NULL;
        ExecOwnerKind owner_kind;
        ExecRecord copy;
        int r;

        if (!rec || !callback || (!code && code_size > 0) || !exec_id_is_valid(rec->id) ||
            rec->state != EXEC_STATE_QUEUED)
                return -EINVAL;
        r = store_check(s);
        if (r < 0)
                return r;

        /* The store owns these two fields. */
        copy = *rec;
        copy.has_stdin = stdin_data != NULL;
        copy.queue_entry = NULL;
        r = exec_record_to_fields(&copy, &fields);
        if (r < 0)
                return r;

        owner_kind = exec_record_owner_kind(rec);
        if (owner_kind != EXEC_OWNER_NONE) {
                owner_index = store_owner_index_key(s, owner_kind, rec->owner_uid);
                if (!owner_index)
                        return -ENOMEM;
        }

        r = request_new(s, REQUEST_SUBMIT, REDIS_SCRIPT_SUBMIT, owner_index ? 9 : 8, &req);
        if (r < 0)
                return r;
        r = args_add_exec_keys(s, &req->args, rec->id, suffixes, ELEMENTSOF(suffixes));
        if (r >= 0)
                r = args_add_str(&req->args, s->key_queue);
        if (r >= 0)
                r = args_add_str(&req->args, s->key_queued);
        if (r >= 0)
                r = args_add_str(&req->args, s->key_seq);
        if (r >= 0)
                r = args_add_str(&req->args, s->key_index_all);
        if (r >= 0 && owner_index)
                r = args_add_str(&req->args, owner_index);
        if (r >= 0)
                r = args_add_u64(&req->args, max_queued);
        if (r >= 0)
                r = args_add_str(&req->args, rec->id);
        if (r >= 0)
                r = args_add_str(&req->args, stdin_data ? "1" : "0");
        if (r >= 0)
                r = args_add(&req->args, code ?: "", code_size);
        if (r >= 0)
                r = args_add(&req->args, stdin_data ?: "", stdin_data ? stdin_size : 0);
        if (r >= 0)
                r = args_add_str(&req->args, STATUS_QUEUED);
        if (r >= 0)
                r = args_add_u64(&req->args, rec->created_usec);
        if (r >= 0)
                r = args_add_str(&req->args, s->prefix);
        if (r >= 0)
                r = args_add_strv(&req->args, fields);
        if (r < 0)
                return r;

        memcpy(req->id, rec->id, sizeof(req->id));
        req->callback.submit = callback;
        req->userdata = userdata;
        return request_send_take(s, &req);
}

int redis_store_get(RedisStore *s, const char *id, redis_store_get_t callback, void *userdata) {
        static const char *const suffixes[] = { "", ":outputs", ":events" };
        _cleanup_(request_freep) Request *req = NULL;
        int r;

        if (!callback || !exec_id_is_valid(id))
                return -EINVAL;
        r = store_check(s);
        if (r < 0)
                return r;

        r = request_new(s, REQUEST_GET, REDIS_SCRIPT_GET, 3, &req);
        if (r < 0)
                return r;
        r = args_add_exec_keys(s, &req->args, id, suffixes, ELEMENTSOF(suffixes));
        if (r < 0)
                return r;

        memcpy(req->id, id, sizeof(req->id));
        req->callback.get = callback;
        req->userdata = userdata;
        return request_send_take(s, &req);
}

/* "<ms>-<seq>" or "<ms>", decimal: what XRANGE takes as an entry id. */
static bool entry_id_is_valid(const char *s) {
        size_t n = strspn(s, "0123456789");

        if (n == 0 || n > 20)
                return false;
        if (s[n] == 0)
                return true;
        if (s[n] != '-')
                return false;
        s += n + 1;
        n = strspn(s, "0123456789");
        return n > 0 && n <= 20 && s[n] == 0;
}

int redis_store_read_events(RedisStore *s, const char *id, const char *after, unsigned count,
                            redis_store_events_t callback, void *userdata) {
        static const char *const suffixes[] = { "", ":events" };
        _cleanup_(request_freep) Request *req = NULL;
        _cleanup_free_ char *start = NULL;
        int r;

        if (!callback || !exec_id_is_valid(id) || (after && !entry_id_is_valid(after)))
                return -EINVAL;
        r = store_check(s);
        if (r < 0)
                return r;

        /* "(" makes the start exclusive (Redis 6.2+). */
        if (after ? asprintf(&start, "(%s", after) < 0 : !(start = strdup("-")))
                return -ENOMEM;

        r = request_new(s, REQUEST_READ_EVENTS, REDIS_SCRIPT_READ_EVENTS, 2, &req);
        if (r < 0)
                return r;
        r = args_add_exec_keys(s, &req->args, id, suffixes, ELEMENTSOF(suffixes));
        if (r >= 0)
                r = args_add_str(&req->args, start);
        if (r >= 0)
                r = args_add_u64(&req->args, count);
        if (r < 0)
                return r;

        memcpy(req->id, id, sizeof(req->id));
        req->callback.events = callback;
        req->userdata = userdata;
        return request_send_take(s, &req);
}

int redis_store_append_event(RedisStore *s, const char *id, const char *type, const char *data, size_t data_size,
                             redis_store_append_t callback, void *userdata) {
        static const char *const suffixes[] = { "", ":events" };
        _cleanup_(request_freep) Request *req = NULL;
        int r;

        if (!exec_id_is_valid(id) || !type || !type[0] || (!data && data_size > 0))
                return -EINVAL;
        r = store_check(s);
        if (r < 0)
                return r;

        r = request_new(s, REQUEST_APPEND_EVENT, REDIS_SCRIPT_APPEND_EVENT, 2, &req);
        if (r < 0)
                return r;
        r = args_add_exec_keys(s, &req->args, id, suffixes, ELEMENTSOF(suffixes));
        if (r >= 0)
                r = args_add_str(&req->args, type);
        if (r >= 0)
                r = args_add(&req->args, data ?: "", data_size);
        if (r < 0)
                return r;

        memcpy(req->id, id, sizeof(req->id));
        req->callback.append = callback;
        req->userdata = userdata;
        return request_send_take(s, &req);
}

int redis_store_claim(RedisStore *s, uint64_t now_usec, redis_store_claim_t callback, void *userdata) {
        _cleanup_(request_freep) Request *req = NULL;
        int r;

        if (!callback)
                return -EINVAL;
        r = store_check(s);
        if (r < 0)
                return r;

        r = request_new(s, REQUEST_CLAIM, REDIS_SCRIPT_CLAIM, 3, &req);
        if (r < 0)
                return r;
        r = args_add_str(&req->args, s->key_queue);
        if (r >= 0)
                r = args_add_str(&req->args, s->key_queued);
        if (r >= 0)
                r = args_add_str(&req->args, s->key_running);
        if (r >= 0)
                r = args_add_str(&req->args, REDIS_GROUP);
        if (r >= 0)
                r = args_add_str(&req->args, s->node);
        if (r >= 0)
                r = args_add_u64(&req->args, now_usec);
        if (r >= 0)
                r = args_add_str(&req->args, s->prefix);
        if (r >= 0)
                r = args_add_str(&req->args, STATUS_RUNNING);
        if (r < 0)
                return r;

        req->callback.claim = callback;
        req->userdata = userdata;
        return request_send_take(s, &req);
}

int redis_store_finish(RedisStore *s, const ExecRecord *rec, ExecState expected, json_t *outputs,
                       json_t *status_json, uint64_t ttl_usec, redis_store_done_t callback, void *userdata) {
        static const char *const suffixes[] = { "", ":events", ":outputs", ":code", ":stdin" };
        _cleanup_(request_freep) Request *req = NULL;
        _cleanup_strv_free_ char **fields = NULL;
        json_auto_t *empty = NULL, *status = NULL, *end = NULL;
        uint64_t ttl_msec;
        int r;

        if (!rec || !exec_id_is_valid(rec->id) || !exec_state_is_terminal(rec->state) ||
            (expected != EXEC_STATE_QUEUED && expected != EXEC_STATE_RUNNING))
                return -EINVAL;
        r = store_check(s);
        if (r < 0)
                return r;

        if (!outputs) {
                outputs = empty = json_array();
                if (!empty)
                        return -ENOMEM;
        }
        status = json_pack("{s:s}", "status", exec_state_to_string(rec->state));
        if (!status)
                return -ENOMEM;
        if (!status_json) {
                status_json = end = exec_record_to_status_json(rec, outputs);
                if (!end)
                        return -ENOMEM;
        }
        r = exec_record_to_fields(rec, &fields);
        if (r < 0)
                return r;

        /* PEXPIRE 0 would delete at once; a TTL rounds up to whole ms. */
        ttl_msec = MAX((ttl_usec + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (uint64_t) 1);

        r = request_new(s, REQUEST_FINISH, REDIS_SCRIPT_FINISH, 8, &req);
        if (r < 0)
                return r;
        r = args_add_exec_keys(s, &req->args, rec->id, suffixes, ELEMENTSOF(suffixes));
        if (r >= 0)
                r = args_add_str(&req->args, s->key_queue);
        if (r >= 0)
                r = args_add_str(&req->args, s->key_queued);
        if (r >= 0)
                r = args_add_str(&req->args, s->key_running);
        if (r >= 0)
                r = args_add_str(&req->args, exec_state_to_string(expected));
        if (r >= 0)
                r = args_add_u64(&req->args, ttl_msec);
        if (r >= 0)
                r = args_add_json(&req->args, outputs);
        if (r >= 0)
                r = args_add_json(&req->args, status);
        if (r >= 0)
                r = args_add_json(&req->args, status_json);
        if (r >= 0)
                r = args_add_str(&req->args, REDIS_GROUP);
        if (r >= 0)
                r = args_add_str(&req->args, rec->id);
        if (r >= 0)
                r = args_add_strv(&req->args, fields);
        if (r < 0)
                return r;

        memcpy(req->id, rec->id, sizeof(req->id));
        req->callback.done = callback;
        req->userdata = userdata;
        return request_send_take(s, &req);
}

int redis_store_queue_counts(RedisStore *s, redis_store_counts_t callback, void *userdata) {
        _cleanup_(request_freep) Request *req = NULL;
        int r;

        if (!callback)
                return -EINVAL;
        r = store_check(s);
        if (r < 0)
                return r;

        r = request_new(s, REQUEST_QUEUE_COUNTS, REDIS_SCRIPT_QUEUE_COUNTS, 2, &req);
        if (r < 0)
                return r;
        r = args_add_str(&req->args, s->key_queued);
        if (r >= 0)
                r = args_add_str(&req->args, s->key_running);
        if (r < 0)
                return r;

        req->callback.counts = callback;
        req->userdata = userdata;
        return request_send_take(s, &req);
}

int redis_store_running_on_node(RedisStore *s, redis_store_ids_t callback, void *userdata) {
        _cleanup_(request_freep) Request *req = NULL;
        int r;

        if (!callback)
                return -EINVAL;
        r = store_check(s);
        if (r < 0)
                return r;

        r = request_new(s, REQUEST_RUNNING_ON_NODE, REDIS_SCRIPT_RUNNING_ON_NODE, 1, &req);
        if (r < 0)
                return r;
        r = args_add_str(&req->args, s->key_running);
        if (r >= 0)
                r = args_add_str(&req->args, s->node);
        if (r < 0)
                return r;

        req->callback.ids = callback;
        req->userdata = userdata;
        return request_send_take(s, &req);
}

int redis_store_list(RedisStore *s, bool all, ExecOwnerKind kind, uid_t uid, unsigned max,
                     redis_store_list_t callback, void *userdata) {
        _cleanup_(request_freep) Request *req = NULL;
        _cleanup_free_ char *index = NULL;
        int r;

        if (!callback || max == 0 || (!all && kind != EXEC_OWNER_UID && kind != EXEC_OWNER_TOKEN))
                return -EINVAL;
        r = store_check(s);
        if (r < 0)
                return r;

        if (!all) {
                index = store_owner_index_key(s, kind, uid);
                if (!index)
                        return -ENOMEM;
        }

        r = request_new(s, REQUEST_LIST, REDIS_SCRIPT_LIST, 1, &req);
        if (r < 0)
                return r;
        r = args_add_str(&req->args, index ?: s->key_index_all);
        if (r >= 0)
                r = args_add_str(&req->args, s->prefix);
        if (r >= 0)
                r = args_add_u64(&req->args, max);
        if (r < 0)
                return r;

        req->callback.list = callback;
        req->userdata = userdata;
        return request_send_take(s, &req);
}

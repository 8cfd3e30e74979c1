/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The shared operations (ops.h). Each runs as an OpsCall, a small state
 * machine of steps joined by callbacks: authorise (polkit), wait for Redis
 * when it is (re)connecting, do the work, check that the caller may see the
 * execution, answer. A call waits for one thing at a time; what it waits
 * for decides how it ends when the daemon goes away: a polkit query is
 * cancelled (ops_abort_all()), the store and the executions call back with
 * an error.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/manager.h"
#include "daemon/ops.h"
#include "shared/exec-id.h"
#include "shared/log.h"
#include "shared/time-util.h"

/* A cancel races with the queue: a queued execution may be taken between
 * our read and our write. Retry that many times. */
#define CANCEL_ATTEMPTS 3

typedef enum OpsKind {
        OPS_KIND_EXECUTE,
        OPS_KIND_GET,
        OPS_KIND_CANCEL,
        OPS_KIND_LIST,
        OPS_KIND_QUEUE_STATUS,
        OPS_KIND_AUTHORIZE,
} OpsKind;

typedef void (*ops_step_t)(OpsCall *call);

struct OpsCall {
        Manager *manager;
        OpsKind kind;
        Caller caller;
        char id[EXEC_ID_LEN + 1];
        OpsGetFlags flags;
        const char *action;             /* OPS_KIND_AUTHORIZE */

        ExecRequest request;            /* execute */
        ExecRecord record;              /* execute: the new one; get, cancel: as loaded */
        bool have_record;
        json_t *outputs;
        bool visible;                   /* cancel: the visibility check passed already */
        bool via_manage;
        bool list_all;
        unsigned attempts;

        /* What the call waits for. */
        PolkitQuery *polkit_query;
        void (*auth_done)(OpsCall *call, PolkitResult result, const char *message);
        ops_step_t next;                /* after the store is there, after the visibility check */
        ops_step_t not_visible;

        ops_callback_t callback;
        void *userdata;
        LIST_FIELDS(OpsCall, calls);
};

/* ---- callers ---- */

void caller_done(Caller *c) {
        if (!c)
                return;
        free(c->bus_name);
        *c = (Caller) CALLER_INIT;
}

int caller_copy(Caller *dst, const Caller *src) {
        *dst = *src;
        dst->bus_name = NULL;
        if (src->bus_name) {
                dst->bus_name = strdup(src->bus_name);
                if (!dst->bus_name)
                        return -ENOMEM;
        }
        return 0;
}

bool caller_is_root(const Caller *c) {
        return c->kind != CALLER_TOKEN && c->uid == 0;
}

bool caller_owns(const Caller *c, const ExecRecord *rec) {
        switch (exec_record_owner_kind(rec)) {
        case EXEC_OWNER_UID:
                return c->kind != CALLER_TOKEN && c->uid == rec->owner_uid;
        case EXEC_OWNER_TOKEN:
                return c->kind == CALLER_TOKEN;
        default:
                return false;
        }
}

const char *caller_describe(const Caller *c, char *buf, size_t size) {
        switch (c->kind) {
        case CALLER_TOKEN:
                (void) snprintf(buf, size, "the HTTP bearer token");
                break;
        case CALLER_BUS:
                (void) snprintf(buf, size, "uid %" PRIu32 " (%s)", (uint32_t) c->uid, c->bus_name ?: "?");
                break;
        default:
                (void) snprintf(buf, size, "uid %" PRIu32 " (pid %d)", (uint32_t) c->uid, (int) c->pid);
                break;
        }
        return buf;
}

/* ---- results ---- */

const char *ops_status_to_http_code(OpsStatus s) {
        static const char *const table[_OPS_STATUS_MAX] = {
                [OPS_OK] = "ok",
                [OPS_NOT_FOUND] = "not_found",
                [OPS_QUEUE_FULL] = "queue_full",
                [OPS_INVALID_LIMITS] = "invalid_field",
                [OPS_INVALID_ARGUMENT] = "invalid_field",
                [OPS_WRONG_STATE] = "wrong_state",
                [OPS_ACCESS_DENIED] = "forbidden",
                [OPS_INTERACTIVE_REQUIRED] = "forbidden",
                [OPS_UNAVAILABLE] = "unavailable",
                [OPS_INTERNAL] = "internal",
        };
        return s >= 0 && s < _OPS_STATUS_MAX ? table[s] : "internal";
}

unsigned ops_status_to_http_status(OpsStatus s) {
        static const unsigned table[_OPS_STATUS_MAX] = {
                [OPS_OK] = 200,
                [OPS_NOT_FOUND] = 404,
                [OPS_QUEUE_FULL] = 429,
                [OPS_INVALID_LIMITS] = 400,
                [OPS_INVALID_ARGUMENT] = 400,
                [OPS_WRONG_STATE] = 409,
                [OPS_ACCESS_DENIED] = 403,
                [OPS_INTERACTIVE_REQUIRED] = 403,
                [OPS_UNAVAILABLE] = 503,
                [OPS_INTERNAL] = 500,
        };
        return s >= 0 && s < _OPS_STATUS_MAX ? table[s] : 500;
}

/* ---- calls ---- */

static OpsCall *ops_call_new(Manager *m, OpsKind kind, const Caller *c, const char *id, ops_callback_t callback,
                             void *userdata) {
        OpsCall *call;

        call = calloc(1, sizeof(*call));
        if (!call)
                return NULL;
        call->manager = m;
        call->kind = kind;
        call->caller = (Caller) CALLER_INIT;
        call->record = (ExecRecord) EXEC_RECORD_INIT;
        call->callback = callback;
        call->userdata = userdata;
        if (c && caller_copy(&call->caller, c) < 0) {
                free(call);
                return NULL;
        }
        if (id)
                (void) snprintf(call->id, sizeof(call->id), "%s", id);

        LIST_PREPEND(calls, m->ops_calls, call);
        m->n_ops_calls++;
        return call;
}

static void ops_call_free(OpsCall *call) {
        Manager *m = call->manager;

        LIST_REMOVE(calls, m->ops_calls, call);
        m->n_ops_calls--;
        polkit_query_cancel(call->polkit_query);
        caller_done(&call->caller);
        exec_request_done(&call->request);
        exec_record_done(&call->record);
        json_decref(call->outputs);
        free(call);
}

/* Answers and frees @call. */
static void ops_call_finish(OpsCall *call, OpsResult *res) {
        Manager *m = call->manager;

        if (!res->id && call->id[0])
                res->id = call->id;
        call->callback(m, res, call->userdata);
        ops_call_free(call);
}

static void ops_call_fail(OpsCall *call, OpsStatus status, const char *format, ...) _printf_(3, 4);
static void ops_call_fail(OpsCall *call, OpsStatus status, const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;
        int n;

        va_start(ap, format);
        n = vasprintf(&message, format, ap);
        va_end(ap);
        if (n < 0)
                message = NULL;

        OpsResult res = {
                .status = status,
                .message = message ?: "Out of memory.",
        };
        ops_call_finish(call, &res);
}

/* Callbacks that cannot even allocate their call. */
static void ops_fail_oom(Manager *m, ops_callback_t callback, void *userdata) {
        OpsResult res = { .status = OPS_INTERNAL, .message = "Out of memory." };

        log_oom();
        callback(m, &res, userdata);
}

static void ops_call_fail_store(OpsCall *call, int r) {
        Manager *m = call->manager;

        if (store_error_is_transient(r)) {
                _cleanup_free_ char *why = manager_redis_problem(m, r);
                ops_call_fail(call, OPS_UNAVAILABLE, "%s", why ?: "Redis is unreachable.");
        } else
                ops_call_fail(call, OPS_INTERNAL, "Redis request failed: %s", strerror(-r));
}

static void ops_call_fail_not_found(OpsCall *call) {
        ops_call_fail(call, OPS_NOT_FOUND, "No execution with id \"%s\".", call->id);
}

/* The registry entry for the call's record, stored again if it went meanwhile. */
static ExecEntry *ops_call_entry(OpsCall *call) {
        ExecEntry *e = NULL;

        if (call->have_record && registry_put(call->manager->registry, &call->record, &e) < 0)
                return NULL;
        return e;
}

static int ops_call_set_record(OpsCall *call, const ExecRecord *rec) {
        exec_record_done(&call->record);
        call->have_record = false;
        if (!rec)
                return 0;
        if (exec_record_copy(&call->record, rec) < 0)
                return -ENOMEM;
        call->have_record = true;
        return 0;
}

/* ---- waiting for Redis ---- */

static void ops_on_store_attempt(RedisStore *s, int r, void *userdata) {
        OpsCall *call = userdata;
        Manager *m = call->manager;

        if (!redis_store_is_connected(m->store)) {
                _cleanup_free_ char *why = manager_redis_problem(m, r);
                ops_call_fail(call, OPS_UNAVAILABLE, "%s", why ?: "Redis is unreachable.");
                return;
        }
        call->next(call);
}

/* Runs @next once Redis is there: now, or after the connection attempt
 * under way (right after start-up the first request is what started us). */
static void ops_call_need_store(OpsCall *call, ops_step_t next) {
        Manager *m = call->manager;

        if (redis_store_is_connected(m->store)) {
                next(call);
                return;
        }
        if (redis_store_is_connecting(m->store)) {
                call->next = next;
                if (redis_store_wait_attempt(m->store, ops_on_store_attempt, call) >= 0)
                        return;
        }
        _cleanup_free_ char *why = manager_redis_problem(m, 0);
        ops_call_fail(call, OPS_UNAVAILABLE, "%s", why ?: "Redis is unreachable.");
}

/* ---- authorisation ---- */

static void ops_on_polkit(PolkitResult result, const char *message, void *userdata) {
        OpsCall *call = userdata;

        call->polkit_query = NULL;
        if (message)
                log_debug("polkit: %s", message);
        call->auth_done(call, result, message);
}

/* Is the caller allowed @action? Calls @done with the outcome. Polkit may
 * ask the user only if @may_ask and the D-Bus call allows interaction. */
static void ops_call_authorize(OpsCall *call, const char *action, bool may_ask,
                               void (*done)(OpsCall *call, PolkitResult result, const char *message)) {
        Manager *m = call->manager;
        const Caller *c = &call->caller;
        _cleanup_free_ char *message = NULL;
        PolkitSubject subject = {};
        int r;

        if (caller_is_root(c)) {
                done(call, POLKIT_ALLOWED, NULL);
                return;
        }

        switch (c->kind) {
        case CALLER_TOKEN:
                /* The token stands for "may run code"; there is no one to
                 * ask polkit about for more. */
                if (strcmp(action, OPS_ACTION_EXECUTE) == 0)
                        done(call, POLKIT_ALLOWED, NULL);
                else
                        done(call, POLKIT_DENIED, NULL);
                return;
        case CALLER_BUS:
                subject.kind = POLKIT_SUBJECT_BUS_NAME;
                subject.bus_name = c->bus_name;
                break;
        case CALLER_UNIX:
                subject.kind = POLKIT_SUBJECT_PROCESS;
                subject.pid = c->pid;
                subject.start_time = c->start_time;
                subject.uid = c->uid;
                break;
        default:
                done(call, POLKIT_DENIED, "unknown kind of caller");
                return;
        }

        call->auth_done = done;
        r = polkit_client_check(m->polkit, &subject, action, may_ask && c->kind == CALLER_BUS && c->interactive,
                                ops_on_polkit, call, &call->polkit_query);
        if (r < 0) {
                log_warning_errno(r, "Cannot ask polkit about %s: %m", action);
                if (asprintf(&message, "cannot ask polkit: %s", strerror(-r)) < 0)
                        message = NULL;
                done(call, POLKIT_DENIED, message ?: "cannot ask polkit");
        }
}

/* ---- visibility ---- */

static void ops_on_manage_for_visibility(OpsCall *call, PolkitResult result, const char *message) {
        /* A challenge is not a grant; and an execution the caller may not
         * see must look exactly like one that does not exist. */
        if (result == POLKIT_ALLOWED && call->have_record) {
                call->via_manage = true;
                call->next(call);
        } else
                call->not_visible(call);
}

/*
 * Runs @visible if the caller may see the call's record, else @not_visible.
 * Without a record, asks the same (so that the time to the answer does not
 * tell an unknown id from one of somebody else) and runs @not_visible.
 */
static void ops_call_check_visible(OpsCall *call, ops_step_t visible, ops_step_t not_visible) {
        const Caller *c = &call->caller;

        if (call->have_record && (caller_owns(c, &call->record) || caller_is_root(c))) {
                visible(call);
                return;
        }
        if (c->kind == CALLER_TOKEN || caller_is_root(c)) {
                not_visible(call);
                return;
        }
        call->next = visible;
        call->not_visible = not_visible;
        /* Never interactive: a password prompt would tell that the id exists. */
        ops_call_authorize(call, OPS_ACTION_MANAGE, false, ops_on_manage_for_visibility);
}

/* ---- execute ---- */

static void ops_execute_on_submitted(RedisStore *s, int r, uint64_t queue_position, void *userdata) {
        OpsCall *call = userdata;
        Manager *m = call->manager;
        char who[128], id[EXEC_ID_LEN + 1];

        if (r == -EBUSY) {
                ops_call_fail(call, OPS_QUEUE_FULL, "The queue is full: %u executions wait (MaxQueued=).",
                              m->config.max_queued);
                return;
        }
        if (r < 0) {
                ops_call_fail_store(call, r);
                return;
        }

        log_debug("Execution %s queued at position %" PRIu64 " for %s.", call->id, queue_position,
                  caller_describe(&call->caller, who, sizeof(who)));

        OpsResult res = {
                .status = OPS_OK,
                .id = call->id,
                .queue_position = queue_position,
                .record = &call->record,
                .entry = ops_call_entry(call),
        };
        memcpy(id, call->id, sizeof(id));
        call->callback(m, &res, call->userdata);
        ops_call_free(call);

        /* After the answer: the front end subscribed the submitter first. */
        manager_notify(m, id);
        manager_claim(m);
}

static void ops_execute_submit(OpsCall *call) {
        Manager *m = call->manager;
        ExecRequest *er = &call->request;
        ExecRecord *rec = &call->record;
        int r;

        r = exec_id_new(rec->id);
        if (r < 0) {
                ops_call_fail(call, OPS_INTERNAL, "Failed to make an id: %s", strerror(-r));
                return;
        }
        memcpy(call->id, rec->id, sizeof(call->id));
        rec->state = EXEC_STATE_QUEUED;
        rec->cell_id = TAKE_PTR(er->cell_id);
        rec->notebook_id = TAKE_PTR(er->notebook_id);
        rec->has_execution_count = er->has_execution_count;
        rec->execution_count = er->execution_count;
        rec->created_usec = now_usec(CLOCK_REALTIME);
        rec->limits = er->limits;
        rec->has_stdin = er->stdin_data != NULL;
        if (call->caller.kind == CALLER_TOKEN)
                rec->owner_kind = EXEC_OWNER_TOKEN;
        else {
                rec->owner_kind = EXEC_OWNER_UID;
                rec->owner_uid = call->caller.uid;
        }
        call->have_record = true;

        r = redis_store_submit(m->store, rec, er->code, er->code_size, er->stdin_data, er->stdin_size,
                               m->config.max_queued, ops_execute_on_submitted, call);
        if (r < 0)
                ops_call_fail_store(call, r);
}

static void ops_execute_on_authorized(OpsCall *call, PolkitResult result, const char *message) {
        char who[128];

        if (result == POLKIT_ALLOWED) {
                ops_call_need_store(call, ops_execute_submit);
                return;
        }

        (void) caller_describe(&call->caller, who, sizeof(who));
        if (result == POLKIT_CHALLENGE && call->caller.kind == CALLER_BUS && !call->caller.interactive)
                ops_call_fail(call, OPS_INTERACTIVE_REQUIRED,
                              "Running code needs authentication (polkit action " OPS_ACTION_EXECUTE ").");
        else
                ops_call_fail(call, OPS_ACCESS_DENIED,
                              "Not authorised: %s may not run code here (polkit action " OPS_ACTION_EXECUTE "%s%s).",
                              who, message ? "; " : "", message ?: "");
}

void ops_execute(Manager *m, const Caller *c, ExecRequest *req, ops_callback_t callback, void *userdata) {
        OpsCall *call;

        call = ops_call_new(m, OPS_KIND_EXECUTE, c, NULL, callback, userdata);
        if (!call) {
                ops_fail_oom(m, callback, userdata);
                return;
        }
        /* Take the request's contents. */
        call->request = *req;
        *req = (ExecRequest) {};

        /* The same bound for both front ends: HTTP bodies are cut at
         * MaxRequestBytes= already, D-Bus messages are not. */
        if (call->request.code_size + call->request.stdin_size > m->config.max_request_bytes) {
                ops_call_fail(call, OPS_INVALID_ARGUMENT,
                              "The code and stdin of %zu bytes are above the limit of %" PRIu64 " bytes (MaxRequestBytes=).",
                              call->request.code_size + call->request.stdin_size, m->config.max_request_bytes);
                return;
        }

        ops_call_authorize(call, OPS_ACTION_EXECUTE, true, ops_execute_on_authorized);
}

/* ---- get ---- */

static void ops_get_visible(OpsCall *call) {
        OpsResult res = {
                .status = OPS_OK,
                .record = &call->record,
                .entry = ops_call_entry(call),
                .outputs = call->outputs,
                .via_manage = call->via_manage,
        };
        ops_call_finish(call, &res);
}

static void ops_get_on_loaded(RedisStore *s, int r, const ExecRecord *rec, json_t *outputs, void *userdata) {
        OpsCall *call = userdata;

        if (r == -ENOENT) {
                ops_call_check_visible(call, ops_call_fail_not_found, ops_call_fail_not_found);
                return;
        }
        if (r < 0) {
                ops_call_fail_store(call, r);
                return;
        }
        if (ops_call_set_record(call, rec) < 0) {
                ops_call_fail(call, OPS_INTERNAL, "Out of memory.");
                return;
        }
        call->outputs = json_incref(outputs);
        (void) registry_put(call->manager->registry, rec, NULL);

        ops_call_check_visible(call, ops_get_visible, ops_call_fail_not_found);
}

static void ops_get_load(OpsCall *call) {
        int r;

        r = redis_store_get(call->manager->store, call->id, ops_get_on_loaded, call);
        if (r < 0)
                ops_call_fail_store(call, r);
}

void ops_get(Manager *m, const Caller *c, const char *id, OpsGetFlags flags, ops_callback_t callback,
             void *userdata) {
        OpsCall *call;
        ExecEntry *e;

        if (!exec_id_is_valid(id)) {
                OpsResult res = { .status = OPS_NOT_FOUND, .id = id };
                _cleanup_free_ char *message = NULL;

                if (asprintf(&message, "No execution with id \"%s\".", id) < 0)
                        message = NULL;
                res.message = message ?: "No such execution.";
                callback(m, &res, userdata);
                return;
        }

        call = ops_call_new(m, OPS_KIND_GET, c, id, callback, userdata);
        if (!call) {
                ops_fail_oom(m, callback, userdata);
                return;
        }
        call->flags = flags;

        if (!(flags & OPS_GET_OUTPUTS)) {
                e = registry_get(m->registry, id);
                if (e) {
                        if (ops_call_set_record(call, &e->record) < 0) {
                                ops_call_fail(call, OPS_INTERNAL, "Out of memory.");
                                return;
                        }
                        ops_call_check_visible(call, ops_get_visible, ops_call_fail_not_found);
                        return;
                }
        }

        ops_call_need_store(call, ops_get_load);
}

/* ---- cancel ---- */

static void ops_cancel_load(OpsCall *call);

static void ops_cancel_respond_cancelled(OpsCall *call) {
        OpsResult res = {
                .status = OPS_OK,
                .record = call->have_record ? &call->record : NULL,
                .entry = ops_call_entry(call),
        };
        ops_call_finish(call, &res);
}

static void ops_cancel_on_running_done(RunningExecution *re, int r, void *userdata) {
        OpsCall *call = userdata;

        if (r < 0) {
                ops_call_fail(call, OPS_UNAVAILABLE, "The service stopped before the cancellation was recorded.");
                return;
        }
        (void) ops_call_set_record(call, &re->record);
        if (re->record.state == EXEC_STATE_CANCELLED)
                ops_cancel_respond_cancelled(call);
        else
                ops_call_fail(call, OPS_WRONG_STATE, "Execution %s already ended: %s.", call->id,
                              exec_state_to_string(re->record.state));
}

static void ops_cancel_on_stored(RedisStore *s, int r, void *userdata) {
        OpsCall *call = userdata;
        Manager *m = call->manager;

        if (r == -EBUSY && ++call->attempts < CANCEL_ATTEMPTS) {
                /* Taken from the queue meanwhile: look again. */
                ops_cancel_load(call);
                return;
        }
        if (r < 0) {
                ops_call_fail_store(call, r);
                return;
        }

        log_info("Execution %s cancelled while queued.", call->id);
        manager_record_changed(m, &call->record);
        manager_notify(m, call->id);
        ops_cancel_respond_cancelled(call);
}

/* A queued execution ends here and never starts; the write only happens if
 * it is still queued (else ops_cancel_on_stored() looks again). */
static void ops_cancel_queued(OpsCall *call) {
        Manager *m = call->manager;
        _cleanup_(json_decrefp) json_t *outputs = NULL, *status = NULL;
        int r;

        call->record.state = EXEC_STATE_CANCELLED;
        call->record.finished_usec = now_usec(CLOCK_REALTIME);

        outputs = json_array();
        status = outputs ? exec_record_to_status_json(&call->record, outputs) : NULL;
        if (!status) {
                ops_call_fail(call, OPS_INTERNAL, "Out of memory.");
                return;
        }
        r = redis_store_finish(m->store, &call->record, EXEC_STATE_QUEUED, outputs, status,
                               m->config.result_ttl_usec, ops_cancel_on_stored, call);
        if (r < 0)
                ops_call_fail_store(call, r);
}

/* The caller may cancel it: do it. */
static void ops_cancel_act(OpsCall *call) {
        Manager *m = call->manager;
        RunningExecution *re;
        int r;

        call->visible = true;

        re = manager_find_running(m, call->id);
        if (re) {
                r = running_execution_cancel(re, ops_cancel_on_running_done, call);
                if (r < 0)
                        ops_call_fail(call, OPS_INTERNAL, "Failed to cancel: %s", strerror(-r));
                return;
        }

        if (exec_state_is_terminal(call->record.state)) {
                ops_call_fail(call, OPS_WRONG_STATE, "Execution %s already ended: %s.", call->id,
                              exec_state_to_string(call->record.state));
                return;
        }

        if (call->record.state == EXEC_STATE_RUNNING) {
                if (call->record.node && strcmp(call->record.node, m->node) == 0) {
                        /* "Running" here, but not by us: left by a daemon that
                         * died; it ends now, as the start-up clean-up does. */
                        (void) manager_mark_interrupted(m, &call->record, call->outputs);
                        ops_call_fail(call, OPS_WRONG_STATE,
                                      "Execution %s already ended: error (interrupted: service stopped).", call->id);
                        return;
                }
                ops_call_fail(call, OPS_WRONG_STATE, "Execution %s runs on node %s, not here.", call->id,
                              call->record.node ?: "(unknown)");
                return;
        }

        ops_cancel_queued(call);
}

static void ops_cancel_on_loaded(RedisStore *s, int r, const ExecRecord *rec, json_t *outputs, void *userdata) {
        OpsCall *call = userdata;

        if (r == -ENOENT) {
                if (call->visible)
                        ops_call_fail_not_found(call);
                else
                        ops_call_check_visible(call, ops_call_fail_not_found, ops_call_fail_not_found);
                return;
        }
        if (r < 0) {
                ops_call_fail_store(call, r);
                return;
        }
        if (ops_call_set_record(call, rec) < 0) {
                ops_call_fail(call, OPS_INTERNAL, "Out of memory.");
                return;
        }
        json_decref(call->outputs);
        call->outputs = json_incref(outputs);
        (void) registry_put(call->manager->registry, rec, NULL);

        if (call->visible)
                ops_cancel_act(call);
        else
                ops_call_check_visible(call, ops_cancel_act, ops_call_fail_not_found);
}

static void ops_cancel_get(OpsCall *call) {
        int r;

        r = redis_store_get(call->manager->store, call->id, ops_cancel_on_loaded, call);
        if (r < 0)
                ops_call_fail_store(call, r);
}

static void ops_cancel_load(OpsCall *call) {
        RunningExecution *re;

        re = manager_find_running(call->manager, call->id);
        if (re) {
                if (ops_call_set_record(call, &re->record) < 0) {
                        ops_call_fail(call, OPS_INTERNAL, "Out of memory.");
                        return;
                }
                if (call->visible)
                        ops_cancel_act(call);
                else
                        ops_call_check_visible(call, ops_cancel_act, ops_call_fail_not_found);
                return;
        }

        ops_call_need_store(call, ops_cancel_get);
}

void ops_cancel(Manager *m, const Caller *c, const char *id, ops_callback_t callback, void *userdata) {
        OpsCall *call;

        if (!exec_id_is_valid(id)) {
                ops_get(m, c, id, 0, callback, userdata);       /* answers "not found" */
                return;
        }
        call = ops_call_new(m, OPS_KIND_CANCEL, c, id, callback, userdata);
        if (!call) {
                ops_fail_oom(m, callback, userdata);
                return;
        }
        ops_cancel_load(call);
}

/* ---- list ---- */

static void ops_list_on_listed(RedisStore *s, int r, const ExecRecord *recs, size_t n, void *userdata) {
        OpsCall *call = userdata;
        Manager *m = call->manager;

        if (r < 0) {
                ops_call_fail_store(call, r);
                return;
        }

        /* Listed executions get their objects (the registry makes room). */
        for (size_t i = 0; i < n; i++)
                (void) registry_put(m->registry, &recs[i], NULL);

        OpsResult res = {
                .status = OPS_OK,
                .records = recs,
                .n_records = n,
                .via_manage = call->via_manage,
        };
        ops_call_finish(call, &res);
}

static void ops_list_read(OpsCall *call) {
        Manager *m = call->manager;
        int r;

        if (call->list_all)
                r = redis_store_list(m->store, true, EXEC_OWNER_NONE, 0, OPS_LIST_MAX, ops_list_on_listed, call);
        else if (call->caller.kind == CALLER_TOKEN)
                r = redis_store_list(m->store, false, EXEC_OWNER_TOKEN, 0, OPS_LIST_MAX, ops_list_on_listed, call);
        else
                r = redis_store_list(m->store, false, EXEC_OWNER_UID, call->caller.uid, OPS_LIST_MAX,
                                     ops_list_on_listed, call);
        if (r < 0)
                ops_call_fail_store(call, r);
}

static void ops_list_on_authorized(OpsCall *call, PolkitResult result, const char *message) {
        call->list_all = result == POLKIT_ALLOWED;
        call->via_manage = call->list_all && !caller_is_root(&call->caller);
        ops_call_need_store(call, ops_list_read);
}

void ops_list(Manager *m, const Caller *c, ops_callback_t callback, void *userdata) {
        OpsCall *call;

        call = ops_call_new(m, OPS_KIND_LIST, c, NULL, callback, userdata);
        if (!call) {
                ops_fail_oom(m, callback, userdata);
                return;
        }
        if (c->kind == CALLER_TOKEN)
                ops_list_on_authorized(call, POLKIT_DENIED, NULL);
        else
                /* Listing shows one's own executions without asking; others'
                 * only with a grant that needs no prompt. */
                ops_call_authorize(call, OPS_ACTION_MANAGE, false, ops_list_on_authorized);
}

/* ---- queue status ---- */

static void ops_on_counts(RedisStore *s, int r, uint64_t queued, uint64_t running, void *userdata) {
        OpsCall *call = userdata;

        if (r < 0) {
                ops_call_fail_store(call, r);
                return;
        }
        OpsResult res = {
                .status = OPS_OK,
                .queued = queued,
                .running = running,
        };
        ops_call_finish(call, &res);
}

static void ops_queue_status_read(OpsCall *call) {
        int r;

        r = redis_store_queue_counts(call->manager->store, ops_on_counts, call);
        if (r < 0)
                ops_call_fail_store(call, r);
}

void ops_queue_status(Manager *m, ops_callback_t callback, void *userdata) {
        OpsCall *call;

        call = ops_call_new(m, OPS_KIND_QUEUE_STATUS, NULL, NULL, callback, userdata);
        if (!call) {
                ops_fail_oom(m, callback, userdata);
                return;
        }
        ops_call_need_store(call, ops_queue_status_read);
}

/* ---- authorize ---- */

static void ops_authorize_on_result(OpsCall *call, PolkitResult result, const char *message) {
        char who[128];

        if (result == POLKIT_ALLOWED) {
                OpsResult res = { .status = OPS_OK };
                ops_call_finish(call, &res);
                return;
        }
        (void) caller_describe(&call->caller, who, sizeof(who));
        if (result == POLKIT_CHALLENGE && call->caller.kind == CALLER_BUS && !call->caller.interactive)
                ops_call_fail(call, OPS_INTERACTIVE_REQUIRED, "This needs authentication (polkit action %s).",
                              call->action);
        else
                ops_call_fail(call, OPS_ACCESS_DENIED, "Not authorised: %s lacks polkit action %s%s%s.", who,
                              call->action, message ? "; " : "", message ?: "");
}

void ops_authorize(Manager *m, const Caller *c, const char *action, ops_callback_t callback, void *userdata) {
        OpsCall *call;

        call = ops_call_new(m, OPS_KIND_AUTHORIZE, c, NULL, callback, userdata);
        if (!call) {
                ops_fail_oom(m, callback, userdata);
                return;
        }
        call->action = action;
        ops_call_authorize(call, action, true, ops_authorize_on_result);
}

unsigned ops_get_n_pending(Manager *m) {
        return m->n_ops_calls;
}

void ops_abort_all(Manager *m) {
        /* Only calls that wait for polkit: the others wait for the store or
         * an execution, which call back (with an error) as they go. */
        LIST_FOREACH_SAFE(calls, call, n, m->ops_calls)
                if (call->polkit_query) {
                        call->polkit_query = polkit_query_cancel(call->polkit_query);
                        ops_call_fail(call, OPS_UNAVAILABLE, "The service is stopping.");
                }
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The HTTP API (DESIGN.md "HTTP API"), base /api/v1/execution. Handlers
 * answer at once or from a Redis / D-Bus callback; every asynchronous step
 * carries an ApiCall holding a reference on its HttpRequest.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/manager.h"
#include "daemon/probe.h"
#include "shared/exec-id.h"
#include "shared/exec-request.h"
#include "shared/log.h"
#include "shared/time-util.h"

#define API_BASE "/api/v1/execution"
/* A cancel races with the queue: a queued execution may be taken between
 * our read and our write. Retry that many times. */
#define CANCEL_ATTEMPTS 3

typedef struct ApiCall {
        Manager *manager;
        HttpRequest *request;
        char id[EXEC_ID_LEN + 1];
        unsigned attempts;

        /* POST /initialize */
        int redis_result;
        sd_bus_slot *slot;
        char *systemd_version;
        char *systemd_error;
        char *python_version;
        int python_result;
} ApiCall;

static ApiCall *api_call_new(Manager *m, HttpRequest *req, const char *id) {
        ApiCall *c;

        c = calloc(1, sizeof(*c));
        if (!c) {
                (void) http_request_respond_error(req, 500, "internal", "Out of memory.");
                return NULL;
        }
        c->manager = m;
        c->request = http_request_ref(req);
        if (id)
                (void) snprintf(c->id, sizeof(c->id), "%s", id);
        return c;
}

static void api_call_free(ApiCall *c) {
        if (!c)
                return;
        http_request_unref(c->request);
        sd_bus_slot_unref(c->slot);
        free(c->systemd_version);
        free(c->systemd_error);
        free(c->python_version);
        free(c);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ApiCall *, api_call_free);

typedef struct StoreWait {
        Manager *manager;
        HttpRequest *request;
        http_handler_t handler;
        char *arg;
} StoreWait;

static void api_on_store_attempt(RedisStore *s, int r, void *userdata) {
        StoreWait *w = userdata;

        /* Run the handler again: now connected, or it answers 503. */
        w->handler(w->request, w->arg, w->manager);
        http_request_unref(w->request);
        free(w->arg);
        free(w);
}

/*
 * True when Redis is there. Otherwise the request is answered 503 — unless a
 * connection attempt is under way (right after start-up, when the first
 * request is what started us, or while reconnecting): then @handler runs
 * again for @req once the attempt ended. Returns false in both cases.
 */
bool api_require_store(Manager *m, HttpRequest *req, http_handler_t handler, const char *arg) {
        StoreWait *w;

        if (redis_store_is_connected(m->store))
                return true;

        if (redis_store_is_connecting(m->store)) {
                w = calloc(1, sizeof(*w));
                if (w && (!arg || (w->arg = strdup(arg)))) {
                        w->manager = m;
                        w->handler = handler;
                        w->request = http_request_ref(req);
                        if (redis_store_wait_attempt(m->store, api_on_store_attempt, w) >= 0)
                                return false;
                        http_request_unref(w->request);
                }
                if (w)
                        free(w->arg);
                free(w);
        }

        (void) http_request_respond_error(req, 503, "unavailable", "Redis at %s is unreachable: %s",
                                          m->config.redis_address,
                                          redis_store_last_error(m->store) ?: "not connected yet");
        return false;
}

static void api_respond_store_error(Manager *m, HttpRequest *req, int r) {
        if (store_error_is_transient(r))
                (void) http_request_respond_error(req, 503, "unavailable", "Redis at %s is unreachable: %s",
                                                  m->config.redis_address,
                                                  redis_store_last_error(m->store) ?: strerror(-r));
        else
                (void) http_request_respond_error(req, 500, "internal", "Redis request failed: %s", strerror(-r));
}

static void api_respond_not_found(HttpRequest *req, const char *id) {
        (void) http_request_respond_error(req, 404, "not_found", "No execution with id \"%s\".", id);
}

static void api_respond_body(HttpRequest *req, unsigned status, json_t *body, const char *const *headers) {
        if (!body)
                (void) http_request_respond_error(req, 500, "internal", "Out of memory.");
        else
                (void) http_request_respond_json(req, status, body, headers);
}

/* POST /execute */

static void api_on_submitted(RedisStore *s, int r, uint64_t queue_position, void *userdata) {
        _cleanup_(api_call_freep) ApiCall *c = userdata;
        Manager *m = c->manager;
        _cleanup_(json_decrefp) json_t *body = NULL;
        char status[128], stream[128], cancel[128];

        if (r == -EBUSY) {
                const char *headers[] = { "Retry-After", "1", NULL };
                (void) http_request_respond_error_headers(c->request, 429, "queue_full", headers,
                                                          "The queue is full: %u executions wait (MaxQueued=).",
                                                          m->config.max_queued);
                return;
        }
        if (r < 0) {
                api_respond_store_error(m, c->request, r);
                return;
        }

        (void) snprintf(status, sizeof(status), API_BASE "/status/%s", c->id);
        (void) snprintf(stream, sizeof(stream), API_BASE "/stream/%s", c->id);
        (void) snprintf(cancel, sizeof(cancel), API_BASE "/cancel/%s", c->id);
        body = json_pack("{s:s,s:s,s:I,s:{s:s,s:s,s:s}}",
                         "execution_id", c->id,
                         "status", "queued",
                         "queue_position", (json_int_t) queue_position,
                         "links", "status", status, "stream", stream, "cancel", cancel);
        const char *headers[] = { "Location", status, NULL };
        api_respond_body(c->request, 202, body, headers);
        log_debug("Execution %s queued at position %" PRIu64 ".", c->id, queue_position);

        manager_notify(m, c->id);
        manager_claim(m);
}

static void api_execute(HttpRequest *req, const char *arg, void *userdata) {
        Manager *m = userdata;
        _cleanup_(exec_request_done) ExecRequest er = {};
        _cleanup_(exec_record_done) ExecRecord rec = EXEC_RECORD_INIT;
        _cleanup_free_ char *message = NULL;
        const char *body;
        size_t size;
        ApiCall *c;
        uid_t uid;
        int r;

        body = http_request_get_body(req, &size);
        r = exec_request_parse(body, size, &m->config.limits_default, &m->config.limits_max, &er, &message);
        if (r == -EBADMSG) {
                (void) http_request_respond_error(req, 400, "invalid_json", "%s", message ?: "The body is not valid JSON.");
                return;
        }
        if (r == -EINVAL) {
                (void) http_request_respond_error(req, 400, "invalid_field", "%s", message ?: "Invalid request.");
                return;
        }
        if (r < 0) {
                (void) http_request_respond_error(req, 500, "internal", "Failed to parse the request: %s", strerror(-r));
                return;
        }

        if (!api_require_store(m, req, api_execute, arg))
                return;

        r = exec_id_new(rec.id);
        if (r < 0) {
                (void) http_request_respond_error(req, 500, "internal", "Failed to make an id: %s", strerror(-r));
                return;
        }
        rec.state = EXEC_STATE_QUEUED;
        rec.cell_id = TAKE_PTR(er.cell_id);
        rec.notebook_id = TAKE_PTR(er.notebook_id);
        rec.has_execution_count = er.has_execution_count;
        rec.execution_count = er.execution_count;
        rec.created_usec = now_usec(CLOCK_REALTIME);
        rec.limits = er.limits;
        rec.has_stdin = er.stdin_data != NULL;
        if (http_request_get_peer_creds(req, &uid, NULL) >= 0)
                rec.owner_uid = uid;

        c = api_call_new(m, req, rec.id);
        if (!c)
                return;

        r = redis_store_submit(m->store, &rec, er.code, er.code_size, er.stdin_data, er.stdin_size,
                               m->config.max_queued, api_on_submitted, c);
        if (r < 0) {
                api_respond_store_error(m, req, r);
                api_call_free(c);
        }
}

/* GET /status/{id} */

static void api_on_status(RedisStore *s, int r, const ExecRecord *rec, json_t *outputs, void *userdata) {
        _cleanup_(api_call_freep) ApiCall *c = userdata;

        if (r == -ENOENT)
                api_respond_not_found(c->request, c->id);
        else if (r < 0)
                api_respond_store_error(c->manager, c->request, r);
        else {
                _cleanup_(json_decrefp) json_t *body = exec_record_to_status_json(rec, outputs);
                api_respond_body(c->request, 200, body, NULL);
        }
}

static void api_status(HttpRequest *req, const char *id, void *userdata) {
        Manager *m = userdata;
        ApiCall *c;
        int r;

        if (!exec_id_is_valid(id)) {
                api_respond_not_found(req, id);
                return;
        }
        if (!api_require_store(m, req, api_status, id))
                return;

        c = api_call_new(m, req, id);
        if (!c)
                return;
        r = redis_store_get(m->store, id, api_on_status, c);
        if (r < 0) {
                api_respond_store_error(m, req, r);
                api_call_free(c);
        }
}

/* DELETE /cancel/{id} */

static void api_cancel_start(ApiCall *c);

static void api_respond_cancelled(ApiCall *c) {
        _cleanup_(json_decrefp) json_t *body = json_pack("{s:s,s:s}", "execution_id", c->id, "status", "cancelled");
        api_respond_body(c->request, 200, body, NULL);
}

static void api_on_cancel_stored(RedisStore *s, int r, void *userdata) {
        ApiCall *c = userdata;

        if (r == -EBUSY && ++c->attempts < CANCEL_ATTEMPTS) {
                /* Taken from the queue meanwhile: look again. */
                api_cancel_start(c);
                return;
        }
        if (r < 0)
                api_respond_store_error(c->manager, c->request, r);
        else {
                log_info("Execution %s cancelled while queued.", c->id);
                api_respond_cancelled(c);
                manager_notify(c->manager, c->id);
        }
        api_call_free(c);
}

/* A queued execution ends here and never starts; the write only happens if
 * it is still queued (else api_on_cancel_stored() looks again). */
static void api_cancel_queued(ApiCall *c, const ExecRecord *rec) {
        Manager *m = c->manager;
        _cleanup_(json_decrefp) json_t *outputs = NULL, *status = NULL;
        ExecRecord final;
        int r;

        /* A shallow copy: the strings stay @rec's, only state and time change. */
        final = *rec;
        final.state = EXEC_STATE_CANCELLED;
        final.finished_usec = now_usec(CLOCK_REALTIME);

        outputs = json_array();
        status = outputs ? exec_record_to_status_json(&final, outputs) : NULL;
        if (!status) {
                (void) http_request_respond_error(c->request, 500, "internal", "Out of memory.");
                api_call_free(c);
                return;
        }
        r = redis_store_finish(m->store, &final, EXEC_STATE_QUEUED, outputs, status, m->config.result_ttl_usec,
                               api_on_cancel_stored, c);
        if (r < 0) {
                api_respond_store_error(m, c->request, r);
                api_call_free(c);
        }
}

static void api_on_cancel_get(RedisStore *s, int r, const ExecRecord *rec, json_t *outputs, void *userdata) {
        ApiCall *c = userdata;
        Manager *m = c->manager;
        RunningExecution *re;

        if (r == -ENOENT) {
                api_respond_not_found(c->request, c->id);
                goto finish;
        }
        if (r < 0) {
                api_respond_store_error(m, c->request, r);
                goto finish;
        }

        if (exec_state_is_terminal(rec->state)) {
                (void) http_request_respond_error(c->request, 409, "wrong_state",
                                                  "Execution %s already ended: %s.", c->id,
                                                  exec_state_to_string(rec->state));
                goto finish;
        }

        if (rec->state == EXEC_STATE_RUNNING) {
                re = manager_find_running(m, c->id);
                if (!re && rec->node && strcmp(rec->node, m->node) == 0) {
                        /* "Running" here, but not by us: left by a daemon that
                         * died; it ends now, as the start-up clean-up does. */
                        (void) manager_mark_interrupted(m, rec, outputs);
                        (void) http_request_respond_error(c->request, 409, "wrong_state",
                                                          "Execution %s already ended: error (interrupted: service stopped).",
                                                          c->id);
                        goto finish;
                }
                if (!re) {
                        (void) http_request_respond_error(c->request, 409, "wrong_state",
                                                          "Execution %s runs on node %s, not here.", c->id,
                                                          rec->node ?: "(unknown)");
                        goto finish;
                }
                r = running_execution_cancel(re, c->request);
                if (r < 0)
                        (void) http_request_respond_error(c->request, 500, "internal",
                                                          "Failed to cancel: %s", strerror(-r));
                goto finish;
        }

        api_cancel_queued(c, rec);
        return;

finish:
        api_call_free(c);
}

static void api_cancel_start(ApiCall *c) {
        RunningExecution *re;
        int r;

        re = manager_find_running(c->manager, c->id);
        if (re) {
                r = running_execution_cancel(re, c->request);
                if (r < 0)
                        (void) http_request_respond_error(c->request, 500, "internal", "Failed to cancel: %s",
                                                          strerror(-r));
                api_call_free(c);
                return;
        }

        r = redis_store_get(c->manager->store, c->id, api_on_cancel_get, c);
        if (r < 0) {
                api_respond_store_error(c->manager, c->request, r);
                api_call_free(c);
        }
}

static void api_cancel(HttpRequest *req, const char *id, void *userdata) {
        Manager *m = userdata;
        ApiCall *c;

        if (!exec_id_is_valid(id)) {
                api_respond_not_found(req, id);
                return;
        }
        if (!api_require_store(m, req, api_cancel, id))
                return;

        c = api_call_new(m, req, id);
        if (c)
                api_cancel_start(c);
}

/* GET /queue/status */

static void api_on_counts(RedisStore *s, int r, uint64_t queued, uint64_t running, void *userdata) {
        _cleanup_(api_call_freep) ApiCall *c = userdata;
        Manager *m = c->manager;
        _cleanup_(json_decrefp) json_t *body = NULL;

        if (r < 0) {
                api_respond_store_error(m, c->request, r);
                return;
        }
        body = json_pack("{s:I,s:I,s:I,s:I,s:{s:s,s:I,s:I}}",
                         "queued", (json_int_t) queued,
                         "running", (json_int_t) running,
                         "max_concurrent", (json_int_t) m->config.max_concurrent,
                         "max_queued", (json_int_t) m->config.max_queued,
                         "node",
                         "name", m->node,
                         "running", (json_int_t) m->n_running,
                         "max_concurrent", (json_int_t) m->config.max_concurrent);
        api_respond_body(c->request, 200, body, NULL);
}

static void api_queue_status(HttpRequest *req, const char *arg, void *userdata) {
        Manager *m = userdata;
        ApiCall *c;
        int r;

        if (!api_require_store(m, req, api_queue_status, arg))
                return;
        c = api_call_new(m, req, NULL);
        if (!c)
                return;
        r = redis_store_queue_counts(m->store, api_on_counts, c);
        if (r < 0) {
                api_respond_store_error(m, req, r);
                api_call_free(c);
        }
}

/* POST /initialize: (re)connect Redis, then ask PID 1 and python3. */

static void api_initialize_respond(ApiCall *c) {
        Manager *m = c->manager;
        _cleanup_(json_decrefp) json_t *body = NULL, *limits = NULL;
        _cleanup_free_ char *missing = NULL;
        bool ready;

        ready = c->redis_result >= 0 && c->systemd_version && c->python_version;

        limits = json_pack("{s:o,s:o}",
                           "default", limits_to_json(&m->config.limits_default),
                           "maximum", limits_to_json(&m->config.limits_max));
        body = json_pack("{s:b,s:{s:b,s:s,s:s?},s:{s:s?,s:s?},s:s?,s:O?}",
                         "ready", ready,
                         "redis",
                         "connected", c->redis_result >= 0,
                         "address", m->config.redis_address,
                         "error", c->redis_result >= 0 ? NULL : (redis_store_last_error(m->store) ?: strerror(-c->redis_result)),
                         "systemd",
                         "version", c->systemd_version,
                         "error", c->systemd_error,
                         "python", c->python_version,
                         "limits", limits);
        if (!body) {
                (void) http_request_respond_error(c->request, 500, "internal", "Out of memory.");
                return;
        }

        if (!ready) {
                if (asprintf(&missing, "%s%s%s",
                             c->redis_result < 0 ? "Redis is unreachable. " : "",
                             !c->systemd_version ? "systemd does not answer on the system bus. " : "",
                             !c->python_version ? "python3 does not run. " : "") < 0)
                        missing = NULL;
                json_t *error = json_pack("{s:s,s:s}", "code", "unavailable", "message", missing ?: "Not ready.");
                if (error)
                        (void) json_object_set_new(body, "error", error);
        }
        (void) http_request_respond_json(c->request, ready ? 200 : 503, body, NULL);
}

static void api_on_python(int r, const char *version, void *userdata) {
        _cleanup_(api_call_freep) ApiCall *c = userdata;

        c->python_result = r;
        if (r >= 0)
                c->python_version = strdup(version);
        else
                log_warning_errno(r, "%s does not run: %m", c->manager->paths.python);
        api_initialize_respond(c);
}

static void api_initialize_python(ApiCall *c) {
        int r;

        r = probe_python(c->manager->event, c->manager->paths.python, api_on_python, c);
        if (r < 0) {
                c->python_result = r;
                api_initialize_respond(c);
                api_call_free(c);
        }
}

static int api_on_systemd_version(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        ApiCall *c = userdata;
        const sd_bus_error *e;
        const char *version;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);

        e = sd_bus_message_get_error(reply);
        if (e)
                c->systemd_error = strdup(e->message ?: e->name);
        else {
                r = sd_bus_message_read(reply, "v", "s", &version);
                if (r < 0)
                        c->systemd_error = strdup(strerror(-r));
                else
                        c->systemd_version = strdup(version);
        }

        api_initialize_python(c);
        return 0;
}

static void api_initialize_systemd(ApiCall *c) {
        int r;

        r = sd_bus_call_method_async(c->manager->bus, &c->slot,
                                     "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                     "org.freedesktop.DBus.Properties", "Get",
                                     api_on_systemd_version, c,
                                     "ss", "org.freedesktop.systemd1.Manager", "Version");
        if (r < 0) {
                c->systemd_error = strdup(strerror(-r));
                api_initialize_python(c);
        }
}

static void api_on_reconnected(RedisStore *s, int r, void *userdata) {
        ApiCall *c = userdata;

        c->redis_result = r;
        api_initialize_systemd(c);
        if (r >= 0)
                manager_claim(c->manager);
}

static void api_on_initialize_counts(RedisStore *s, int r, uint64_t queued, uint64_t running, void *userdata) {
        api_on_reconnected(s, r, userdata);
}

static void api_initialize(HttpRequest *req, const char *arg, void *userdata) {
        Manager *m = userdata;
        ApiCall *c;
        int r;

        c = api_call_new(m, req, NULL);
        if (!c)
                return;

        /* A working connection stays: other clients' requests run on it.
         * One round trip shows that Redis answers (and the claim script
         * re-creates the consumer group if it went missing). Without a
         * connection, connect now instead of at the next retry. */
        if (redis_store_is_connected(m->store))
                r = redis_store_queue_counts(m->store, api_on_initialize_counts, c);
        else
                r = redis_store_reconnect(m->store, api_on_reconnected, c);
        if (r < 0) {
                c->redis_result = r;
                api_initialize_systemd(c);
        }
}

const HttpRoute manager_http_routes[] = {
        { "POST",   API_BASE "/execute",      false, true,  api_execute },
        { "GET",    API_BASE "/status/",      true,  false, api_status },
        { "GET",    API_BASE "/stream/",      true,  false, api_stream },
        { "DELETE", API_BASE "/cancel/",      true,  false, api_cancel },
        { "GET",    API_BASE "/queue/status", false, false, api_queue_status },
        { "POST",   API_BASE "/initialize",   false, false, api_initialize },
};
const size_t manager_n_http_routes = ELEMENTSOF(manager_http_routes);

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The HTTP API (DESIGN.md "HTTP API"), base /api/v1/execution. Handlers
 * identify the caller (api_get_caller()), hand the request to the shared
 * operations (ops.h), which authorise it, and turn the result into an
 * answer; every asynchronous step holds a reference on its HttpRequest.
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

typedef struct ApiCall {
        Manager *manager;
        HttpRequest *request;

        /* POST /initialize */
        int redis_result;
        sd_bus_slot *slot;
        char *systemd_version;
        char *systemd_error;
        char *python_version;
        int python_result;
} ApiCall;

static ApiCall *api_call_new(Manager *m, HttpRequest *req) {
        ApiCall *c;

        c = calloc(1, sizeof(*c));
        if (!c) {
                (void) http_request_respond_error(req, 500, "internal", "Out of memory.");
                return NULL;
        }
        c->manager = m;
        c->request = http_request_ref(req);
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

static void api_respond_body(HttpRequest *req, unsigned status, json_t *body, const char *const *headers) {
        if (!body)
                (void) http_request_respond_error(req, 500, "internal", "Out of memory.");
        else
                (void) http_request_respond_json(req, status, body, headers);
}

void api_respond_ops_error(HttpRequest *req, const OpsResult *res) {
        const char *retry[] = { "Retry-After", "1", NULL };

        (void) http_request_respond_error_headers(req, ops_status_to_http_status(res->status),
                                                  ops_status_to_http_code(res->status),
                                                  res->status == OPS_QUEUE_FULL ? retry : NULL, "%s",
                                                  res->message ?: "The request failed.");
}

/* Compares in time that depends on the length of @secret only, never on
 * where @given differs from it. */
static bool token_equal(const char *given, const char *secret) {
        size_t n_given = strlen(given), n_secret = strlen(secret);
        unsigned char d = n_given != n_secret;

        for (size_t i = 0; i < n_secret; i++)
                d |= (unsigned char) (i < n_given ? given[i] : 0) ^ (unsigned char) secret[i];
        return d == 0;
}

static void api_respond_unauthorized(HttpRequest *req, const char *challenge, const char *message) {
        const char *headers[] = { "WWW-Authenticate", challenge, NULL };

        (void) http_request_respond_error_headers(req, 401, "unauthorized", headers, "%s", message);
}

bool api_get_caller(Manager *m, HttpRequest *req, Caller *ret) {
        const char *token;
        uid_t uid;
        pid_t pid;
        int r;

        *ret = (Caller) CALLER_INIT;

        r = http_request_get_peer_creds(req, &uid, &pid);
        if (r >= 0) {
                ret->kind = CALLER_UNIX;
                ret->uid = uid;
                ret->pid = pid;
                /* polkit tells this process from a later one with the same
                 * pid by its start time: read it now. Root needs no polkit. */
                if (uid != 0) {
                        r = polkit_process_start_time(pid, &ret->start_time);
                        if (r < 0)
                                log_debug_errno(r, "Cannot read the start time of HTTP client pid %d: %m", (int) pid);
                }
                return true;
        }
        if (r != -ENODATA) {
                (void) http_request_respond_error(req, 500, "internal", "Cannot identify the client: %s", strerror(-r));
                return false;
        }

        /* TCP: whoever has the token. */
        if (!m->http_token) {
                api_respond_unauthorized(req, "Bearer realm=\"pyexecd\"",
                                         "This listener requires a bearer token, and none is configured "
                                         "(systemd credential \"http-token\", see pyexecd(8)).");
                return false;
        }
        token = http_request_get_bearer_token(req);
        if (!token) {
                api_respond_unauthorized(req, "Bearer realm=\"pyexecd\"",
                                         "A bearer token is required: send \"Authorization: Bearer <token>\".");
                return false;
        }
        if (!token_equal(token, m->http_token)) {
                api_respond_unauthorized(req, "Bearer realm=\"pyexecd\", error=\"invalid_token\"",
                                         "The bearer token is not valid.");
                return false;
        }
        ret->kind = CALLER_TOKEN;
        return true;
}

/* POST /execute */

static void api_on_executed(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(http_request_unrefp) HttpRequest *req = userdata;
        _cleanup_(json_decrefp) json_t *body = NULL;
        char status[128], stream[128], cancel[128];

        if (res->status != OPS_OK) {
                api_respond_ops_error(req, res);
                return;
        }

        (void) snprintf(status, sizeof(status), API_BASE "/status/%s", res->id);
        (void) snprintf(stream, sizeof(stream), API_BASE "/stream/%s", res->id);
        (void) snprintf(cancel, sizeof(cancel), API_BASE "/cancel/%s", res->id);
        body = json_pack("{s:s,s:s,s:I,s:{s:s,s:s,s:s}}",
                         "execution_id", res->id,
                         "status", "queued",
                         "queue_position", (json_int_t) res->queue_position,
                         "links", "status", status, "stream", stream, "cancel", cancel);
        const char *headers[] = { "Location", status, NULL };
        api_respond_body(req, 202, body, headers);
}

static void api_execute(HttpRequest *req, const char *arg, void *userdata) {
        Manager *m = userdata;
        _cleanup_(exec_request_done) ExecRequest er = {};
        _cleanup_(caller_done) Caller caller = CALLER_INIT;
        _cleanup_free_ char *message = NULL;
        const char *body;
        size_t size;
        int r;

        if (!api_get_caller(m, req, &caller))
                return;

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

        ops_execute(m, &caller, &er, api_on_executed, http_request_ref(req));
}

/* GET /status/{id} */

static void api_on_status(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(http_request_unrefp) HttpRequest *req = userdata;
        _cleanup_(json_decrefp) json_t *body = NULL;

        if (res->status != OPS_OK) {
                api_respond_ops_error(req, res);
                return;
        }
        body = exec_record_to_status_json(res->record, res->outputs);
        api_respond_body(req, 200, body, NULL);
}

static void api_status(HttpRequest *req, const char *id, void *userdata) {
        Manager *m = userdata;
        _cleanup_(caller_done) Caller caller = CALLER_INIT;

        if (!api_get_caller(m, req, &caller))
                return;
        ops_get(m, &caller, id, OPS_GET_OUTPUTS, api_on_status, http_request_ref(req));
}

/* DELETE /cancel/{id} */

static void api_on_cancelled(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(http_request_unrefp) HttpRequest *req = userdata;
        _cleanup_(json_decrefp) json_t *body = NULL;

        if (res->status != OPS_OK) {
                api_respond_ops_error(req, res);
                return;
        }
        body = json_pack("{s:s,s:s}", "execution_id", res->id, "status", "cancelled");
        api_respond_body(req, 200, body, NULL);
}

static void api_cancel(HttpRequest *req, const char *id, void *userdata) {
        Manager *m = userdata;
        _cleanup_(caller_done) Caller caller = CALLER_INIT;

        if (!api_get_caller(m, req, &caller))
                return;
        ops_cancel(m, &caller, id, api_on_cancelled, http_request_ref(req));
}

/* GET /queue/status */

static void api_on_counts(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(http_request_unrefp) HttpRequest *req = userdata;
        _cleanup_(json_decrefp) json_t *body = NULL;

        if (res->status != OPS_OK) {
                api_respond_ops_error(req, res);
                return;
        }
        body = json_pack("{s:I,s:I,s:I,s:I,s:{s:s,s:I,s:I}}",
                         "queued", (json_int_t) res->queued,
                         "running", (json_int_t) res->running,
                         "max_concurrent", (json_int_t) m->config.max_concurrent,
                         "max_queued", (json_int_t) m->config.max_queued,
                         "node",
                         "name", m->node,
                         "running", (json_int_t) m->n_running,
                         "max_concurrent", (json_int_t) m->config.max_concurrent);
        api_respond_body(req, 200, body, NULL);
}

static void api_queue_status(HttpRequest *req, const char *arg, void *userdata) {
        Manager *m = userdata;
        _cleanup_(caller_done) Caller caller = CALLER_INIT;

        if (!api_get_caller(m, req, &caller))
                return;
        ops_queue_status(m, api_on_counts, http_request_ref(req));
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
                _cleanup_free_ char *why = c->redis_result < 0 ? manager_redis_problem(m, c->redis_result) : NULL;

                if (asprintf(&missing, "%s%s%s%s%s",
                             c->redis_result < 0 ? (why ?: "Redis is unreachable.") : "",
                             c->redis_result < 0 && (!c->systemd_version || !c->python_version) ? " " : "",
                             !c->systemd_version ? "systemd does not answer on the system bus." : "",
                             !c->systemd_version && !c->python_version ? " " : "",
                             !c->python_version ? "python3 does not run." : "") < 0)
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

static void api_initialize_authorized(Manager *m, const OpsResult *res, void *userdata) {
        _cleanup_(http_request_unrefp) HttpRequest *req = userdata;
        ApiCall *c;
        int r;

        if (res->status != OPS_OK) {
                api_respond_ops_error(req, res);
                return;
        }

        c = api_call_new(m, req);
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

/* Callers that may run code may ask whether the service can. */
static void api_initialize(HttpRequest *req, const char *arg, void *userdata) {
        Manager *m = userdata;
        _cleanup_(caller_done) Caller caller = CALLER_INIT;

        if (!api_get_caller(m, req, &caller))
                return;
        ops_authorize(m, &caller, OPS_ACTION_EXECUTE, api_initialize_authorized, http_request_ref(req));
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

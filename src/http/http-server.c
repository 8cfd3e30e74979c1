/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http/http-server.h"
#include "http/mhd-util.h"
#include "shared/list.h"
#include "shared/log.h"
#include "shared/utf8.h"

typedef struct HttpListener HttpListener;

struct HttpListener {
        HttpServer *server;
        MhdDaemon *daemon;
        char *description;
        LIST_FIELDS(HttpListener, listeners);
};

struct HttpServer {
        sd_event *event;
        const HttpRoute *routes;
        size_t n_routes;
        uint64_t max_body_bytes;
        void *userdata;
        HttpListener *listeners;
        HttpRequest *requests;          /* requests whose connection is open */
};

struct HttpRequest {
        unsigned n_ref;
        char *bearer_token;             /* parsed from Authorization:, on demand */
        HttpServer *server;             /* NULL once the connection is done */
        HttpListener *listener;
        struct MHD_Connection *connection;
        char *method;
        char *path;
        const HttpRoute *route;
        char *arg;

        char *body;
        size_t body_size;
        bool body_too_large;

        bool in_handler;                /* inside the route handler: answers are queued on return */
        bool dispatched;
        bool suspended;
        bool answered;                  /* an answer was given (maybe not yet queued) */
        bool queued;                    /* the answer went to MHD */

        /* The answer, until it is queued. */
        unsigned status;
        json_t *json;
        char **headers;
        SseStream *sse;

        LIST_FIELDS(HttpRequest, requests);
};

static void http_request_clear_answer(HttpRequest *r) {
        json_decref(r->json);
        r->json = NULL;
        strv_free(r->headers);
        r->headers = NULL;
        r->sse = sse_stream_free(r->sse);
}

static HttpRequest *http_request_free(HttpRequest *r) {
        if (!r)
                return NULL;
        assert(!r->server);
        http_request_clear_answer(r);
        free(r->method);
        free(r->path);
        free(r->arg);
        free(r->body);
        if (r->bearer_token) {
                explicit_bzero(r->bearer_token, strlen(r->bearer_token));
                free(r->bearer_token);
        }
        free(r);
        return NULL;
}

HttpRequest *http_request_ref(HttpRequest *r) {
        if (r) {
                assert(r->n_ref > 0);
                r->n_ref++;
        }
        return r;
}

HttpRequest *http_request_unref(HttpRequest *r) {
        if (!r)
                return NULL;
        assert(r->n_ref > 0);
        if (--r->n_ref > 0)
                return NULL;
        return http_request_free(r);
}

/* Queues the stored answer; only from inside MHD's access handler. */
static int http_request_queue_answer(HttpRequest *r) {
        _cleanup_strv_free_ char **headers = TAKE_PTR(r->headers);
        int q;

        assert(r->answered && !r->queued);
        r->queued = true;

        if (r->sse) {
                SseStream *s = TAKE_PTR(r->sse);

                q = sse_stream_attach(s, r->connection, r->listener->daemon);
                if (q < 0) {
                        sse_stream_free(s);
                        return log_warning_errno(q, "Failed to start an SSE stream: %m");
                }
                return 0;
        }

        if (r->json)
                q = mhd_respond_json(r->connection, r->status, r->json, (const char *const *) headers);
        else
                q = mhd_respond_static(r->connection, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                       "{\"error\":{\"code\":\"internal\",\"message\":\"The answer could not be built.\"}}\n");
        json_decref(r->json);
        r->json = NULL;
        if (q < 0)
                return log_warning_errno(q, "Failed to queue an HTTP response: %m");
        return 0;
}

static void http_request_wake(HttpRequest *r) {
        if (!r->suspended || r->in_handler)
                return;
        r->suspended = false;
        MHD_resume_connection(r->connection);
        mhd_daemon_kick(r->listener->daemon);
}

/* Answers 500 with a body that needs no allocation: for when building the
 * real answer failed. A request must never stay unanswered. */
static void http_request_respond_fallback(HttpRequest *r) {
        if (r->answered)
                return;
        r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        r->json = NULL;         /* queue_answer() sends the static body */
        r->answered = true;
        http_request_wake(r);
}

static char **strv_copy_pairs(const char *const *l) {
        size_t n = 0;
        char **c;

        if (!l)
                return NULL;
        while (l[n])
                n++;
        c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(l[i]);
                if (!c[i]) {
                        strv_free(c);
                        return NULL;
                }
        }
        return c;
}

int http_request_respond_json(HttpRequest *r, unsigned status, json_t *body, const char *const *extra_headers) {
        if (r->answered)
                return 0;
        if (!r->connection) {
                r->answered = true;
                return 0;
        }
        if (!body) {
                http_request_respond_fallback(r);
                return -ENOMEM;
        }

        r->headers = strv_copy_pairs(extra_headers);
        if (extra_headers && !r->headers) {
                http_request_respond_fallback(r);
                return -ENOMEM;
        }
        r->status = status;
        r->json = json_incref(body);
        r->answered = true;
        http_request_wake(r);
        return 0;
}

static int http_request_respond_errorv(HttpRequest *r, unsigned status, const char *code,
                                       const char *const *extra_headers, const char *format, va_list ap) {
        _cleanup_free_ char *message = NULL, *repaired = NULL;
        json_t *body;
        int q;

        if (vasprintf(&message, format, ap) < 0) {
                http_request_respond_fallback(r);
                return -ENOMEM;
        }
        /* Messages quote what the client sent (paths, ids, headers), which
         * need not be UTF-8; JSON strings must be. */
        repaired = utf8_repair(message, strlen(message), true, NULL, NULL);
        body = repaired ? json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", repaired) : NULL;
        if (!body) {
                http_request_respond_fallback(r);
                return -ENOMEM;
        }
        q = http_request_respond_json(r, status, body, extra_headers);
        json_decref(body);
        if (q < 0)
                http_request_respond_fallback(r);
        return q;
}

int http_request_respond_error(HttpRequest *r, unsigned status, const char *code, const char *format, ...) {
        va_list ap;
        int q;

        va_start(ap, format);
        q = http_request_respond_errorv(r, status, code, NULL, format, ap);
        va_end(ap);
        return q;
}

int http_request_respond_error_headers(HttpRequest *r, unsigned status, const char *code,
                                       const char *const *extra_headers, const char *format, ...) {
        va_list ap;
        int q;

        va_start(ap, format);
        q = http_request_respond_errorv(r, status, code, extra_headers, format, ap);
        va_end(ap);
        return q;
}

int http_request_respond_sse(HttpRequest *r, SseStream *stream) {
        if (r->answered || !r->connection) {
                sse_stream_free(stream);
                r->answered = true;
                return 0;
        }
        r->sse = stream;
        r->answered = true;
        http_request_wake(r);
        return 0;
}

const char *http_request_get_method(HttpRequest *r) {
        return r->method;
}

const char *http_request_get_header(HttpRequest *r, const char *name) {
        if (!r->connection)
                return NULL;
        return MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, name);
}

const char *http_request_get_bearer_token(HttpRequest *r) {
        const char *v, *end;

        if (r->bearer_token)
                return r->bearer_token;

        v = http_request_get_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!v)
                return NULL;
        v += strspn(v, " \t");
        if (strncasecmp(v, "Bearer", 6) != 0 || (v[6] != ' ' && v[6] != '\t'))
                return NULL;
        v += 6;
        v += strspn(v, " \t");
        end = v + strlen(v);
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        if (end == v)
                return NULL;

        r->bearer_token = strndup(v, end - v);
        return r->bearer_token;
}

const char *http_request_get_body(HttpRequest *r, size_t *ret_size) {
        if (ret_size)
                *ret_size = r->body_size;
        return r->body ?: "";
}

int http_request_get_peer_creds(HttpRequest *r, uid_t *ret_uid, pid_t *ret_pid) {
        const union MHD_ConnectionInfo *info;
        struct sockaddr_storage sa;
        socklen_t salen = sizeof(sa);
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (!r->connection)
                return -ENOTCONN;
        info = MHD_get_connection_info(r->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info)
                return -EIO;
        if (getsockname(info->connect_fd, (struct sockaddr *) &sa, &salen) < 0)
                return -errno;
        if (sa.ss_family != AF_UNIX)
                return -ENODATA;
        if (getsockopt(info->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        if (ret_uid)
                *ret_uid = cred.uid;
        if (ret_pid)
                *ret_pid = cred.pid;
        return 0;
}

/* Finds the route for @path and @method. Returns it, or NULL with
 * *ret_path_known telling whether another method would have matched. */
static const HttpRoute *http_server_find_route(HttpServer *s, const char *method, const char *path,
                                               const char **ret_arg, bool *ret_path_known) {
        bool known = false;

        if (strcmp(method, "HEAD") == 0)
                method = "GET";

        for (size_t i = 0; i < s->n_routes; i++) {
                const HttpRoute *route = &s->routes[i];
                const char *arg = NULL;

                if (route->takes_arg) {
                        size_t n = strlen(route->path);
                        if (strncmp(path, route->path, n) != 0 || strchr(path + n, '/'))
                                continue;
                        arg = path + n;
                } else if (strcmp(path, route->path) != 0)
                        continue;

                known = true;
                if (strcmp(route->method, method) != 0)
                        continue;
                *ret_arg = arg;
                *ret_path_known = true;
                return route;
        }

        *ret_arg = NULL;
        *ret_path_known = known;
        return NULL;
}

static int http_server_allow_header(HttpServer *s, const char *path, char **ret) {
        char buf[128] = "";

        for (size_t i = 0; i < s->n_routes; i++) {
                const HttpRoute *route = &s->routes[i];
                size_t n = strlen(route->path);
                bool match = route->takes_arg ? strncmp(path, route->path, n) == 0 && !strchr(path + n, '/')
                                              : strcmp(path, route->path) == 0;
                if (!match || strstr(buf, route->method))
                        continue;
                if (buf[0])
                        strncat(buf, ", ", sizeof(buf) - strlen(buf) - 1);
                strncat(buf, route->method, sizeof(buf) - strlen(buf) - 1);
                if (strcmp(route->method, "GET") == 0)
                        strncat(buf, ", HEAD", sizeof(buf) - strlen(buf) - 1);
        }

        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

/* True if @value is "application/json", maybe with parameters. */
static bool content_type_is_json(const char *value) {
        size_t n;

        value += strspn(value, " \t");
        n = strcspn(value, "; \t");
        return n == strlen("application/json") && strncasecmp(value, "application/json", n) == 0;
}

/* Checks made when the headers are in; answers the request on failure. */
static void http_request_check_headers(HttpRequest *r) {
        HttpServer *s = r->server;
        const char *arg, *v;
        bool path_known;

        r->route = http_server_find_route(s, r->method, r->path, &arg, &path_known);
        if (!r->route) {
                if (!path_known) {
                        (void) http_request_respond_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                                                          "No such resource: %s", r->path);
                        return;
                }

                _cleanup_free_ char *allow = NULL;
                if (http_server_allow_header(s, r->path, &allow) < 0) {
                        (void) http_request_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "Out of memory.");
                        return;
                }
                const char *headers[] = { MHD_HTTP_HEADER_ALLOW, allow, NULL };
                (void) http_request_respond_error_headers(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", headers,
                                                          "Method %s is not allowed on %s (allowed: %s).",
                                                          r->method, r->path, allow);
                return;
        }

        if (arg) {
                r->arg = strdup(arg);
                if (!r->arg) {
                        (void) http_request_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "Out of memory.");
                        return;
                }
        }

        if (!r->route->takes_body)
                return;

        v = http_request_get_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (v) {
                char *end;
                unsigned long long n;

                errno = 0;
                n = strtoull(v, &end, 10);
                if (errno == 0 && *end == '\0' && n > s->max_body_bytes) {
                        (void) http_request_respond_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                                          "The request body of %llu bytes is above the limit of %llu bytes (MaxRequestBytes=).",
                                                          n, (unsigned long long) s->max_body_bytes);
                        return;
                }
        }

        v = http_request_get_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (v && !content_type_is_json(v))
                (void) http_request_respond_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                                                  "The request body must be application/json, not \"%s\".", v);
}

static int http_request_take_upload(HttpRequest *r, const char *data, size_t size) {
        HttpServer *s = r->server;

        if (r->answered || r->body_too_large || !r->route || !r->route->takes_body)
                return 0;               /* discard */

        if (r->body_size + size > s->max_body_bytes) {
                r->body_too_large = true;
                free(r->body);
                r->body = NULL;
                r->body_size = 0;
                return 0;
        }

        char *b = realloc(r->body, r->body_size + size + 1);
        if (!b)
                return -ENOMEM;
        r->body = b;
        memcpy(r->body + r->body_size, data, size);
        r->body_size += size;
        r->body[r->body_size] = '\0';
        return 0;
}

static enum MHD_Result http_server_access_handler(void *cls, struct MHD_Connection *connection,
                                                  const char *url, const char *method, const char *version,
                                                  const char *upload_data, size_t *upload_data_size,
                                                  void **con_cls) {
        HttpListener *l = cls;
        HttpServer *s = l->server;
        HttpRequest *r = *con_cls;
        int q;

        if (!r) {
                /* First call: the headers are in. */
                r = calloc(1, sizeof(*r));
                if (!r)
                        return MHD_NO;
                r->n_ref = 1;           /* held by the connection until completion */
                r->server = s;
                r->listener = l;
                r->connection = connection;
                r->method = strdup(method);
                r->path = strdup(url);
                LIST_PREPEND(requests, s->requests, r);
                *con_cls = r;
                if (!r->method || !r->path)
                        return MHD_NO;

                http_request_check_headers(r);
                if (r->answered) {
                        /* Answer before reading any body: MHD closes the
                         * connection afterwards if a body was announced. */
                        q = http_request_queue_answer(r);
                        return q < 0 ? MHD_NO : MHD_YES;
                }
                return MHD_YES;
        }

        if (*upload_data_size > 0) {
                q = http_request_take_upload(r, upload_data, *upload_data_size);
                *upload_data_size = 0;
                return q < 0 ? MHD_NO : MHD_YES;
        }

        if (r->queued)
                return MHD_YES;

        if (!r->answered && !r->dispatched) {
                if (r->body_too_large)
                        (void) http_request_respond_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                                          "The request body is above the limit of %llu bytes (MaxRequestBytes=).",
                                                          (unsigned long long) s->max_body_bytes);
                else if (!r->route)
                        /* Not reached: no route means an answer was given at the
                         * headers; but never call through a NULL route. */
                        (void) http_request_respond_error(r, MHD_HTTP_NOT_FOUND, "not_found", "No such resource.");
                else {
                        /* The connection's reference keeps @r alive during the call. */
                        r->dispatched = true;
                        r->in_handler = true;
                        r->route->handler(r, r->arg, s->userdata);
                        r->in_handler = false;
                }
        }

        if (r->answered) {
                q = http_request_queue_answer(r);
                return q < 0 ? MHD_NO : MHD_YES;
        }

        /* Not answered yet: park the connection until the answer comes. */
        if (!r->suspended) {
                r->suspended = true;
                MHD_suspend_connection(connection);
        }
        return MHD_YES;
}

static void http_server_completed_handler(void *cls, struct MHD_Connection *connection, void **con_cls,
                                          enum MHD_RequestTerminationCode toe) {
        HttpListener *l = cls;
        HttpRequest *r = *con_cls;

        if (!r)
                return;
        *con_cls = NULL;

        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
                log_debug("HTTP %s %s ended early (code %d).", r->method ?: "?", r->path ?: "?", (int) toe);

        LIST_REMOVE(requests, l->server->requests, r);
        r->server = NULL;
        r->connection = NULL;
        r->suspended = false;
        http_request_clear_answer(r);
        http_request_unref(r);
}

int http_server_new(HttpServer **ret, sd_event *event, const HttpRoute *routes, size_t n_routes,
                    uint64_t max_body_bytes, void *userdata) {
        HttpServer *s;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->routes = routes;
        s->n_routes = n_routes;
        s->max_body_bytes = max_body_bytes;
        s->userdata = userdata;
        *ret = s;
        return 0;
}

int http_server_add_listener(HttpServer *s, int fd, const char *description) {
        HttpListener *l;
        int q;

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->server = s;
        l->description = strdup(description ?: "http");
        if (!l->description) {
                free(l);
                return -ENOMEM;
        }

        MhdDaemonOptions options = {
                .access_handler = http_server_access_handler,
                .access_handler_cls = l,
                .completed_handler = http_server_completed_handler,
                .completed_handler_cls = l,
                .connection_limit = 1024,
                /* Idle keep-alive connections go after a minute; SSE streams
                 * send a comment every 15 s and suspended ones never time out. */
                .connection_timeout_sec = 60,
                .description = l->description,
        };

        q = mhd_daemon_new(&l->daemon, s->event, fd, &options);
        if (q < 0) {
                free(l->description);
                free(l);
                return q;
        }

        LIST_APPEND(listeners, s->listeners, l);
        return 0;
}

void http_server_abort_pending(HttpServer *s) {
        LIST_FOREACH_SAFE(requests, r, n, s->requests) {
                if (!r->answered)
                        (void) http_request_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                                          "The service is stopping.");
                else if (r->suspended)
                        http_request_wake(r);
        }
}

void http_server_quiesce(HttpServer *s) {
        LIST_FOREACH(listeners, l, s->listeners)
                mhd_daemon_quiesce(l->daemon);
}

unsigned http_server_get_n_connections(HttpServer *s) {
        unsigned n = 0;

        LIST_FOREACH(listeners, l, s->listeners)
                n += mhd_daemon_get_n_connections(l->daemon);
        return n;
}

HttpServer *http_server_free(HttpServer *s) {
        if (!s)
                return NULL;

        /* MHD must not be stopped with suspended connections: wake them all
         * and let MHD process the resumption once. */
        LIST_FOREACH(requests, r, s->requests)
                if (r->suspended) {
                        r->suspended = false;
                        MHD_resume_connection(r->connection);
                }
        LIST_FOREACH(listeners, l, s->listeners)
                mhd_daemon_run(l->daemon);

        while (s->listeners) {
                HttpListener *l = s->listeners;

                LIST_REMOVE(listeners, s->listeners, l);
                mhd_daemon_free(l->daemon);
                free(l->description);
                free(l);
        }

        /* MHD called the completion handler for every connection it closed. */
        assert(!s->requests);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

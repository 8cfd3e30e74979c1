/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The HTTP front end: one MHD daemon per listening socket (unix or TCP),
 * a route table, request bodies collected up to a limit, and requests that
 * are answered later, from an asynchronous callback (Redis, D-Bus): their
 * connection is suspended meanwhile and resumed when the answer is there.
 *
 * Status codes handled here (DESIGN.md "HTTP API"): 404 "not_found" for
 * unknown paths, 405 "method_not_allowed" (with Allow:) for known paths,
 * 413 "too_large" for bodies above the limit, 415
 * "unsupported_media_type" for bodies that are not application/json.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "http/sse.h"
#include "shared/macro.h"

typedef struct HttpServer HttpServer;
typedef struct HttpRequest HttpRequest;

/*
 * A route handler. @arg is the rest of the path after a prefix route (an
 * id), or NULL. The handler answers with http_request_respond_*() now or
 * later; to answer later it takes a reference (http_request_ref()) and
 * drops it after answering. A request never answered before its last
 * reference goes gets 500.
 */
typedef void (*http_handler_t)(HttpRequest *req, const char *arg, void *userdata);

typedef struct HttpRoute {
        const char *method;             /* "GET" (also serves HEAD), "POST", "DELETE" */
        const char *path;               /* exact path, or a prefix ending in "/" when @takes_arg */
        bool takes_arg;
        bool takes_body;                /* a JSON body is read (up to the limit) */
        http_handler_t handler;
} HttpRoute;

/* @routes must stay valid while the server lives; @userdata goes to the handlers. */
int http_server_new(HttpServer **ret, sd_event *event, const HttpRoute *routes, size_t n_routes,
                    uint64_t max_body_bytes, void *userdata);

/* Closes every connection (suspended ones are resumed first) and frees. */
HttpServer *http_server_free(HttpServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpServer *, http_server_free);

/* Serves HTTP on the listening socket @fd (borrowed; unix or TCP). */
int http_server_add_listener(HttpServer *s, int fd, const char *description);

/* Stops accepting new connections on all listeners. */
void http_server_quiesce(HttpServer *s);

/* Connections open now, over all listeners. */
unsigned http_server_get_n_connections(HttpServer *s);

/* Answers every request still waiting with 503 and ends every SSE stream
 * (for shutdown); the loop must run once more for MHD to send them. */
void http_server_abort_pending(HttpServer *s);

HttpRequest *http_request_ref(HttpRequest *r);
HttpRequest *http_request_unref(HttpRequest *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpRequest *, http_request_unref);

const char *http_request_get_method(HttpRequest *r);
/* A request header, or NULL. */
const char *http_request_get_header(HttpRequest *r, const char *name);
/*
 * The token of an "Authorization: Bearer <token>" header (RFC 6750; the
 * scheme is matched case-insensitively, blanks around the token are
 * dropped), or NULL when there is none or the header has another scheme.
 * Valid while the request's connection lasts.
 */
const char *http_request_get_bearer_token(HttpRequest *r);

/* The body collected for a takes_body route (NUL-terminated; may hold NUL). */
const char *http_request_get_body(HttpRequest *r, size_t *ret_size);

/*
 * The peer's credentials from SO_PEERCRED, for connections on a unix
 * socket. Returns 0, or -ENODATA for TCP connections, or a negative errno.
 */
int http_request_get_peer_creds(HttpRequest *r, uid_t *ret_uid, pid_t *ret_pid);

/*
 * Answers with @status and the JSON @body (borrowed); @extra_headers is NULL
 * or a NULL-terminated list of name, value pairs (copied). Only the first
 * answer counts. Returns 0 or -ENOMEM.
 */
int http_request_respond_json(HttpRequest *r, unsigned status, json_t *body, const char *const *extra_headers);

/* Answers {"error":{"code":@code,"message":…}}. */
int http_request_respond_error(HttpRequest *r, unsigned status, const char *code, const char *format, ...) _printf_(4, 5);

/* Like http_request_respond_error() with extra headers (e.g. Retry-After, Allow). */
int http_request_respond_error_headers(HttpRequest *r, unsigned status, const char *code,
                                       const char *const *extra_headers, const char *format, ...) _printf_(5, 6);

/*
 * Answers with the SSE stream @stream (see sse.h); the server takes it over
 * in every case: its closed() handler runs when the stream ends, or at once
 * if the client is already gone or the answer cannot be queued.
 */
int http_request_respond_sse(HttpRequest *r, SseStream *stream);

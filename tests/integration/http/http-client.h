/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A small HTTP client for pyexecd's integration tests: libcurl over the
 * daemon's unix socket (/run/pyexecd/http.sock, or $PYEXECD_HTTP_SOCKET),
 * URLs http://localhost<path>. Requests return the status, the raw body,
 * the body parsed as JSON (when it is JSON) and the response headers.
 * An SSE reader collects the events of one or more streams at once.
 *
 * Transport failures are not assertions: they give status 0 and a message
 * in HttpResponse.error, so that callers can poll a daemon that is not up.
 */

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#define API_BASE "/api/v1/execution"
#define PYEXECD_HTTP_SOCKET_DEFAULT "/run/pyexecd/http.sock"

#ifndef USEC_PER_MSEC
#define USEC_PER_MSEC UINT64_C(1000)
#endif

typedef struct HttpResponse {
        long status;            /* HTTP status of the final response; 0 when the transfer failed */
        char *body;             /* the body, NUL-terminated (it may hold NULs itself) */
        size_t body_size;
        json_t *json;           /* the body parsed as JSON, or NULL */
        char **headers;         /* "Name: value" lines of the final response, NULL-terminated */
        char *error;            /* libcurl's message when the transfer failed, else NULL */
} HttpResponse;

HttpResponse *http_response_free(HttpResponse *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpResponse *, http_response_free);

/* Monotonic clock in µs. */
uint64_t now_usec(void);

/* Socket path in use: $PYEXECD_HTTP_SOCKET or the default. */
const char *http_socket_path(void);

/*
 * Sends @method @path (absolute, e.g. API_BASE "/execute") with @body of
 * @body_size bytes (may be NULL for none) and a Content-Type of
 * @content_type (NULL: no body header is added; for a body curl would then
 * send its own default). @extra_headers is a NULL-terminated list of
 * "Name: value" lines, or NULL. Never returns NULL (aborts on OOM).
 */
HttpResponse *http_request(const char *method, const char *path, const char *content_type,
                           const void *body, size_t body_size, const char *const *extra_headers);

/* The request's JSON dumped compactly (JSON_COMPACT | @dump_flags), posted as application/json. */
HttpResponse *http_post_json(const char *path, const json_t *body, size_t dump_flags);
HttpResponse *http_get(const char *path);
HttpResponse *http_delete(const char *path);

/* The value of header @name (case-insensitive), or NULL. Points into @r. */
const char *http_response_header(const HttpResponse *r, const char *name);

/* Short printable description of a response ("404 {...}" or "transport: ..."), malloc'd. */
char *http_response_describe(const HttpResponse *r);

typedef struct SseEvent {
        char *id;               /* the event's own "id:" field, or NULL when it had none */
        char *event;            /* "event:" field, "message" when absent */
        char *data;             /* data lines joined with "\n" */
        json_t *json;           /* @data parsed as JSON, or NULL */
        uint64_t recv_usec;     /* when it arrived, monotonic */
} SseEvent;

typedef struct SseStream {
        char *path;
        CURL *curl;
        struct curl_slist *request_headers;

        long status;            /* HTTP status once known */
        char *content_type;
        SseEvent *events;
        size_t n_events;
        size_t n_comments;      /* ":" comment lines (keep-alives) */
        bool ended;             /* an "end" event arrived */
        bool closed;            /* the server ended the response (transfer complete) */
        bool timed_out;         /* we gave up at the deadline */
        CURLcode result;
        uint64_t end_usec;      /* when "end" arrived, monotonic */

        /* Parser state. */
        char *line;
        size_t line_size, line_alloc;
        bool skip_lf;
        char *cur_id, *cur_event, *cur_data;
        size_t cur_data_size;
        bool cur_has_data;
        char *body_other;       /* non-SSE body (error answers), kept for messages */
        size_t body_other_size;
} SseStream;

/* Opens (does not yet run) a stream of GET @path, with Last-Event-ID @last_event_id unless NULL. */
SseStream *sse_stream_new(const char *path, const char *last_event_id);
SseStream *sse_stream_free(SseStream *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(SseStream *, sse_stream_free);

/*
 * Runs @n streams at once until each one has been closed by the server,
 * or @timeout_usec passed. A stream that has delivered "end" is given at
 * most SSE_CLOSE_GRACE_USEC more to close before it is abandoned (closed
 * stays false then).
 */
#define SSE_CLOSE_GRACE_USEC (5 * USEC_PER_SEC)
void sse_follow(SseStream **streams, size_t n, uint64_t timeout_usec);

/* sse_stream_new() + sse_follow() of one stream. */
SseStream *sse_collect(const char *path, const char *last_event_id, uint64_t timeout_usec);

/* Human-readable list of @s's events (one per line, data cut), malloc'd. */
char *sse_stream_describe(const SseStream *s);

/*
 * Compares two Redis stream ids "MS-SEQ": <0, 0, >0 like strcmp; a
 * malformed id sorts first and makes @ret_valid false.
 */
int redis_stream_id_compare(const char *a, const char *b, bool *ret_valid);

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * GET /stream/{id}: Server-Sent Events of one execution.
 *
 * The events stream in Redis is the single source: replay, resume
 * (Last-Event-ID) and live delivery are all "read what comes after my
 * cursor". A subscription reads a batch when it is woken (a new event was
 * stored, the client's buffer drained, or the keep-alive tick) and only
 * while the client's buffer is below a high-water mark, so a slow client
 * costs a bounded amount of memory and never blocks anyone else.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/manager.h"
#include "shared/exec-id.h"
#include "shared/log.h"

#define STREAM_BATCH 256
#define STREAM_HIGH_WATER (256 * 1024)
#define STREAM_KEEPALIVE_USEC (15 * USEC_PER_SEC)

static Subscription *subscription_free(Subscription *sub) {
        if (!sub)
                return NULL;
        free(sub->cursor);
        free(sub);
        return NULL;
}

/* True for a Redis stream id "MS-SEQ", both parts unsigned 64-bit numbers. */
static bool event_id_is_valid(const char *s) {
        const char *p = s;

        for (unsigned part = 0; part < 2; part++) {
                char *end;

                if (*p < '0' || *p > '9')
                        return false;
                errno = 0;
                (void) strtoull(p, &end, 10);
                if (errno != 0 || *end != (part == 0 ? '-' : '\0'))
                        return false;
                p = end + 1;
        }
        return true;
}

/* Pushes a batch to the client. Returns true if the batch ended the stream. */
static bool subscription_push(Subscription *sub, const RedisEvent *events, size_t n) {
        int r;

        for (size_t i = 0; i < n; i++) {
                const RedisEvent *ev = &events[i];

                r = sse_stream_push_event(sub->stream, ev->id, ev->type, ev->data, ev->data_size);
                if (r < 0) {
                        log_debug_errno(r, "Stream of %s: failed to queue an event: %m", sub->id);
                        sse_stream_abort(sub->stream);
                        sub->ended = true;
                        return true;
                }

                char *c = strdup(ev->id);
                if (!c) {
                        log_oom();
                        sse_stream_abort(sub->stream);
                        sub->ended = true;
                        return true;
                }
                free(sub->cursor);
                sub->cursor = c;

                if (strcmp(ev->type, "end") == 0) {
                        sub->ended = true;
                        sse_stream_finish(sub->stream);
                        return true;
                }
        }
        return false;
}

static void subscription_on_events(RedisStore *s, int r, const RedisEvent *events, size_t n, void *userdata) {
        Subscription *sub = userdata;

        sub->fetching = false;
        if (!sub->stream) {
                /* The client went away while we read. */
                subscription_free(sub);
                return;
        }

        if (r == -ENOENT) {
                /* Expired while followed. */
                sub->ended = true;
                sse_stream_finish(sub->stream);
                return;
        }
        if (r < 0) {
                /* Redis went away; the keep-alive tick tries again. */
                log_debug_errno(r, "Stream of %s: read failed: %m", sub->id);
                return;
        }

        if (subscription_push(sub, events, n))
                return;

        if (n == STREAM_BATCH || sub->more) {
                sub->more = false;
                subscription_wake(sub);
        }
}

void subscription_wake(Subscription *sub) {
        Manager *m = sub->manager;
        int r;

        if (sub->ended || !sub->stream)
                return;
        if (sub->fetching || sse_stream_get_buffered(sub->stream) >= STREAM_HIGH_WATER) {
                /* Read later: after this read, or when the client drained its buffer. */
                sub->more = true;
                return;
        }

        r = redis_store_read_events(m->store, sub->id, sub->cursor, STREAM_BATCH, subscription_on_events, sub);
        if (r < 0) {
                log_debug_errno(r, "Stream of %s: cannot read now: %m", sub->id);
                return;
        }
        sub->fetching = true;
        sub->more = false;
}

static void subscription_on_state(RedisStore *s, int r, const ExecRecord *rec, json_t *outputs, void *userdata) {
        Subscription *sub = userdata;

        sub->fetching = false;
        if (!sub->stream) {
                subscription_free(sub);
                return;
        }
        if (r == -ENOENT || (r >= 0 && exec_state_is_terminal(rec->state))) {
                /* The end entry is written with the terminal state, in one
                 * script: with nothing after the cursor, the client has it. */
                sub->ended = true;
                sse_stream_finish(sub->stream);
                return;
        }
        if (sub->more) {
                sub->more = false;
                subscription_wake(sub);
        }
}

void subscription_check_ended(Subscription *sub) {
        int r;

        if (sub->ended || !sub->stream || sub->fetching)
                return;
        r = redis_store_get(sub->manager->store, sub->id, subscription_on_state, sub);
        if (r < 0) {
                log_debug_errno(r, "Stream of %s: cannot read its state now: %m", sub->id);
                return;
        }
        sub->fetching = true;
}

static void subscription_on_drained(SseStream *s, void *userdata) {
        Subscription *sub = userdata;

        subscription_wake(sub);
}

static void subscription_on_closed(SseStream *s, void *userdata) {
        Subscription *sub = userdata;
        Manager *m = sub->manager;

        LIST_REMOVE(subscriptions, m->subscriptions, sub);
        sub->stream = NULL;
        if (!sub->fetching)
                subscription_free(sub);
}

static const SseStreamHandlers subscription_handlers = {
        .drained = subscription_on_drained,
        .closed = subscription_on_closed,
};

/* The first read decides between 404 and a stream. */
typedef struct StreamStart {
        Subscription *sub;
        HttpRequest *request;
} StreamStart;

static void stream_on_first_events(RedisStore *s, int r, const RedisEvent *events, size_t n, void *userdata) {
        StreamStart *st = userdata;
        Subscription *sub = st->sub;
        Manager *m = sub->manager;
        HttpRequest *req = st->request;
        SseStream *stream;

        free(st);

        if (r == -ENOENT) {
                (void) http_request_respond_error(req, 404, "not_found", "No execution with id \"%s\".", sub->id);
                goto fail;
        }
        if (r < 0) {
                _cleanup_free_ char *why = manager_redis_problem(m, r);
                (void) http_request_respond_error(req, 503, "unavailable", "%s", why ?: "Redis is unreachable.");
                goto fail;
        }

        r = sse_stream_new(&stream, m->event, STREAM_KEEPALIVE_USEC, &subscription_handlers, sub);
        if (r < 0) {
                (void) http_request_respond_error(req, 500, "internal", "Failed to set up the stream: %s", strerror(-r));
                goto fail;
        }
        sub->stream = stream;
        LIST_PREPEND(subscriptions, m->subscriptions, sub);

        /* From here on the stream's closed() frees @sub — but not while
         * "fetching", which keeps it alive through a closed() that happens
         * inside this call (client already gone). */
        sub->fetching = true;
        (void) http_request_respond_sse(req, stream);
        http_request_unref(req);
        sub->fetching = false;
        if (!sub->stream) {
                subscription_free(sub);
                return;
        }

        if (subscription_push(sub, events, n))
                return;
        if (n == STREAM_BATCH)
                subscription_wake(sub);
        else if (n == 0 && sub->cursor)
                /* Resumed after the last event: if that was the end, no
                 * event will ever come, so the stream must close. */
                subscription_check_ended(sub);
        return;

fail:
        subscription_free(sub);
        http_request_unref(req);
}

/* The caller may see it: read the first batch. */
static void stream_on_visible(Manager *m, const OpsResult *res, void *userdata) {
        StreamStart *st = userdata;
        Subscription *sub = st->sub;
        int r;

        if (res->status != OPS_OK) {
                api_respond_ops_error(st->request, res);
                goto fail;
        }

        r = redis_store_read_events(m->store, sub->id, sub->cursor, STREAM_BATCH, stream_on_first_events, st);
        if (r < 0) {
                _cleanup_free_ char *why = manager_redis_problem(m, r);
                (void) http_request_respond_error(st->request, 503, "unavailable", "%s", why ?: "Redis is unreachable.");
                goto fail;
        }
        return;

fail:
        http_request_unref(st->request);
        subscription_free(sub);
        free(st);
}

void api_stream(HttpRequest *req, const char *id, void *userdata) {
        Manager *m = userdata;
        _cleanup_(caller_done) Caller caller = CALLER_INIT;
        Subscription *sub;
        StreamStart *st;
        const char *last;

        if (strcmp(http_request_get_method(req), "HEAD") == 0) {
                /* An event stream has no length and no end to describe. */
                const char *headers[] = { "Allow", "GET", NULL };
                (void) http_request_respond_error_headers(req, 405, "method_not_allowed", headers,
                                                          "HEAD is not supported on event streams; use GET.");
                return;
        }

        if (!api_get_caller(m, req, &caller))
                return;

        if (!exec_id_is_valid(id)) {
                (void) http_request_respond_error(req, 404, "not_found", "No execution with id \"%s\".", id);
                return;
        }

        last = http_request_get_header(req, "Last-Event-ID");
        if (last && *last && !event_id_is_valid(last)) {
                (void) http_request_respond_error(req, 400, "invalid_field",
                                                  "Last-Event-ID \"%s\" is not an event id of this service.", last);
                return;
        }

        sub = calloc(1, sizeof(*sub));
        st = calloc(1, sizeof(*st));
        if (!sub || !st || (last && *last && !(sub->cursor = strdup(last)))) {
                subscription_free(sub);
                free(st);
                (void) http_request_respond_error(req, 500, "internal", "Out of memory.");
                return;
        }
        sub->manager = m;
        memcpy(sub->id, id, sizeof(sub->id));
        st->sub = sub;
        st->request = http_request_ref(req);

        /* Somebody else's execution is "not found", like an unknown one. */
        ops_get(m, &caller, id, 0, stream_on_visible, st);
}

void manager_abort_subscriptions(Manager *m) {
        LIST_FOREACH(subscriptions, sub, m->subscriptions)
                if (sub->stream && !sub->ended) {
                        sub->ended = true;
                        sse_stream_finish(sub->stream);
                }
}

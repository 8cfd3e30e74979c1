/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/sse.h"
#include "shared/log.h"
#include "shared/time-util.h"

/* A growable byte buffer with a read offset. */
typedef struct SseBuffer {
        char *data;
        size_t size;            /* bytes used, from data[0] */
        size_t offset;          /* bytes already sent */
        size_t allocated;
} SseBuffer;

static int sse_buffer_append(SseBuffer *b, const char *p, size_t n) {
        if (b->offset > 0 && b->offset == b->size)
                b->offset = b->size = 0;

        if (b->size + n > b->allocated) {
                /* Move the unsent tail to the front before growing. */
                if (b->offset > 0) {
                        memmove(b->data, b->data + b->offset, b->size - b->offset);
                        b->size -= b->offset;
                        b->offset = 0;
                }
                if (b->size + n > b->allocated) {
                        size_t a = MAX(b->allocated * 2, b->size + n);
                        a = MAX(a, (size_t) 4096);
                        char *d = realloc(b->data, a);
                        if (!d)
                                return -ENOMEM;
                        b->data = d;
                        b->allocated = a;
                }
        }

        memcpy(b->data + b->size, p, n);
        b->size += n;
        return 0;
}

static size_t sse_buffer_pending(const SseBuffer *b) {
        return b->size - b->offset;
}

static void sse_buffer_clear(SseBuffer *b) {
        free(b->data);
        *b = (SseBuffer) {};
}

char *sse_format_event(const char *id, const char *event, const char *data, size_t size, size_t *ret_size) {
        SseBuffer b = {};
        const char *p = data, *end = data + size;
        int r = 0;

#define APPEND(s, n) do { if (r >= 0) r = sse_buffer_append(&b, (s), (n)); } while (0)
#define APPEND_STR(s) APPEND((s), strlen(s))

        if (id && !strpbrk(id, "\r\n")) {
                APPEND_STR("id: ");
                APPEND_STR(id);
                APPEND_STR("\n");
        }
        if (event && !strpbrk(event, "\r\n")) {
                APPEND_STR("event: ");
                APPEND_STR(event);
                APPEND_STR("\n");
        }

        /* One "data:" line per line; an empty payload still gives one line. */
        for (;;) {
                const char *eol = p;

                while (eol < end && *eol != '\n' && *eol != '\r')
                        eol++;
                APPEND_STR("data: ");
                APPEND(p, (size_t) (eol - p));
                APPEND_STR("\n");
                if (eol >= end)
                        break;
                if (*eol == '\r' && eol + 1 < end && eol[1] == '\n')
                        eol++;
                p = eol + 1;
        }
        APPEND("\n", 2);        /* the blank line, and a NUL for the caller */

#undef APPEND_STR
#undef APPEND

        if (r < 0) {
                sse_buffer_clear(&b);
                return NULL;
        }
        if (ret_size)
                *ret_size = b.size - 1;
        return b.data;
}

char *sse_format_comment(const char *text, size_t *ret_size) {
        char *s;
        int n;

        n = asprintf(&s, ": %s\n\n", text);
        if (n < 0)
                return NULL;
        for (char *c = s + 2; c < s + n - 2; c++)
                if (*c == '\n' || *c == '\r')
                        *c = ' ';
        if (ret_size)
                *ret_size = (size_t) n;
        return s;
}

struct SseStream {
        struct MHD_Connection *connection;
        MhdDaemon *daemon;
        sd_event_source *keepalive_source;
        uint64_t keepalive_usec;
        uint64_t last_write_usec;
        SseBuffer buffer;
        SseStreamHandlers handlers;
        void *userdata;
        bool suspended;
        bool finished;
        bool aborted;
        bool keep_on_release;
};

static void sse_stream_resume(SseStream *s) {
        if (!s->suspended)
                return;
        /* Resuming a connection that is not suspended is undefined behaviour
         * in MHD, hence the flag. */
        s->suspended = false;
        MHD_resume_connection(s->connection);
        mhd_daemon_kick(s->daemon);
}

static ssize_t sse_stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
        SseStream *s = cls;
        size_t n;

        if (s->aborted)
                return MHD_CONTENT_READER_END_WITH_ERROR;

        if (sse_buffer_pending(&s->buffer) == 0 && !s->finished && s->handlers.drained)
                s->handlers.drained(s, s->userdata);

        n = MIN(max, sse_buffer_pending(&s->buffer));
        if (n > 0) {
                memcpy(buf, s->buffer.data + s->buffer.offset, n);
                s->buffer.offset += n;
                s->last_write_usec = now_usec(CLOCK_MONOTONIC);
                return (ssize_t) n;
        }

        if (s->finished)
                return MHD_CONTENT_READER_END_OF_STREAM;

        /* Nothing to send: park the connection until data comes. */
        if (!s->suspended) {
                s->suspended = true;
                MHD_suspend_connection(s->connection);
        }
        return 0;
}

static void sse_stream_free_cb(void *cls) {
        SseStream *s = cls;

        if (s->keep_on_release)
                return;

        s->keepalive_source = sd_event_source_disable_unref(s->keepalive_source);
        if (s->handlers.closed)
                s->handlers.closed(s, s->userdata);
        sse_buffer_clear(&s->buffer);
        free(s);
}

static int sse_stream_on_keepalive(sd_event_source *source, uint64_t usec, void *userdata) {
        SseStream *s = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC), next;
        int r;

        if (!s->finished && now >= s->last_write_usec + s->keepalive_usec &&
            sse_buffer_pending(&s->buffer) == 0) {
                r = sse_stream_push_comment(s, "keep-alive");
                if (r < 0)
                        log_debug_errno(r, "Failed to queue an SSE keep-alive: %m");
                next = now + s->keepalive_usec;
        } else
                /* Traffic came meanwhile: the next comment is due a full
                 * interval after it, not after this tick. */
                next = MAX(s->last_write_usec + s->keepalive_usec, now + USEC_PER_MSEC);

        /* A periodic look for news too: covers producers on other nodes. */
        if (!s->finished && s->handlers.drained && sse_buffer_pending(&s->buffer) == 0)
                s->handlers.drained(s, s->userdata);

        r = sd_event_source_set_time(source, next);
        if (r < 0)
                return log_warning_errno(r, "Failed to re-arm the SSE keep-alive timer: %m");
        return 0;
}

int sse_stream_new(SseStream **ret, sd_event *event, uint64_t keepalive_usec,
                   const SseStreamHandlers *handlers, void *userdata) {
        SseStream *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->handlers = *handlers;
        s->userdata = userdata;
        s->keepalive_usec = keepalive_usec;
        s->last_write_usec = now_usec(CLOCK_MONOTONIC);

        r = sd_event_add_time_relative(event, &s->keepalive_source, CLOCK_MONOTONIC, keepalive_usec, 0,
                                       sse_stream_on_keepalive, s);
        if (r < 0) {
                free(s);
                return r;
        }
        (void) sd_event_source_set_description(s->keepalive_source, "sse-keepalive");
        /* Periodic: the callback moves the time forward each tick. */
        r = sd_event_source_set_enabled(s->keepalive_source, SD_EVENT_ON);
        if (r < 0) {
                s->keepalive_source = sd_event_source_disable_unref(s->keepalive_source);
                free(s);
                return r;
        }

        *ret = s;
        return 0;
}

SseStream *sse_stream_free(SseStream *s) {
        if (s) {
                assert(!s->connection);
                sse_stream_free_cb(s);
        }
        return NULL;
}

int sse_stream_attach(SseStream *s, struct MHD_Connection *connection, MhdDaemon *daemon) {
        struct MHD_Response *response;
        int r = 0;

        assert(!s->connection);

        /* 16 KiB blocks: big enough for output events, small enough per
         * client. MHD calls sse_stream_free_cb() when it drops the response
         * (client gone or stream sent), which ends the object's life. */
        response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_stream_read, s,
                                                     sse_stream_free_cb);
        if (!response)
                return -ENOMEM;

        if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream") != MHD_YES ||
            MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES ||
            /* Proxies such as nginx must not hold events back. */
            MHD_add_response_header(response, "X-Accel-Buffering", "no") != MHD_YES)
                r = -ENOMEM;
        else {
                s->connection = connection;
                s->daemon = daemon;
                if (MHD_queue_response(connection, MHD_HTTP_OK, response) != MHD_YES) {
                        s->connection = NULL;
                        s->daemon = NULL;
                        r = -EIO;
                }
        }

        /* On failure, destroying the response must not free @s: the caller still owns it. */
        s->keep_on_release = r < 0;
        MHD_destroy_response(response);
        s->keep_on_release = false;
        return r;
}

int sse_stream_push_event(SseStream *s, const char *id, const char *event, const char *data, size_t size) {
        _cleanup_free_ char *text = NULL;
        size_t n;
        int r;

        if (s->finished)
                return -ESHUTDOWN;
        text = sse_format_event(id, event, data, size, &n);
        if (!text)
                return -ENOMEM;
        r = sse_buffer_append(&s->buffer, text, n);
        if (r < 0)
                return r;
        sse_stream_resume(s);
        return 0;
}

int sse_stream_push_comment(SseStream *s, const char *text) {
        _cleanup_free_ char *t = NULL;
        size_t n;
        int r;

        if (s->finished)
                return -ESHUTDOWN;
        t = sse_format_comment(text, &n);
        if (!t)
                return -ENOMEM;
        r = sse_buffer_append(&s->buffer, t, n);
        if (r < 0)
                return r;
        sse_stream_resume(s);
        return 0;
}

void sse_stream_finish(SseStream *s) {
        s->finished = true;
        sse_stream_resume(s);
}

void sse_stream_abort(SseStream *s) {
        s->finished = s->aborted = true;
        sse_stream_resume(s);
}

size_t sse_stream_get_buffered(SseStream *s) {
        return sse_buffer_pending(&s->buffer);
}


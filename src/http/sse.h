/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Server-Sent Events (HTML Living Standard, "Server-sent events", §9.2):
 * framing, and a stream object that feeds one MHD connection without
 * threads. MHD pulls from a content-reader callback; when our buffer is
 * empty the connection is suspended (a reader returning 0 would be polled
 * on every MHD_run()), and pushing data resumes it. A slow client therefore
 * only costs its own buffer: the producer asks sse_stream_get_buffered()
 * before pushing more and waits for the "drained" callback.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>
#include <systemd/sd-event.h>

#include "http/mhd-util.h"

/*
 * Formats one event: "id: @id\n" (if @id), "event: @event\n" (if @event),
 * one "data: …\n" line per line of @data (split at "\r\n", "\n" and "\r",
 * as the spec's parser would), and the blank line that dispatches it.
 * Returns a new string (its length in @ret_size) or NULL on ENOMEM.
 * @id and @event must not contain line breaks (they are dropped if they do).
 */
char *sse_format_event(const char *id, const char *event, const char *data, size_t size, size_t *ret_size);

/* Formats a comment line ": @text\n\n" (line breaks in @text become spaces). */
char *sse_format_comment(const char *text, size_t *ret_size);

typedef struct SseStream SseStream;

typedef struct SseStreamHandlers {
        /* The buffer ran empty and the stream is not finished: push more if
         * there is more. Also called on every keep-alive tick. May be NULL. */
        void (*drained)(SseStream *s, void *userdata);
        /* MHD is done with the stream (client gone, or finished and sent);
         * the object is freed right after this returns. */
        void (*closed)(SseStream *s, void *userdata);
} SseStreamHandlers;

/*
 * Creates a stream object. Events pushed before it is attached wait in its
 * buffer. A comment is sent after @keepalive_usec without traffic. Returns 0
 * or a negative errno.
 */
int sse_stream_new(SseStream **ret, sd_event *event, uint64_t keepalive_usec,
                   const SseStreamHandlers *handlers, void *userdata);

/* Frees a stream that was never attached; calls closed(). Returns NULL. */
SseStream *sse_stream_free(SseStream *s);

/*
 * Queues the stream as the 200 response of @connection (Content-Type:
 * text/event-stream, Cache-Control: no-cache). Must be called from inside
 * MHD's access handler for that connection; @daemon is kicked after every
 * resume. From then on MHD owns the stream: closed() is called when MHD
 * drops it. On failure (negative errno) nothing was queued and the caller
 * still owns @s.
 */
int sse_stream_attach(SseStream *s, struct MHD_Connection *connection, MhdDaemon *daemon);

/* Appends an event / a comment. Returns 0, -ENOMEM, or -ESHUTDOWN after sse_stream_finish(). */
int sse_stream_push_event(SseStream *s, const char *id, const char *event, const char *data, size_t size);
int sse_stream_push_comment(SseStream *s, const char *text);

/* The stream ends once what is buffered has been sent. */
void sse_stream_finish(SseStream *s);

/* Ends the stream now, dropping what is buffered (daemon shutdown). */
void sse_stream_abort(SseStream *s);

/* Bytes waiting to be sent. */
size_t sse_stream_get_buffered(SseStream *s);

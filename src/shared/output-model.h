/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Output events and the notebook's view of them.
 *
 * The payload's runner writes one JSON object per line on fd 3, shaped like
 * a Jupyter IOPub message: {"msg_type": T, "content": {...}} with T one of
 *   stream              content {"name": "stdout"|"stderr", "text": str}
 *   display_data        content {"data": {mime: value}, "metadata": {}, "transient"?: {"display_id": str}}
 *   execute_result      content {"execution_count": int|null, "data": {...}, "metadata": {}}
 *   error               content {"ename": str, "evalue": str, "traceback": [str, …]}
 *   update_display_data content {"data": {...}, "metadata": {}, "transient": {"display_id": str}}
 *   clear_output        content {"wait": bool}
 * (Jupyter messaging spec 5.3, "IOPub"). The daemon turns each into an
 * *event*, the unit stored in the execution's Redis events stream and sent as
 * one SSE event:
 *   type "output"               data: an nbformat v4 output item (content plus "output_type": T);
 *                               a display_data item may keep its "transient" member
 *   type "update_display_data"  data: the content as is
 *   type "clear_output"         data: the content as is
 * Other event types in that stream ("status", "end") are not outputs.
 *
 * The payload is untrusted: every line is validated, and a line that is not
 * one of the shapes above is refused (-EBADMSG), never half-used. Objects
 * may hold only the members shown ("transient" may hold more; only its
 * display_id is read); duplicate members and nesting deeper than 256 levels
 * are refused as well. U+0000 may appear in free text (stream text, mime
 * values, ename, evalue, traceback, metadata), not in msg_type, the stream
 * name or display_id. Mime keys are any non-empty string.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses and validates one line from fd 3 (without its "\n"). On success
 * returns 0, the event type in @ret_type (a static string: "output",
 * "update_display_data" or "clear_output") and a new reference to the event
 * data in @ret_data. Mime values must be strings, or any JSON for mime types
 * ending in "json"; text and traceback lines must be strings. Returns
 * -EBADMSG for anything else, -ENOMEM.
 */
int runner_message_parse(const char *line, size_t size, const char **ret_type, json_t **ret_data);

/*
 * The size OutputMax counts for one event: UTF-8 bytes of stream text, of
 * every mime value (strings as they are — base64 included —, JSON values
 * as their compact serialisation), of ename, evalue and traceback lines,
 * before JSON escaping, plus the compact JSON of a non-empty "metadata"
 * and "transient" (they travel and are stored with the item, so a cell
 * cannot hide megabytes there). An update_display_data event counts like
 * a display_data item (it is sent and stored as well); clear_output and
 * events that carry no output count 0.
 */
uint64_t output_event_size(const char *type, const json_t *data);

/*
 * Checks an event read back from anywhere (Redis, another node) against the
 * shapes above: for "output" an nbformat v4 output item (stream,
 * display_data with optional "transient", execute_result, error), for
 * "update_display_data" and "clear_output" the content as described.
 * Free text may hold NUL, as in runner_message_parse() (stream items built
 * from fd 1/2 do too); output_type, the stream name and display_id may not.
 * Returns 0 or -EBADMSG (also for any other type).
 */
int output_event_verify(const char *type, const json_t *data);

/*
 * Applies carriage returns the way a terminal (and Jupyter's front ends)
 * show them: within each "\n"-terminated line, text after a "\r"
 * overwrites the line from its start, code point by code point
 * ("abcdef\rXY" → "XYcdef", "a\r\n" → "a\n"; a trailing "\r" leaves the
 * line as it was). Returns a new NUL-terminated string of *@ret_size bytes
 * (never longer than @size; may hold NUL), or NULL on ENOMEM.
 */
char *text_apply_carriage_returns(const char *text, size_t size, size_t *ret_size);

/* Builds a stream output item {"output_type":"stream","name":@name,"text":…}
 * from @size bytes of valid UTF-8 (may hold NUL). New reference or NULL. */
json_t *stream_item_new(const char *name, const char *text, size_t size);

typedef struct OutputModel OutputModel;

/*
 * The stored `outputs` list of a cell, built from its events the way a
 * notebook front end builds what it saves:
 *  - adjacent stream items of the same name merge into one;
 *  - carriage returns are applied as a terminal does it, per line: text
 *    after a "\r" overwrites the line from its start ("ab\rX" → "Xb"; so
 *    progress bars collapse to their last state); this is done when the
 *    list is produced, so a "\r" split across events works;
 *  - update_display_data replaces data and metadata of every earlier
 *    display_data item with that display_id;
 *  - clear_output{wait:false} empties the list; {wait:true} empties it
 *    when the next output event arrives;
 *  - "transient" members are dropped, as nbformat stores no transient data.
 */
OutputModel *output_model_new(void);
OutputModel *output_model_free(OutputModel *m);

/* Applies one event (@data borrowed). Types other than the three output
 * types are ignored (returns 0). Returns 0, -EBADMSG for malformed data
 * (the model is unchanged), or -ENOMEM. */
int output_model_apply(OutputModel *m, const char *type, const json_t *data);

/* The outputs list as nbformat would store it: a new array reference, or NULL on ENOMEM. */
json_t *output_model_outputs(OutputModel *m);

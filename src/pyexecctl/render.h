/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shows output events on a terminal, or as JSON lines.
 *
 * An event is what the Execution's Output signal carries: a type (an
 * nbformat output_type — "stream", "display_data", "execute_result",
 * "error" — or "update_display_data" / "clear_output") and its JSON.
 *
 * Text mode: stream text as it is (stdout items to @out, stderr items to
 * @err), errors as their traceback on @err; a mime bundle (display_data,
 * execute_result, update_display_data) as the best the terminal can show,
 * on @out:
 *   - an image (image/png, then image/jpeg, then image/svg+xml) is saved
 *     as <output-dir>/<execution-id>-<n>.<ext> (n counts from 1) and shown
 *     as "[image/png 600x350] PATH";
 *   - else text/plain, unless it is only an object's default repr
 *     ("<foo.Bar object at 0x…>");
 *   - else text/markdown or text/latex as their source, text/html as one
 *     line ("[HTML table, 3 rows]", "[HTML] the first words…"),
 *     application/json compact;
 *   - else that text/plain after all, else "[MIME]".
 * An execute_result gets "Out[N]: " when it has an execution_count; an
 * update_display_data is shown again with "[update] " before it, and
 * clear_output as the note "[output cleared]".
 *
 * JSON mode: one line on @out per event: output items as nbformat v4
 * stores them (without the "transient" member, which nbformat does not
 * store), update_display_data and clear_output as their content with a
 * "msg_type" member added.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "shared/macro.h"

typedef struct Renderer Renderer;

/*
 * @out and @err are borrowed and must outlive the renderer. @output_dir
 * (NULL: ".") and @execution_id (names of saved images) are copied.
 * Returns NULL on ENOMEM.
 */
Renderer *renderer_new(FILE *out, FILE *err, bool json, const char *output_dir, const char *execution_id);
Renderer *renderer_free(Renderer *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Renderer *, renderer_free);

/*
 * Shows one event, given as text (@json_text) or parsed (@data, borrowed).
 * A malformed event or an image that cannot be saved is reported (logged)
 * and skipped: returns 0 then too. Returns -ENOMEM, or a negative errno
 * when writing to @out or @err fails.
 */
int renderer_event(Renderer *r, const char *type, const char *json_text);
int renderer_event_json(Renderer *r, const char *type, const json_t *data);

/* Shows a stored outputs list (an array of output items), item by item. */
int renderer_outputs(Renderer *r, const json_t *outputs);

/* Ends a line left open on @out or @err (a progress bar without "\n"),
 * so that what follows starts on a line of its own. */
int renderer_finish(Renderer *r);

/* The number of images saved so far. */
unsigned renderer_n_images(const Renderer *r);

/*
 * Helpers, exported for tests. html_summary() returns a new one-line
 * description of an HTML fragment; object_repr_is_default() tells whether
 * a text/plain is only Python's default object repr ("<… object>",
 * "<… object at 0x…>"). base64_decode() decodes RFC 4648 base64,
 * ignoring whitespace; it returns 0 and a new buffer, -EINVAL, or -ENOMEM.
 */
char *html_summary(const char *html);
bool object_repr_is_default(const char *text);
int base64_decode(const char *s, size_t len, unsigned char **ret, size_t *ret_size);

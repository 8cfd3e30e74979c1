/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "shared/output-model.h"

/* Number of code points in @size bytes of UTF-8. */
static size_t utf8_count(const char *s, size_t size) {
        size_t n = 0;

        for (size_t i = 0; i < size; i++)
                if (((unsigned char) s[i] & 0xc0) != 0x80)
                        n++;
        return n;
}

/* Byte offset of code point @index in @size bytes of UTF-8 (@size if beyond). */
static size_t utf8_offset(const char *s, size_t size, size_t index) {
        size_t n = 0;

        for (size_t i = 0; i < size; i++)
                if (((unsigned char) s[i] & 0xc0) != 0x80) {
                        if (n == index)
                                return i;
                        n++;
                }
        return size;
}

/*
 * Writes the visible form of one line (@size bytes without its "\n") to
 * @out, returns the bytes written. Segments between "\r"s are written over
 * each other from column 0; the visible text at column c comes from the
 * last segment that reaches c. Walking the segments from the last one back,
 * each earlier segment contributes only the part beyond what is already
 * covered, so a line costs time linear in its length however many "\r"s it
 * holds (a hostile cell cannot make status requests quadratic).
 */
static size_t line_collapse(const char *line, size_t size, char *out) {
        const char *end = line + size, *seg_end = end;
        size_t covered = 0, o = 0;

        for (;;) {
                const char *seg_start, *cr;
                size_t seg_size, len;

                /* Find the "\r" that starts this segment (searching backwards). */
                seg_start = line;
                for (cr = seg_end; cr > line; cr--)
                        if (cr[-1] == '\r') {
                                seg_start = cr;
                                break;
                        }

                seg_size = (size_t) (seg_end - seg_start);
                len = utf8_count(seg_start, seg_size);
                if (len > covered) {
                        size_t off = utf8_offset(seg_start, seg_size, covered);

                        memcpy(out + o, seg_start + off, seg_size - off);
                        o += seg_size - off;
                        covered = len;
                }

                if (seg_start == line)
                        break;
                seg_end = seg_start - 1;        /* skip the "\r" */
        }

        return o;
}

char *text_apply_carriage_returns(const char *text, size_t size, size_t *ret_size) {
        char *out;
        size_t o = 0, i = 0;

        out = malloc(size + 1);
        if (!out)
                return NULL;

        while (i < size) {
                const char *nl = memchr(text + i, '\n', size - i);
                size_t line_size = nl ? (size_t) (nl - (text + i)) : size - i;

                if (memchr(text + i, '\r', line_size))
                        o += line_collapse(text + i, line_size, out + o);
                else {
                        memcpy(out + o, text + i, line_size);
                        o += line_size;
                }
                i += line_size;

                if (nl) {
                        out[o++] = '\n';
                        i++;
                }
        }

        out[o] = '\0';
        if (ret_size)
                *ret_size = o;
        return out;
}

typedef struct OutputEntry {
        /* A stream entry keeps its raw, merged text in a growing buffer
         * (appending to a jansson string would copy it every time); other
         * entries keep their item, without "transient". */
        const char *stream;     /* "stdout" or "stderr" (static), or NULL */
        char *text;
        size_t size, allocated;
        json_t *item;
        char *display_id;       /* display_data's transient display_id, or NULL */
} OutputEntry;

struct OutputModel {
        OutputEntry *entries;
        size_t n, allocated;
        bool clear_pending;     /* clear_output(wait=true) seen, no output since */
};

static void output_entry_done(OutputEntry *e) {
        free(e->text);
        json_decref(e->item);
        free(e->display_id);
        *e = (OutputEntry) {};
}

static void output_model_clear(OutputModel *m) {
        for (size_t i = 0; i < m->n; i++)
                output_entry_done(&m->entries[i]);
        m->n = 0;
}

OutputModel *output_model_new(void) {
        return calloc(1, sizeof(OutputModel));
}

OutputModel *output_model_free(OutputModel *m) {
        if (!m)
                return NULL;

        output_model_clear(m);
        free(m->entries);
        free(m);
        return NULL;
}

static int output_model_reserve(OutputModel *m) {
        OutputEntry *e;
        size_t a;

        if (m->n < m->allocated)
                return 0;

        a = MAX(m->allocated * 2, (size_t) 8);
        e = reallocarray(m->entries, a, sizeof(OutputEntry));
        if (!e)
                return -ENOMEM;
        m->entries = e;
        m->allocated = a;
        return 0;
}

static int stream_append(OutputEntry *e, const char *text, size_t size) {
        if (e->size + size + 1 > e->allocated) {
                size_t a = MAX(e->allocated * 2, e->size + size + 1);
                char *t = realloc(e->text, a);

                if (!t)
                        return -ENOMEM;
                e->text = t;
                e->allocated = a;
        }

        memcpy(e->text + e->size, text, size);
        e->size += size;
        e->text[e->size] = '\0';
        return 0;
}

static const char *stream_name_static(const char *name) {
        return strcmp(name, "stdout") == 0 ? "stdout" : "stderr";
}

static int output_model_add(OutputModel *m, const json_t *item) {
        const char *output_type = json_string_value(json_object_get(item, "output_type"));
        OutputEntry e = {};
        int r;

        if (strcmp(output_type, "stream") == 0) {
                const char *name = stream_name_static(json_string_value(json_object_get(item, "name")));
                json_t *text = json_object_get(item, "text");

                /* Merge with the item right before, as a notebook saves it. */
                if (!m->clear_pending && m->n > 0) {
                        OutputEntry *last = &m->entries[m->n - 1];

                        if (last->stream && strcmp(last->stream, name) == 0)
                                return stream_append(last, json_string_value(text), json_string_length(text));
                }

                e.stream = name;
                r = stream_append(&e, json_string_value(text), json_string_length(text));
                if (r < 0)
                        return r;
        } else {
                json_t *transient = json_object_get(item, "transient");

                if (transient) {
                        const char *id = json_string_value(json_object_get(transient, "display_id"));

                        if (id) {
                                e.display_id = strdup(id);
                                if (!e.display_id)
                                        return -ENOMEM;
                        }
                }

                /* A private copy: the caller's event stays the caller's. */
                e.item = json_deep_copy(item);
                if (!e.item || (transient && json_object_del(e.item, "transient") < 0)) {
                        output_entry_done(&e);
                        return -ENOMEM;
                }
        }

        r = output_model_reserve(m);
        if (r < 0) {
                output_entry_done(&e);
                return r;
        }

        if (m->clear_pending) {
                output_model_clear(m);
                m->clear_pending = false;
        }

        m->entries[m->n++] = e;
        return 0;
}

static int output_model_update_display(OutputModel *m, const json_t *content) {
        const char *id = json_string_value(json_object_get(json_object_get(content, "transient"), "display_id"));
        json_auto_t *data = NULL, *metadata = NULL;

        data = json_deep_copy(json_object_get(content, "data"));
        metadata = json_deep_copy(json_object_get(content, "metadata"));
        if (!data || !metadata)
                return -ENOMEM;

        /* Items handed out by output_model_outputs() are shallow copies, so
         * changing our own items here does not change theirs. */
        for (size_t i = 0; i < m->n; i++) {
                OutputEntry *e = &m->entries[i];

                if (!e->display_id || strcmp(e->display_id, id) != 0)
                        continue;
                if (json_object_set(e->item, "data", data) < 0 ||
                    json_object_set(e->item, "metadata", metadata) < 0)
                        return -ENOMEM;
        }

        return 0;
}

int output_model_apply(OutputModel *m, const char *type, const json_t *data) {
        int r;

        if (!m || !type)
                return -EINVAL;

        if (strcmp(type, "output") != 0 &&
            strcmp(type, "update_display_data") != 0 &&
            strcmp(type, "clear_output") != 0)
                return 0;

        r = output_event_verify(type, data);
        if (r < 0)
                return r;

        if (strcmp(type, "output") == 0)
                return output_model_add(m, data);

        if (strcmp(type, "update_display_data") == 0)
                return output_model_update_display(m, data);

        /* clear_output */
        if (json_is_true(json_object_get(data, "wait")))
                m->clear_pending = true;
        else {
                output_model_clear(m);
                m->clear_pending = false;
        }
        return 0;
}

static json_t *stream_entry_to_item(const OutputEntry *e) {
        _cleanup_free_ char *text = NULL;
        size_t size;

        text = text_apply_carriage_returns(e->text, e->size, &size);
        if (!text)
                return NULL;

        return json_pack("{s:s, s:s, s:s%}",
                         "output_type", "stream",
                         "name", e->stream,
                         "text", text, size);
}

json_t *output_model_outputs(OutputModel *m) {
        json_auto_t *a = NULL;

        a = json_array();
        if (!a)
                return NULL;

        for (size_t i = 0; m && i < m->n; i++) {
                const OutputEntry *e = &m->entries[i];
                json_t *item;

                item = e->stream ? stream_entry_to_item(e) : json_copy(e->item);
                if (!item || json_array_append_new(a, item) < 0)
                        return NULL;
        }

        return TAKE_PTR(a);
}

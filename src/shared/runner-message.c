/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Validation of the runner's fd 3 protocol and of output events.
 *
 * The payload controls every byte of these lines, so the checks are exact:
 * each object may hold only the members its shape names, each member must
 * have its type, and the whole line is refused on the first violation.
 *
 * U+0000: text is text, and Python code may print "\0" (the runner sends it
 * as "\u0000", as fd 1/2 carry the raw byte), so free text — stream text,
 * mime values, ename/evalue/traceback, metadata — may hold it. The strings
 * the daemon acts on — msg_type, output_type, the stream name, display_id —
 * must not: "stdout\u0000x" would compare equal to "stdout" in C.
 */

#include <errno.h>
#include <string.h>

#include "shared/macro.h"
#include "shared/output-model.h"

/* Deepest nesting accepted in one line. Real messages need 4 levels plus
 * whatever an application/json value holds (the runner's own encoder stops
 * at 100); jansson's own limit (2048) would let a hostile line use a lot of
 * stack before failing. */
#define RUNNER_MESSAGE_MAX_DEPTH 256

/*
 * Counts the nesting of [ and { outside strings without parsing anything
 * else. Malformed input may pass here: jansson rejects it afterwards.
 */
static bool json_text_depth_ok(const char *s, size_t n, unsigned max) {
        bool in_string = false;
        unsigned depth = 0;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (in_string) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_string = false;
                        continue;
                }

                switch (c) {
                case '"':
                        in_string = true;
                        break;
                case '[':
                case '{':
                        if (++depth > max)
                                return false;
                        break;
                case ']':
                case '}':
                        if (depth > 0)
                                depth--;
                        break;
                }
        }

        return true;
}

/* True if every member name of @o is in the NULL-terminated @allowed. */
static bool object_has_only(const json_t *o, const char *const *allowed) {
        const char *key;
        json_t *value;

        json_object_foreach((json_t *) o, key, value) {
                bool found = false;

                for (const char *const *a = allowed; *a; a++)
                        if (strcmp(*a, key) == 0) {
                                found = true;
                                break;
                        }
                if (!found)
                        return false;
        }

        return true;
}

static bool string_ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* A string the daemon interprets: no U+0000 in it. */
static bool json_is_clean_string(const json_t *v) {
        return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

/* {mime: str} with any JSON allowed for mime types ending in "json". Keys
 * are not held to "type/subtype": nbformat accepts any, and display() passes
 * on what the code gives. jansson never lets a key hold U+0000. */
static bool mimebundle_is_valid(const json_t *data) {
        const char *mime;
        json_t *value;

        if (!json_is_object(data))
                return false;

        json_object_foreach((json_t *) data, mime, value) {
                if (mime[0] == '\0')
                        return false;
                if (!json_is_string(value) && !string_ends_with(mime, "json"))
                        return false;
        }

        return true;
}

static bool member_is_string(const json_t *o, const char *key) {
        return json_is_string(json_object_get(o, key));
}

/* Jupyter lets "transient" carry anything; we only read display_id. */
static bool transient_is_valid(const json_t *t, bool need_display_id) {
        json_t *id;

        if (!json_is_object(t))
                return false;

        id = json_object_get(t, "display_id");
        if (!id)
                return !need_display_id;
        return json_is_clean_string(id) && json_string_length(id) > 0;
}

/*
 * Checks @o as the content of @msg_type (the runner's shape) or, with
 * @as_item, as an nbformat output item (the same members plus
 * "output_type"). Returns false for anything else.
 */
static bool content_is_valid(const char *msg_type, const json_t *o, bool as_item) {
        if (!json_is_object(o))
                return false;

        if (strcmp(msg_type, "stream") == 0) {
                static const char *const allowed[] = { "output_type", "name", "text", NULL };
                const char *name;

                if (!object_has_only(o, as_item ? allowed : allowed + 1))
                        return false;
                if (!json_is_clean_string(json_object_get(o, "name")) || !member_is_string(o, "text"))
                        return false;
                name = json_string_value(json_object_get(o, "name"));
                return strcmp(name, "stdout") == 0 || strcmp(name, "stderr") == 0;
        }

        if (strcmp(msg_type, "display_data") == 0) {
                static const char *const allowed[] = { "output_type", "data", "metadata", "transient", NULL };
                json_t *t;

                if (!object_has_only(o, as_item ? allowed : allowed + 1))
                        return false;
                if (!mimebundle_is_valid(json_object_get(o, "data")) ||
                    !json_is_object(json_object_get(o, "metadata")))
                        return false;
                t = json_object_get(o, "transient");
                return !t || transient_is_valid(t, false);
        }

        if (strcmp(msg_type, "execute_result") == 0) {
                static const char *const allowed[] = { "output_type", "execution_count", "data", "metadata", NULL };
                json_t *count;

                if (!object_has_only(o, as_item ? allowed : allowed + 1))
                        return false;
                count = json_object_get(o, "execution_count");
                if (!count || !(json_is_null(count) || (json_is_integer(count) && json_integer_value(count) >= 0)))
                        return false;
                return mimebundle_is_valid(json_object_get(o, "data")) &&
                       json_is_object(json_object_get(o, "metadata"));
        }

        if (strcmp(msg_type, "error") == 0) {
                static const char *const allowed[] = { "output_type", "ename", "evalue", "traceback", NULL };
                json_t *tb, *line;
                size_t i;

                if (!object_has_only(o, as_item ? allowed : allowed + 1))
                        return false;
                if (!member_is_string(o, "ename") || !member_is_string(o, "evalue"))
                        return false;
                tb = json_object_get(o, "traceback");
                if (!json_is_array(tb))
                        return false;
                json_array_foreach(tb, i, line)
                        if (!json_is_string(line))
                                return false;
                return true;
        }

        if (as_item)
                return false;

        if (strcmp(msg_type, "update_display_data") == 0) {
                static const char *const allowed[] = { "data", "metadata", "transient", NULL };

                return object_has_only(o, allowed) &&
                       mimebundle_is_valid(json_object_get(o, "data")) &&
                       json_is_object(json_object_get(o, "metadata")) &&
                       transient_is_valid(json_object_get(o, "transient"), true);
        }

        if (strcmp(msg_type, "clear_output") == 0) {
                static const char *const allowed[] = { "wait", NULL };

                return object_has_only(o, allowed) && json_is_boolean(json_object_get(o, "wait"));
        }

        return false;
}

int output_event_verify(const char *type, const json_t *data) {
        json_t *t;

        if (!type || !json_is_object(data))
                return -EBADMSG;

        if (strcmp(type, "output") == 0) {
                t = json_object_get(data, "output_type");
                if (!json_is_clean_string(t))
                        return -EBADMSG;
                return content_is_valid(json_string_value(t), data, true) ? 0 : -EBADMSG;
        }

        if (strcmp(type, "update_display_data") == 0 || strcmp(type, "clear_output") == 0)
                return content_is_valid(type, data, false) ? 0 : -EBADMSG;

        return -EBADMSG;
}

int runner_message_parse(const char *line, size_t size, const char **ret_type, json_t **ret_data) {
        static const char *const allowed[] = { "msg_type", "content", NULL };
        json_auto_t *root = NULL, *item = NULL;
        json_t *msg_type, *content;
        const char *t;
        json_error_t error;

        if (!line || !json_text_depth_ok(line, size, RUNNER_MESSAGE_MAX_DEPTH))
                return -EBADMSG;

        /* JSON_ALLOW_NUL: see the top of this file for where U+0000 may go. */
        root = json_loadb(line, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &error);
        if (!root) {
                if (json_error_code(&error) == json_error_out_of_memory)
                        return -ENOMEM;
                return -EBADMSG;
        }

        if (!json_is_object(root) || !object_has_only(root, allowed))
                return -EBADMSG;

        msg_type = json_object_get(root, "msg_type");
        content = json_object_get(root, "content");
        if (!json_is_clean_string(msg_type) || !json_is_object(content))
                return -EBADMSG;
        t = json_string_value(msg_type);

        if (!content_is_valid(t, content, false))
                return -EBADMSG;

        if (strcmp(t, "update_display_data") == 0) {
                *ret_type = "update_display_data";
                *ret_data = json_incref(content);
                return 0;
        }
        if (strcmp(t, "clear_output") == 0) {
                *ret_type = "clear_output";
                *ret_data = json_incref(content);
                return 0;
        }

        /* An output item: "output_type" first, then the content's members. */
        item = json_pack("{s:s}", "output_type", t);
        if (!item || json_object_update(item, content) < 0)
                return -ENOMEM;

        *ret_type = "output";
        *ret_data = TAKE_PTR(item);
        return 0;
}

static uint64_t mimebundle_size(const json_t *data) {
        const char *mime;
        json_t *value;
        uint64_t n = 0;

        if (!json_is_object(data))
                return 0;

        json_object_foreach((json_t *) data, mime, value) {
                if (json_is_string(value))
                        n += json_string_length(value);
                else
                        /* With a NULL buffer json_dumpb() only measures. */
                        n += json_dumpb(value, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
        }

        return n;
}

/* The compact JSON size of @o's member @key ("metadata", "transient"):
 * it is stored and sent with the item like the data, so it counts too
 * (else a cell could attach megabytes of metadata to empty outputs). An
 * empty object counts nothing. */
static uint64_t json_member_size(const json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);

        if (!v || (json_is_object(v) && json_object_size(v) == 0))
                return 0;
        return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

static uint64_t string_member_size(const json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);

        return json_is_string(v) ? json_string_length(v) : 0;
}

uint64_t output_event_size(const char *type, const json_t *data) {
        const char *output_type;

        if (!type || !json_is_object(data))
                return 0;

        if (strcmp(type, "update_display_data") == 0)
                return mimebundle_size(json_object_get(data, "data")) +
                       json_member_size(data, "metadata") + json_member_size(data, "transient");

        if (strcmp(type, "output") != 0)
                return 0;

        output_type = json_string_value(json_object_get(data, "output_type"));
        if (!output_type)
                return 0;

        if (strcmp(output_type, "stream") == 0)
                return string_member_size(data, "text");

        if (strcmp(output_type, "display_data") == 0 || strcmp(output_type, "execute_result") == 0)
                return mimebundle_size(json_object_get(data, "data")) +
                       json_member_size(data, "metadata") + json_member_size(data, "transient");

        if (strcmp(output_type, "error") == 0) {
                json_t *tb = json_object_get(data, "traceback"), *line;
                uint64_t n;
                size_t i;

                n = string_member_size(data, "ename") + string_member_size(data, "evalue");
                json_array_foreach(tb, i, line)
                        if (json_is_string(line))
                                n += json_string_length(line);
                return n;
        }

        return 0;
}

json_t *stream_item_new(const char *name, const char *text, size_t size) {
        /* "s%" takes a length, so NUL bytes survive; jansson checks UTF-8. */
        return json_pack("{s:s, s:s, s:s%}",
                         "output_type", "stream",
                         "name", name,
                         "text", text, size);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyexecctl/render.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/output-model.h"

struct Renderer {
        FILE *out;
        FILE *err;
        bool json;
        char *output_dir;
        char *execution_id;
        unsigned n_images;
        /* The last text written there did not end with "\n" (a progress bar):
         * a block that follows starts on a new line. */
        bool out_open;
        bool err_open;
};

static const struct {
        const char *mime;
        const char *ext;
        bool base64;
} image_types[] = {
        /* Terminal users open files: PNG first, as every viewer opens it. */
        { "image/png", "png", true },
        { "image/jpeg", "jpg", true },
        { "image/svg+xml", "svg", false },
};

Renderer *renderer_new(FILE *out, FILE *err, bool json, const char *output_dir, const char *execution_id) {
        _cleanup_(renderer_freep) Renderer *r = NULL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        r->out = out;
        r->err = err;
        r->json = json;
        r->output_dir = strdup(output_dir ?: ".");
        r->execution_id = strdup(execution_id ?: "output");
        if (!r->output_dir || !r->execution_id)
                return NULL;
        return TAKE_PTR(r);
}

Renderer *renderer_free(Renderer *r) {
        if (!r)
                return NULL;
        free(r->output_dir);
        free(r->execution_id);
        free(r);
        return NULL;
}

unsigned renderer_n_images(const Renderer *r) {
        return r->n_images;
}

static bool *open_flag(Renderer *r, FILE *f) {
        return f == r->out ? &r->out_open : &r->err_open;
}

/* Writes and flushes at once, so stdout and stderr interleave as they came. */
static int write_text(Renderer *r, FILE *f, const char *text, size_t len) {
        if (len == 0)
                return 0;
        if (fwrite(text, 1, len, f) != len || fflush(f) != 0)
                return errno > 0 ? -errno : -EIO;
        *open_flag(r, f) = text[len - 1] != '\n';
        return 0;
}

/* Writes a block of text that stands on its own lines: after a newline if the
 * stream has an open line, with a newline at its end. */
static int write_block(Renderer *r, FILE *f, const char *prefix, const char *text) {
        size_t len = strlen(text);
        int r_;

        if (*open_flag(r, f)) {
                r_ = write_text(r, f, "\n", 1);
                if (r_ < 0)
                        return r_;
        }
        r_ = write_text(r, f, prefix, strlen(prefix));
        if (r_ >= 0)
                r_ = write_text(r, f, text, len);
        if (r_ >= 0 && (len == 0 || text[len - 1] != '\n'))
                r_ = write_text(r, f, "\n", 1);
        return r_;
}

int renderer_finish(Renderer *r) {
        int k = 0;

        if (r->out_open)
                k = write_text(r, r->out, "\n", 1);
        if (k >= 0 && r->err_open)
                k = write_text(r, r->err, "\n", 1);
        return k;
}

/* A mime value or stream text as one string (@ret_len counts NULs); other
 * JSON (application/json) serialised. output_event_verify() admits strings
 * only where text is expected. */
static char *value_text(const json_t *v, size_t *ret_len) {
        char *s;

        if (json_is_string(v)) {
                size_t len = json_string_length(v);
                s = malloc(len + 1);
                if (!s)
                        return NULL;
                memcpy(s, json_string_value(v), len + 1);
                *ret_len = len;
                return s;
        }
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s)
                *ret_len = strlen(s);
        return s;
}

static int write_file(const char *path, const void *data, size_t size) {
        _cleanup_close_ int fd = -1;

        /* O_NOFOLLOW: a symlink planted in a shared --output-dir must not redirect us. */
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0)
                return -errno;
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, (const char *) data + done, size - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) n;
        }
        if (close(TAKE_FD(fd)) < 0)
                return -errno;
        return 0;
}

/* "600x350" from a PNG's IHDR chunk, or "" if it is not one. */
static void png_dimensions(const unsigned char *p, size_t size, char *buf, size_t bufsize) {
        static const unsigned char signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
        uint32_t w, h;

        buf[0] = '\0';
        if (size < 24 || memcmp(p, signature, 8) != 0 || memcmp(p + 12, "IHDR", 4) != 0)
                return;
        w = (uint32_t) p[16] << 24 | (uint32_t) p[17] << 16 | (uint32_t) p[18] << 8 | p[19];
        h = (uint32_t) p[20] << 24 | (uint32_t) p[21] << 16 | (uint32_t) p[22] << 8 | p[23];
        (void) snprintf(buf, bufsize, " %" PRIu32 "x%" PRIu32, w, h);
}

/* Saves the bundle's image (the first of image_types it holds) and returns the
 * line that shows it; NULL with 0 when it has none, or when saving failed (logged). */
static int render_image(Renderer *r, const json_t *data, char **ret) {
        for (size_t i = 0; i < ELEMENTSOF(image_types); i++) {
                _cleanup_free_ unsigned char *bytes = NULL;
                _cleanup_free_ char *text = NULL, *path = NULL;
                const json_t *v = json_object_get(data, image_types[i].mime);
                char dims[32] = "";
                size_t len, size;
                int k;

                if (!v)
                        continue;

                text = value_text(v, &len);
                if (!text)
                        return -ENOMEM;
                if (image_types[i].base64) {
                        k = base64_decode(text, len, &bytes, &size);
                        if (k == -ENOMEM)
                                return k;
                        if (k < 0) {
                                log_warning("Skipping %s output that is not valid base64.", image_types[i].mime);
                                continue;
                        }
                        png_dimensions(bytes, size, dims, sizeof(dims));
                } else {
                        bytes = (unsigned char *) TAKE_PTR(text);
                        size = len;
                }

                if (asprintf(&path, "%s/%s-%u.%s", r->output_dir, r->execution_id,
                             r->n_images + 1, image_types[i].ext) < 0)
                        return -ENOMEM;
                k = write_file(path, bytes, size);
                if (k < 0) {
                        log_error_errno(k, "Failed to save %s output to %s: %m", image_types[i].mime, path);
                        continue;
                }
                r->n_images++;

                if (asprintf(ret, "[%s%s] %s", image_types[i].mime, dims, path) < 0)
                        return -ENOMEM;
                return 1;
        }

        *ret = NULL;
        return 0;
}

/* The text to show for a mime bundle (see render.h for the order). */
static int render_bundle(Renderer *r, const json_t *data, char **ret) {
        const json_t *plain = json_object_get(data, "text/plain");
        _cleanup_free_ char *plain_text = NULL;
        const char *key;
        json_t *v;
        size_t len;
        int k;

        k = render_image(r, data, ret);
        if (k != 0)
                return k;

        if (plain) {
                plain_text = value_text(plain, &len);
                if (!plain_text)
                        return -ENOMEM;
                if (!object_repr_is_default(plain_text)) {
                        *ret = TAKE_PTR(plain_text);
                        return 0;
                }
        }

        v = json_object_get(data, "text/markdown");
        if (!v)
                v = json_object_get(data, "text/latex");
        if (v) {
                *ret = value_text(v, &len);
                return *ret ? 0 : -ENOMEM;
        }

        v = json_object_get(data, "text/html");
        if (v) {
                _cleanup_free_ char *html = value_text(v, &len);
                if (!html)
                        return -ENOMEM;
                *ret = html_summary(html);
                return *ret ? 0 : -ENOMEM;
        }

        v = json_object_get(data, "application/json");
        if (v) {
                *ret = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                return *ret ? 0 : -ENOMEM;
        }

        if (plain_text) {
                *ret = TAKE_PTR(plain_text);
                return 0;
        }

        /* Something no terminal shows: name it, so the user knows it was there. */
        json_object_foreach((json_t *) data, key, v)
                return asprintf(ret, "[%s]", key) < 0 ? -ENOMEM : 0;

        *ret = NULL;
        return 0;
}

static int show_bundle(Renderer *r, const json_t *data, const char *prefix) {
        _cleanup_free_ char *text = NULL;
        int k;

        k = render_bundle(r, data, &text);
        if (k < 0)
                return k;
        if (!text)
                return 0;

        /* As IPython shows it: a value of several lines starts on the line after "Out[N]:". */
        if (strchr(text, '\n') && strncmp(prefix, "Out[", 4) == 0) {
                _cleanup_free_ char *p = NULL;
                size_t n = strlen(prefix);

                p = strndup(prefix, n > 0 && prefix[n - 1] == ' ' ? n - 1 : n);
                if (!p)
                        return -ENOMEM;
                k = write_block(r, r->out, "", p);
                if (k < 0)
                        return k;
                prefix = "";
        }
        return write_block(r, r->out, prefix, text);
}

static int show_item(Renderer *r, const char *type, const json_t *item) {
        if (strcmp(type, "stream") == 0) {
                const char *name = json_string_value(json_object_get(item, "name"));
                _cleanup_free_ char *text = NULL;
                size_t len;

                text = value_text(json_object_get(item, "text"), &len);
                if (!text)
                        return -ENOMEM;
                return write_text(r, name && strcmp(name, "stderr") == 0 ? r->err : r->out, text, len);
        }

        if (strcmp(type, "error") == 0) {
                const json_t *tb = json_object_get(item, "traceback");
                _cleanup_free_ char *text = NULL;

                if (json_array_size(tb) > 0) {
                        /* Traceback entries are lines (or blocks of lines) without their "\n". */
                        size_t i;
                        json_t *line;
                        int k;

                        if (r->err_open && (k = write_text(r, r->err, "\n", 1)) < 0)
                                return k;
                        json_array_foreach(tb, i, line) {
                                k = write_block(r, r->err, "", json_string_value(line) ?: "");
                                if (k < 0)
                                        return k;
                        }
                        return 0;
                }
                if (asprintf(&text, "%s: %s",
                             json_string_value(json_object_get(item, "ename")) ?: "Error",
                             json_string_value(json_object_get(item, "evalue")) ?: "") < 0)
                        return -ENOMEM;
                return write_block(r, r->err, "", text);
        }

        if (strcmp(type, "execute_result") == 0) {
                const json_t *count = json_object_get(item, "execution_count");
                char prefix[64] = "";

                if (json_is_integer(count))
                        (void) snprintf(prefix, sizeof(prefix), "Out[%" JSON_INTEGER_FORMAT "]: ",
                                        json_integer_value(count));
                return show_bundle(r, json_object_get(item, "data"), prefix);
        }

        if (strcmp(type, "display_data") == 0)
                return show_bundle(r, json_object_get(item, "data"), "");

        if (strcmp(type, "update_display_data") == 0)
                return show_bundle(r, json_object_get(item, "data"), "[update] ");

        if (strcmp(type, "clear_output") == 0)
                return write_block(r, r->out, "", "[output cleared]");

        return 0;
}

static bool is_output_type(const char *type) {
        return strcmp(type, "stream") == 0 || strcmp(type, "display_data") == 0 ||
                strcmp(type, "execute_result") == 0 || strcmp(type, "error") == 0;
}

static int show_json(Renderer *r, const char *type, const json_t *data) {
        _cleanup_(json_decrefp) json_t *copy = NULL;
        _cleanup_free_ char *line = NULL;
        int k;

        copy = json_copy((json_t *) data);
        if (!copy)
                return -ENOMEM;

        if (is_output_type(type))
                /* nbformat stores no transient data; the item must be valid nbformat. */
                (void) json_object_del(copy, "transient");
        else if (json_object_set_new(copy, "msg_type", json_string(type)) < 0)
                return -ENOMEM;

        line = json_dumps(copy, JSON_COMPACT);
        if (!line)
                return -ENOMEM;
        k = write_text(r, r->out, line, strlen(line));
        if (k >= 0)
                k = write_text(r, r->out, "\n", 1);
        return k;
}

int renderer_event_json(Renderer *r, const char *type, const json_t *data) {
        const char *event_type;

        if (!type || !data)
                return 0;

        /* Check the shape before using it: the service passes on what the cell made. */
        if (is_output_type(type)) {
                const char *t = json_string_value(json_object_get(data, "output_type"));
                if (!t || strcmp(t, type) != 0) {
                        log_warning("Skipping an output whose type \"%s\" does not match its item.", type);
                        return 0;
                }
                event_type = "output";
        } else if (strcmp(type, "update_display_data") == 0 || strcmp(type, "clear_output") == 0)
                event_type = type;
        else {
                log_debug("Skipping an output event of unknown type \"%s\".", type);
                return 0;
        }
        if (output_event_verify(event_type, data) < 0) {
                log_warning("Skipping a malformed \"%s\" output.", type);
                return 0;
        }

        return r->json ? show_json(r, type, data) : show_item(r, type, data);
}

int renderer_event(Renderer *r, const char *type, const char *json_text) {
        _cleanup_(json_decrefp) json_t *data = NULL;
        json_error_t error;

        data = json_loads(json_text ?: "", JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &error);
        if (!data) {
                log_warning("Skipping a \"%s\" output that is not valid JSON: %s", type ?: "", error.text);
                return 0;
        }
        return renderer_event_json(r, type, data);
}

int renderer_outputs(Renderer *r, const json_t *outputs) {
        size_t i;
        json_t *item;

        json_array_foreach(outputs, i, item) {
                const char *type = json_string_value(json_object_get(item, "output_type"));
                int k;

                if (!type) {
                        log_warning("Skipping an output item without output_type.");
                        continue;
                }
                k = renderer_event_json(r, type, item);
                if (k < 0)
                        return k;
        }
        return 0;
}

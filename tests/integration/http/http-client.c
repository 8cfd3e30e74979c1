/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http-client.h"

#define REQUEST_TIMEOUT_MS 60000L

static _noreturn_ void oom(void) {
        fputs("http-client: out of memory\n", stderr);
        abort();
}

static void *xrealloc(void *p, size_t size) {
        p = realloc(p, size ?: 1);
        if (!p)
                oom();
        return p;
}

static char *xstrdup(const char *s) {
        char *d = strdup(s);
        if (!d)
                oom();
        return d;
}

static char *xstrndup(const char *s, size_t n) {
        char *d = strndup(s, n);
        if (!d)
                oom();
        return d;
}

static _printf_(1, 2) char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return s;
}

uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

const char *http_socket_path(void) {
        const char *p = getenv("PYEXECD_HTTP_SOCKET");
        return p && *p ? p : PYEXECD_HTTP_SOCKET_DEFAULT;
}

/* A growing byte buffer, always NUL-terminated. */
typedef struct Buffer {
        char *data;
        size_t size, alloc;
} Buffer;

static void buffer_append(Buffer *b, const void *p, size_t n) {
        if (b->size + n + 1 > b->alloc) {
                b->alloc = MAX(b->alloc * 2, b->size + n + 1);
                b->data = xrealloc(b->data, b->alloc);
        }
        memcpy(b->data + b->size, p, n);
        b->size += n;
        b->data[b->size] = 0;
}

typedef struct Collect {
        Buffer body;
        char **headers;
        size_t n_headers;
} Collect;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Collect *c = userdata;

        buffer_append(&c->body, ptr, size * nmemb);
        return size * nmemb;
}

static void headers_clear(char ***headers, size_t *n) {
        for (size_t i = 0; i < *n; i++)
                free((*headers)[i]);
        free(*headers);
        *headers = NULL;
        *n = 0;
}

static void headers_add(char ***headers, size_t *n, const char *line, size_t len) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        if (len == 0)
                return;
        *headers = xrealloc(*headers, (*n + 2) * sizeof(char *));
        (*headers)[(*n)++] = xstrndup(line, len);
        (*headers)[*n] = NULL;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Collect *c = userdata;
        size_t len = size * nmemb;

        /* A new status line ("HTTP/1.1 100 Continue", then the real one):
         * keep only the headers of the final response. */
        if (len >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
                headers_clear(&c->headers, &c->n_headers);
        else
                headers_add(&c->headers, &c->n_headers, ptr, len);
        return len;
}

HttpResponse *http_response_free(HttpResponse *r) {
        if (!r)
                return NULL;
        free(r->body);
        json_decref(r->json);
        strv_free(r->headers);
        free(r->error);
        free(r);
        return NULL;
}

static CURL *easy_new(const char *path) {
        _cleanup_free_ char *url = NULL;
        CURL *curl;

        curl = curl_easy_init();
        if (!curl)
                oom();
        url = xasprintf("http://localhost%s", path);
        (void) curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, http_socket_path());
        (void) curl_easy_setopt(curl, CURLOPT_URL, url);
        (void) curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        /* Paths are sent as given (no "/../" squashing), so odd ids reach the daemon. */
        (void) curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
        return curl;
}

HttpResponse *http_request(const char *method, const char *path, const char *content_type,
                           const void *body, size_t body_size, const char *const *extra_headers) {
        _cleanup_free_ char *ctype = NULL;
        struct curl_slist *hl = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        Collect c = {};
        HttpResponse *r;
        CURLcode cc;
        CURL *curl;

        curl = easy_new(path);
        (void) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "GET") == 0)
                (void) curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        if (body) {
                (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_size);
                (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
                /* No body: say so with "Content-Length: 0", and keep curl from
                 * adding its form Content-Type. */
                (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) 0);
                (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
                if (!content_type)
                        hl = curl_slist_append(hl, "Content-Type:");
        }
        if (content_type) {
                ctype = xasprintf("Content-Type: %s", content_type);
                hl = curl_slist_append(hl, ctype);
        }
        for (const char *const *h = extra_headers; h && *h; h++)
                hl = curl_slist_append(hl, *h);
        (void) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
        (void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        (void) curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
        (void) curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        (void) curl_easy_setopt(curl, CURLOPT_HEADERDATA, &c);
        (void) curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        (void) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);

        cc = curl_easy_perform(curl);

        r = calloc(1, sizeof(*r));
        if (!r)
                oom();
        if (cc != CURLE_OK) {
                r->error = xasprintf("%s (%s)", curl_easy_strerror(cc), errbuf);
                r->status = 0;
        } else
                (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);

        r->body = c.body.data ?: xstrdup("");
        r->body_size = c.body.size;
        r->headers = c.headers;
        if (!r->headers) {
                r->headers = xrealloc(NULL, sizeof(char *));
                r->headers[0] = NULL;
        }
        if (r->body_size > 0)
                r->json = json_loadb(r->body, r->body_size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

        curl_slist_free_all(hl);
        curl_easy_cleanup(curl);
        return r;
}

HttpResponse *http_post_json(const char *path, const json_t *body, size_t dump_flags) {
        _cleanup_free_ char *s = NULL;

        s = json_dumps(body, JSON_COMPACT | dump_flags);
        if (!s)
                oom();
        return http_request("POST", path, "application/json", s, strlen(s), NULL);
}

HttpResponse *http_get(const char *path) {
        return http_request("GET", path, NULL, NULL, 0, NULL);
}

HttpResponse *http_delete(const char *path) {
        return http_request("DELETE", path, NULL, NULL, 0, NULL);
}

const char *http_response_header(const HttpResponse *r, const char *name) {
        size_t n = strlen(name);

        for (char **h = r->headers; h && *h; h++)
                if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':') {
                        const char *v = *h + n + 1;
                        v += strspn(v, " \t");
                        return v;
                }
        return NULL;
}

char *http_response_describe(const HttpResponse *r) {
        if (r->status == 0)
                return xasprintf("transport failure: %s", r->error ?: "?");
        return xasprintf("%ld %.*s%s", r->status, (int) MIN(r->body_size, (size_t) 600), r->body,
                         r->body_size > 600 ? "…" : "");
}

/* SSE */

static void sse_event_done(SseEvent *e) {
        free(e->id);
        free(e->event);
        free(e->data);
        json_decref(e->json);
}

SseStream *sse_stream_free(SseStream *s) {
        if (!s)
                return NULL;
        if (s->curl)
                curl_easy_cleanup(s->curl);
        curl_slist_free_all(s->request_headers);
        free(s->path);
        free(s->content_type);
        for (size_t i = 0; i < s->n_events; i++)
                sse_event_done(&s->events[i]);
        free(s->events);
        free(s->line);
        free(s->cur_id);
        free(s->cur_event);
        free(s->cur_data);
        free(s->body_other);
        free(s);
        return NULL;
}

static void sse_dispatch(SseStream *s) {
        SseEvent *e;

        /* An event is a block with data (the SSE rules); a block with only an id or
         * a name is not dispatched, but we do not expect any from pyexecd: record
         * it anyway, with empty data, so that a test sees it. */
        if (!s->cur_has_data && !s->cur_id && !s->cur_event)
                return;

        s->events = xrealloc(s->events, (s->n_events + 1) * sizeof(SseEvent));
        e = &s->events[s->n_events++];
        *e = (SseEvent) {
                .id = TAKE_PTR(s->cur_id),
                .event = s->cur_event ? TAKE_PTR(s->cur_event) : xstrdup("message"),
                .data = s->cur_data ? TAKE_PTR(s->cur_data) : xstrdup(""),
                .recv_usec = now_usec(),
        };
        s->cur_data_size = 0;
        s->cur_has_data = false;
        e->json = json_loads(e->data, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

        if (strcmp(e->event, "end") == 0 && !s->ended) {
                s->ended = true;
                s->end_usec = now_usec();
        }
}

static void sse_line(SseStream *s, const char *line, size_t len) {
        const char *colon, *value;
        size_t name_len, value_len;

        if (len == 0) {
                sse_dispatch(s);
                return;
        }
        if (line[0] == ':') {
                s->n_comments++;
                return;
        }

        colon = memchr(line, ':', len);
        if (colon) {
                name_len = colon - line;
                value = colon + 1;
                value_len = len - name_len - 1;
                if (value_len > 0 && value[0] == ' ') {
                        value++;
                        value_len--;
                }
        } else {
                name_len = len;
                value = "";
                value_len = 0;
        }

        if (name_len == 4 && memcmp(line, "data", 4) == 0) {
                size_t need = s->cur_data_size + value_len + 2;

                s->cur_data = xrealloc(s->cur_data, need);
                if (s->cur_has_data)
                        s->cur_data[s->cur_data_size++] = '\n';
                memcpy(s->cur_data + s->cur_data_size, value, value_len);
                s->cur_data_size += value_len;
                s->cur_data[s->cur_data_size] = 0;
                s->cur_has_data = true;
        } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
                free(s->cur_event);
                s->cur_event = xstrndup(value, value_len);
        } else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
                free(s->cur_id);
                s->cur_id = xstrndup(value, value_len);
        }
        /* "retry" and unknown fields are ignored, as the SSE rules say. */
}

static size_t on_sse_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
        SseStream *s = userdata;
        size_t n = size * nmemb;

        if (s->status == 0)
                (void) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);

        /* Error answers are JSON, not events: keep them whole for messages. */
        if (s->status != 200) {
                s->body_other = xrealloc(s->body_other, s->body_other_size + n + 1);
                memcpy(s->body_other + s->body_other_size, ptr, n);
                s->body_other_size += n;
                s->body_other[s->body_other_size] = 0;
                return n;
        }

        for (size_t i = 0; i < n; i++) {
                char ch = ptr[i];

                if (s->skip_lf) {
                        s->skip_lf = false;
                        if (ch == '\n')
                                continue;
                }
                if (ch == '\r' || ch == '\n') {
                        sse_line(s, s->line ?: "", s->line_size);
                        s->line_size = 0;
                        s->skip_lf = ch == '\r';
                        continue;
                }
                if (s->line_size + 2 > s->line_alloc) {
                        s->line_alloc = MAX(s->line_alloc * 2, (size_t) 256);
                        s->line = xrealloc(s->line, s->line_alloc);
                }
                s->line[s->line_size++] = ch;
                s->line[s->line_size] = 0;
        }
        return n;
}

static size_t on_sse_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
        SseStream *s = userdata;
        size_t len = size * nmemb;

        if (len > 13 && strncasecmp(ptr, "Content-Type:", 13) == 0) {
                const char *v = ptr + 13;
                size_t vl = len - 13;

                while (vl > 0 && (*v == ' ' || *v == '\t'))
                        v++, vl--;
                while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
                        vl--;
                free(s->content_type);
                s->content_type = xstrndup(v, vl);
        }
        return len;
}

SseStream *sse_stream_new(const char *path, const char *last_event_id) {
        SseStream *s;

        s = calloc(1, sizeof(*s));
        if (!s)
                oom();
        s->path = xstrdup(path);
        s->curl = easy_new(path);
        s->request_headers = curl_slist_append(NULL, "Accept: text/event-stream");
        if (last_event_id) {
                _cleanup_free_ char *h = xasprintf("Last-Event-ID: %s", last_event_id);
                s->request_headers = curl_slist_append(s->request_headers, h);
        }
        (void) curl_easy_setopt(s->curl, CURLOPT_HTTPGET, 1L);
        (void) curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->request_headers);
        (void) curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_sse_body);
        (void) curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
        (void) curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_sse_header);
        (void) curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, s);
        (void) curl_easy_setopt(s->curl, CURLOPT_PRIVATE, s);
        return s;
}

void sse_follow(SseStream **streams, size_t n, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;
        CURLM *multi;
        size_t active = 0;

        multi = curl_multi_init();
        if (!multi)
                oom();
        for (size_t i = 0; i < n; i++) {
                if (curl_multi_add_handle(multi, streams[i]->curl) != CURLM_OK)
                        oom();
                active++;
        }

        while (active > 0) {
                int running = 0, queued;
                CURLMsg *msg;
                uint64_t now;

                (void) curl_multi_perform(multi, &running);

                while ((msg = curl_multi_info_read(multi, &queued))) {
                        SseStream *s = NULL;

                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &s);
                        s->result = msg->data.result;
                        s->closed = msg->data.result == CURLE_OK;
                        if (s->status == 0)
                                (void) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
                        /* A last block without its blank line still counts. */
                        if (s->line_size > 0) {
                                sse_line(s, s->line, s->line_size);
                                s->line_size = 0;
                        }
                        (void) curl_multi_remove_handle(multi, s->curl);
                        active--;
                }
                if (active == 0)
                        break;

                now = now_usec();
                for (size_t i = 0; i < n; i++) {
                        SseStream *s = streams[i];

                        if (s->closed || s->timed_out || s->result != CURLE_OK)
                                continue;
                        if (now >= deadline || (s->ended && now >= s->end_usec + SSE_CLOSE_GRACE_USEC)) {
                                /* Still attached (not reported done): give up on it. */
                                s->timed_out = true;
                                (void) curl_multi_remove_handle(multi, s->curl);
                                active--;
                        }
                }
                if (active == 0)
                        break;

                (void) curl_multi_poll(multi, NULL, 0, 100, NULL);
        }

        curl_multi_cleanup(multi);
}

SseStream *sse_collect(const char *path, const char *last_event_id, uint64_t timeout_usec) {
        SseStream *s = sse_stream_new(path, last_event_id);

        sse_follow(&s, 1, timeout_usec);
        return s;
}

char *sse_stream_describe(const SseStream *s) {
        Buffer b = {};
        char *line;

        line = xasprintf("GET %s: status %ld, %zu events, %zu comments, ended=%d closed=%d timed_out=%d (%s)%s%s\n",
                         s->path, s->status, s->n_events, s->n_comments, s->ended, s->closed, s->timed_out,
                         curl_easy_strerror(s->result),
                         s->body_other ? " body: " : "", s->body_other ?: "");
        buffer_append(&b, line, strlen(line));
        free(line);
        for (size_t i = 0; i < s->n_events; i++) {
                const SseEvent *e = &s->events[i];

                line = xasprintf("  [%zu] id=%s event=%s data=%.200s%s\n", i, e->id ?: "(none)", e->event,
                                 e->data, strlen(e->data) > 200 ? "…" : "");
                buffer_append(&b, line, strlen(line));
                free(line);
        }
        return b.data;
}

static bool parse_stream_id(const char *s, uint64_t *ms, uint64_t *seq) {
        char *end;

        if (!s || !*s || *s < '0' || *s > '9')
                return false;
        errno = 0;
        *ms = strtoull(s, &end, 10);
        if (errno != 0 || *end != '-' || end[1] < '0' || end[1] > '9')
                return false;
        *seq = strtoull(end + 1, &end, 10);
        return errno == 0 && *end == 0;
}

int redis_stream_id_compare(const char *a, const char *b, bool *ret_valid) {
        uint64_t am, as, bm, bs;
        bool va, vb;

        va = parse_stream_id(a, &am, &as);
        vb = parse_stream_id(b, &bm, &bs);
        if (ret_valid)
                *ret_valid = va && vb;
        if (!va || !vb)
                return (int) va - (int) vb;
        if (am != bm)
                return am < bm ? -1 : 1;
        if (as != bs)
                return as < bs ? -1 : 1;
        return 0;
}

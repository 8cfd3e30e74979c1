/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/output-gate.h"
#include "shared/log.h"
#include "shared/output-model.h"
#include "shared/time-util.h"

struct OutputGate {
        sd_event *event;
        sd_event_source *hold_source;
        output_gate_deliver_t deliver;
        output_gate_capped_t capped_cb;
        void *userdata;

        uint64_t output_max, used, dropped;
        uint64_t events_max, n_events;
        bool capped;
        bool capped_by_events;
        bool finished;

        /* The stream text held back, of stream held_name. */
        const char *held_name;          /* "stdout" or "stderr", static */
        char *held;
        size_t held_size, held_allocated;
};

static void output_gate_cap(OutputGate *g) {
        if (g->capped)
                return;
        g->capped = true;
        if (g->capped_cb)
                g->capped_cb(g, g->userdata);
}

static void output_gate_send(OutputGate *g, const char *type, json_t *data) {
        g->n_events++;
        g->deliver(g, type, data, g->userdata);
}

void output_gate_flush(OutputGate *g) {
        json_t *item;

        (void) sd_event_source_set_enabled(g->hold_source, SD_EVENT_OFF);
        if (!g->held_name)
                return;

        item = stream_item_new(g->held_name, g->held, g->held_size);
        g->held_name = NULL;
        g->held_size = 0;
        if (!item) {
                log_oom();
                return;
        }
        output_gate_send(g, "output", item);
        json_decref(item);
}

static int output_gate_on_hold(sd_event_source *s, uint64_t usec, void *userdata) {
        output_gate_flush(userdata);
        return 0;
}

/* True if one more event may go out; caps the output otherwise. */
static bool output_gate_take_event(OutputGate *g) {
        if (g->n_events + (g->held_name ? 1 : 0) < g->events_max)
                return true;
        if (!g->capped)
                g->capped_by_events = true;
        output_gate_cap(g);
        return false;
}

static int output_gate_hold(OutputGate *g, const char *name, const char *text, size_t size) {
        int r;

        if (g->held_name && (strcmp(g->held_name, name) != 0 || g->held_size + size > OUTPUT_GATE_HOLD_MAX))
                output_gate_flush(g);

        if (!g->held_name) {
                if (!output_gate_take_event(g))
                        return -ENOBUFS;
                g->held_name = strcmp(name, "stderr") == 0 ? "stderr" : "stdout";
                r = sd_event_source_set_time_relative(g->hold_source, OUTPUT_GATE_HOLD_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(g->hold_source, SD_EVENT_ONESHOT);
                if (r < 0)
                        log_debug_errno(r, "Failed to arm the output hold timer: %m");
        }

        if (g->held_size + size + 1 > g->held_allocated) {
                size_t a = MAX(g->held_allocated * 2, g->held_size + size + 1);
                char *h = realloc(g->held, a);
                if (!h)
                        return -ENOMEM;
                g->held = h;
                g->held_allocated = a;
        }
        memcpy(g->held + g->held_size, text, size);
        g->held_size += size;
        g->held[g->held_size] = '\0';

        /* A held text this big goes now; the timer flushes the rest. */
        if (g->held_size >= OUTPUT_GATE_HOLD_MAX)
                output_gate_flush(g);
        return 0;
}

/* The longest prefix of @size bytes that is at most @max bytes and ends
 * with a line break (so stored text never ends inside a line); 0 if none. */
static size_t whole_lines_prefix(const char *text, size_t size, uint64_t max) {
        const char *nl;

        if (size <= max)
                return size;
        nl = max > 0 ? memrchr(text, '\n', (size_t) max) : NULL;
        return nl ? (size_t) (nl - text) + 1 : 0;
}

void output_gate_push_stream(OutputGate *g, const char *name, const char *text, size_t size) {
        uint64_t left;
        size_t n;

        if (g->finished || size == 0)
                return;
        if (g->capped) {
                g->dropped += size;
                return;
        }

        left = g->output_max - g->used;
        n = whole_lines_prefix(text, size, left);
        if (n > 0) {
                if (output_gate_hold(g, name, text, n) < 0) {
                        g->dropped += size;
                        output_gate_cap(g);
                        return;
                }
                g->used += n;
        }
        if (n < size) {
                g->dropped += size - n;
                output_gate_cap(g);
        }
}

void output_gate_push(OutputGate *g, const char *type, json_t *data) {
        const char *output_type;
        uint64_t size;

        if (g->finished)
                return;

        output_type = json_string_value(json_object_get(data, "output_type"));
        if (strcmp(type, "output") == 0 && output_type && strcmp(output_type, "stream") == 0) {
                json_t *text = json_object_get(data, "text");
                const char *name = json_string_value(json_object_get(data, "name"));

                if (name && json_is_string(text)) {
                        output_gate_push_stream(g, name, json_string_value(text), json_string_length(text));
                        return;
                }
        }

        size = output_event_size(type, data);
        if (g->capped) {
                g->dropped += size;
                return;
        }

        /* Causal order: held stream text was written before this. */
        output_gate_flush(g);

        if (size > g->output_max - g->used || !output_gate_take_event(g)) {
                g->dropped += size;
                output_gate_cap(g);
                return;
        }
        g->used += size;
        output_gate_send(g, type, data);
}

void output_gate_drop(OutputGate *g, uint64_t size) {
        g->dropped += size;
        output_gate_cap(g);
}

void output_gate_finish(OutputGate *g) {
        _cleanup_free_ char *notice = NULL;
        int r;

        if (g->finished)
                return;
        output_gate_flush(g);
        g->finished = true;

        if (!g->capped)
                return;

        if (g->capped_by_events)
                r = asprintf(&notice, "\n[pyexecd] output limit of %" PRIu64 " output events reached "
                             "(OutputMax/%u); %" PRIu64 " bytes of output were dropped\n",
                             g->events_max, OUTPUT_GATE_EVENT_COST, g->dropped);
        else
                r = asprintf(&notice, "\n[pyexecd] output limit of %" PRIu64 " bytes reached; "
                             "%" PRIu64 " bytes of output were dropped\n", g->output_max, g->dropped);
        if (r < 0) {
                log_oom();
                return;
        }
        json_t *item = stream_item_new("stderr", notice, strlen(notice));
        if (!item) {
                log_oom();
                return;
        }
        /* The notice is the one event past the limit. */
        g->deliver(g, "output", item, g->userdata);
        json_decref(item);
}

bool output_gate_is_capped(OutputGate *g) {
        return g->capped;
}

uint64_t output_gate_get_dropped(OutputGate *g) {
        return g->dropped;
}

int output_gate_new(OutputGate **ret, sd_event *event, uint64_t output_max,
                    output_gate_deliver_t deliver, output_gate_capped_t capped, void *userdata) {
        OutputGate *g;
        int r;

        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->event = sd_event_ref(event);
        g->output_max = output_max;
        g->events_max = MAX(output_max / OUTPUT_GATE_EVENT_COST, (uint64_t) OUTPUT_GATE_EVENTS_MIN);
        g->deliver = deliver;
        g->capped_cb = capped;
        g->userdata = userdata;

        r = sd_event_add_time(event, &g->hold_source, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC,
                              output_gate_on_hold, g);
        if (r < 0) {
                output_gate_free(g);
                return r;
        }
        (void) sd_event_source_set_description(g->hold_source, "output-hold");
        (void) sd_event_source_set_enabled(g->hold_source, SD_EVENT_OFF);

        *ret = g;
        return 0;
}

OutputGate *output_gate_free(OutputGate *g) {
        if (!g)
                return NULL;
        g->hold_source = sd_event_source_disable_unref(g->hold_source);
        sd_event_unref(g->event);
        free(g->held);
        free(g);
        return NULL;
}

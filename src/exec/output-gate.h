/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The gate every output event of an execution passes on its way to the
 * daemon (and so to Redis and to clients):
 *
 *  - OutputMax: the UTF-8 bytes of output text and data (before JSON
 *    escaping, DESIGN.md) are counted; once an event would go over, the
 *    whole lines of a stream's text that still fit go out, and from then on
 *    everything is only counted as dropped;
 *  - the number of events is bounded too, at OutputMax / 64 (at least
 *    1024): events that carry (almost) nothing — clear_output() in a loop,
 *    display('') a million times — would otherwise grow the events stream
 *    and the stored outputs without bound while counting no bytes;
 *  - adjacent stream events of the same name are merged for a moment (up to
 *    OUTPUT_GATE_HOLD_USEC or OUTPUT_GATE_HOLD_MAX bytes, or until an event
 *    of another kind comes), as Jupyter kernels buffer their streams: a
 *    print() loop costs a few events per second, not one per print.
 *    Carriage returns stay in the merged text.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "shared/macro.h"

#define OUTPUT_GATE_HOLD_USEC (20 * USEC_PER_MSEC)
#define OUTPUT_GATE_HOLD_MAX (64 * 1024)
#define OUTPUT_GATE_EVENT_COST 64
#define OUTPUT_GATE_EVENTS_MIN 1024

typedef struct OutputGate OutputGate;

/* Receives each event that passes (@data borrowed), in order. */
typedef void (*output_gate_deliver_t)(OutputGate *g, const char *type, json_t *data, void *userdata);
/* Called once, when the limit is reached. */
typedef void (*output_gate_capped_t)(OutputGate *g, void *userdata);

/* Returns 0 or -ENOMEM. @output_max is in bytes (> 0). */
int output_gate_new(OutputGate **ret, sd_event *event, uint64_t output_max,
                    output_gate_deliver_t deliver, output_gate_capped_t capped, void *userdata);
OutputGate *output_gate_free(OutputGate *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(OutputGate *, output_gate_free);

/* One event: "output" (an nbformat item), "update_display_data" or "clear_output". */
void output_gate_push(OutputGate *g, const char *type, json_t *data);

/* Stream text (@size bytes of valid UTF-8, may hold NUL) of stream @name. */
void output_gate_push_stream(OutputGate *g, const char *name, const char *text, size_t size);

/* Counts @size bytes that never became an event (a discarded runner
 * message) as dropped, and caps the output. */
void output_gate_drop(OutputGate *g, uint64_t size);

/* Sends what is held back now. */
void output_gate_flush(OutputGate *g);

/* At the end: flushes, and if the limit was reached delivers the stderr
 * notice that says how much was dropped. */
void output_gate_finish(OutputGate *g);

bool output_gate_is_capped(OutputGate *g);
uint64_t output_gate_get_dropped(OutputGate *g);

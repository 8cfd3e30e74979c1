/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Drives a hiredis (0.14) async context from an sd-event loop: one io source
 * on the context's socket whose EPOLLIN/EPOLLOUT mask follows hiredis'
 * addRead/delRead/addWrite/delWrite hooks (the source is off while hiredis
 * wants neither).
 *
 * hiredis 0.14 ships no sd-event adapter; this one follows the pattern of
 * upstream's later adapters/libsdevent.h. The context may be freed from
 * inside one of its own reply callbacks (hiredis then defers the free until
 * the callback returns and calls our cleanup hook while our io handler is
 * still on the stack): the adapter notices that (ENTERED/DELETED) and
 * destroys itself only after the handler has unwound.
 *
 * hiredis 0.14 has no timer hooks: connect and command timeouts are the
 * owner's business (redis-store.c keeps its own sd-event timers).
 */

#include <hiredis/async.h>
#include <systemd/sd-event.h>

/*
 * Attaches @ac to @event. Do this before redisAsyncSetConnectCallback(),
 * which asks for the first write event. The adapter belongs to @ac from
 * now on and goes away with it (redisAsyncFree() or a disconnect); it keeps
 * a reference on @event. Returns 0, -EBUSY (already attached), -ENOMEM, or
 * an error from sd_event_add_io().
 */
int redis_sdevent_attach(redisAsyncContext *ac, sd_event *event);

/* The io source of a context attached with redis_sdevent_attach() (to set
 * its priority, or for tests to look at its mask); NULL if not attached. */
sd_event_source *redis_sdevent_get_source(const redisAsyncContext *ac);

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "redis/redis-sdevent.h"
#include "shared/macro.h"

/* The io handler is on the stack: a cleanup now only marks the adapter. */
#define ADAPTER_ENTERED 0x1U
/* hiredis called the cleanup hook while we were entered: destroy on the way out. */
#define ADAPTER_DELETED 0x2U

typedef struct RedisSdevent {
        redisAsyncContext *context;     /* NULL once hiredis cleaned us up */
        sd_event *event;
        sd_event_source *io;
        uint32_t events;                /* EPOLLIN | EPOLLOUT as hiredis asked */
        unsigned state;
} RedisSdevent;

static void adapter_destroy(RedisSdevent *a) {
        sd_event_source_disable_unref(a->io);
        sd_event_unref(a->event);
        free(a);
}

static void adapter_set_events(RedisSdevent *a, uint32_t events) {
        if (events == a->events)
                return;
        a->events = events;

        /* The hooks cannot fail towards hiredis. Should epoll_ctl() fail
         * here, the connection stalls, and the owner's command timeout
         * drops it; nothing is lost silently. An io source with an empty
         * mask would still report EPOLLHUP on a dead socket, over and over,
         * so it is switched off instead. */
        if (events == 0) {
                (void) sd_event_source_set_enabled(a->io, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_io_events(a->io, events);
        (void) sd_event_source_set_enabled(a->io, SD_EVENT_ON);
}

static void adapter_add_read(void *privdata) {
        RedisSdevent *a = privdata;

        adapter_set_events(a, a->events | EPOLLIN);
}

static void adapter_del_read(void *privdata) {
        RedisSdevent *a = privdata;

        adapter_set_events(a, a->events & ~(uint32_t) EPOLLIN);
}

static void adapter_add_write(void *privdata) {
        RedisSdevent *a = privdata;

        adapter_set_events(a, a->events | EPOLLOUT);
}

static void adapter_del_write(void *privdata) {
        RedisSdevent *a = privdata;

        adapter_set_events(a, a->events & ~(uint32_t) EPOLLOUT);
}

static void adapter_cleanup(void *privdata) {
        RedisSdevent *a = privdata;

        if (!a)
                return;

        /* hiredis closes the socket right after this hook: take it out of
         * epoll now, whatever happens to the adapter's memory. */
        adapter_set_events(a, 0);
        a->context = NULL;

        if (a->state & ADAPTER_ENTERED)
                a->state |= ADAPTER_DELETED;
        else
                adapter_destroy(a);
}

static int adapter_on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        RedisSdevent *a = userdata;
        bool readable = revents & EPOLLIN, writable = revents & EPOLLOUT;

        /* A hang-up or socket error comes without EPOLLIN/EPOLLOUT at
         * times; hand it to whichever side hiredis is waiting on, which
         * finds the error when it reads or checks the connect result. */
        if (revents & (EPOLLHUP | EPOLLERR)) {
                if (a->events & EPOLLIN)
                        readable = true;
                else
                        writable = true;
        }

        a->state |= ADAPTER_ENTERED;

        if (readable && a->context) {
                redisAsyncHandleRead(a->context);
                if (a->state & ADAPTER_DELETED)
                        goto deleted;
        }

        /* The read may have flushed or dropped the wish to write. */
        if (writable && a->context && (a->events & EPOLLOUT)) {
                redisAsyncHandleWrite(a->context);
                if (a->state & ADAPTER_DELETED)
                        goto deleted;
        }

        a->state &= ~ADAPTER_ENTERED;
        return 0;

deleted:
        adapter_destroy(a);
        return 0;
}

int redis_sdevent_attach(redisAsyncContext *ac, sd_event *event) {
        RedisSdevent *a;
        int r;

        if (!ac || !event)
                return -EINVAL;
        if (ac->ev.data)
                return -EBUSY;

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->context = ac;
        a->event = sd_event_ref(event);

        r = sd_event_add_io(event, &a->io, ac->c.fd, EPOLLIN, adapter_on_io, a);
        if (r < 0) {
                adapter_destroy(a);
                return r;
        }
        /* Off until hiredis asks for something. */
        r = sd_event_source_set_enabled(a->io, SD_EVENT_OFF);
        if (r < 0) {
                adapter_destroy(a);
                return r;
        }
        (void) sd_event_source_set_description(a->io, "redis-io");

        ac->ev.data = a;
        ac->ev.addRead = adapter_add_read;
        ac->ev.delRead = adapter_del_read;
        ac->ev.addWrite = adapter_add_write;
        ac->ev.delWrite = adapter_del_write;
        ac->ev.cleanup = adapter_cleanup;
        return 0;
}

sd_event_source *redis_sdevent_get_source(const redisAsyncContext *ac) {
        const RedisSdevent *a;

        if (!ac || ac->ev.cleanup != adapter_cleanup || !ac->ev.data)
                return NULL;

        a = ac->ev.data;
        return a->io;
}

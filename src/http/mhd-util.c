/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/mhd-util.h"
#include "shared/log.h"
#include "shared/time-util.h"

struct MhdDaemon {
        struct MHD_Daemon *mhd;
        sd_event *event;
        sd_event_source *io_source;
        sd_event_source *timer_source;
        char *description;
};

static int mhd_daemon_rearm_timer(MhdDaemon *d) {
        MHD_UNSIGNED_LONG_LONG timeout_msec;
        uint64_t usec;
        int r;

        if (MHD_get_timeout(d->mhd, &timeout_msec) == MHD_YES)
                /* Relative milliseconds from MHD; sd-event wants an absolute time. */
                usec = now_usec(CLOCK_MONOTONIC) + (uint64_t) timeout_msec * USEC_PER_MSEC;
        else
                usec = UINT64_MAX;

        if (usec == UINT64_MAX)
                return sd_event_source_set_enabled(d->timer_source, SD_EVENT_OFF);

        r = sd_event_source_set_time(d->timer_source, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(d->timer_source, SD_EVENT_ONESHOT);
}

static void mhd_daemon_dispatch(MhdDaemon *d) {
        int r;

        if (MHD_run(d->mhd) != MHD_YES)
                log_debug("%s: MHD_run() reported a failure.", d->description);

        r = mhd_daemon_rearm_timer(d);
        /* -ESTALE: the loop has finished (a last run while shutting down). */
        if (r < 0 && r != -ESTALE)
                log_warning_errno(r, "%s: failed to re-arm the HTTP timer: %m", d->description);
}

static int mhd_daemon_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        mhd_daemon_dispatch(userdata);
        return 0;
}

static int mhd_daemon_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        mhd_daemon_dispatch(userdata);
        return 0;
}

static void mhd_log(void *cls, const char *format, va_list ap) {
        char buf[1024];

        (void) vsnprintf(buf, sizeof(buf), format, ap);
        /* MHD's messages end in a newline already. */
        buf[strcspn(buf, "\n")] = '\0';
        log_debug("libmicrohttpd: %s", buf);
}

int mhd_daemon_new(MhdDaemon **ret, sd_event *event, int fd, const MhdDaemonOptions *options) {
        _cleanup_(mhd_daemon_freep) MhdDaemon *d = NULL;
        const union MHD_DaemonInfo *info;
        int flags, r;

        flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return -errno;
        /* MHD wants a non-blocking listening socket in external polling mode. */
        if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->event = sd_event_ref(event);
        d->description = strdup(options->description ?: "http");
        if (!d->description)
                return -ENOMEM;

        struct MHD_OptionItem opts[] = {
                { MHD_OPTION_LISTEN_SOCKET, fd, NULL },
                { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) options->completed_handler, options->completed_handler_cls },
                { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) mhd_log, NULL },
                { MHD_OPTION_CONNECTION_LIMIT, options->connection_limit ?: 1024, NULL },
                { MHD_OPTION_CONNECTION_TIMEOUT, options->connection_timeout_sec, NULL },
                /* Headers of one request must fit here; bodies are ours to bound. */
                { MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL },
                { MHD_OPTION_END, 0, NULL },
        };

        d->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
                                  0, NULL, NULL,
                                  options->access_handler, options->access_handler_cls,
                                  MHD_OPTION_ARRAY, opts,
                                  MHD_OPTION_END);
        if (!d->mhd)
                return -EINVAL;

        info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return -EINVAL;

        r = sd_event_add_io(event, &d->io_source, info->epoll_fd, EPOLLIN, mhd_daemon_on_io, d);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(d->io_source, d->description);

        /* Accuracy 1 µs: 0 would mean sd-event's default of 250 ms, which MHD's
         * "run now" timeouts (after a resume) must not wait for. */
        r = sd_event_add_time(event, &d->timer_source, CLOCK_MONOTONIC, UINT64_MAX, 1, mhd_daemon_on_timer, d);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(d->timer_source, "http-timer");

        r = mhd_daemon_rearm_timer(d);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(d);
        return 0;
}

MhdDaemon *mhd_daemon_free(MhdDaemon *d) {
        if (!d)
                return NULL;
        d->io_source = sd_event_source_disable_unref(d->io_source);
        d->timer_source = sd_event_source_disable_unref(d->timer_source);
        if (d->mhd)
                MHD_stop_daemon(d->mhd);
        sd_event_unref(d->event);
        free(d->description);
        free(d);
        return NULL;
}

void mhd_daemon_kick(MhdDaemon *d) {
        int r;

        /* Fire the timer right away; it runs MHD and re-arms itself. */
        r = sd_event_source_set_time(d->timer_source, 0);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->timer_source, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "%s: failed to schedule HTTP processing: %m", d->description);
}

void mhd_daemon_run(MhdDaemon *d) {
        mhd_daemon_dispatch(d);
}

unsigned mhd_daemon_get_n_connections(MhdDaemon *d) {
        const union MHD_DaemonInfo *info;

        info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        return info ? info->num_connections : 0;
}

void mhd_daemon_quiesce(MhdDaemon *d) {
        MHD_socket s;

        /* The listening socket belongs to systemd (or our caller): MHD hands it
         * back instead of closing it; we do not close it either. */
        s = MHD_quiesce_daemon(d->mhd);
        (void) s;
}

static int mhd_add_headers(struct MHD_Response *response, const char *const *extra_headers) {
        if (!extra_headers)
                return 0;
        for (const char *const *h = extra_headers; h[0] && h[1]; h += 2)
                if (MHD_add_response_header(response, h[0], h[1]) != MHD_YES)
                        return -ENOMEM;
        return 0;
}

int mhd_respond_json(struct MHD_Connection *connection, unsigned status, json_t *body,
                     const char *const *extra_headers) {
        struct MHD_Response *response;
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        text = json_dumps(body, JSON_COMPACT);
        if (!text)
                return -ENOMEM;
        size = strlen(text);

        /* A trailing newline keeps a shell prompt after curl's output readable. */
        char *t = realloc(text, size + 2);
        if (!t)
                return -ENOMEM;
        text = t;
        text[size++] = '\n';
        text[size] = '\0';

        response = MHD_create_response_from_buffer_with_free_callback(size, text, free);
        if (!response)
                return -ENOMEM;
        TAKE_PTR(text);

        r = mhd_add_headers(response, extra_headers);
        if (r >= 0 && MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES)
                r = -ENOMEM;
        if (r >= 0 && MHD_queue_response(connection, status, response) != MHD_YES)
                r = -EIO;
        MHD_destroy_response(response);
        return r;
}

int mhd_respond_static(struct MHD_Connection *connection, unsigned status, const char *text) {
        struct MHD_Response *response;
        int r = 0;

        response = MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_PERSISTENT);
        if (!response)
                return -EIO;
        if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES ||
            MHD_queue_response(connection, status, response) != MHD_YES)
                r = -EIO;
        MHD_destroy_response(response);
        return r;
}

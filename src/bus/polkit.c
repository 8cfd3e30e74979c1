/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The protocol (polkit 122, org.freedesktop.PolicyKit1.Authority.xml):
 *
 *   CheckAuthorization(in  (sa{sv}) subject,
 *                      in  s        action_id,
 *                      in  a{ss}    details,
 *                      in  u        flags,            1 = AllowUserInteraction
 *                      in  s        cancellation_id,
 *                      out (bba{ss}) result)          (is_authorized, is_challenge, details)
 *
 * We pass no details and no cancellation id. Unlike systemd's
 * bus_verify_polkit_async(), which re-dispatches the original method call
 * once the answer is in, this client simply calls back: the callers (the
 * shared operations in daemon/ops.c) keep their own state, a reference on
 * the D-Bus call or HTTP request they will answer.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/polkit.h"
#include "shared/list.h"

/* Well below a D-Bus client's default 25 s: a caller whose check hangs (polkit
 * wedged) gets "denied" back in time, not a timeout of its own call. */
#define POLKIT_TIMEOUT_USEC (10 * USEC_PER_SEC)
/* Interactive checks wait for a person to type a password. */
#define POLKIT_INTERACTIVE_TIMEOUT_USEC (300 * USEC_PER_SEC)

struct PolkitQuery {
        PolkitClient *client;
        sd_bus_slot *slot;
        polkit_callback_t callback;
        void *userdata;
        LIST_FIELDS(PolkitQuery, queries);
};

struct PolkitClient {
        sd_bus *bus;
        PolkitQuery *queries;
};

static PolkitQuery *polkit_query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        if (q->client)
                LIST_REMOVE(queries, q->client->queries, q);
        sd_bus_slot_unref(q->slot);
        free(q);
        return NULL;
}

int polkit_client_new(PolkitClient **ret, sd_bus *bus) {
        PolkitClient *c;

        if (!ret || !bus)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->bus = sd_bus_ref(bus);
        *ret = c;
        return 0;
}

PolkitClient *polkit_client_free(PolkitClient *c) {
        if (!c)
                return NULL;
        /* Unreferencing a slot drops its reply callback: nobody is called. */
        while (c->queries)
                polkit_query_free(c->queries);
        sd_bus_unref(c->bus);
        free(c);
        return NULL;
}

static int polkit_on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        polkit_callback_t callback = q->callback;
        void *cb_userdata = q->userdata;
        const sd_bus_error *e;
        PolkitResult result = POLKIT_DENIED;
        char buf[512];
        const char *message = NULL;
        int authorized = 0, challenge = 0, r;

        e = sd_bus_message_get_error(reply);
        if (e) {
                /* Not there (ServiceUnknown, NameHasNoOwner, a masked unit),
                 * its own errors, a timeout: no answer is no. */
                (void) snprintf(buf, sizeof(buf), "polkit gave no answer: %s", e->message ?: e->name);
                message = buf;
        } else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0) {
                        (void) snprintf(buf, sizeof(buf), "polkit's answer does not parse: %s", strerror(-r));
                        message = buf;
                } else if (authorized)
                        result = POLKIT_ALLOWED;
                else if (challenge)
                        result = POLKIT_CHALLENGE;
        }

        /* Free first: the callback may free the client. */
        polkit_query_free(q);
        callback(result, message, cb_userdata);
        return 0;
}

static int append_subject(sd_bus_message *m, const PolkitSubject *s) {
        int r;

        r = sd_bus_message_open_container(m, 'r', "sa{sv}");
        if (r < 0)
                return r;

        switch (s->kind) {
        case POLKIT_SUBJECT_BUS_NAME:
                r = sd_bus_message_append(m, "sa{sv}", "system-bus-name", 1, "name", "s", s->bus_name);
                break;
        case POLKIT_SUBJECT_PROCESS:
                r = sd_bus_message_append(m, "sa{sv}", "unix-process", 3,
                                          "pid", "u", (uint32_t) s->pid,
                                          "start-time", "t", s->start_time,
                                          "uid", "i", (int32_t) s->uid);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;

        return sd_bus_message_close_container(m);
}

PolkitQuery *polkit_query_cancel(PolkitQuery *q) {
        return polkit_query_free(q);
}

int polkit_client_check(PolkitClient *c, const PolkitSubject *subject, const char *action_id, bool interactive,
                        polkit_callback_t callback, void *userdata, PolkitQuery **ret_query) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        PolkitQuery *q;
        int r;

        if (!c || !subject || !action_id || !callback)
                return -EINVAL;
        if (subject->kind == POLKIT_SUBJECT_BUS_NAME && (!subject->bus_name || subject->bus_name[0] != ':'))
                return -EINVAL;
        if (subject->kind == POLKIT_SUBJECT_PROCESS && subject->pid <= 0)
                return -EINVAL;

        r = sd_bus_message_new_method_call(c->bus, &m, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = append_subject(m, subject);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "sa{ss}us", action_id, 0, (uint32_t) (interactive ? 1 : 0), "");
        if (r < 0)
                return r;
        /* polkit itself must not wait for us to authenticate anyone. */
        r = sd_bus_message_set_allow_interactive_authorization(m, false);
        if (r < 0)
                return r;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->callback = callback;
        q->userdata = userdata;

        r = sd_bus_call_async(c->bus, &q->slot, m, polkit_on_reply, q,
                              interactive ? POLKIT_INTERACTIVE_TIMEOUT_USEC : POLKIT_TIMEOUT_USEC);
        if (r < 0) {
                free(q);
                return r;
        }

        q->client = c;
        LIST_PREPEND(queries, c->queries, q);
        if (ret_query)
                *ret_query = q;
        return 0;
}

int polkit_process_start_time(pid_t pid, uint64_t *ret) {
        char path[64], buf[2048];
        unsigned long long start;
        const char *p;
        FILE *f;
        size_t n;

        if (pid <= 0 || !ret)
                return -EINVAL;

        (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        (void) fclose(f);
        buf[n] = 0;

        /* The command name (field 2) may hold spaces and parentheses: the
         * fields after it start behind its last ')'. That is field 3, so the
         * start time (22) is the 20th from there. */
        p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
        p++;
        for (unsigned field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EBADMSG;
        }
        if (sscanf(p, " %llu", &start) != 1)
                return -EBADMSG;

        *ret = start;
        return 0;
}

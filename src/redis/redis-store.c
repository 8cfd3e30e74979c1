/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The connection side of the store: address parsing, connecting and
 * reconnecting, set-up (AUTH, consumer group, scripts), the connect and command
 * timeouts, and the bookkeeping that gives every accepted request exactly
 * one callback. The operations themselves are in redis-store-ops.c.
 *
 * Connection states (StoreState):
 *
 *   DISCONNECTED --retry timer--> CONNECTING --connected--> SETTING_UP --all replies--> READY
 *        ^                            |                         |                         |
 *        +------ failure, timeout ----+-------------------------+------- loss, timeout ---+
 *
 * Only READY accepts requests. The state handler hears "true" on entering
 * READY and "false" when a READY connection ends; failed attempts are not
 * reported (they would be, every second, while Redis is down), only kept in
 * last_error. A refused password is the exception, logged once (until the
 * next success): it is a configuration error, not an outage that ends by
 * itself, and the journal is where the admin looks.
 *
 * Set-up: with a password set (redis_store_set_auth()), AUTH is the first
 * command on the connection and the others are pipelined behind it. Redis
 * runs them in order, so they run authenticated; when AUTH fails, its reply
 * comes first and drops the connection before the NOAUTH errors of the
 * others are looked at.
 *
 * Timeouts: one timer serves as connect timeout while CONNECTING and as
 * command timeout afterwards. It is armed when the first command is sent
 * and re-armed at every reply while commands are pending, so it fires only
 * after command_timeout_usec without any reply. Firing drops the
 * connection: every pending request gets -ETIMEDOUT.
 */

#include <errno.h>
#include <fcntl.h>
#include <hiredis/async.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "redis/redis-sdevent.h"
#include "redis/redis-store-internal.h"
#include "shared/log.h"

#define DEFAULT_PORT 6379
#define DEFAULT_CONNECT_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define DEFAULT_COMMAND_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define DEFAULT_RETRY_USEC (1 * USEC_PER_SEC)
#define TIMER_ACCURACY_USEC (1 * USEC_PER_MSEC)

typedef struct ReconnectWaiter {
        struct ReconnectWaiter *next;
        redis_store_done_t callback;
        void *userdata;
} ReconnectWaiter;

static void store_connect(RedisStore *s);

/* ---- argument vectors ---- */

int args_add(Args *a, const void *p, size_t n) {
        char *copy;

        if (a->n >= a->allocated) {
                size_t k = MAX(a->allocated * 2, (size_t) 16);
                char **argv;
                size_t *len;

                argv = reallocarray(a->argv, k, sizeof(char *));
                if (!argv)
                        return -ENOMEM;
                a->argv = argv;
                len = reallocarray(a->len, k, sizeof(size_t));
                if (!len)
                        return -ENOMEM;
                a->len = len;
                a->allocated = k;
        }

        /* +1: keeps even binary arguments NUL-terminated, for messages. */
        copy = malloc(n + 1);
        if (!copy)
                return -ENOMEM;
        if (n > 0)
                memcpy(copy, p, n);
        copy[n] = 0;

        a->argv[a->n] = copy;
        a->len[a->n] = n;
        a->n++;
        return 0;
}

int args_add_str(Args *a, const char *s) {
        return args_add(a, s, strlen(s));
}

int args_add_u64(Args *a, uint64_t v) {
        char buf[sizeof("18446744073709551615")];

        (void) snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return args_add_str(a, buf);
}

void args_done(Args *a) {
        for (size_t i = 0; i < a->n; i++)
                free(a->argv[i]);
        free(a->argv);
        free(a->len);
        *a = (Args) {};
}

void args_erase(Args *a) {
        for (size_t i = 0; i < a->n; i++)
                explicit_bzero(a->argv[i], a->len[i]);
        args_done(a);
}

/* ---- secrets ---- */

static char *erase_and_free(char *p) {
        if (p) {
                explicit_bzero(p, strlen(p));
                free(p);
        }
        return NULL;
}

void redis_auth_done(RedisAuth *a) {
        if (!a)
                return;
        a->user = erase_and_free(a->user);
        a->password = erase_and_free(a->password);
}

int redis_auth_parse(const char *text, size_t size, RedisAuth *ret) {
        _cleanup_(redis_auth_done) RedisAuth a = {};
        const char *space;

        if (!text || !ret)
                return -EINVAL;

        /* "echo secret > file" leaves a newline that is no part of it. */
        if (size > 0 && text[size - 1] == '\n') {
                size--;
                if (size > 0 && text[size - 1] == '\r')
                        size--;
        }
        if (size == 0)
                return -ENODATA;
        if (size > REDIS_PASSWORD_MAX)
                return -E2BIG;
        /* A second line would be a guess (user on one, password on the
         * other?): refuse rather than send something else than meant. */
        if (memchr(text, '\n', size) || memchr(text, '\r', size) || memchr(text, 0, size))
                return -EBADMSG;

        space = memchr(text, ' ', size);
        if (space) {
                size_t n = (size_t) (space - text);

                if (n == 0 || n + 1 == size)
                        return -EBADMSG;
                a.user = strndup(text, n);
                a.password = strndup(space + 1, size - n - 1);
        } else
                a.password = strndup(text, size);
        if (!a.password || (space && !a.user))
                return -ENOMEM;

        *ret = a;
        a = (RedisAuth) {};
        return 0;
}

/* ---- the store object ---- */

RedisStore *store_ref(RedisStore *s) {
        s->n_ref++;
        return s;
}

static void store_destroy(RedisStore *s) {
        /* Everything with callbacks into us is gone by now (redis_store_free()). */
        for (size_t i = 0; i < _REDIS_SCRIPT_MAX; i++)
                free(s->sha[i]);
        erase_and_free(s->auth_user);
        erase_and_free(s->auth_password);
        free(s->last_error);
        free(s->key_queue);
        free(s->key_queued);
        free(s->key_seq);
        free(s->key_running);
        free(s->key_index_all);
        free(s->node);
        free(s->prefix);
        free(s->host);
        free(s->unix_path);
        free(s->address);
        sd_event_unref(s->event);
        free(s);
}

RedisStore *store_unref(RedisStore *s) {
        if (!s)
                return NULL;
        if (--s->n_ref == 0)
                store_destroy(s);
        return NULL;
}

void store_set_error(RedisStore *s, const char *format, ...) {
        _cleanup_free_ char *text = NULL;
        char *m;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&text, format, ap);
        va_end(ap);
        if (r < 0)
                return;

        if (asprintf(&m, "Redis at %s: %s", s->address, text) < 0)
                return;
        free(s->last_error);
        s->last_error = m;
}

/* The same, for messages that name the address themselves. */
_printf_(2, 3) static void store_set_error_full(RedisStore *s, const char *format, ...) {
        char *m;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&m, format, ap);
        va_end(ap);
        if (r < 0)
                return;
        free(s->last_error);
        s->last_error = m;
}

char *store_exec_key(RedisStore *s, const char *id, const char *suffix) {
        char *k;

        if (asprintf(&k, "%sexec:%s%s", s->prefix, id, suffix) < 0)
                return NULL;
        return k;
}

char *store_owner_index_key(RedisStore *s, ExecOwnerKind kind, uid_t uid) {
        char *k;
        int n;

        switch (kind) {
        case EXEC_OWNER_UID:
                n = asprintf(&k, "%sindex:uid:%" PRIu32, s->prefix, (uint32_t) uid);
                break;
        case EXEC_OWNER_TOKEN:
                n = asprintf(&k, "%sindex:token", s->prefix);
                break;
        default:
                return NULL;
        }
        return n < 0 ? NULL : k;
}

/* "/path", "host:port", "host", "[v6]:port", "[v6]". */
static int parse_address(const char *address, char **ret_path, char **ret_host, int *ret_port) {
        _cleanup_free_ char *host = NULL;
        const char *port_text = NULL;
        unsigned long port = DEFAULT_PORT;

        if (address[0] == '/') {
                if (strlen(address) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                        return -EINVAL;
                *ret_path = strdup(address);
                if (!*ret_path)
                        return -ENOMEM;
                *ret_host = NULL;
                *ret_port = 0;
                return 0;
        }

        if (address[0] == '[') {
                const char *end = strchr(address, ']');

                if (!end || end == address + 1)
                        return -EINVAL;
                host = strndup(address + 1, end - address - 1);
                if (!host)
                        return -ENOMEM;
                if (end[1] == ':')
                        port_text = end + 2;
                else if (end[1] != 0)
                        return -EINVAL;
        } else {
                const char *colon = strchr(address, ':');

                /* A bare IPv6 address is ambiguous: it needs brackets. */
                if (colon && strchr(colon + 1, ':'))
                        return -EINVAL;
                host = colon ? strndup(address, colon - address) : strdup(address);
                if (!host)
                        return -ENOMEM;
                if (colon)
                        port_text = colon + 1;
        }

        if (host[0] == 0)
                return -EINVAL;

        if (port_text) {
                char *e;

                if (port_text[0] < '0' || port_text[0] > '9')
                        return -EINVAL;
                errno = 0;
                port = strtoul(port_text, &e, 10);
                if (errno != 0 || *e != 0 || port == 0 || port > 65535)
                        return -EINVAL;
        }

        *ret_path = NULL;
        *ret_host = TAKE_PTR(host);
        *ret_port = (int) port;
        return 0;
}

/* ---- timers ---- */

static void store_arm(sd_event_source *source, uint64_t usec) {
        if (!source)
                return;
        /* Errors here would leave a timer unarmed; they need ENOMEM inside
         * sd-event's prioq. Nothing sensible to do but carry on. */
        (void) sd_event_source_set_time_relative(source, usec);
        (void) sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
}

static void store_disarm(sd_event_source *source) {
        if (!source)
                return;
        (void) sd_event_source_set_enabled(source, SD_EVENT_OFF);
}

/* ---- requests ---- */

int request_new(RedisStore *s, RequestKind kind, int script, unsigned numkeys, Request **ret) {
        _cleanup_(request_freep) Request *req = NULL;
        int r;

        req = calloc(1, sizeof(*req));
        if (!req)
                return -ENOMEM;
        req->kind = kind;

        if (script >= 0) {
                req->script = (RedisScript) script;
                /* READY implies every script's SHA1 is known. */
                req->evalsha = true;
                r = args_add_str(&req->args, "EVALSHA");
                if (r >= 0)
                        r = args_add_str(&req->args, s->sha[script]);
                if (r >= 0)
                        r = args_add_u64(&req->args, numkeys);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(req);
        return 0;
}

Request *request_free(Request *req) {
        if (!req)
                return NULL;
        if (req->kind == REQUEST_SETUP_AUTH)
                args_erase(&req->args);
        else
                args_done(&req->args);
        free(req);
        return NULL;
}

static void request_link(RedisStore *s, Request *req) {
        req->store = s;
        req->prev = NULL;
        req->next = s->requests;
        if (s->requests)
                s->requests->prev = req;
        s->requests = req;
}

static void request_unlink(RedisStore *s, Request *req) {
        if (req->prev)
                req->prev->next = req->next;
        else
                s->requests = req->next;
        if (req->next)
                req->next->prev = req->prev;
        req->prev = req->next = NULL;
}

static bool request_is_setup(const Request *req) {
        return req->kind == REQUEST_SETUP_AUTH || req->kind == REQUEST_SETUP_GROUP ||
                req->kind == REQUEST_SETUP_SCRIPT;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

int request_send(RedisStore *s, Request *req) {
        int r;

        if (!s->ac)
                return -ENOTCONN;

        r = redisAsyncCommandArgv(s->ac, on_reply, req, (int) req->args.n,
                                  (const char **) req->args.argv, req->args.len);
        if (r != REDIS_OK)
                /* hiredis refuses commands once the context is disconnecting
                 * (a loss is being handled); else it ran out of memory. */
                return (s->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)) ? -ENOTCONN : -ENOMEM;

        request_link(s, req);
        if (s->n_sent++ == 0)
                store_arm(s->timeout_source, s->command_timeout_usec);
        return 0;
}

/* Completes every attached request with @error and detaches it: whatever
 * hiredis does with them later only frees the memory. User callbacks may
 * add or drop requests meanwhile, hence the restart from the head. */
static void store_fail_requests(RedisStore *s, int error) {
        Request *req;

        while ((req = s->requests)) {
                request_unlink(s, req);
                req->store = NULL;
                if (!request_is_setup(req))
                        request_complete(s, req, error, NULL);
        }
        s->n_sent = 0;
}

/* Completes the waiters in @list (taken off s->waiters by the caller, so
 * that those who register again from a callback wait for the next attempt). */
static void store_complete_waiters(RedisStore *s, ReconnectWaiter *list, int error) {
        while (list) {
                ReconnectWaiter *w = list;

                list = w->next;
                /* One of them freed the store: the rest are cancelled. */
                if (w->callback)
                        w->callback(s, s->freed ? -ECANCELED : error, w->userdata);
                free(w);
        }
}

/* After a connection or attempt ended (s->ac is NULL, state DISCONNECTED):
 * tells whoever waits, and schedules the next attempt. */
static void store_connection_down(RedisStore *s, StoreState old, int error) {
        bool was_up;

        store_ref(s);

        if (!s->reconnect_requested)
                store_arm(s->retry_source, s->retry_usec);

        /* A lost READY connection is no failed attempt: waiters (who asked
         * for a reconnect) wait for the next one. */
        if (old != STORE_READY)
                store_complete_waiters(s, TAKE_PTR(s->waiters), error);

        was_up = s->reported_up;
        s->reported_up = false;
        if (was_up && !s->freed && s->state_handler)
                s->state_handler(s, false, s->state_userdata);

        store_unref(s);
}

/*
 * Ends the current connection or attempt on our own initiative (timeout,
 * failed set-up, reconnect, free). Pending requests get @error now.
 */
static void store_drop(RedisStore *s, int error) {
        redisAsyncContext *ac = TAKE_PTR(s->ac);
        StoreState old = s->state;

        store_ref(s);

        s->state = STORE_DISCONNECTED;
        s->setup_pending = 0;
        s->drop_pending = false;
        store_disarm(s->timeout_source);

        /* Its disconnect callback must not find us: this is handled here. */
        if (ac)
                ac->data = NULL;

        store_fail_requests(s, error);

        /* Inside one of its reply callbacks hiredis only marks the context
         * and frees it when the callback returns; the adapter copes with
         * that (see redis-sdevent.c). */
        if (ac)
                redisAsyncFree(ac);

        if (!s->freed)
                store_connection_down(s, old, error);

        store_unref(s);
}

static void store_ready(RedisStore *s) {
        ReconnectWaiter *waiters = TAKE_PTR(s->waiters);

        s->state = STORE_READY;
        free(s->last_error);
        s->last_error = NULL;
        s->reported_up = true;
        s->auth_error_logged = false;

        store_ref(s);
        store_complete_waiters(s, waiters, 0);
        if (!s->freed && s->state_handler)
                s->state_handler(s, true, s->state_userdata);
        store_unref(s);
}

/* Redis's error text, unless it echoes the password (no Redis does, but a
 * proxy in between might): the message goes to clients and the journal. */
static const char *auth_reply_text(RedisStore *s, const redisReply *reply) {
        if (reply->type != REDIS_REPLY_ERROR && reply->type != REDIS_REPLY_STATUS)
                return "unexpected reply";
        if (s->auth_password && memmem(reply->str, reply->len, s->auth_password, strlen(s->auth_password)))
                return "(reply withheld: it contains the password)";
        return reply->str;
}

/* Ends the attempt on an authentication problem: last_error set already. */
static void store_auth_failed(RedisStore *s) {
        if (!s->auth_error_logged) {
                log_error("%s (retrying every %" PRIu64 " ms)", s->last_error, s->retry_usec / USEC_PER_MSEC);
                s->auth_error_logged = true;
        }
        store_drop(s, -EACCES);
}

static void setup_reply(RedisStore *s, Request *req, const redisReply *reply) {
        const char *what = req->kind == REQUEST_SETUP_GROUP ? "XGROUP CREATE" : "SCRIPT LOAD";

        if (req->kind == REQUEST_SETUP_AUTH) {
                if (reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "OK") == 0)
                        goto next;
                if (s->auth_user)
                        store_set_error_full(s, "Redis at %s refused the password of user \"%s\" (credential %s): %s",
                                             s->address, s->auth_user, REDIS_PASSWORD_CREDENTIAL,
                                             auth_reply_text(s, reply));
                else
                        store_set_error_full(s, "Redis at %s refused the password (credential %s): %s",
                                             s->address, REDIS_PASSWORD_CREDENTIAL, auth_reply_text(s, reply));
                store_auth_failed(s);
                return;
        }

        /* No AUTH sent, and Redis wants one (requirepass, or the default
         * user disabled): say what is missing. */
        if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOAUTH", 6) == 0 && !s->auth_password) {
                store_set_error_full(s, "Redis at %s requires a password (%s), and pyexecd has none (credential %s)",
                                     s->address, reply->str, REDIS_PASSWORD_CREDENTIAL);
                store_auth_failed(s);
                return;
        }

        if (req->kind == REQUEST_SETUP_GROUP) {
                /* BUSYGROUP: another node (or an earlier connection) made it. */
                if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0)
                        goto fail;
        } else {
                char *sha;

                if (reply->type != REDIS_REPLY_STRING)
                        goto fail;
                sha = strndup(reply->str, reply->len);
                if (!sha) {
                        store_set_error(s, "%s: out of memory", what);
                        store_drop(s, -ENOMEM);
                        return;
                }
                free(s->sha[req->script]);
                s->sha[req->script] = sha;
        }

next:
        if (--s->setup_pending == 0)
                store_ready(s);
        return;

fail:
        store_set_error(s, "%s failed: %s", what,
                        reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        store_drop(s, -EPROTO);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
        Request *req = privdata;
        RedisStore *s = req->store;
        const redisReply *rep = reply;

        if (!s) {
                /* Detached: its callback ran already. */
                request_free(req);
                return;
        }

        store_ref(s);
        request_unlink(s, req);
        req->store = NULL;
        s->n_sent--;

        if (!rep) {
                /* hiredis is tearing the connection down (an error, or EOF);
                 * its disconnect callback follows. */
                if (!request_is_setup(req))
                        request_complete(s, req, -ECONNRESET, NULL);
                goto finish;
        }

        /* A drop is due (see on_connect()): leave its timer alone. */
        if (s->drop_pending)
                ;
        else if (s->n_sent > 0)
                store_arm(s->timeout_source, s->command_timeout_usec);
        else
                store_disarm(s->timeout_source);

        /* The script cache was flushed behind our back (SCRIPT FLUSH):
         * send the source once; Redis caches it again. */
        if (req->evalsha && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
                Args *a = &req->args;
                const char *source = redis_script_source(req->script);
                char *eval = strdup("EVAL"), *copy = strdup(source);
                int r;

                req->evalsha = false;
                if (!eval || !copy) {
                        free(eval);
                        free(copy);
                        request_complete(s, req, -ENOMEM, NULL);
                        goto finish;
                }
                free(a->argv[0]);
                a->argv[0] = eval;
                a->len[0] = 4;
                free(a->argv[1]);
                a->argv[1] = copy;
                a->len[1] = strlen(copy);

                r = request_send(s, req);
                if (r >= 0) {
                        store_unref(s);
                        return;
                }
                request_complete(s, req, r == -ENOTCONN ? -ECONNRESET : r, NULL);
                goto finish;
        }

        if (request_is_setup(req))
                setup_reply(s, req, rep);
        else
                request_complete(s, req, 0, rep);

finish:
        request_free(req);
        store_unref(s);
}

/* ---- connection callbacks ---- */

static int errno_from_context(const redisContext *c, int saved_errno) {
        switch (c->err) {
        case REDIS_ERR_IO:
                return saved_errno > 0 ? -saved_errno : -EIO;
        case REDIS_ERR_EOF:
                return -ECONNRESET;
        case REDIS_ERR_PROTOCOL:
                return -EPROTO;
        case REDIS_ERR_OOM:
                return -ENOMEM;
        default:
                /* REDIS_ERR_OTHER: e.g. the host name does not resolve. */
                return -EHOSTUNREACH;
        }
}

static int store_send_setup(RedisStore *s) {
        _cleanup_(request_freep) Request *req = NULL;
        int r;

        /* First of all: until it is accepted, Redis answers nothing else. */
        if (s->auth_password) {
                r = request_new(s, REQUEST_SETUP_AUTH, -1, 0, &req);
                if (r < 0)
                        return r;
                r = args_add_str(&req->args, "AUTH");
                if (r >= 0 && s->auth_user)
                        r = args_add_str(&req->args, s->auth_user);
                if (r >= 0)
                        r = args_add_str(&req->args, s->auth_password);
                if (r < 0)
                        return r;
                r = request_send(s, req);
                if (r < 0)
                        return r;
                TAKE_PTR(req);
                s->setup_pending++;
        }

        /* Created from the start of the stream, not "$": entries queued
         * while the group did not exist (flushed data) are still served;
         * entries handled earlier were deleted by finish. */
        r = request_new(s, REQUEST_SETUP_GROUP, -1, 0, &req);
        if (r < 0)
                return r;
        r = args_add_str(&req->args, "XGROUP");
        if (r >= 0)
                r = args_add_str(&req->args, "CREATE");
        if (r >= 0)
                r = args_add_str(&req->args, s->key_queue);
        if (r >= 0)
                r = args_add_str(&req->args, REDIS_GROUP);
        if (r >= 0)
                r = args_add_str(&req->args, "0");
        if (r >= 0)
                r = args_add_str(&req->args, "MKSTREAM");
        if (r < 0)
                return r;
        r = request_send(s, req);
        if (r < 0)
                return r;
        TAKE_PTR(req);
        s->setup_pending++;

        for (RedisScript i = 0; i < _REDIS_SCRIPT_MAX; i++) {
                r = request_new(s, REQUEST_SETUP_SCRIPT, -1, 0, &req);
                if (r < 0)
                        return r;
                req->script = i;
                r = args_add_str(&req->args, "SCRIPT");
                if (r >= 0)
                        r = args_add_str(&req->args, "LOAD");
                if (r >= 0)
                        r = args_add_str(&req->args, redis_script_source(i));
                if (r < 0)
                        return r;
                r = request_send(s, req);
                if (r < 0)
                        return r;
                TAKE_PTR(req);
                s->setup_pending++;
        }

        return 0;
}

static void on_connect(const redisAsyncContext *cac, int status) {
        redisAsyncContext *ac = (redisAsyncContext *) cac;
        RedisStore *s = ac->data;
        int saved_errno = errno, r;

        if (!s)
                return;

        if (status != REDIS_OK) {
                /* hiredis frees the context when we return. */
                r = errno_from_context(&ac->c, saved_errno);
                ac->data = NULL;
                s->ac = NULL;
                s->state = STORE_DISCONNECTED;
                store_disarm(s->timeout_source);
                store_set_error(s, "%s", ac->c.errstr[0] ? ac->c.errstr : "Connection failed");
                store_connection_down(s, STORE_CONNECTING, r);
                return;
        }

        s->state = STORE_SETTING_UP;
        store_disarm(s->timeout_source);

        r = store_send_setup(s);
        if (r < 0) {
                /* hiredis still uses the context after this callback: let
                 * the timeout source drop it on the next iteration. */
                store_set_error(s, "Failed to send set-up commands: %s", strerror(-r));
                s->drop_pending = true;
                store_arm(s->timeout_source, 0);
        }
}

static void on_disconnect(const redisAsyncContext *cac, int status) {
        redisAsyncContext *ac = (redisAsyncContext *) cac;
        RedisStore *s = ac->data;
        StoreState old;

        if (!s)
                return;

        /* hiredis frees the context when we return; every pending reply
         * callback ran already (with NULL). */
        ac->data = NULL;
        s->ac = NULL;
        old = s->state;
        s->state = STORE_DISCONNECTED;
        s->setup_pending = 0;
        s->drop_pending = false;
        store_disarm(s->timeout_source);
        store_set_error(s, "%s", ac->errstr && ac->errstr[0] ? ac->errstr : "Connection closed");

        store_ref(s);
        store_fail_requests(s, -ECONNRESET);
        if (!s->freed)
                store_connection_down(s, old, -ECONNRESET);
        store_unref(s);
}

static void store_connect(RedisStore *s) {
        redisAsyncContext *ac;
        int r;

        store_disarm(s->retry_source);

        if (s->unix_path)
                ac = redisAsyncConnectUnix(s->unix_path);
        else
                ac = redisAsyncConnect(s->host, s->port);
        r = errno;
        if (!ac) {
                store_set_error(s, "Out of memory");
                store_connection_down(s, STORE_DISCONNECTED, -ENOMEM);
                return;
        }
        if (ac->err) {
                r = errno_from_context(&ac->c, r);
                store_set_error(s, "%s", ac->errstr ? ac->errstr : "Connection failed");
                redisAsyncFree(ac);
                store_connection_down(s, STORE_DISCONNECTED, r);
                return;
        }

        r = redis_sdevent_attach(ac, s->event);
        if (r < 0) {
                store_set_error(s, "Failed to watch the connection: %s", strerror(-r));
                redisAsyncFree(ac);
                store_connection_down(s, STORE_DISCONNECTED, r);
                return;
        }

        ac->data = s;
        s->ac = ac;
        s->state = STORE_CONNECTING;
        (void) redisAsyncSetDisconnectCallback(ac, on_disconnect);
        /* This asks for the first write event, which tells that connect(2) finished. */
        (void) redisAsyncSetConnectCallback(ac, on_connect);
        store_arm(s->timeout_source, s->connect_timeout_usec);
}

static int on_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        RedisStore *s = userdata;

        switch (s->state) {
        case STORE_CONNECTING:
                store_set_error(s, "Connection timed out");
                store_drop(s, -ETIMEDOUT);
                break;
        case STORE_SETTING_UP:
        case STORE_READY:
                if (s->drop_pending) {
                        store_drop(s, -ENOMEM);
                        break;
                }
                if (s->n_sent == 0)
                        break;
                store_set_error(s, "No reply within %" PRIu64 " ms", s->command_timeout_usec / USEC_PER_MSEC);
                store_drop(s, -ETIMEDOUT);
                break;
        default:
                break;
        }
        return 0;
}

static int on_retry(sd_event_source *source, uint64_t usec, void *userdata) {
        RedisStore *s = userdata;

        store_ref(s);
        if (s->reconnect_requested) {
                s->reconnect_requested = false;
                if (s->ac) {
                        store_set_error(s, "Reconnecting");
                        store_drop(s, -ECONNRESET);
                }
        }
        if (!s->freed && !s->ac)
                store_connect(s);
        store_unref(s);
        return 0;
}

/* ---- public ---- */

int redis_store_new(RedisStore **ret, sd_event *event, const char *address, const char *key_prefix, const char *node) {
        RedisStore *s;
        int r;

        if (!ret || !event || !address || !key_prefix || !node || !node[0])
                return -EINVAL;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->n_ref = 1;
        s->event = sd_event_ref(event);
        s->connect_timeout_usec = DEFAULT_CONNECT_TIMEOUT_USEC;
        s->command_timeout_usec = DEFAULT_COMMAND_TIMEOUT_USEC;
        s->retry_usec = DEFAULT_RETRY_USEC;

        r = parse_address(address, &s->unix_path, &s->host, &s->port);
        if (r < 0)
                goto fail;

        s->address = strdup(address);
        s->prefix = strdup(key_prefix);
        s->node = strdup(node);
        if (!s->address || !s->prefix || !s->node ||
            asprintf(&s->key_queue, "%squeue", key_prefix) < 0 ||
            asprintf(&s->key_queued, "%squeued", key_prefix) < 0 ||
            asprintf(&s->key_seq, "%squeue:seq", key_prefix) < 0 ||
            asprintf(&s->key_running, "%srunning", key_prefix) < 0 ||
            asprintf(&s->key_index_all, "%sindex:all", key_prefix) < 0) {
                r = -ENOMEM;
                goto fail;
        }

        /* Accuracy 0 would mean sd-event's default of 250 ms: far too late
         * for a retry "now", and vague for timeouts that tests shorten. */
        r = sd_event_add_time_relative(event, &s->timeout_source, CLOCK_MONOTONIC, UINT64_MAX / 2,
                                       TIMER_ACCURACY_USEC, on_timeout, s);
        if (r < 0)
                goto fail;
        store_disarm(s->timeout_source);
        (void) sd_event_source_set_description(s->timeout_source, "redis-timeout");

        /* The first attempt runs from the loop, so that the caller can set
         * a state handler first. */
        r = sd_event_add_time_relative(event, &s->retry_source, CLOCK_MONOTONIC, 0,
                                       TIMER_ACCURACY_USEC, on_retry, s);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(s->retry_source, "redis-retry");

        *ret = s;
        return 0;

fail:
        s->timeout_source = sd_event_source_disable_unref(s->timeout_source);
        s->retry_source = sd_event_source_disable_unref(s->retry_source);
        store_unref(s);
        return r;
}

RedisStore *redis_store_free(RedisStore *s) {
        redisAsyncContext *ac;

        if (!s || s->freed)
                return NULL;

        s->freed = true;
        s->state_handler = NULL;
        s->timeout_source = sd_event_source_disable_unref(s->timeout_source);
        s->retry_source = sd_event_source_disable_unref(s->retry_source);

        store_ref(s);

        ac = TAKE_PTR(s->ac);
        s->state = STORE_DISCONNECTED;
        if (ac)
                ac->data = NULL;
        store_fail_requests(s, -ECANCELED);
        if (ac)
                redisAsyncFree(ac);

        store_complete_waiters(s, TAKE_PTR(s->waiters), -ECANCELED);

        /* No callbacks from here on. The memory lives until the last
         * reference goes, which may be a dispatch further up the stack. */

        store_unref(s);
        return store_unref(s);
}

void redis_store_set_state_handler(RedisStore *s, redis_store_state_handler_t handler, void *userdata) {
        if (!s)
                return;
        s->state_handler = handler;
        s->state_userdata = userdata;
}

int redis_store_set_auth(RedisStore *s, const char *user, const char *password) {
        char *u = NULL, *p = NULL;

        if (!s || (user && !password) || (user && !user[0]) || (password && !password[0]))
                return -EINVAL;

        if (password) {
                p = strdup(password);
                if (!p)
                        return -ENOMEM;
        }
        if (user) {
                u = strdup(user);
                if (!u) {
                        erase_and_free(p);
                        return -ENOMEM;
                }
        }

        erase_and_free(s->auth_user);
        erase_and_free(s->auth_password);
        s->auth_user = u;
        s->auth_password = p;
        s->auth_error_logged = false;
        return 0;
}

int redis_store_load_auth(RedisStore *s, const char *path) {
        /* Room for the longest line, its "\r\n" and one byte more: the
         * parser tells a longer file from the size it gets. */
        char buf[REDIS_PASSWORD_MAX + 3];
        _cleanup_(redis_auth_done) RedisAuth a = {};
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;
        int r;

        if (!s || !path)
                return -EINVAL;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        /* read(2) straight into this buffer, zeroed below: no stdio copy
         * of the password is left behind. */
        while (n < sizeof(buf)) {
                ssize_t k = read(fd, buf + n, sizeof(buf) - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto finish;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }

        r = redis_auth_parse(buf, n, &a);
        if (r >= 0)
                r = redis_store_set_auth(s, a.user, a.password);

finish:
        explicit_bzero(buf, sizeof(buf));
        return r;
}

void redis_store_set_timeouts(RedisStore *s, uint64_t connect_usec, uint64_t command_usec, uint64_t retry_usec) {
        if (!s)
                return;
        if (connect_usec > 0)
                s->connect_timeout_usec = connect_usec;
        if (command_usec > 0)
                s->command_timeout_usec = command_usec;
        if (retry_usec > 0)
                s->retry_usec = retry_usec;
}

bool redis_store_is_connected(RedisStore *s) {
        return s && !s->freed && s->state == STORE_READY;
}

const char *redis_store_last_error(RedisStore *s) {
        return s ? s->last_error : NULL;
}

bool redis_store_is_connecting(RedisStore *s) {
        return s && !s->freed && (s->state == STORE_CONNECTING || s->state == STORE_SETTING_UP);
}

static int store_add_waiter(RedisStore *s, redis_store_done_t callback, void *userdata) {
        ReconnectWaiter *w, **tail;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->callback = callback;
        w->userdata = userdata;
        for (tail = &s->waiters; *tail; tail = &(*tail)->next)
                ;
        *tail = w;
        return 0;
}

int redis_store_wait_attempt(RedisStore *s, redis_store_done_t callback, void *userdata) {
        if (!redis_store_is_connecting(s))
                return -EALREADY;
        /* The attempt's outcome completes the waiters (store_ready() or
         * store_connection_down()), never from inside this call. */
        return store_add_waiter(s, callback, userdata);
}

int redis_store_reconnect(RedisStore *s, redis_store_done_t callback, void *userdata) {
        int r;

        if (!s || s->freed)
                return -EINVAL;

        r = store_add_waiter(s, callback, userdata);
        if (r < 0)
                return r;

        /* Never from inside this call: the drop (and its callbacks) and the
         * new attempt run from the retry source, on the next iteration. */
        switch (s->state) {
        case STORE_READY:
        case STORE_DISCONNECTED:
                /* Also keeps a loss handled meanwhile from pushing the
                 * attempt back by a retry interval. */
                s->reconnect_requested = true;
                store_arm(s->retry_source, 0);
                break;
        default:
                /* An attempt is under way: its outcome answers. */
                break;
        }
        return 0;
}

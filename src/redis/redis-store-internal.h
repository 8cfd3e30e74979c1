/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared between redis-store.c (connection, timers, request bookkeeping)
 * and redis-store-ops.c (the operations and their replies). Nothing else
 * includes this.
 *
 * Lifetime rules:
 *  - Every command goes out as a Request, the privdata of its hiredis
 *    callback. hiredis calls that callback exactly once, with a reply or,
 *    when the context goes away, with NULL.
 *  - A request can be completed before hiredis is done with it (the store
 *    dropped the connection, or is being freed): it is then "detached"
 *    (store == NULL) and its callback only frees the memory.
 *  - User callbacks may free the store. Code that calls one holds a
 *    reference (store_ref) and checks s->freed afterwards.
 */

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "redis/redis-scripts.h"
#include "redis/redis-store.h"
#include "shared/macro.h"

#define REDIS_GROUP "pyexecd"

typedef enum StoreState {
        STORE_DISCONNECTED,     /* retry timer armed (unless freed) */
        STORE_CONNECTING,       /* connect(2) under way, connect timeout armed */
        STORE_SETTING_UP,       /* AUTH (if any), consumer group and scripts being set up */
        STORE_READY,
} StoreState;

/* An argument vector for redisAsyncCommandArgv(), holding copies. */
typedef struct Args {
        char **argv;
        size_t *len;
        size_t n, allocated;
} Args;

int args_add(Args *a, const void *p, size_t n);
int args_add_str(Args *a, const char *s);
int args_add_u64(Args *a, uint64_t v);
void args_done(Args *a);
/* Zeroes every argument (explicit_bzero), then args_done(): for vectors holding secrets. */
void args_erase(Args *a);

typedef enum RequestKind {
        REQUEST_SETUP_AUTH,
        REQUEST_SETUP_GROUP,
        REQUEST_SETUP_SCRIPT,
        REQUEST_SUBMIT,
        REQUEST_GET,
        REQUEST_READ_EVENTS,
        REQUEST_APPEND_EVENT,
        REQUEST_CLAIM,
        REQUEST_FINISH,
        REQUEST_QUEUE_COUNTS,
        REQUEST_RUNNING_ON_NODE,
        REQUEST_LIST,
        _REQUEST_KIND_MAX,
} RequestKind;

typedef struct Request Request;
struct Request {
        RedisStore *store;              /* NULL once detached */
        Request *prev, *next;           /* in store->requests while attached */
        RequestKind kind;
        RedisScript script;             /* for REQUEST_SETUP_SCRIPT and script calls */
        bool evalsha;                   /* sent as EVALSHA: may come back NOSCRIPT */
        Args args;
        char id[EXEC_ID_LEN + 1];       /* the execution, where one is concerned */
        union {
                redis_store_submit_t submit;
                redis_store_get_t get;
                redis_store_events_t events;
                redis_store_append_t append;
                redis_store_claim_t claim;
                redis_store_done_t done;
                redis_store_counts_t counts;
                redis_store_ids_t ids;
                redis_store_list_t list;
        } callback;
        void *userdata;
};

struct RedisStore {
        unsigned n_ref;
        bool freed;                     /* redis_store_free() was called */

        sd_event *event;
        char *address;                  /* as configured, for messages */
        char *unix_path;                /* either this … */
        char *host;                     /* … or host and port */
        int port;
        char *prefix;
        char *node;
        char *key_queue, *key_queued, *key_seq, *key_running, *key_index_all;

        redisAsyncContext *ac;
        StoreState state;
        bool reported_up;               /* the state handler was told "connected" last */
        bool reconnect_requested;
        unsigned setup_pending;
        bool drop_pending;              /* set-up could not be sent: drop from the timer */
        char *sha[_REDIS_SCRIPT_MAX];

        /* Sent with AUTH first on every connection when set; zeroed when
         * freed (see redis_store_set_auth()). */
        char *auth_user;
        char *auth_password;
        bool auth_error_logged;         /* the refusal is in the journal; again only after a success */

        sd_event_source *timeout_source;        /* connect or command timeout */
        sd_event_source *retry_source;          /* next connection attempt */
        uint64_t connect_timeout_usec, command_timeout_usec, retry_usec;

        Request *requests;              /* sent, reply pending */
        unsigned n_sent;

        struct ReconnectWaiter *waiters;

        char *last_error;

        redis_store_state_handler_t state_handler;
        void *state_userdata;
};

RedisStore *store_ref(RedisStore *s);
RedisStore *store_unref(RedisStore *s);
void store_set_error(RedisStore *s, const char *format, ...) _printf_(2, 3);

/* Key of the index of the executions of @kind (uid: of @uid), for ListExecutions:
 * prefix + "index:uid:<uid>" or "index:token"; NULL for EXEC_OWNER_NONE or
 * on ENOMEM (check @kind first). */
char *store_owner_index_key(RedisStore *s, ExecOwnerKind kind, uid_t uid);

/* Key of an execution: prefix + "exec:" + id + suffix (suffix may be ""). */
char *store_exec_key(RedisStore *s, const char *id, const char *suffix);

/* A new request for @kind; for script calls, @script ≥ 0 starts the
 * argument vector with EVALSHA <sha> <numkeys>. */
int request_new(RedisStore *s, RequestKind kind, int script, unsigned numkeys, Request **ret);
Request *request_free(Request *req);
DEFINE_TRIVIAL_CLEANUP_FUNC(Request *, request_free);

/* Hands @req to hiredis. On success hiredis owns the pointer until its
 * callback; on failure (-ENOTCONN, -ENOMEM) the caller still owns it. */
int request_send(RedisStore *s, Request *req);

/* In redis-store-ops.c: delivers the outcome of a user request: @r < 0
 * with @reply NULL, or @r == 0 with the reply (which may be an error reply). */
void request_complete(RedisStore *s, Request *req, int r, const redisReply *reply);

/* Maps one of our scripts' error replies to an errno (see redis-scripts.h);
 * anything else is -EPROTO and is kept as the last error. */
int store_error_from_reply(RedisStore *s, const redisReply *reply);

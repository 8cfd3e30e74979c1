/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The manager: the one context that owns the event loop, the system bus
 * connection, the HTTP server, the Redis store and the executions that run
 * on this node (STYLE.md D18: one context owned by run(), no globals).
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus/polkit.h"
#include "daemon/ops.h"
#include "daemon/registry.h"
#include "exec/execution.h"
#include "exec/uid-range.h"
#include "http/http-server.h"
#include "redis/redis-store.h"
#include "shared/config.h"
#include "shared/exec-record.h"
#include "shared/list.h"
#include "shared/output-model.h"

typedef struct Manager Manager;
typedef struct RunningExecution RunningExecution;
typedef struct Subscription Subscription;
typedef struct CancelWaiter CancelWaiter;
typedef struct OpsCall OpsCall;

/*
 * Called when the end of a cancelled running execution is stored (@r = 0;
 * re->record.state says whether the cancel won or it ended otherwise
 * first), or with a negative errno when the service stops before that.
 */
typedef void (*cancel_done_t)(RunningExecution *re, int r, void *userdata);

/* A client waiting for the cancellation of a running execution to land. */
struct CancelWaiter {
        cancel_done_t done;
        void *userdata;
        LIST_FIELDS(CancelWaiter, waiters);
};

/* An execution that runs on this node. */
struct RunningExecution {
        Manager *manager;
        ExecRecord record;              /* as claimed; completed at the end */
        Execution *execution;           /* NULL once finished */
        OutputModel *outputs;           /* the cell's outputs so far */
        CancelWaiter *cancel_waiters;
        bool ended;                     /* its processes are gone; the end is being stored */
        bool has_uid;                   /* @uid is taken from Manager.uids */
        uid_t uid;                      /* the sandbox's uid = gid of this execution */
        bool deferred;                  /* in Manager.unfinished, waiting for Redis */
        LIST_FIELDS(RunningExecution, running);
};

/* An SSE client following one execution's events. */
struct Subscription {
        Manager *manager;
        SseStream *stream;              /* NULL once the stream closed */
        char id[EXEC_ID_LEN + 1];
        char *cursor;                   /* last event id sent, NULL before the first */
        bool fetching;                  /* a read from Redis is in flight */
        bool more;                      /* news arrived while fetching */
        bool ended;                     /* the "end" event was sent */
        LIST_FIELDS(Subscription, subscriptions);
};

typedef struct ManagerPaths {
        const char *sandbox;            /* pyexecd-sandbox */
        const char *runner;             /* pyexecd_runner.py */
        const char *python;             /* /usr/bin/python3 */
} ManagerPaths;

struct Manager {
        sd_event *event;
        sd_bus *bus;                    /* the system bus: PID 1 is called on it */
        Config config;
        ManagerPaths paths;
        char *node;                     /* this node's consumer name (hostname) */
        unsigned ncpus;

        RedisStore *store;
        HttpServer *http;
        Registry *registry;             /* the executions this daemon knows (registry.h) */
        PolkitClient *polkit;
        OpsCall *ops_calls;             /* operations under way (ops.c) */
        unsigned n_ops_calls;
        char *http_token;               /* bearer token of TCP listeners (credential http-token), or NULL */

        /* The D-Bus front end (src/bus/). */
        sd_bus_slot *bus_manager_slot;
        sd_bus_slot *bus_execution_slot;
        sd_bus_slot *bus_enumerator_slot;
        sd_bus_slot *bus_name_slot;
        sd_bus_track *bus_peers;        /* subscribers and viewers of executions, counted per use */
        bool bus_name_acquired;
        bool ready;                     /* READY=1 was sent */
        UidAllocator *uids;             /* [Sandbox] UIDRange=; NULL with Enabled=no */

        RunningExecution *running;
        unsigned n_running;
        RunningExecution *unfinished;   /* ended, but their end is not stored yet (Redis down) */
        Subscription *subscriptions;

        bool claiming;                  /* a claim from the queue is in flight */
        bool queue_empty;               /* the last claim found nothing */
        bool recovered;                 /* leftovers of a previous daemon were handled */
        bool stopping;
        unsigned n_pending_store;       /* store calls the shutdown must wait for */

        sd_event_source *sigterm_source;
        sd_event_source *sigint_source;
        sd_event_source *claim_timer;   /* polls the queue (other nodes, missed wake-ups) */
        sd_event_source *idle_timer;
        sd_event_source *stop_timer;    /* shutdown deadline */
        sd_event_source *expire_timer;  /* drops expired executions from the registry */
        uint64_t idle_since_usec;       /* CLOCK_MONOTONIC */
        int exit_code;
};

/*
 * Creates the manager: takes a reference to @event, copies @config and
 * @paths, connects to the system bus and starts connecting to Redis.
 * Returns 0 or a negative errno.
 */
int manager_new(Manager **ret, sd_event *event, const Config *config, const ManagerPaths *paths);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Serves HTTP on the listening socket @fd (borrowed). */
int manager_add_http_listener(Manager *m, int fd, const char *description);

/* Installs SIGTERM/SIGINT handlers and timers, and starts the D-Bus front
 * end; READY=1 follows once the bus name is ours (manager_ready()). */
int manager_start(Manager *m);

/* Sends READY=1 (once): the listeners are up and the bus name is acquired. */
void manager_ready(Manager *m);

/* Starts the orderly shutdown: running executions are ended and marked,
 * queued ones stay queued; the loop exits when that is stored. */
void manager_stop(Manager *m);

/* Why Redis cannot be used now, as one sentence for 503 answers and D-Bus
 * errors ("Redis at ADDR is unreachable: …", or the store's own account
 * when it names Redis already, e.g. a refused password). @r is the error of
 * the failed call, 0 when there was none. Returns a new string, or NULL. */
char *manager_redis_problem(Manager *m, int r);

/* True for store errors that mean "Redis is away", not "the request is wrong". */
static inline bool store_error_is_transient(int r) {
        return r == -ENOTCONN || r == -ECONNRESET || r == -ETIMEDOUT || r == -ECANCELED;
}

/* Stores a record that changed in Redis in the registry (and tells the
 * execution's D-Bus subscribers). */
void manager_record_changed(Manager *m, const ExecRecord *rec);

/* Exits the loop if a shutdown is under way and nothing is left to wait for. */
void manager_check_stopped(Manager *m);

/* Sends STATUS= to systemd with the current figures. */
void manager_update_status(Manager *m);

/* Takes executions from the queue while slots are free. */
void manager_claim(Manager *m);

/* A new event for execution @id is in Redis: wake its SSE subscribers. */
void manager_notify(Manager *m, const char *id);

/* Finds the running execution @id on this node, or NULL. */
RunningExecution *manager_find_running(Manager *m, const char *id);

/* Marks executions that a previous daemon on this node left "running" as
 * ended with an error (scheduler.c). */
void manager_recover(Manager *m);

/* Ends @rec — "running" on this node in Redis, but not running here: left
 * by a previous daemon — as error "interrupted: service stopped". */
int manager_mark_interrupted(Manager *m, const ExecRecord *rec, json_t *outputs);

/* Stores the ends that could not be stored while Redis was away. */
void manager_retry_unfinished(Manager *m);

RunningExecution *running_execution_free(RunningExecution *re);

/* Ends a running execution at a client's request; @done (may be NULL) is
 * called when the end is stored. */
int running_execution_cancel(RunningExecution *re, cancel_done_t done, void *userdata);

/* The HTTP routes (api.c). */
extern const HttpRoute manager_http_routes[];
extern const size_t manager_n_http_routes;

/*
 * The caller of HTTP request @req (api.c): on a unix socket its SO_PEERCRED
 * identity, on TCP the bearer token (Authorization: Bearer …) compared with
 * the configured one. Returns true and fills @ret, or answers @req (401) and
 * returns false.
 */
bool api_get_caller(Manager *m, HttpRequest *req, Caller *ret);

/* Answers @req with the error of @res (api.c). */
void api_respond_ops_error(HttpRequest *req, const OpsResult *res);

/* GET /stream/{id} (api-stream.c). */
void api_stream(HttpRequest *req, const char *id, void *userdata);
void subscription_wake(Subscription *sub);
/* Ends the stream if the execution already ended (nothing after the cursor). */
void subscription_check_ended(Subscription *sub);
void manager_abort_subscriptions(Manager *m);

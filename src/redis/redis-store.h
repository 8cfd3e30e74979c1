/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * pyexecd's data model in Redis (DESIGN.md "Redis keys"), over one hiredis
 * async connection attached to the sd-event loop.
 *
 * Keys, with P the configured prefix ("pyexecd:"):
 *   P exec:<id>          hash    ExecRecord fields (shared/exec-record.h)
 *   P exec:<id>:code     string  the code
 *   P exec:<id>:stdin    string  the request's stdin (only when given)
 *   P exec:<id>:events   stream  one entry per event: fields "type" and "data" (JSON);
 *                                entry ids are the SSE ids
 *   P exec:<id>:outputs  string  final outputs JSON, written when the execution ends
 *   P queue              stream  one entry per queued execution, field "id"; consumer group "pyexecd",
 *                                one consumer per node (its name)
 *   P queued             zset    ids of queued executions, score = submission order (queue positions)
 *   P queue:seq          string  counter giving those scores
 *   P running            hash    id → node, for executions that run now
 *   P index:all          zset    ids of all executions, score = created_usec (ListExecutions)
 *   P index:uid:<uid>    zset    the same for the executions of one user
 *   P index:token        zset    the same for those submitted with the HTTP bearer token
 *                                (index members of expired executions are dropped lazily)
 * State changes that touch several keys run as one Lua script (EVAL), so
 * they are atomic against other clients and other nodes.
 *
 * Calling convention of every asynchronous operation below: it returns 0
 * and later calls @callback exactly once (never from inside the call), or it
 * returns a negative errno and never calls it (-ENOTCONN while Redis is not
 * connected). A callback gets r = 0 on success or a negative errno:
 * -ENOENT (no such execution), -EBUSY (queue full, or the state was not the
 * expected one), -ECONNRESET (connection lost before the reply), -ETIMEDOUT
 * (no reply in time), -ECANCELED (the store is being freed), -EPROTO (Redis
 * answered an error), -EBADMSG (Redis holds data we cannot parse). Pointers
 * handed to a callback are valid only during the call. A call with bad
 * arguments returns -EINVAL, an execution id that fails exec_id_is_valid()
 * included (keys are built from it). Callbacks may call any function of
 * the store, redis_store_free() included.
 *
 * SIGPIPE: hiredis writes with write(2), so a connection that breaks while a
 * command is being sent raises SIGPIPE; the program must ignore it.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "shared/exec-record.h"

typedef struct RedisStore RedisStore;

typedef struct RedisEvent {
        char *id;               /* stream entry id, "1732900000000-0" */
        char *type;             /* "output", "update_display_data", "clear_output", "status", "end" */
        char *data;             /* JSON text */
        size_t data_size;
} RedisEvent;

/* Called after every (re)connect that finished its set-up (AUTH accepted,
 * consumer group created) with @connected = true, and after every loss with false. */
typedef void (*redis_store_state_handler_t)(RedisStore *s, bool connected, void *userdata);

/*
 * Creates a store for @address ("/path" for a unix socket, "host:port" or
 * "[v6]:port") with key prefix @key_prefix; @node names this daemon as a
 * queue consumer. It starts connecting at once and reconnects every second
 * while Redis is unreachable. Returns 0 or -ENOMEM / -EINVAL (bad address).
 */
int redis_store_new(RedisStore **ret, sd_event *event, const char *address, const char *key_prefix, const char *node);
RedisStore *redis_store_free(RedisStore *s);

void redis_store_set_state_handler(RedisStore *s, redis_store_state_handler_t handler, void *userdata);

/*
 * Authentication. Redis holds everything (code, outputs, owners, the
 * queue), so a Redis that local users can reach must ask for a password;
 * the daemon reads it from the systemd credential "redis-password"
 * ($CREDENTIALS_DIRECTORY/redis-password, LoadCredential=).
 *
 * Its format: one line, at most REDIS_PASSWORD_MAX bytes, one trailing
 * newline ("\n" or "\r\n") ignored:
 *   PASSWORD        sent as "AUTH PASSWORD" (requirepass, the default user)
 *   USER PASSWORD   sent as "AUTH USER PASSWORD" (a Redis 6+ ACL user): the
 *                   line is split at its first space, so PASSWORD may hold
 *                   spaces; a password with spaces for requirepass is
 *                   written "default PASSWORD".
 * No other newline, no NUL byte; neither part may be empty.
 */
#define REDIS_PASSWORD_CREDENTIAL "redis-password"
#define REDIS_PASSWORD_MAX 4096

typedef struct RedisAuth {
        char *user;             /* NULL: AUTH with the password alone */
        char *password;
} RedisAuth;

/*
 * Parses a credential's @size bytes at @text (see above) into @ret, which
 * the caller clears with redis_auth_done(). Returns 0; -ENODATA when it is
 * empty (or only a newline); -EBADMSG when it holds another newline or a
 * NUL, or when the part before or after the first space is empty; -E2BIG
 * when longer than REDIS_PASSWORD_MAX; -ENOMEM.
 */
int redis_auth_parse(const char *text, size_t size, RedisAuth *ret);

/* Zeroes (explicit_bzero) and frees both strings; @a may be NULL. */
void redis_auth_done(RedisAuth *a);

/*
 * Sets what every connection sends as its very first command: "AUTH
 * @password", or "AUTH @user @password" when @user is not NULL. Copies
 * both; the store zeroes its copies when it is freed or they are replaced.
 * @password NULL (and @user NULL): no AUTH, the default. Applies from the
 * next connection attempt on: redis_store_new() attempts the first one
 * from the event loop, so calling this right after it covers every
 * connection. A refused password (WRONGPASS, or any error reply to AUTH)
 * fails the attempt like an unreachable Redis (last_error: "Redis at ADDR
 * refused the password (credential redis-password): <Redis's reply>", never
 * the password itself; logged once until the next success) and the store
 * retries. Returns 0, -EINVAL (an empty string, or a user without a
 * password) or -ENOMEM.
 */
int redis_store_set_auth(RedisStore *s, const char *user, const char *password);

/*
 * Reads the credential file @path, parses it (redis_auth_parse()) and sets
 * it (redis_store_set_auth()); the buffers that held it are zeroed. Returns
 * 0; -ENOENT when there is no such file (the caller goes on without AUTH);
 * the errors of redis_auth_parse(); another negative errno when it cannot
 * be read.
 */
int redis_store_load_auth(RedisStore *s, const char *path);

/*
 * Changes the timeouts (µs; 0 keeps the current value): @connect_usec for a
 * connection attempt (default 5 s), @command_usec without any reply while
 * commands are pending (default 5 s: the connection is dropped and every
 * pending callback gets -ETIMEDOUT), @retry_usec between connection
 * attempts while Redis is unreachable (default 1 s). Applies from the next
 * time a timer is armed.
 */
void redis_store_set_timeouts(RedisStore *s, uint64_t connect_usec, uint64_t command_usec, uint64_t retry_usec);

/* True once connected and set up. */
bool redis_store_is_connected(RedisStore *s);

/* True while a connection attempt (connect and set-up) is under way. */
bool redis_store_is_connecting(RedisStore *s);

/* Why the last connection attempt or command failed, for 503 messages
 * ("Redis at 127.0.0.1:6379: Connection refused", "Redis at /run/redis.sock
 * refused the password (credential redis-password): WRONGPASS …"); NULL if
 * none. Never holds the password. */
const char *redis_store_last_error(RedisStore *s);

/* Drops the connection, if any, and connects again now (POST /initialize);
 * while an attempt is under way already, waits for that one. The callback
 * gets 0 once connected and set up, or the error of the failed attempt
 * (e.g. -ECONNREFUSED, -ENOENT, -ETIMEDOUT; -EACCES when Redis refused the
 * password or wants one it was not given). @callback may be NULL. */
typedef void (*redis_store_done_t)(RedisStore *s, int r, void *userdata);
int redis_store_reconnect(RedisStore *s, redis_store_done_t callback, void *userdata);

/*
 * Calls @callback when the connection attempt under way ends: r = 0 when it
 * connected, else the attempt's error. Returns -EALREADY (and never calls)
 * when no attempt is under way (see redis_store_is_connecting()).
 */
int redis_store_wait_attempt(RedisStore *s, redis_store_done_t callback, void *userdata);

/*
 * Stores a new execution and queues it, atomically: fails with -EBUSY, and
 * stores nothing, when @max_queued executions are queued already. @rec has
 * state "queued", the id and all request fields; the store adds the queue
 * entry id. Emits the "status" event {"status":"queued"}. The callback gets
 * the 1-based queue position. @stdin_data NULL: no stdin (the record's
 * has_stdin is set from it). -EEXIST if the id is taken.
 */
typedef void (*redis_store_submit_t)(RedisStore *s, int r, uint64_t queue_position, void *userdata);
int redis_store_submit(RedisStore *s, const ExecRecord *rec, const char *code, size_t code_size,
                       const char *stdin_data, size_t stdin_size, unsigned max_queued,
                       redis_store_submit_t callback, void *userdata);

/*
 * Loads an execution: its record and its outputs (the stored final outputs
 * once it ended, else derived from its events with OutputModel). -ENOENT if
 * it does not exist (or expired).
 */
typedef void (*redis_store_get_t)(RedisStore *s, int r, const ExecRecord *rec, json_t *outputs, void *userdata);
int redis_store_get(RedisStore *s, const char *id, redis_store_get_t callback, void *userdata);

/*
 * Reads at most @count events (0: all) after entry id @after (NULL: from
 * the start), oldest first. -ENOENT if the execution does not exist.
 * Returns -EINVAL at once if @after is not an entry id ("<ms>-<seq>" or "<ms>").
 */
typedef void (*redis_store_events_t)(RedisStore *s, int r, const RedisEvent *events, size_t n, void *userdata);
int redis_store_read_events(RedisStore *s, const char *id, const char *after, unsigned count,
                            redis_store_events_t callback, void *userdata);

/* Appends one event; the callback (may be NULL) gets its entry id. -EBUSY
 * once the execution ended (nothing may follow its "end" event). */
typedef void (*redis_store_append_t)(RedisStore *s, int r, const char *entry_id, void *userdata);
int redis_store_append_event(RedisStore *s, const char *id, const char *type, const char *data, size_t data_size,
                             redis_store_append_t callback, void *userdata);

/*
 * Takes the next queued execution for this node: reads the queue through
 * the consumer group, skips (acknowledges and deletes) entries whose
 * execution is no longer "queued" (cancelled, expired), and marks the one it
 * takes "running" on this node with started_usec = @now_usec, emitting the
 * "status" event {"status":"running"}. The callback gets @rec == NULL when
 * the queue is empty.
 */
typedef void (*redis_store_claim_t)(RedisStore *s, int r, const ExecRecord *rec,
                                    const char *code, size_t code_size,
                                    const char *stdin_data, size_t stdin_size, void *userdata);
int redis_store_claim(RedisStore *s, uint64_t now_usec, redis_store_claim_t callback, void *userdata);

/*
 * Records the end of an execution, atomically, if its state is still
 * @expected (EXEC_STATE_QUEUED for a cancel of a queued one, EXEC_STATE_RUNNING
 * otherwise); else fails with -EBUSY and changes nothing. Writes @rec's
 * fields (a terminal state), the outputs, the "status" event and the "end"
 * event whose data is @status_json (the final status object), removes it
 * from the queued/running sets, acknowledges and deletes its queue entry,
 * and lets all its keys expire after @ttl_usec. @outputs NULL stores [];
 * @status_json NULL uses exec_record_to_status_json(@rec, @outputs). Both
 * are borrowed. -EINVAL if @rec's state is not terminal or @expected is
 * neither queued nor running. @callback may be NULL.
 */
int redis_store_finish(RedisStore *s, const ExecRecord *rec, ExecState expected, json_t *outputs,
                       json_t *status_json, uint64_t ttl_usec, redis_store_done_t callback, void *userdata);

/* Global counts: executions queued and running (all nodes). */
typedef void (*redis_store_counts_t)(RedisStore *s, int r, uint64_t queued, uint64_t running, void *userdata);
int redis_store_queue_counts(RedisStore *s, redis_store_counts_t callback, void *userdata);

/* Ids of executions the "running" hash assigns to this node (left by a
 * daemon that crashed or was killed). NULL-terminated, valid during the call. */
typedef void (*redis_store_ids_t)(RedisStore *s, int r, char *const *ids, void *userdata);
int redis_store_running_on_node(RedisStore *s, redis_store_ids_t callback, void *userdata);

/*
 * Lists the newest executions that still exist, newest first, at most
 * @max: all of them when @all, else those of the owner @kind
 * (EXEC_OWNER_UID with @uid, or EXEC_OWNER_TOKEN). The records handed to
 * the callback are valid during the call only. Records that do not parse
 * are left out.
 */
typedef void (*redis_store_list_t)(RedisStore *s, int r, const ExecRecord *recs, size_t n, void *userdata);
int redis_store_list(RedisStore *s, bool all, ExecOwnerKind kind, uid_t uid, unsigned max,
                     redis_store_list_t callback, void *userdata);

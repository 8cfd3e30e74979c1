/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Lua scripts behind redis-store.c. Each state change that touches
 * several keys is one script, so it is atomic against other clients and
 * nodes. The KEYS/ARGV layout of each script is documented next to its
 * source in redis-scripts.c; redis-store.c is the only caller.
 *
 * Expected refusals come back as error replies with our own codes (never
 * Redis' own, such as BUSY, which means something else):
 *   PYEXECD_FULL    the queue holds max_queued executions     → -EBUSY
 *   PYEXECD_STATE   the execution is not in the expected state → -EBUSY
 *   PYEXECD_NOENT   no such execution                          → -ENOENT
 *   PYEXECD_EXISTS  an execution with that id exists already   → -EEXIST
 */

typedef enum RedisScript {
        REDIS_SCRIPT_SUBMIT,
        REDIS_SCRIPT_GET,
        REDIS_SCRIPT_READ_EVENTS,
        REDIS_SCRIPT_APPEND_EVENT,
        REDIS_SCRIPT_CLAIM,
        REDIS_SCRIPT_FINISH,
        REDIS_SCRIPT_QUEUE_COUNTS,
        REDIS_SCRIPT_RUNNING_ON_NODE,
        REDIS_SCRIPT_LIST,
        _REDIS_SCRIPT_MAX,
} RedisScript;

/* The Lua source of @script. */
const char *redis_script_source(RedisScript script);

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stddef.h>

#include "redis/redis-scripts.h"
#include "shared/macro.h"

/*
 * submit
 *   KEYS  1 exec hash, 2 code, 3 stdin, 4 events, 5 queue, 6 queued, 7 queue:seq,
 *         8 index:all, 9 the owner's index (absent for executions without owner)
 *   ARGV  1 max_queued, 2 id, 3 has_stdin ("0"/"1"), 4 code, 5 stdin,
 *         6 data of the "status" event, 7 created_usec (the index score),
 *         8 key prefix, 9… hash field/value pairs
 *   reply {queue position, queue entry id, status event id}
 * The indexes list executions by creation for ListExecutions; their members
 * outlive the executions, which expire on their own: each submission drops
 * the two oldest members of each index if they are gone, so an index stays
 * about as long as what it lists.
 */
static const char script_submit[] =
        "if redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[1]) then\n"
        "  return redis.error_reply('PYEXECD_FULL queue full')\n"
        "end\n"
        "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
        "  return redis.error_reply('PYEXECD_EXISTS execution exists')\n"
        "end\n"
        "local entry = redis.call('XADD', KEYS[5], '*', 'id', ARGV[2])\n"
        "redis.call('HSET', KEYS[1], 'queue_entry', entry, unpack(ARGV, 9))\n"
        "redis.call('SET', KEYS[2], ARGV[4])\n"
        "if ARGV[3] == '1' then\n"
        "  redis.call('SET', KEYS[3], ARGV[5])\n"
        "end\n"
        "local seq = redis.call('INCR', KEYS[7])\n"
        "redis.call('ZADD', KEYS[6], seq, ARGV[2])\n"
        "for i = 8, #KEYS do\n"
        "  for _, old in ipairs(redis.call('ZRANGE', KEYS[i], 0, 1)) do\n"
        "    if redis.call('EXISTS', ARGV[8] .. 'exec:' .. old) == 0 then\n"
        "      redis.call('ZREM', KEYS[i], old)\n"
        "    end\n"
        "  end\n"
        "  redis.call('ZADD', KEYS[i], ARGV[7], ARGV[2])\n"
        "end\n"
        "local ev = redis.call('XADD', KEYS[4], '*', 'type', 'status', 'data', ARGV[6])\n"
        "return {redis.call('ZRANK', KEYS[6], ARGV[2]) + 1, entry, ev}\n";

/*
 * get
 *   KEYS  1 exec hash, 2 outputs, 3 events
 *   reply {hash fields, outputs JSON} once it ended and the outputs are
 *         stored, else {hash fields, nil, all events}
 */
static const char script_get[] =
        "local h = redis.call('HGETALL', KEYS[1])\n"
        "if #h == 0 then\n"
        "  return redis.error_reply('PYEXECD_NOENT no such execution')\n"
        "end\n"
        "local st = redis.call('HGET', KEYS[1], 'state')\n"
        "if st ~= 'queued' and st ~= 'running' then\n"
        "  local o = redis.call('GET', KEYS[2])\n"
        "  if o then\n"
        "    return {h, o}\n"
        "  end\n"
        "end\n"
        "return {h, false, redis.call('XRANGE', KEYS[3], '-', '+')}\n";

/*
 * read_events
 *   KEYS  1 exec hash, 2 events
 *   ARGV  1 start ("-" or "(" + an entry id), 2 count ("0": all)
 *   reply XRANGE's
 */
static const char script_read_events[] =
        "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
        "  return redis.error_reply('PYEXECD_NOENT no such execution')\n"
        "end\n"
        "if ARGV[2] == '0' then\n"
        "  return redis.call('XRANGE', KEYS[2], ARGV[1], '+')\n"
        "end\n"
        "return redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])\n";

/*
 * append_event: refuses once the execution ended, so that nothing follows
 * its "end" event.
 *   KEYS  1 exec hash, 2 events
 *   ARGV  1 type, 2 data
 *   reply the entry id
 */
static const char script_append_event[] =
        "local st = redis.call('HGET', KEYS[1], 'state')\n"
        "if not st then\n"
        "  return redis.error_reply('PYEXECD_NOENT no such execution')\n"
        "end\n"
        "if st ~= 'queued' and st ~= 'running' then\n"
        "  return redis.error_reply('PYEXECD_STATE ' .. st)\n"
        "end\n"
        "return redis.call('XADD', KEYS[2], '*', 'type', ARGV[1], 'data', ARGV[2])\n";

/*
 * claim: takes queue entries for this node until one names an execution
 * that is still queued; the others (cancelled, expired) are acknowledged
 * and deleted. The entry taken stays pending for this node until finish.
 * Should the group be gone (the data set was flushed), it is created again
 * from the start of the stream: entries already handled were deleted.
 * The per-execution keys are built from the prefix, so this script needs a
 * single Redis (no cluster), as pyexecd does anyway.
 *   KEYS  1 queue, 2 queued, 3 running
 *   ARGV  1 group, 2 node (consumer), 3 started_usec, 4 key prefix,
 *         5 data of the "status" event
 *   reply nil when nothing is queued, else {id, hash fields, code, stdin or nil}
 */
static const char script_claim[] =
        "local function take()\n"
        "  return redis.pcall('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', KEYS[1], '>')\n"
        "end\n"
        "while true do\n"
        "  local r = take()\n"
        "  if type(r) == 'table' and r.err then\n"
        "    if not string.find(r.err, 'NOGROUP', 1, true) then\n"
        "      return r\n"
        "    end\n"
        "    redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')\n"
        "    r = take()\n"
        "  end\n"
        "  if not r then\n"
        "    return false\n"
        "  end\n"
        "  local e = r[1][2][1]\n"
        "  local eid, f = e[1], e[2]\n"
        "  local id = nil\n"
        "  for i = 1, #f, 2 do\n"
        "    if f[i] == 'id' then id = f[i + 1] end\n"
        "  end\n"
        "  if id then\n"
        "    local h = ARGV[4] .. 'exec:' .. id\n"
        "    if redis.call('HGET', h, 'state') == 'queued' then\n"
        "      redis.call('HSET', h, 'state', 'running', 'started_usec', ARGV[3], 'node', ARGV[2])\n"
        "      redis.call('ZREM', KEYS[2], id)\n"
        "      redis.call('HSET', KEYS[3], id, ARGV[2])\n"
        "      redis.call('XADD', h .. ':events', '*', 'type', 'status', 'data', ARGV[5])\n"
        "      return {id, redis.call('HGETALL', h), redis.call('GET', h .. ':code'), redis.call('GET', h .. ':stdin')}\n"
        "    end\n"
        "    redis.call('ZREM', KEYS[2], id)\n"
        "  end\n"
        "  redis.call('XACK', KEYS[1], ARGV[1], eid)\n"
        "  redis.call('XDEL', KEYS[1], eid)\n"
        "end\n";

/*
 * finish: check-and-set on the state.
 *   KEYS  1 exec hash, 2 events, 3 outputs, 4 code, 5 stdin, 6 queue,
 *         7 queued, 8 running
 *   ARGV  1 expected state, 2 TTL in ms, 3 outputs JSON, 4 data of the
 *         "status" event, 5 data of the "end" event, 6 group, 7 id,
 *         8… hash field/value pairs
 *   reply the id of the "end" event
 */
static const char script_finish[] =
        "local st = redis.call('HGET', KEYS[1], 'state')\n"
        "if not st then\n"
        "  return redis.error_reply('PYEXECD_NOENT no such execution')\n"
        "end\n"
        "if st ~= ARGV[1] then\n"
        "  return redis.error_reply('PYEXECD_STATE ' .. st)\n"
        "end\n"
        "local entry = redis.call('HGET', KEYS[1], 'queue_entry')\n"
        "redis.call('HSET', KEYS[1], unpack(ARGV, 8))\n"
        "redis.call('SET', KEYS[3], ARGV[3])\n"
        "redis.call('XADD', KEYS[2], '*', 'type', 'status', 'data', ARGV[4])\n"
        "local last = redis.call('XADD', KEYS[2], '*', 'type', 'end', 'data', ARGV[5])\n"
        "redis.call('HDEL', KEYS[8], ARGV[7])\n"
        "redis.call('ZREM', KEYS[7], ARGV[7])\n"
        "if entry then\n"
        /* The group may be missing (flushed data): nothing to acknowledge then. */
        "  redis.pcall('XACK', KEYS[6], ARGV[6], entry)\n"
        "  redis.call('XDEL', KEYS[6], entry)\n"
        "end\n"
        "for i = 1, 5 do\n"
        "  redis.call('PEXPIRE', KEYS[i], ARGV[2])\n"
        "end\n"
        "return last\n";

/*
 * queue_counts
 *   KEYS  1 queued, 2 running
 *   reply {queued, running}
 */
static const char script_queue_counts[] =
        "return {redis.call('ZCARD', KEYS[1]), redis.call('HLEN', KEYS[2])}\n";

/*
 * running_on_node
 *   KEYS  1 running
 *   ARGV  1 node
 *   reply the ids
 */
static const char script_running_on_node[] =
        "local all = redis.call('HGETALL', KEYS[1])\n"
        "local ids = {}\n"
        "for i = 1, #all, 2 do\n"
        "  if all[i + 1] == ARGV[1] then ids[#ids + 1] = all[i] end\n"
        "end\n"
        "return ids\n";

/*
 * list: the newest executions of an index that still exist; members whose
 * execution expired are dropped on the way.
 *   KEYS  1 the index
 *   ARGV  1 key prefix, 2 most executions to return
 *   reply {{id, hash fields}, …}, newest first
 */
static const char script_list[] =
        "local max = tonumber(ARGV[2])\n"
        "local out = {}\n"
        "local start = 0\n"
        "while #out < max do\n"
        "  local ids = redis.call('ZREVRANGE', KEYS[1], start, start + 255)\n"
        "  if #ids == 0 then break end\n"
        "  local gone = 0\n"
        "  for _, id in ipairs(ids) do\n"
        "    local h = redis.call('HGETALL', ARGV[1] .. 'exec:' .. id)\n"
        "    if #h == 0 then\n"
        "      redis.call('ZREM', KEYS[1], id)\n"
        "      gone = gone + 1\n"
        "    elseif #out < max then\n"
        "      out[#out + 1] = {id, h}\n"
        "    end\n"
        "  end\n"
        "  start = start + #ids - gone\n"
        "end\n"
        "return out\n";

static const char *const script_table[_REDIS_SCRIPT_MAX] = {
        [REDIS_SCRIPT_SUBMIT] = script_submit,
        [REDIS_SCRIPT_GET] = script_get,
        [REDIS_SCRIPT_READ_EVENTS] = script_read_events,
        [REDIS_SCRIPT_APPEND_EVENT] = script_append_event,
        [REDIS_SCRIPT_CLAIM] = script_claim,
        [REDIS_SCRIPT_FINISH] = script_finish,
        [REDIS_SCRIPT_QUEUE_COUNTS] = script_queue_counts,
        [REDIS_SCRIPT_RUNNING_ON_NODE] = script_running_on_node,
        [REDIS_SCRIPT_LIST] = script_list,
};

const char *redis_script_source(RedisScript script) {
        if (script < 0 || script >= _REDIS_SCRIPT_MAX)
                return NULL;
        return script_table[script];
}

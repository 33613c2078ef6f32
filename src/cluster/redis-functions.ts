// The Redis side of --redis: one function library, loaded with FUNCTION LOAD
// REPLACE by every node when it connects (docs/ARCHITECTURE.md, "Many nodes
// on Redis"). Each function is one round trip and atomic on its Redis.
//
// One stream per client with something queued, key mc:{ID}; entry id N-0
// where N is the message id. N = the Redis clock in ms * 1000, or the
// stream's last id + 1 when sends to one client come faster than that, so
// ids increase per client across nodes and node restarts. Redis keeps a
// stream's last id even when every entry has been trimmed; the key expires
// ttl + 1 s after its last send, when the clock has long passed its ids.

/**
 * Every node loads its own copy with REPLACE (function names are global in a Redis, so the
 * library keeps one name): nodes of different versions must not share a Redis.
 */
export const LIBRARY_NAME = 'megacomet';

/** A client's stream (the braces are the Redis Cluster hash tag: all of one client's keys share a slot). */
export function streamKey(client: string): string {
  return `mc:{${client}}`;
}

/** The channel every send's notification goes to: "CLIENT ID" or "CLIENT ID DATA". */
export const NOTIFY_CHANNEL = 'mc:notify';

/**
 * Data up to this many bytes rides in the notification, so a node holding the client's poll
 * with nothing before it can answer without reading the stream; larger data is read.
 */
export const NOTIFY_DATA_MAX = 1024;

/**
 * mc_send KEYS = streams, ARGV = ttl ms, max queue, channel, data, then the
 *   clients in KEYS' order. All or nothing: {0, i} when stream i (1-based) is
 *   full, else {1, id1, id2, ...}.
 * mc_poll KEYS = stream, ARGV = ack, after, limit, ttl ms: drops every entry
 *   up to `ack` (the client's cursor acknowledges them) and the expired ones,
 *   then the entries after `after`, at most `limit`. Allowed when Redis is at
 *   maxmemory: it only removes.
 * mc_ack KEYS = streams, ARGV = ttl ms, then one cursor per stream: drops every
 *   entry up to its cursor and the expired ones (the acknowledgements of polls
 *   that needed no read, in one call). Allowed at maxmemory.
 * mc_queued KEYS = stream, ARGV = ttl ms: unexpired entries.
 */
export const LIBRARY_SOURCE = `#!lua name=${LIBRARY_NAME}

local function clock_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function fmt(n)
  return string.format('%.0f', n)
end

local function trim_expired(key, now, ttl)
  redis.call('XTRIM', key, 'MINID', fmt((now - ttl) * 1000))
end

local function last_id(key)
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      return tonumber(string.match(info[i + 1], '^(%d+)'))
    end
  end
  return 0
end

local function append(key, data, now)
  local id = now * 1000
  local added = redis.pcall('XADD', key, fmt(id) .. '-0', 'd', data)
  if type(added) == 'table' and added.err then
    -- Sends to this client outran the clock: follow the stream's last id.
    id = last_id(key) + 1
    redis.call('XADD', key, fmt(id) .. '-0', 'd', data)
  end
  return id
end

local function send(keys, args)
  local ttl = tonumber(args[1])
  local max_queue = tonumber(args[2])
  local channel = args[3]
  local data = args[4]
  local now = clock_ms()
  for i = 1, #keys do
    trim_expired(keys[i], now, ttl)
    if redis.call('XLEN', keys[i]) >= max_queue then
      return {0, i}
    end
  end
  local out = {1}
  for i = 1, #keys do
    local id = append(keys[i], data, now)
    redis.call('PEXPIRE', keys[i], ttl + 1000)
    local note = args[4 + i] .. ' ' .. fmt(id)
    if #data <= ${NOTIFY_DATA_MAX} then
      note = note .. ' ' .. data
    end
    redis.call('PUBLISH', channel, note)
    out[i + 1] = id
  end
  return out
end

local function poll(keys, args)
  local key = keys[1]
  if redis.call('EXISTS', key) == 0 then
    return {}
  end
  local ack = tonumber(args[1])
  local after = tonumber(args[2])
  local limit = tonumber(args[3])
  local ttl = tonumber(args[4])
  local first = math.max(ack + 1, (clock_ms() - ttl) * 1000)
  redis.call('XTRIM', key, 'MINID', fmt(first))
  return redis.call('XRANGE', key, fmt(math.max(after + 1, first)), '+', 'COUNT', limit)
end

local function ack(keys, args)
  local expired = (clock_ms() - tonumber(args[1])) * 1000
  for i = 1, #keys do
    redis.call('XTRIM', keys[i], 'MINID', fmt(math.max(tonumber(args[i + 1]) + 1, expired)))
  end
  return #keys
end

local function queued(keys, args)
  if redis.call('EXISTS', keys[1]) == 0 then
    return 0
  end
  trim_expired(keys[1], clock_ms(), tonumber(args[1]))
  return redis.call('XLEN', keys[1])
end

redis.register_function('mc_send', send)
redis.register_function{function_name = 'mc_poll', callback = poll, flags = {'allow-oom'}}
redis.register_function{function_name = 'mc_ack', callback = ack, flags = {'allow-oom'}}
redis.register_function{function_name = 'mc_queued', callback = queued, flags = {'allow-oom'}}
`;

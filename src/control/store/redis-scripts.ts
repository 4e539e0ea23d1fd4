import type { Redis } from 'ioredis'

/**
 * The Lua scripts of the Redis store. Each runs atomically in Redis, so a
 * compare-and-set, its history entry and its announcement happen together
 * or not at all. They are registered with `defineCommand`, which sends
 * EVALSHA and falls back to EVAL on NOSCRIPT (a restarted Redis forgot them).
 */

/**
 * KEYS: state, history. ARGV: expected stored version, new state JSON,
 * history entry JSON, history cap, channel, deadline (ms on Redis' own
 * clock; 0: none).
 * Returns {1} stored; {0, current} or {0} (empty) when the stored version is
 * not the expected one; {-1, current} when the stored state is not JSON;
 * {-2, now} when the script runs after its deadline: a write its caller
 * already gave up on (and answered 503) must never happen later, e.g. when a
 * stalled server (SIGSTOP, a long fork) wakes up with it in its buffer.
 */
const COMMIT = `
local deadline = tonumber(ARGV[6])
if deadline and deadline > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now > deadline then return {-2, tostring(now)} end
end
local cur = redis.call('GET', KEYS[1])
local stored = 0
if cur then
  local ok, doc = pcall(cjson.decode, cur)
  if not ok or type(doc) ~= 'table' or tonumber(doc.version) == nil then return {-1, cur} end
  stored = tonumber(doc.version)
end
if stored ~= tonumber(ARGV[1]) then
  if cur then return {0, cur} end
  return {0}
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
redis.call('PUBLISH', ARGV[5], ARGV[2])
return {1}
`

/**
 * KEYS: state. ARGV: state JSON, its version, mode, channel.
 * Mode 'empty' stores only when nothing is stored (initialize, write-back
 * after Redis lost its data); mode 'older' also replaces a stored state with
 * a lower version (Redis came back from an older snapshot or a lagging
 * replica was promoted). A stored state that is not JSON is never replaced.
 * Returns {1, stored JSON} when it stored, {0, current JSON} otherwise.
 */
const RESTORE = `
local cur = redis.call('GET', KEYS[1])
if cur then
  if ARGV[3] ~= 'older' then return {0, cur} end
  local ok, doc = pcall(cjson.decode, cur)
  if not ok or type(doc) ~= 'table' or tonumber(doc.version) == nil then return {0, cur} end
  if tonumber(doc.version) >= tonumber(ARGV[2]) then return {0, cur} end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[1])
return {1, ARGV[1]}
`

/** Outcome of the commit script. */
export type CommitReply =
  | { kind: 'stored' }
  | { kind: 'mismatch'; current: string | null }
  | { kind: 'corrupt'; current: string }
  /** the script ran after its deadline and changed nothing; `lateMs` past it */
  | { kind: 'late'; lateMs: number }

/** Outcome of the restore script: whether it stored, and what is stored now. */
export interface RestoreReply {
  stored: boolean
  current: string
}

export interface StoreKeys {
  state: string
  history: string
  channel: string
}

/** Typed calls of the store's scripts on one client. */
export interface StoreScripts {
  commit(expected: number, stateJson: string, entryJson: string, historyLimit: number, deadline?: number): Promise<CommitReply>
  restore(stateJson: string, version: number, mode: 'empty' | 'older'): Promise<RestoreReply>
}

type RawReply = [number, string?]

interface DefinedCommands {
  switchyardCommit(...args: (string | number)[]): Promise<RawReply>
  switchyardRestore(...args: (string | number)[]): Promise<RawReply>
}

/** Registers the scripts on `client` and returns typed wrappers. */
export function defineStoreScripts(client: Redis, keys: StoreKeys): StoreScripts {
  client.defineCommand('switchyardCommit', { numberOfKeys: 2, lua: COMMIT })
  client.defineCommand('switchyardRestore', { numberOfKeys: 1, lua: RESTORE })
  // defineCommand adds methods at run time; this is their shape.
  const cmd = client as unknown as DefinedCommands
  return {
    async commit(expected, stateJson, entryJson, historyLimit, deadline = 0) {
      const [code, current] = await cmd.switchyardCommit(
        keys.state,
        keys.history,
        expected,
        stateJson,
        entryJson,
        historyLimit,
        keys.channel,
        deadline,
      )
      if (code === 1) return { kind: 'stored' }
      if (code === -2) return { kind: 'late', lateMs: Number(current) - deadline }
      if (code === -1) return { kind: 'corrupt', current: current ?? '' }
      return { kind: 'mismatch', current: current ?? null }
    },
    async restore(stateJson, version, mode) {
      const [code, current] = await cmd.switchyardRestore(keys.state, stateJson, version, mode, keys.channel)
      return { stored: code === 1, current: current ?? stateJson }
    },
  }
}

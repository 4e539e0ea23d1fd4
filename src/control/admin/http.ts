import type { FastifyReply, FastifyRequest } from 'fastify'
import { SwitchyardError } from '../../errors.js'
import type { WriteOptions, WriteResult } from '../types.js'

/** The header a client names itself in (the CLI sends `cli:<os user>`). */
export const ACTOR_HEADER = 'x-switchyard-actor'
export const DEFAULT_ACTOR = 'admin-api'

/** The ETag of a state version: `"7"`. */
export function etag(version: number): string {
  return `"${version}"`
}

/**
 * Parses If-Match: `"7"` or a bare `7` → 7; absent or `*` → undefined (any
 * version). Anything else (lists, weak tags, junk) is BAD_REQUEST: a write
 * guarded by a condition we cannot read must not run unguarded.
 */
export function parseIfMatch(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined
  const v = (Array.isArray(header) ? header.join(',') : header).trim()
  if (v === '*') return undefined
  const m = /^(?:"([0-9]{1,15})"|([0-9]{1,15}))$/.exec(v)
  if (m === null) {
    throw new SwitchyardError('BAD_REQUEST', `If-Match must be a version like "7" (or *), got ${JSON.stringify(v)}`)
  }
  return Number(m[1] ?? m[2])
}

/** Whether If-None-Match names `version` (or is `*`); weak tags count, as for GET. */
export function noneMatch(header: string | undefined, version: number): boolean {
  if (header === undefined) return false
  const want = String(version)
  for (const raw of header.split(',')) {
    const t = raw.trim()
    if (t === '*') return true
    const tag = t.startsWith('W/') ? t.slice(2) : t
    if (tag === `"${want}"` || tag === want) return true
  }
  return false
}

/** Who asks: the actor header when given (trimmed, at most 200 chars), else "admin-api". */
export function actorOf(req: FastifyRequest): string {
  const h = req.headers[ACTOR_HEADER]
  const v = (Array.isArray(h) ? h[0] : h)?.trim()
  if (v === undefined || v === '') return DEFAULT_ACTOR
  if (v.length > 200 || /[\u0000-\u001f\u007f]/.test(v)) {
    throw new SwitchyardError('BAD_REQUEST', `${ACTOR_HEADER} must be at most 200 printable characters`)
  }
  return v
}

/** WriteOptions of a request: actor, If-Match, and the body's reason/force. */
export function writeOptions(req: FastifyRequest, body: { reason?: string; force?: boolean } = {}): WriteOptions {
  const o: WriteOptions = { actor: actorOf(req), reason: body.reason ?? null }
  const ifMatch = parseIfMatch(req.headers['if-match'])
  if (ifMatch !== undefined) o.ifMatch = ifMatch
  if (body.force === true) o.force = true
  return o
}

/** Sends a write's answer `{changed, state, entry, converged}` with the new ETag. */
export function sendWrite(reply: FastifyReply, result: WriteResult): WriteResult {
  reply.header('etag', etag(result.state.version))
  return { changed: result.changed, state: result.state, entry: result.entry, converged: result.converged }
}

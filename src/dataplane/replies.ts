import { STATUS_CODES, type ServerResponse } from 'node:http'
import { ERRORS, type ErrorCode } from '../errors.js'
import { COLOR_HEADER } from './headers.js'

/**
 * The router's own answers (502, 503, 504, 413, 429, 400), with JSON bodies in the
 * contract's `{"error": {"code", "message"}}` shape. Bodies and header lists
 * are built once per color at start; sending one allocates nothing new.
 */
export type ReplyCode = Extract<
  ErrorCode,
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_BUSY'
  | 'PAYLOAD_TOO_LARGE'
  | 'BAD_REQUEST'
  | 'TOO_MANY_TUNNELS'
  | 'CLIENT_LIMIT'
  | 'UNKNOWN_HOST'
>

export interface Reply {
  status: number
  body: Buffer
  /** flat header list for `writeHead`; with the color when it is exposed */
  headers: string[]
}

const CODES: readonly ReplyCode[] = [
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_TIMEOUT',
  'UPSTREAM_BUSY',
  'PAYLOAD_TOO_LARGE',
  'BAD_REQUEST',
  'TOO_MANY_TUNNELS',
  'CLIENT_LIMIT',
  'UNKNOWN_HOST',
]

/** A reply per code, for one color (or none when the color is hidden). */
export type Replies = Readonly<Record<ReplyCode, Reply>>

/** Builds the replies of one color; `color` null leaves the color header out. */
export function buildReplies(color: string | null): Replies {
  const out = {} as Record<ReplyCode, Reply>
  for (const code of CODES) {
    const { status, message } = ERRORS[code]
    const body = Buffer.from(JSON.stringify({ error: { code, message } }))
    const headers = ['content-type', 'application/json; charset=utf-8', 'content-length', String(body.length), 'cache-control', 'no-store']
    if (color !== null) headers.push(COLOR_HEADER, color)
    out[code] = Object.freeze({ status, body, headers })
  }
  return Object.freeze(out)
}

/**
 * Sends a prebuilt reply, plus a Set-Cookie when the router issued an id.
 * With `close` the connection is not kept alive (a request body was left
 * unread, e.g. on 413).
 */
export function sendReply(res: ServerResponse, reply: Reply, setCookie: string | null, close: boolean): void {
  if (close) res.shouldKeepAlive = false
  if (setCookie === null) res.writeHead(reply.status, reply.headers)
  else res.writeHead(reply.status, reply.headers.concat('set-cookie', setCookie))
  res.end(reply.body)
}

/** The raw HTTP/1.1 form of a reply, for a socket that asked for an upgrade. */
export function rawReply(reply: Reply): Buffer {
  const lines = [`HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Error'}`]
  for (let i = 0; i < reply.headers.length; i += 2) lines.push(`${reply.headers[i]}: ${reply.headers[i + 1]}`)
  lines.push('connection: close', '', '')
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), reply.body])
}

import type { FastifyReply, FastifyRequest } from 'fastify'
import { isIP } from 'node:net'
import { replyError } from './errors.js'

/**
 * Guards the admin API against the browser: a web page the operator has
 * open must neither change the router nor read it.
 *
 * - A cross-site `fetch(url, {method: 'POST', mode: 'no-cors'})` is sent
 *   without a preflight when its Content-Type is one of the "simple" ones
 *   (text/plain, form encodings). Writes therefore need
 *   `Content-Type: application/json`, which a page can only send after a
 *   preflight the admin API never grants (415 otherwise, empty body or not).
 * - A browser names the page's origin in `Origin` on every cross-origin call
 *   and on same-origin writes; any origin other than the listener's own is
 *   refused (403 FORBIDDEN_ORIGIN). Non-browser clients (the CLI, curl) send
 *   no `Origin` and are not affected.
 * - DNS rebinding: a page on `evil.example` whose name is re-pointed at
 *   127.0.0.1 is "same origin" with the admin API, but its requests carry
 *   `Host: evil.example`. When the listener is on loopback, a Host that is not
 *   a loopback name or address is refused too.
 */

/** Methods that change something; they need a JSON Content-Type. */
const WRITES: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export interface OriginGuardOptions {
  /** the admin listener's host is a loopback address/name: check `Host` against DNS rebinding */
  loopback: boolean
}

/** `host[:port]` → host, lower-cased, IPv6 brackets removed; null when malformed. */
export function hostName(hostHeader: string): string | null {
  const h = hostHeader.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    if (end === -1) return null
    const rest = h.slice(end + 1)
    if (rest !== '' && !/^:[0-9]{1,5}$/.test(rest)) return null
    return h.slice(1, end)
  }
  const m = /^([^:]+)(?::[0-9]{1,5})?$/.exec(h)
  return m === null ? null : m[1]
}

/** `localhost`, `*.localhost` (RFC 6761: browsers resolve them to loopback), 127.0.0.0/8 and ::1. */
export function isLoopbackName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name
  if (n === 'localhost' || n.endsWith('.localhost')) return true
  const v = isIP(n)
  if (v === 4) return n.startsWith('127.')
  if (v === 6) return n === '::1' || n === '0:0:0:0:0:0:0:1' || n === '::ffff:127.0.0.1'
  return false
}

/** Whether `origin` (an Origin header) is the listener's own, reached as `host`. */
export function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false
  const o = origin.trim().toLowerCase()
  const h = host.trim().toLowerCase()
  // Behind a TLS terminator the page's origin is https://; the host is what matters.
  return o === `http://${h}` || o === `https://${h}`
}

/** `application/json`, with or without parameters (`; charset=utf-8`). */
function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';')[0].trim().toLowerCase() === 'application/json'
}

/**
 * The `onRequest` hook with the three checks above; registered on the root
 * before the auth hook, so a refused page never learns whether a token
 * would have worked. Refusals close the connection: the body is not read.
 */
export function createOriginGuard(o: OriginGuardOptions): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async function originGuard(req, reply) {
    const host = req.headers.host
    if (o.loopback) {
      const name = host === undefined ? null : hostName(host)
      if (name === null || !isLoopbackName(name)) {
        reply.header('connection', 'close')
        await replyError(
          reply,
          'FORBIDDEN_ORIGIN',
          `Host ${JSON.stringify(host ?? '')} is not a loopback name or address; the admin API listens on loopback only`,
        )
        return
      }
    }
    const origin = req.headers.origin
    if (origin !== undefined && !isOwnOrigin(origin, host)) {
      reply.header('connection', 'close')
      await replyError(
        reply,
        'FORBIDDEN_ORIGIN',
        `Requests from origin ${JSON.stringify(origin)} are refused; only the admin API's own pages may call it`,
      )
      return
    }
    if (WRITES.has(req.method) && !isJson(req.headers['content-type'])) {
      reply.header('connection', 'close')
      await replyError(reply, 'BAD_REQUEST', `${req.method} needs Content-Type: application/json (also without a body)`, undefined, 415)
    }
  }
}

import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { replyError } from './errors.js'

/** What the auth hook needs from the config. */
export interface AuthOptions {
  /** the bearer token; undefined = no auth (loopback admin only, see config) */
  token: string | undefined
  /** leave `GET /metrics` open for scrapers */
  metricsPublic: boolean
}

/** Paths that never need the token: probes, and /metrics when public (and the dashboard's files, see isUiPath). */
function publicPaths(o: AuthOptions): ReadonlySet<string> {
  const paths = new Set(['/healthz', '/readyz'])
  if (o.metricsPublic) paths.add('/metrics')
  return paths
}

/** The dashboard's static files: they hold no data, the page asks for the token itself. */
function isUiPath(path: string): boolean {
  return path === '/ui' || path.startsWith('/ui/')
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/**
 * Whether `given` equals the token, in time independent of where they
 * differ: both are hashed first, so the comparison has equal lengths.
 */
export function tokenMatches(expected: Buffer, given: string): boolean {
  return timingSafeEqual(expected, digest(given))
}

/** Whether the request announces a body (which an onRequest refusal leaves unread). */
export function hasBody(req: FastifyRequest): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/**
 * The `onRequest` hook that asks for `Authorization: Bearer <token>` on every
 * route but the public ones. Registered once on the root, it covers the
 * plugins registered after it too. Unknown paths need the token as well, so
 * an anonymous caller cannot probe which routes exist.
 */
export function createAuthHook(o: AuthOptions): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const open = publicPaths(o)
  const expected = o.token === undefined ? null : digest(o.token)
  return async function auth(req, reply) {
    if (expected === null) return
    const q = req.url.indexOf('?')
    const path = q === -1 ? req.url : req.url.slice(0, q)
    if (open.has(path) || isUiPath(path)) return
    const header = req.headers.authorization
    const m = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header)
    if (m === null || !tokenMatches(expected, m[1])) {
      reply.header('www-authenticate', 'Bearer realm="switchyard"')
      // The body is not read: keeping the connection would leave an anonymous
      // client free to trickle it for as long as it likes.
      if (hasBody(req)) reply.header('connection', 'close')
      await replyError(
        reply,
        'UNAUTHORIZED',
        header === undefined ? 'Authorization: Bearer <token> is required' : 'The bearer token is not valid',
      )
    }
  }
}

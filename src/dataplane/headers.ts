import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { OVERRIDE_HEADER, OVERRIDE_SECRET_HEADER } from '../routing/index.js'

/**
 * Header the router adds to upstream requests and (optionally) responses:
 * the header a client sends to ask for a color (routing's OVERRIDE_HEADER),
 * so the name is written once, in routing/decide.ts.
 */
export const COLOR_HEADER = OVERRIDE_HEADER
/** Header naming the cohort that matched, on upstream requests. */
export const COHORT_HEADER = 'x-switchyard-cohort'

/** Hop-by-hop headers (RFC 9110 §7.6.1): meaningful for one connection only. */
const HOP_BY_HOP: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]

/**
 * Request headers never forwarded as they came: hop-by-hop ones (RFC 9110
 * §7.6.1), `expect` (node already answered 100-continue), the router's own
 * headers a client could forge, and the override secret, which must never
 * reach a service. `x-forwarded-for` is re-added with the client appended.
 */
const DROP_REQUEST: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'http2-settings',
  'expect',
  COLOR_HEADER,
  COHORT_HEADER,
  OVERRIDE_SECRET_HEADER,
  'x-forwarded-for',
])

/** Response headers dropped: hop-by-hop, and the upstream's own color header. */
const DROP_RESPONSE: ReadonlySet<string> = new Set([...HOP_BY_HOP, COLOR_HEADER])

/** Lengths of the names in DROP_RESPONSE: other names skip the lower-casing. */
const DROP_RESPONSE_LEN = new Uint8Array(32)
for (const n of DROP_RESPONSE) DROP_RESPONSE_LEN[n.length] = 1

/**
 * Why a request head the HTTP parser accepted must still not be forwarded,
 * or null when it may be:
 * - a target that is not origin-form (`/path`): absolute-form is for forward
 *   proxies, `*` for OPTIONS to the server itself;
 * - more than one `Host` header: node keeps the first, an upstream might read
 *   the last (RFC 9112 §3.2: answer 400).
 *
 * Allocation-free: one pass over the raw header names.
 */
export function requestHeadProblem(req: IncomingMessage): string | null {
  const url = req.url as string
  if (url.charCodeAt(0) !== 0x2f) return 'request target is not a path'
  const raw = req.rawHeaders
  let hosts = 0
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]
    if (n.length === 4 && (n.charCodeAt(0) | 0x20) === 0x68 && n.toLowerCase() === 'host') hosts++
  }
  return hosts > 1 ? 'more than one Host header' : null
}

/** Names a Connection header may not strip: the request needs them end to end. */
const KEEP_END_TO_END: ReadonlySet<string> = new Set(['host'])

/**
 * Names listed in a Connection header are hop-by-hop too. Only unusual
 * values pay for the split; `keep-alive`, `close` and `upgrade` are common.
 */
function connectionTokens(v: string | undefined): string[] | null {
  if (v === undefined) return null
  const lower = v.toLowerCase()
  if (lower === 'keep-alive' || lower === 'close' || lower === 'upgrade') return null
  const out: string[] = []
  const parts = lower.split(',')
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i].trim()
    if (p !== '' && p !== 'keep-alive' && p !== 'close' && !KEEP_END_TO_END.has(p)) out.push(p)
  }
  return out.length > 0 ? out : null
}

/**
 * The upstream request's headers as a flat `[name, value, ...]` array (the
 * cheapest form undici accepts): the client's headers without hop-by-hop
 * ones, `Host` kept as the client sent it, `x-forwarded-for` with the client
 * appended, `x-forwarded-proto`/`-host` kept when a load balancer in front
 * set them and added otherwise, plus the router's color and cohort.
 *
 * With `upgrade` set, `connection: upgrade` and `upgrade: <protocol>` are kept
 * (the raw-socket path needs them). With `trustForwarded` false, whatever
 * x-forwarded-* the client sent is replaced: the chain restarts at the client.
 */
export function upstreamHeaders(
  headers: IncomingHttpHeaders,
  color: string,
  cohort: string | null,
  clientIp: string | undefined,
  proto: string,
  upgrade: boolean,
  trustForwarded = true,
): string[] {
  const out: string[] = []
  const extra = connectionTokens(headers.connection)
  let hasProto = false
  let hasHost = false
  for (const name in headers) {
    const v = headers[name]
    if (v === undefined) continue
    if (DROP_REQUEST.has(name)) continue
    if (extra !== null && extra.includes(name)) continue
    if (name === 'x-forwarded-proto') {
      if (!trustForwarded) continue
      hasProto = true
    } else if (name === 'x-forwarded-host') {
      if (!trustForwarded) continue
      hasHost = true
    }
    if (typeof v === 'string') out.push(name, v)
    else for (let i = 0; i < v.length; i++) out.push(name, v[i])
  }
  if (upgrade) {
    out.push('connection', 'upgrade')
    const u = headers.upgrade
    if (u !== undefined) out.push('upgrade', u)
  }
  // node joins repeated x-forwarded-for headers into one string.
  const xff = trustForwarded ? (headers['x-forwarded-for'] as string | undefined) : undefined
  if (clientIp !== undefined) out.push('x-forwarded-for', xff !== undefined && xff !== '' ? xff + ', ' + clientIp : clientIp)
  else if (xff !== undefined) out.push('x-forwarded-for', xff)
  if (!hasProto) out.push('x-forwarded-proto', proto)
  if (!hasHost && headers.host !== undefined) out.push('x-forwarded-host', headers.host)
  out.push(COLOR_HEADER, color)
  if (cohort !== null) out.push(COHORT_HEADER, cohort)
  return out
}

/**
 * The client response's headers as a flat string array, from undici's raw
 * `[name, value, ...]` buffers: hop-by-hop and the upstream's color header
 * dropped, names listed in the upstream's Connection header dropped, bytes
 * kept as latin1 (the way node's own HTTP parser reads them).
 */
export function responseHeaders(raw: Buffer[]): string[] {
  const out: string[] = []
  let connection: string | null = null
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1')
    if (name.length < 32 && DROP_RESPONSE_LEN[name.length] === 1) {
      const lower = name.toLowerCase()
      if (DROP_RESPONSE.has(lower)) {
        if (lower === 'connection') connection = raw[i + 1].toString('latin1')
        continue
      }
    }
    out.push(name, raw[i + 1].toString('latin1'))
  }
  const extra = connectionTokens(connection ?? undefined)
  if (extra === null) return out
  const kept: string[] = []
  for (let i = 0; i < out.length; i += 2) {
    if (!extra.includes(out[i].toLowerCase())) kept.push(out[i], out[i + 1])
  }
  return kept
}

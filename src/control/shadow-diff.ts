/**
 * Shadow diff: the pure comparison of a live answer and the idle color's
 * answer to the same request, and the route a request is grouped under.
 * No sockets, no clock: the recorder (shadow.ts) feeds them.
 */

import type { ShadowAnswer } from '../dataplane/observer.js'

export type { ShadowAnswer }

export interface CompareOptions {
  /** lower-case response headers that must match, besides content-type */
  headers: readonly string[]
  /** JSON field names ignored at any depth */
  ignoreJsonFields: ReadonlySet<string>
  /** diff lines kept per comparison */
  maxDiffLines?: number
}

export type Verdict = 'match' | 'mismatch' | 'skipped'

export interface Comparison {
  verdict: Verdict
  /** readable differences (`$.items[2].price: 10 → 12`); empty on a match */
  diff: string[]
}

/** Header values never shown in a diff. */
const SECRET_HEADERS: ReadonlySet<string> = new Set(['cookie', 'set-cookie', 'authorization', 'proxy-authorization'])
/** Characters of a value or body shown in a diff line. */
export const EXCERPT_CHARS = 40
const DEFAULT_DIFF_LINES = 10

/**
 * Compares two answers: same status, same content-type, same listed headers,
 * same body (JSON as values without the ignored fields; others byte for
 * byte). A body over the size limit on either side: `skipped`.
 *
 * @example
 * compareAnswers(
 *   { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"price":10,"at":1}') },
 *   { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"price":12,"at":2}') },
 *   { headers: [], ignoreJsonFields: new Set(['at']) },
 * ) // → { verdict: 'mismatch', diff: ['$.price: 10 → 12'] }
 */
export function compareAnswers(live: ShadowAnswer, idle: ShadowAnswer, o: CompareOptions): Comparison {
  if (live.body === null || idle.body === null) return { verdict: 'skipped', diff: [] }
  const max = o.maxDiffLines ?? DEFAULT_DIFF_LINES
  const diff: string[] = []
  if (live.status !== idle.status) diff.push(`status: ${live.status} → ${idle.status}`)
  for (const name of ['content-type', ...o.headers]) {
    const a = live.headers[name]
    const b = idle.headers[name]
    if (a !== b) diff.push(`header ${name}: ${headerText(name, a)} → ${headerText(name, b)}`)
  }
  const ct = live.headers['content-type'] ?? idle.headers['content-type'] ?? ''
  const bodyDiff = isJson(ct) ? jsonBodyDiff(live.body, idle.body, o.ignoreJsonFields, max) : null
  if (bodyDiff !== null) diff.push(...bodyDiff)
  else if (!live.body.equals(idle.body)) diff.push(bytesDiff(live.body, idle.body))
  if (diff.length > max) diff.splice(max, diff.length - max, `… and more`)
  return { verdict: diff.length === 0 ? 'match' : 'mismatch', diff }
}

function headerText(name: string, v: string | undefined): string {
  if (v === undefined) return '(absent)'
  return SECRET_HEADERS.has(name) ? '[redacted]' : excerpt(v)
}

/** A short, quoted excerpt of a string (control characters escaped). */
export function excerpt(s: string): string {
  return JSON.stringify(s.length > EXCERPT_CHARS ? s.slice(0, EXCERPT_CHARS) + '…' : s)
}

function isJson(contentType: string): boolean {
  return /^application\/([\w.+-]*\+)?json\b/i.test(contentType.trim())
}

/** The JSON diff of two bodies, or null when either is not JSON (then bytes are compared). */
function jsonBodyDiff(a: Buffer, b: Buffer, ignore: ReadonlySet<string>, max: number): string[] | null {
  let x: unknown
  let y: unknown
  try {
    x = JSON.parse(a.toString('utf8'))
    y = JSON.parse(b.toString('utf8'))
  } catch {
    return null
  }
  const out: string[] = []
  jsonDiff(x, y, ignore, '$', out, max + 1)
  return out
}

/**
 * Differences between two JSON values, as `path: live → idle` lines. Object
 * fields named in `ignore` are skipped at any depth; arrays are compared
 * index by index. Stops after `limit` lines.
 */
export function jsonDiff(a: unknown, b: unknown, ignore: ReadonlySet<string>, path: string, out: string[], limit: number): void {
  if (out.length >= limit) return
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.push(`${path}: length ${a.length} → ${b.length}`)
    const n = Math.min(a.length, b.length)
    for (let i = 0; i < n && out.length < limit; i++) jsonDiff(a[i], b[i], ignore, `${path}[${i}]`, out, limit)
    return
  }
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    for (const k of keys) {
      if (out.length >= limit) return
      if (ignore.has(k)) continue
      const p = path + (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`)
      if (!(k in a)) out.push(`${p}: (absent) → ${valueText(b[k])}`)
      else if (!(k in b)) out.push(`${p}: ${valueText(a[k])} → (absent)`)
      else jsonDiff(a[k], b[k], ignore, p, out, limit)
    }
    return
  }
  if (a !== b) out.push(`${path}: ${valueText(a)} → ${valueText(b)}`)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function valueText(v: unknown): string {
  if (Array.isArray(v)) return `[array of ${v.length}]`
  if (isObject(v)) return '{object}'
  if (typeof v === 'string') return excerpt(v)
  return String(v)
}

function bytesDiff(a: Buffer, b: Buffer): string {
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a[i] === b[i]) i++
  const from = Math.max(0, i - 10)
  const side = (x: Buffer): string => excerpt(x.subarray(from, from + EXCERPT_CHARS).toString('utf8'))
  const sizes = a.length !== b.length ? ` (${a.length} → ${b.length} bytes)` : ''
  return `body: differs at byte ${i}${sizes}: ${side(a)} → ${side(b)}`
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const LONG_HEX = /^[0-9a-f]{16,}$/i
const NUMBER = /^\d+$/
/** Longest route text kept; longer paths are cut (routes are labels, not data). */
const MAX_ROUTE_CHARS = 200

/**
 * The route a request is grouped under: method and path without the query,
 * with ids collapsed to `:id` (numbers, UUIDs, hex of 16+ characters).
 *
 * @example
 * routeOf('GET', '/users/42/orders/9f1c2e4a-1b2c-4d5e-8f90-a1b2c3d4e5f6?x=1') // 'GET /users/:id/orders/:id'
 */
export function routeOf(method: string, url: string): string {
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  const segments = path.split('/')
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]
    if (NUMBER.test(s) || UUID.test(s) || LONG_HEX.test(s)) segments[i] = ':id'
  }
  const route = `${method} ${segments.join('/')}`
  return route.length > MAX_ROUTE_CHARS ? route.slice(0, MAX_ROUTE_CHARS) + '…' : route
}

/** The path of a request without its query (queries may carry tokens). */
export function pathOf(url: string): string {
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  return path.length > MAX_ROUTE_CHARS ? path.slice(0, MAX_ROUTE_CHARS) + '…' : path
}

/**
 * The operator client's HTTP side: one JSON call to the admin API with the
 * bearer token, the actor header and a timeout, so a hung admin never hangs
 * the CLI.
 */

export { DEFAULT_ADMIN_URL } from './commands.js'
export const DEFAULT_TIMEOUT_MS = 30_000

/** The admin API could not be reached at all (exit 4, message names the URL). */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UnreachableError'
  }
}

export interface AdminTarget {
  /** base URL without a trailing slash */
  base: string
  token: string | undefined
  actor: string
  timeoutMs: number
  fetch: typeof fetch
}

/** What the admin answered. */
export interface Answer {
  status: number
  ok: boolean
  /** parsed JSON, or the text when the answer is not JSON */
  body: unknown
}

/** Sends one request; resolves with any HTTP answer, throws UnreachableError on network failure. */
export async function call(
  target: AdminTarget,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const h: Record<string, string> = { accept: 'application/json', 'x-switchyard-actor': target.actor, ...headers }
  if (target.token !== undefined && target.token !== '') h.authorization = `Bearer ${target.token}`
  // Every write carries the JSON type, body or not: the admin API refuses writes
  // without it (a browser page cannot send it cross-site without asking first).
  if (body !== undefined || (method !== 'GET' && method !== 'HEAD')) h['content-type'] = 'application/json'
  const url = `${target.base}${path}`
  let res: Response
  try {
    res = await target.fetch(url, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(target.timeoutMs),
      redirect: 'error',
    })
  } catch (e) {
    throw new UnreachableError(`cannot reach the admin API at ${target.base}: ${networkReason(e, target.timeoutMs)}`)
  }
  let text: string
  try {
    text = await res.text()
  } catch (e) {
    throw new UnreachableError(`the admin API at ${target.base} broke off its answer: ${networkReason(e, target.timeoutMs)}`)
  }
  let parsed: unknown = text
  if (/json/i.test(res.headers.get('content-type') ?? '') && text !== '') {
    try {
      parsed = JSON.parse(text)
    } catch {
      // Keep the text: a proxy in between may have answered.
    }
  }
  return { status: res.status, ok: res.ok, body: parsed }
}

function networkReason(e: unknown, timeoutMs: number): string {
  const err = e as Error & { cause?: { code?: string; message?: string } }
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`
  return err.cause?.code ?? err.cause?.message ?? err.message
}

/** Normalizes and checks an admin base URL; returns null when it is not http(s). */
export function normalizeAdminUrl(s: string): string | null {
  let u: URL
  try {
    u = new URL(s)
  } catch {
    return null
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`
}

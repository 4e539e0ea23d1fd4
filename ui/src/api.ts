/**
 * The admin API as the page calls it: same origin, JSON both ways, the
 * bearer token from sessionStorage, never a cookie (credentials: 'omit')
 * and never the token in a URL.
 */

const TOKEN_KEY = 'switchyard.token'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(message)
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function setToken(value: string | null): void {
  if (value === null) sessionStorage.removeItem(TOKEN_KEY)
  else sessionStorage.setItem(TOKEN_KEY, value)
}

let unauthorized: (e: ApiError) => void = () => {}

/** Called on any 401: the page shows the token form. */
export function onUnauthorized(fn: (e: ApiError) => void): void {
  unauthorized = fn
}

export function authHeaders(): Record<string, string> {
  const t = token()
  return t === null ? {} : { authorization: `Bearer ${t}` }
}

export async function api<T>(
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const h: Record<string, string> = { accept: 'application/json', ...authHeaders(), ...headers }
  const write = method !== 'GET'
  if (write) {
    // Every write is JSON, even an empty one (the admin API refuses others).
    h['content-type'] = 'application/json'
    h['x-switchyard-actor'] = 'dashboard'
  }
  let res: Response
  try {
    res = await fetch(path, {
      method,
      headers: h,
      body: write ? JSON.stringify(body ?? {}) : undefined,
      credentials: 'omit',
      cache: 'no-store',
    })
  } catch (e) {
    throw new ApiError(0, 'UNREACHABLE', `the router did not answer (${(e as Error).message})`, undefined)
  }
  const text = await res.text()
  let json: unknown = null
  try {
    json = text === '' ? null : JSON.parse(text)
  } catch {
    json = null
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)?.error
    const err = new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? (text.slice(0, 200) || res.statusText), e?.details)
    if (res.status === 401) unauthorized(err)
    throw err
  }
  return json as T
}

/** `/v1/apps/<app>/<rest>` with the name escaped. */
export function appPath(app: string, rest: string): string {
  return `/v1/apps/${encodeURIComponent(app)}/${rest}`
}

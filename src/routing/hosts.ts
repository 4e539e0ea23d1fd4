/**
 * Host matching: which app serves a request, from its `Host` header.
 *
 * The table is built once per config (start, reload) and frozen; a lookup is
 * one Map probe for the exact name, then one probe per label for `*.`
 * wildcards (longest suffix first), then the default app.
 *
 * ```
 *   "Shop.Example.com:8080" → "shop.example.com"   lower case, port and trailing dot gone
 *     exact:    shop.example.com                    1 probe
 *     wildcard: *.example.com, *.com (never listed)  1 probe per label, longest first
 *     default:  defaultApp, else null (404 UNKNOWN_HOST)
 * ```
 */

/** How many labels a wildcard lookup walks at most (a hostile Host can be long). */
export const MAX_WILDCARD_PROBES = 16

export interface HostTable<T> {
  /** lower-case exact name → value */
  readonly exact: ReadonlyMap<string, T>
  /** wildcard suffix with its leading dot (".shop.example.com") → value */
  readonly wildcards: ReadonlyMap<string, T>
  /** served when nothing matches; null: unknown hosts are refused */
  readonly fallback: T | null
  /**
   * true when the fallback is the only entry: every host gets it, so the
   * Host header need not even be read (the single-app shape).
   */
  readonly catchAll: boolean
}

/**
 * Builds a host table. `entries` pairs each value with its host patterns
 * (lower case, as the config validated them: exact names and `*.` wildcards).
 */
export function compileHosts<T>(entries: readonly (readonly [T, readonly string[]])[], fallback: T | null): HostTable<T> {
  const exact = new Map<string, T>()
  const wildcards = new Map<string, T>()
  for (const [value, hosts] of entries) {
    for (const h of hosts) {
      if (h.startsWith('*.')) wildcards.set(h.slice(1), value)
      else exact.set(h, value)
    }
  }
  return Object.freeze({ exact, wildcards, fallback, catchAll: exact.size === 0 && wildcards.size === 0 })
}

/**
 * The host name of a `Host` header value: lower case, without port or
 * trailing dot. IPv6 literals keep their brackets (`[::1]`).
 */
export function hostName(header: string): string {
  let end = header.length
  if (header.charCodeAt(0) === 0x5b /* [ */) {
    const close = header.indexOf(']')
    end = close < 0 ? end : close + 1
  } else {
    const colon = header.lastIndexOf(':')
    if (colon >= 0) end = colon
  }
  if (end > 0 && header.charCodeAt(end - 1) === 0x2e /* . */) end--
  const name = end === header.length ? header : header.slice(0, end)
  // Most clients send lower case already; lower-casing allocates only when needed.
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c >= 0x41 && c <= 0x5a) return name.toLowerCase()
  }
  return name
}

/** The value serving `host` (a raw Host header value; undefined when absent). */
export function matchHost<T>(table: HostTable<T>, host: string | undefined): T | null {
  if (table.catchAll || host === undefined) return table.fallback
  const name = hostName(host)
  const hit = table.exact.get(name)
  if (hit !== undefined) return hit
  if (table.wildcards.size > 0) {
    // Suffixes from the longest (".b.example.com" of "a.b.example.com") down.
    let dot = name.indexOf('.')
    for (let probes = 0; dot >= 0 && probes < MAX_WILDCARD_PROBES; probes++) {
      const w = table.wildcards.get(name.slice(dot))
      if (w !== undefined) return w
      dot = name.indexOf('.', dot + 1)
    }
  }
  return table.fallback
}

/**
 * Host matching: which app serves a request, from its `Host` header.
 *
 * The table is built once per config (start, reload) and frozen; a lookup is
 * one Map probe for the exact name, then one probe per label for `*.`
 * wildcards (longest suffix first), then the default app. Results are kept
 * by the Host header as sent (bounded), so a repeated Host costs one probe.
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

/**
 * Resolved Host headers kept per table: a router sees few distinct Host
 * values, so the usual lookup is one probe with the header as it came (no
 * port split, no lower-casing, no wildcard walk). Random hosts from a
 * hostile client only refill it: it is emptied when full.
 */
export const MAX_SEEN_HOSTS = 1024
/** Longer Host headers are resolved every time, never kept (a DNS name has at most 253 characters). */
export const MAX_SEEN_HOST_LENGTH = 260

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
  /** Host header as sent → result, at most MAX_SEEN_HOSTS; the only mutable part, and it only caches */
  readonly seen: Map<string, T | null>
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
  return Object.freeze({ exact, wildcards, fallback, catchAll: exact.size === 0 && wildcards.size === 0, seen: new Map() })
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
  const seen = table.seen.get(host)
  if (seen !== undefined) return seen
  const value = resolveHost(table, host)
  if (host.length <= MAX_SEEN_HOST_LENGTH) {
    if (table.seen.size >= MAX_SEEN_HOSTS) table.seen.clear()
    table.seen.set(host, value)
  }
  return value
}

/** The lookup itself: exact name, then wildcards longest first, then the fallback. */
function resolveHost<T>(table: HostTable<T>, host: string): T | null {
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

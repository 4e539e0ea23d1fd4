/**
 * URLs the schema's patterns let through but `new URL` (and so the data
 * plane, at its first request) would refuse: `http://host:99999`, `http://[::1`.
 * Checked once at load so the error names the key, not "Invalid URL" later.
 *
 * The walk is by key name (every `targets` and `webhooks` list, at any
 * depth), so per-app upstreams are covered the same way as top-level ones.
 */

const URL_LISTS: ReadonlySet<string> = new Set(['targets', 'webhooks'])

/** One problem line per bad URL, each naming its key (`upstreams.blue.targets.0: ...`). */
export function targetUrlProblems(config: unknown): string[] {
  const problems: string[] = []
  walk(config, [], problems)
  return problems
}

function walk(v: unknown, path: string[], problems: string[]): void {
  if (typeof v !== 'object' || v === null) return
  for (const [k, x] of Object.entries(v)) {
    if (URL_LISTS.has(k) && Array.isArray(x)) {
      x.forEach((u, i) => {
        if (typeof u !== 'string') return
        const problem = urlProblem(u)
        if (problem !== null) problems.push(`${[...path, k, String(i)].join('.')}: ${problem}`)
      })
    } else {
      walk(x, [...path, k], problems)
    }
  }
}

/** Why `s` is not a usable http(s) URL, or null when it is. */
export function urlProblem(s: string): string | null {
  let u: URL | null = null
  try {
    u = new URL(s)
  } catch {
    // Say why when the reason is a port out of range, the common slip.
  }
  const port = u !== null ? u.port : /^https?:\/\/(?:\[[^\]]*\]|[^/:?#[\]]*):([0-9]+)(?:[/?#]|$)/i.exec(s)?.[1]
  if (port !== undefined && port !== '' && (Number(port) < 1 || Number(port) > 65535)) {
    return `port must be from 1 to 65535, got ${JSON.stringify(port)} in ${JSON.stringify(s)}`
  }
  return u === null ? `not a valid URL: ${JSON.stringify(s)}` : null
}

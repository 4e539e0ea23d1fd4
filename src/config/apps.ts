import { APP_NAME_PATTERN, APP_SECTIONS, DEFAULT_APP, type AppConfig, type RawConfig } from './schema.js'

/**
 * Turns the file's two shapes into one list of apps:
 *
 * - single app: top-level `upstreams` → the app `default`, no hosts, and it
 *   is the default app (it serves every host);
 * - many apps: `apps.<name>` → each app's sections are its own value merged
 *   key by key over the top-level one (`autoRevert: {maxErrorRate: 0.01}`
 *   changes one threshold and keeps the rest).
 *
 * Problems are pushed to `problems`, each naming its key.
 */
export function resolveApps(raw: RawConfig, problems: string[]): { apps: AppConfig[]; defaultApp: string | null } {
  if (raw.upstreams !== undefined && raw.apps !== undefined) {
    problems.push('upstreams, apps: use one of them (upstreams is the single-app shape, apps the many-apps one)')
    return { apps: [], defaultApp: null }
  }
  if (raw.upstreams !== undefined) {
    if (raw.defaultApp !== undefined && raw.defaultApp !== DEFAULT_APP) {
      problems.push(`defaultApp: the single-app shape has one app, "${DEFAULT_APP}"; got ${JSON.stringify(raw.defaultApp)}`)
    }
    return { apps: [appOf(raw, DEFAULT_APP, [], { upstreams: raw.upstreams })], defaultApp: DEFAULT_APP }
  }
  if (raw.apps === undefined || Object.keys(raw.apps).length === 0) {
    problems.push(raw.apps === undefined ? 'upstreams: required (or apps, for many apps)' : 'apps: must name at least one app')
    return { apps: [], defaultApp: null }
  }
  const apps: AppConfig[] = []
  /** host → app that claims it */
  const owners = new Map<string, string>()
  for (const [name, input] of Object.entries(raw.apps)) {
    if (!APP_NAME_PATTERN.test(name)) {
      problems.push(`apps.${name}: app names are 1–63 lower-case letters, digits and -, starting with a letter or digit`)
      continue
    }
    const hosts: string[] = []
    input.hosts.forEach((h, i) => {
      const host = normalizeHostPattern(h)
      if (host === null) {
        problems.push(
          `apps.${name}.hosts.${i}: must be a host name or "*." and a host name, without port or scheme, got ${JSON.stringify(h)}`,
        )
        return
      }
      const owner = owners.get(host)
      if (owner !== undefined) problems.push(`apps.${name}.hosts.${i}: ${host} is also a host of app ${owner}`)
      else owners.set(host, name)
      hosts.push(host)
    })
    if (hosts.length === 0 && raw.defaultApp !== name) {
      problems.push(`apps.${name}.hosts: required (an app without hosts gets traffic only as defaultApp)`)
    }
    apps.push(appOf(raw, name, hosts, input))
  }
  let defaultApp: string | null = null
  if (raw.defaultApp !== undefined) {
    if (raw.apps[raw.defaultApp] === undefined) {
      problems.push(`defaultApp: ${JSON.stringify(raw.defaultApp)} is not an app (apps: ${Object.keys(raw.apps).join(', ')})`)
    } else defaultApp = raw.defaultApp
  }
  return { apps, defaultApp }
}

function appOf(raw: RawConfig, name: string, hosts: string[], own: Record<string, unknown>): AppConfig {
  const app: Record<string, unknown> = { name, hosts, upstreams: own.upstreams }
  for (const key of APP_SECTIONS) {
    const mine = own[key] as Record<string, unknown> | undefined
    app[key] = mine === undefined ? raw[key] : { ...raw[key], ...mine }
  }
  // mirror.compare is itself a section: an app's maxMismatchRate keeps the top level's minSamples.
  const mirror = own.mirror as { compare?: Record<string, unknown> } | undefined
  if (mirror?.compare !== undefined) app.mirror = { ...raw.mirror, ...mirror, compare: { ...raw.mirror.compare, ...mirror.compare } }
  return app as unknown as AppConfig
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/

/**
 * A host as the config names it: lower case, no trailing dot; an exact name
 * or `*.` followed by at least two labels (`*.com` would take a whole TLD).
 * IP addresses are exact names too. Null when it is not a host name.
 */
export function normalizeHostPattern(h: string): string | null {
  let host = h.trim().toLowerCase()
  if (host.endsWith('.')) host = host.slice(0, -1)
  const wildcard = host.startsWith('*.')
  const name = wildcard ? host.slice(2) : host
  if (name.length === 0 || name.length > 253) return null
  if (/^\[[0-9a-f:.]+\]$/.test(name) && !wildcard) return name
  const labels = name.split('.')
  if (!labels.every((l) => LABEL.test(l))) return null
  if (wildcard && labels.length < 2) return null
  return host
}

import { readFileSync } from 'node:fs'
import { extname, resolve, dirname } from 'node:path'
import { Value, type ValueError } from '@sinclair/typebox/value'
import { parse as parseYaml } from 'yaml'
import { SwitchyardError } from '../errors.js'
import { resolveApps } from './apps.js'
import {
  AppInputSchema,
  ConfigSchema,
  FileStore,
  RedisStore,
  TOKEN_DESCRIPTION,
  TOKEN_PATTERN,
  type Config,
  type RawConfig,
} from './schema.js'
import { targetUrlProblems } from './urls.js'

/**
 * Config is read, overridden from the environment, defaulted and validated
 * once, at the edge, then frozen. Everything inside trusts its types.
 */

/** A config error: one line per problem, each naming the key. */
export class ConfigError extends SwitchyardError {
  readonly problems: string[]
  constructor(problems: string[]) {
    super('CONFIG_INVALID', `invalid config:\n  ${problems.join('\n  ')}`)
    this.problems = problems
  }
}

const isLoopback = (host: string) => host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.')

function keyOf(path: string): string {
  return path.replace(/^\//, '').split('/').join('.') || '(root)'
}

function describe(e: ValueError): string {
  const key = keyOf(e.path)
  // TypeBox reports a missing property at the property's own path.
  if (/required property/i.test(e.message)) return `${key}: required`
  if (/unexpected property/i.test(e.message)) return `${key}: unknown key`
  const description = (e.schema as { description?: string }).description
  if (description !== undefined && /pattern|match/i.test(e.message)) {
    // Secrets are named, never echoed: the error goes to logs.
    return /(token|secret)$/i.test(key)
      ? `${key}: must be ${description}`
      : `${key}: must be ${description}, got ${JSON.stringify(e.value)}`
  }
  return `${key}: ${e.message.toLowerCase()}`
}

/** Parses YAML or JSON text; JSON is chosen by the file name, YAML otherwise. */
export function parseConfigText(text: string, fileName: string): unknown {
  try {
    return extname(fileName).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text)
  } catch (e) {
    throw new ConfigError([`${fileName}: cannot parse: ${(e as Error).message.split('\n')[0]}`])
  }
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj
  for (const p of path.slice(0, -1)) {
    if (typeof o[p] !== 'object' || o[p] === null) o[p] = {}
    o = o[p] as Record<string, unknown>
  }
  o[path[path.length - 1]] = value
}

/** Applies the contract's environment overrides to a raw config object. */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = []
  const port = (name: string, path: string[]) => {
    const v = env[name]
    if (v === undefined || v === '') return
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0 || n > 65535) problems.push(`${name}: must be a port number, got "${v}"`)
    else setPath(raw, path, n)
  }
  port('SWITCHYARD_LISTEN_PORT', ['listen', 'port'])
  port('SWITCHYARD_ADMIN_PORT', ['admin', 'port'])
  const token = env.SWITCHYARD_ADMIN_TOKEN
  if (token !== undefined && token !== '') {
    if (!TOKEN_PATTERN.test(token)) problems.push(`SWITCHYARD_ADMIN_TOKEN: must be ${TOKEN_DESCRIPTION}`)
    else setPath(raw, ['admin', 'token'], token)
  }
  if (env.SWITCHYARD_REDIS_URL) {
    // The URL replaces the file's url only: prefix, cachePath, sentinels and
    // name of a redis store stay; a file store becomes a redis one.
    const store = raw.store
    const own =
      typeof store === 'object' && store !== null && (store as Record<string, unknown>).type === 'redis'
        ? (store as Record<string, unknown>)
        : {}
    raw.store = { ...own, type: 'redis', url: env.SWITCHYARD_REDIS_URL }
  }
  return problems
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o)
    for (const v of Object.values(o)) deepFreeze(v)
  }
  return o
}

/**
 * Validates a raw config object (already parsed, env applied): fills
 * defaults, checks the schema and the rules a schema cannot say. Throws a
 * ConfigError naming every bad key. `baseDir` resolves a relative store path.
 */
export function validateConfig(raw: unknown, baseDir = process.cwd()): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(['(root): must be a mapping of keys'])
  }
  const input = structuredClone(raw) as Record<string, unknown>
  const problems: string[] = []
  // A union reports every branch's complaint; check the discriminator first
  // so a bad store gives one clear line.
  const store = input.store as Record<string, unknown> | undefined
  if (store !== undefined) {
    if (typeof store !== 'object' || store === null) problems.push('store: must be a mapping')
    else if (store.type === undefined) store.type = 'file'
    else if (store.type !== 'file' && store.type !== 'redis')
      problems.push(`store.type: must be "file" or "redis", got ${JSON.stringify(store.type)}`)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  const seen = new Set<string>()
  if (store !== undefined) {
    // Defaults and errors of the chosen branch only.
    const branch = store.type === 'redis' ? RedisStore : FileStore
    input.store = Value.Default(branch, store)
    for (const e of Value.Errors(branch, input.store)) {
      const line = describe({ ...e, path: `/store${e.path}` })
      if (!seen.has(line.split(':')[0])) problems.push(line)
      seen.add(line.split(':')[0])
    }
  }
  // TypeBox fills no defaults inside a Record's values: do each app's here.
  const apps = input.apps
  if (typeof apps === 'object' && apps !== null && !Array.isArray(apps)) {
    for (const [name, app] of Object.entries(apps)) {
      if (typeof app === 'object' && app !== null) (apps as Record<string, unknown>)[name] = Value.Default(AppInputSchema, app)
    }
  }
  const branchStore = structuredClone(input.store)
  const withDefaults = Value.Default(ConfigSchema, input) as Record<string, unknown>
  // Union defaults would mix the branches' keys; keep the branch's own.
  if (store !== undefined) withDefaults.store = branchStore
  for (const e of Value.Errors(ConfigSchema, withDefaults)) {
    if (e.path === '/store' || e.path.startsWith('/store/')) continue
    const line = describe(e)
    const key = line.split(':')[0]
    // One complaint per key is enough, and union branches repeat themselves.
    if (seen.has(key)) continue
    seen.add(key)
    problems.push(line)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  const file = withDefaults as unknown as RawConfig
  const resolved = resolveApps(file, problems)
  const config = { ...file, apps: resolved.apps, defaultApp: resolved.defaultApp } as unknown as Config & { store: RawConfig['store'] }
  if (!isLoopback(config.admin.host) && config.admin.token === undefined) {
    problems.push(`admin.token: required when admin.host (${config.admin.host}) is not loopback`)
  }
  // On the file's shape, so a bad URL is named as written (apps.shop.upstreams.blue.targets.0).
  problems.push(...targetUrlProblems(file))
  if (config.overrides.secret !== undefined && !config.overrides.enabled) {
    problems.push('overrides.secret: set, but overrides.enabled is false')
  }
  const ports = new Map<number, string>()
  for (const [name, l] of [
    ['listen', config.listen],
    ['admin', config.admin],
    ['preview', config.preview],
  ] as const) {
    if (l === undefined || l.port === 0) continue
    const other = ports.get(l.port)
    if (other !== undefined) problems.push(`${name}.port: ${l.port} is also ${other}.port`)
    ports.set(l.port, name)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  if (config.store.type === 'file') config.store.path = resolve(baseDir, config.store.path)
  else if (config.store.cachePath !== undefined) config.store.cachePath = resolve(baseDir, config.store.cachePath)
  return deepFreeze(config)
}

/**
 * Loads the config: the file (`path`, else SWITCHYARD_CONFIG), environment
 * overrides, defaults, validation. Throws ConfigError on any problem.
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  const file = path ?? env.SWITCHYARD_CONFIG
  if (file === undefined || file === '') {
    throw new ConfigError(['--config: required (or set SWITCHYARD_CONFIG)'])
  }
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new ConfigError([`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`])
  }
  const raw = parseConfigText(text, file)
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([`${file}: must hold a mapping of keys`])
  }
  const envProblems = applyEnv(raw as Record<string, unknown>, env)
  if (envProblems.length > 0) throw new ConfigError(envProblems)
  return validateConfig(raw, dirname(resolve(file)))
}

export { isLoopback }

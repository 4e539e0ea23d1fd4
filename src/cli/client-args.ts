import { parseArgs } from 'node:util'

/**
 * Command-line parsing for the operator client. One `parseArgs` call knows
 * every option; each command then says which it accepts, so a misplaced
 * option is a usage error naming the command instead of being ignored.
 */

/** A usage error: exit code 2, with one line saying what is wrong. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

const OPTIONS = {
  admin: { type: 'string' },
  app: { type: 'string' },
  wait: { type: 'boolean' },
  'wait-timeout': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  to: { type: 'string' },
  force: { type: 'boolean' },
  reason: { type: 'string' },
  'if-match': { type: 'string' },
  color: { type: 'string' },
  header: { type: 'string', multiple: true },
  cookie: { type: 'string', multiple: true },
  users: { type: 'string' },
  'users-file': { type: 'string' },
  percent: { type: 'string' },
  limit: { type: 'string' },
  path: { type: 'string' },
  method: { type: 'string' },
  steps: { type: 'string' },
  'auto-promote': { type: 'boolean' },
  'no-auto-promote': { type: 'boolean' },
} as const

export type OptionName = keyof typeof OPTIONS

export interface ParsedArgs {
  command: string | undefined
  args: string[]
  values: {
    admin?: string
    app?: string
    wait?: boolean
    'wait-timeout'?: string
    json?: boolean
    help?: boolean
    to?: string
    force?: boolean
    reason?: string
    'if-match'?: string
    color?: string
    header?: string[]
    cookie?: string[]
    users?: string
    'users-file'?: string
    percent?: string
    limit?: string
    path?: string
    method?: string
    steps?: string
    'auto-promote'?: boolean
    'no-auto-promote'?: boolean
  }
  /** options given on the command line, in order */
  given: OptionName[]
}

/** Parses argv (without node and script). Throws UsageError on unknown options or missing values. */
export function parseClientArgs(argv: string[]): ParsedArgs {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true, tokens: true })
  } catch (e) {
    // node's messages are clear ("Unknown option '--colour'"); drop its hints about '--'.
    throw new UsageError((e as Error).message.split('. To specify')[0])
  }
  const given = [...new Set((parsed.tokens ?? []).flatMap((t) => (t.kind === 'option' ? [t.name] : [])))]
  const [command, ...args] = parsed.positionals
  return { command, args, values: parsed.values, given }
}

const GLOBAL: readonly OptionName[] = ['admin', 'app', 'json', 'help']

/** Throws UsageError if an option outside `allowed` (and the global ones) was given. */
export function allowOnly(p: ParsedArgs, what: string, allowed: readonly OptionName[]): void {
  for (const name of p.given) {
    if (!GLOBAL.includes(name) && !allowed.includes(name)) throw new UsageError(`${what} does not take --${name}`)
  }
}

/** Throws UsageError unless exactly `n` positional arguments follow the command. */
export function expectArgs(p: ParsedArgs, what: string, names: string[], optional = 0): string[] {
  const min = names.length - optional
  if (p.args.length < min)
    throw new UsageError(
      `${what} needs ${names
        .slice(p.args.length, min)
        .map((n) => `<${n}>`)
        .join(' ')}`,
    )
  if (p.args.length > names.length) throw new UsageError(`${what}: unexpected argument "${p.args[names.length]}"`)
  return p.args
}

const PERCENT = /^(?:100(?:\.0{1,2})?|[0-9]{1,2}(?:\.[0-9]{1,2})?)$/

/** A percent 0–100 with at most two decimals, as the admin API accepts. */
export function parsePercent(s: string, what: string): number {
  if (!PERCENT.test(s)) throw new UsageError(`${what} must be a percent from 0 to 100 with at most two decimals, got "${s}"`)
  return Number(s)
}

/** `k=v` pairs from repeated `--header`/`--cookie` options. */
export function parsePairs(list: string[] | undefined, option: string): Record<string, string> | undefined {
  if (list === undefined || list.length === 0) return undefined
  const out: Record<string, string> = {}
  for (const item of list) {
    const i = item.indexOf('=')
    if (i <= 0) throw new UsageError(`--${option} must be name=value, got "${item}"`)
    out[item.slice(0, i).trim()] = item.slice(i + 1)
  }
  return out
}

/** Rollout steps `10:60,50:60,100:60` → [{percent, holdSeconds}]. */
export function parseSteps(s: string): { percent: number; holdSeconds: number }[] {
  return s.split(',').map((part, i) => {
    const m = /^\s*([^:\s]+)\s*:\s*([0-9]+)\s*$/.exec(part)
    if (m === null) throw new UsageError(`--steps: step ${i + 1} must be percent:holdSeconds (like 10:60), got "${part}"`)
    return { percent: parsePercent(m[1], `--steps: step ${i + 1} percent`), holdSeconds: Number(m[2]) }
  })
}

/** A version for If-Match: `7` or `"7"` → `"7"`. */
export function parseVersion(s: string): string {
  const m = /^"?([0-9]{1,15})"?$/.exec(s.trim())
  if (m === null) throw new UsageError(`--if-match must be a state version like 7, got "${s}"`)
  return `"${m[1]}"`
}

/** App names, as the config allows them. */
export const APP_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/

/** `--app`/SWITCHYARD_APP: an app name, or a UsageError naming the rule. */
export function parseApp(s: string, what: string): string {
  if (!APP_NAME.test(s))
    throw new UsageError(`${what} must be an app name (a-z, 0-9 and -, starting with a letter or digit, at most 63), got "${s}"`)
  return s
}

/** `--wait-timeout`: seconds, more than 0 and at most a day. */
export function parseSeconds(s: string, what: string): number {
  if (!/^[0-9]{1,5}(?:\.[0-9]{1,3})?$/.test(s) || Number(s) <= 0 || Number(s) > 86_400) {
    throw new UsageError(`${what} must be a number of seconds from 0.001 to 86400, got "${s}"`)
  }
  return Number(s)
}

/** A positive integer option. */
export function parsePositiveInt(s: string, what: string): number {
  if (!/^[0-9]{1,6}$/.test(s) || Number(s) < 1) throw new UsageError(`${what} must be a positive integer, got "${s}"`)
  return Number(s)
}

/** One of `allowed`, or a UsageError naming them. */
export function oneOf<T extends string>(s: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(s)) throw new UsageError(`${what} must be one of ${allowed.join(', ')}, got "${s}"`)
  return s as T
}

import type { Io } from './io.js'
import { readFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import type { SmokeCheckResult, SmokeReport, WriteResult } from '../control/types.js'
import type { Cohort, HistoryEntry, State } from '../routing/index.js'
import {
  UsageError,
  allowOnly,
  expectArgs,
  oneOf,
  parseClientArgs,
  parsePairs,
  parsePercent,
  parsePositiveInt,
  parseSteps,
  parseVersion,
  type ParsedArgs,
} from './client-args.js'
import {
  formatCheck,
  formatCohorts,
  formatExplain,
  formatHistory,
  formatHealth,
  formatRollout,
  type HealthView,
  type RolloutView,
  formatInstances,
  formatStatus,
  formatValue,
  formatWrite,
} from './client-format.js'
import { DEFAULT_ADMIN_URL, DEFAULT_TIMEOUT_MS, UnreachableError, call, normalizeAdminUrl, type AdminTarget } from './client-http.js'

/** The commands `runClient` handles; the `switchyard` dispatcher sends these here. */
export const CLIENT_COMMANDS = [
  'status',
  'flip',
  'rollback',
  'canary',
  'cohort',
  'history',
  'smoke',
  'explain',
  'rollout',
  'health',
  'instances',
] as const

export type ClientCommand = (typeof CLIENT_COMMANDS)[number]

export const CLIENT_USAGE = `operator commands (talk to the admin API):
  switchyard status
  switchyard flip [--to blue|green] [--force] [--reason R] [--if-match V]
  switchyard rollback [--reason R] [--if-match V]
  switchyard canary <percent> [--force] [--reason R] [--if-match V]
  switchyard cohort set <name> --color blue|green|idle|live [--header k=v]... [--cookie k=v]...
                               [--users a,b,c] [--users-file F] [--percent P] [--reason R]
  switchyard cohort rm <name> [--reason R]
  switchyard cohort ls
  switchyard history [--limit N]
  switchyard smoke [blue|green]
  switchyard explain [--header k=v]... [--cookie k=v]... [--path P]
  switchyard rollout start --steps 10:60,50:60,100:60 [--auto-promote | --no-auto-promote]
  switchyard rollout pause|resume|abort|promote|status
  switchyard health
  switchyard instances
global: --admin URL (default ${DEFAULT_ADMIN_URL}, or SWITCHYARD_ADMIN_URL), --json (print the raw JSON answer)
token: SWITCHYARD_ADMIN_TOKEN (sent as a bearer token)
exit codes: 0 done, 1 refused or admin unreachable, 2 usage error
`

/** Where the client reads its environment and writes its output (the CLI's `Io`). */
export type ClientIo = Io

/** Test seams; the defaults are what the CLI uses. */
export interface ClientOptions {
  timeoutMs?: number
  fetch?: typeof fetch
}

/** One admin call and how to show its answer. */
interface Plan {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  body?: unknown
  headers?: Record<string, string>
  render: (body: unknown) => string
  /** a successful answer that still means "not ok" for the exit code (smoke checks failing) */
  failed?: (body: unknown) => boolean
}

/**
 * Runs one operator command against the admin API and resolves with the exit
 * code: 0 done, 1 refused (printed as `error CODE: message`) or admin
 * unreachable, 2 usage error.
 *
 * @example
 * await runClient(['canary', '10', '--reason', 'try 1.4'], { env: process.env, stdout, stderr })
 */
export async function runClient(argv: string[], io: ClientIo, opts: ClientOptions = {}): Promise<number> {
  let p: ParsedArgs
  let plan: Plan
  let target: AdminTarget
  try {
    p = parseClientArgs(argv)
    if (p.values.help === true) {
      io.stdout(CLIENT_USAGE)
      return 0
    }
    if (p.command === undefined) throw new UsageError('a command is needed')
    if (!(CLIENT_COMMANDS as readonly string[]).includes(p.command)) throw new UsageError(`unknown command "${p.command}"`)
    const rawUrl = p.values.admin ?? (io.env.SWITCHYARD_ADMIN_URL || DEFAULT_ADMIN_URL)
    const base = normalizeAdminUrl(rawUrl)
    if (base === null) throw new UsageError(`--admin must be an http:// or https:// URL, got "${rawUrl}"`)
    target = {
      base,
      token: io.env.SWITCHYARD_ADMIN_TOKEN,
      actor: `cli:${osUser(io.env)}`,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      fetch: opts.fetch ?? globalThis.fetch,
    }
    plan = await planFor(p.command as ClientCommand, p)
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`usage error: ${e.message}\nrun "switchyard --help" for the commands\n`)
      return 2
    }
    throw e
  }

  let answer
  try {
    answer = await call(target, plan.method, plan.path, plan.body, plan.headers)
  } catch (e) {
    if (e instanceof UnreachableError) {
      io.stderr(`error: ${e.message}\n(is switchyard running? set --admin URL or SWITCHYARD_ADMIN_URL)\n`)
      return 1
    }
    throw e
  }

  if (p.values.json === true) io.stdout(`${JSON.stringify(answer.body, null, 2)}\n`)
  if (!answer.ok) {
    io.stderr(describeRefusal(answer.status, answer.body, target))
    return 1
  }
  if (p.values.json !== true) io.stdout(plan.render(answer.body))
  return plan.failed?.(answer.body) === true ? 1 : 0
}

function osUser(env: NodeJS.ProcessEnv): string {
  const fromEnv = env.USER ?? env.USERNAME ?? env.LOGNAME
  if (fromEnv) return fromEnv
  try {
    return userInfo().username
  } catch {
    // No passwd entry (some containers).
    return 'unknown'
  }
}

/** `error CODE: message`, and each failing smoke check when there are some. */
function describeRefusal(status: number, body: unknown, target: AdminTarget): string {
  const err = (body as { error?: { code?: unknown; message?: unknown; details?: { checks?: unknown } } } | null)?.error
  if (err === undefined || typeof err.code !== 'string') {
    const text = typeof body === 'string' ? body.slice(0, 200) : JSON.stringify(body).slice(0, 200)
    return `error: HTTP ${status} from ${target.base}${text ? `: ${text}` : ''}\n`
  }
  let out = `error ${err.code}: ${String(err.message)}\n`
  const checks = err.details?.checks
  if (Array.isArray(checks)) for (const c of checks as SmokeCheckResult[]) if (!c.ok) out += formatCheck(c)
  if (err.code === 'UNAUTHORIZED' && !target.token) out += 'set SWITCHYARD_ADMIN_TOKEN to the admin token\n'
  if (err.code === 'VERSION_MISMATCH') out += 'the state changed since you read it: run "switchyard status" and decide again\n'
  return out
}

/** If-Match from --if-match, when given. */
function ifMatch(p: ParsedArgs): Record<string, string> | undefined {
  const v = p.values['if-match']
  return v === undefined ? undefined : { 'if-match': parseVersion(v) }
}

/** `{reason}` when given. */
function reason(p: ParsedArgs): { reason?: string } {
  return p.values.reason === undefined ? {} : { reason: p.values.reason }
}

const asWrite = (command: string) => (b: unknown) => formatWrite(command, b as WriteResult)

async function planFor(command: ClientCommand, p: ParsedArgs): Promise<Plan> {
  const v = p.values
  switch (command) {
    case 'status':
      allowOnly(p, 'status', [])
      expectArgs(p, 'status', [])
      return { method: 'GET', path: '/v1/state', render: (b) => formatStatus(b as State) }

    case 'flip': {
      allowOnly(p, 'flip', ['to', 'force', 'reason', 'if-match'])
      expectArgs(p, 'flip', [])
      const body: Record<string, unknown> = { ...reason(p) }
      if (v.to !== undefined) body.to = oneOf(v.to, ['blue', 'green'] as const, '--to')
      if (v.force === true) body.force = true
      return { method: 'POST', path: '/v1/flip', body, headers: ifMatch(p), render: asWrite('flip') }
    }

    case 'rollback':
      allowOnly(p, 'rollback', ['reason', 'if-match'])
      expectArgs(p, 'rollback', [])
      return { method: 'POST', path: '/v1/rollback', body: reason(p), headers: ifMatch(p), render: asWrite('rollback') }

    case 'canary': {
      allowOnly(p, 'canary', ['force', 'reason', 'if-match'])
      const [percent] = expectArgs(p, 'canary', ['percent'])
      const body: Record<string, unknown> = { percent: parsePercent(percent, 'canary <percent>'), ...reason(p) }
      if (v.force === true) body.force = true
      return { method: 'PUT', path: '/v1/canary', body, headers: ifMatch(p), render: asWrite('canary') }
    }

    case 'cohort':
      return planCohort(p)

    case 'history': {
      allowOnly(p, 'history', ['limit'])
      expectArgs(p, 'history', [])
      const limit = v.limit === undefined ? '' : `?limit=${parsePositiveInt(v.limit, '--limit')}`
      return { method: 'GET', path: `/v1/history${limit}`, render: (b) => formatHistory((b as { entries: HistoryEntry[] }).entries) }
    }

    case 'smoke': {
      allowOnly(p, 'smoke', [])
      const [color] = expectArgs(p, 'smoke', ['color'], 1)
      const body = color === undefined ? {} : { color: oneOf(color, ['blue', 'green'] as const, 'smoke [color]') }
      return {
        method: 'POST',
        path: '/v1/smoke',
        body,
        render: (b) => {
          const r = b as SmokeReport
          if (!Array.isArray(r?.checks)) return formatValue(b)
          return `smoke ${r.color}: ${r.ok ? 'ok' : 'FAILED'}\n${r.checks.map(formatCheck).join('')}`
        },
        failed: (b) => (b as SmokeReport)?.ok === false,
      }
    }

    case 'explain': {
      allowOnly(p, 'explain', ['header', 'cookie', 'path'])
      expectArgs(p, 'explain', [])
      const body: Record<string, unknown> = {}
      const headers = parsePairs(v.header, 'header')
      const cookies = parsePairs(v.cookie, 'cookie')
      if (headers) body.headers = headers
      if (cookies) body.cookies = cookies
      if (v.path !== undefined) body.path = v.path
      return { method: 'POST', path: '/v1/explain', body, render: (b) => formatExplain(b as Parameters<typeof formatExplain>[0]) }
    }

    case 'rollout':
      return planRollout(p)

    case 'health':
      allowOnly(p, 'health', [])
      expectArgs(p, 'health', [])
      return { method: 'GET', path: '/v1/health', render: (b) => formatHealth(b as HealthView) }

    case 'instances':
      allowOnly(p, 'instances', [])
      expectArgs(p, 'instances', [])
      return {
        method: 'GET',
        path: '/v1/instances',
        render: (b) => formatInstances((b as { instances: Parameters<typeof formatInstances>[0] }).instances ?? []),
      }
  }
}

async function planCohort(p: ParsedArgs): Promise<Plan> {
  const v = p.values
  const sub = p.args[0]
  const rest = { ...p, args: p.args.slice(1) }
  switch (sub) {
    case 'set': {
      allowOnly(p, 'cohort set', ['color', 'header', 'cookie', 'users', 'users-file', 'percent', 'reason', 'if-match'])
      const [name] = expectArgs(rest, 'cohort set', ['name'])
      if (v.color === undefined) throw new UsageError('cohort set needs --color blue|green|idle|live')
      const color = oneOf(v.color, ['blue', 'green', 'idle', 'live'] as const, '--color')
      const match: Cohort['match'] = {}
      const headers = parsePairs(v.header, 'header')
      const cookies = parsePairs(v.cookie, 'cookie')
      if (headers) match.headers = headers
      if (cookies) match.cookies = cookies
      const users = [...splitList(v.users, ','), ...(await usersFile(v['users-file']))]
      if (v.users !== undefined || v['users-file'] !== undefined) match.users = [...new Set(users)]
      if (v.percent !== undefined) match.percent = parsePercent(v.percent, '--percent')
      return {
        method: 'PUT',
        path: `/v1/cohorts/${encodeURIComponent(name)}`,
        body: { color, match, ...reason(p) },
        headers: ifMatch(p),
        render: asWrite('cohort set'),
      }
    }
    case 'rm': {
      allowOnly(p, 'cohort rm', ['reason', 'if-match'])
      const [name] = expectArgs(rest, 'cohort rm', ['name'])
      // DELETE carries no body; the reason is not recorded for removals.
      if (v.reason !== undefined) throw new UsageError('cohort rm does not take --reason')
      return { method: 'DELETE', path: `/v1/cohorts/${encodeURIComponent(name)}`, headers: ifMatch(p), render: asWrite('cohort rm') }
    }
    case 'ls':
      allowOnly(p, 'cohort ls', [])
      expectArgs(rest, 'cohort ls', [])
      return { method: 'GET', path: '/v1/cohorts', render: (b) => formatCohorts((b as { cohorts: Cohort[] }).cohorts) }
    default:
      throw new UsageError(sub === undefined ? 'cohort needs set, rm or ls' : `cohort: unknown subcommand "${sub}" (set, rm, ls)`)
  }
}

function planRollout(p: ParsedArgs): Plan {
  const v = p.values
  const sub = p.args[0]
  const rest = { ...p, args: p.args.slice(1) }
  const writeAnswer = (b: unknown) =>
    typeof (b as WriteResult)?.state === 'object' && (b as WriteResult).state !== null ? formatWrite('rollout', b as WriteResult) : formatValue(b)
  switch (sub) {
    case 'start': {
      allowOnly(p, 'rollout start', ['steps', 'auto-promote', 'no-auto-promote', 'reason'])
      expectArgs(rest, 'rollout start', [])
      if (v.steps === undefined) throw new UsageError('rollout start needs --steps percent:holdSeconds,... (like 10:60,50:60,100:60)')
      if (v['auto-promote'] === true && v['no-auto-promote'] === true) throw new UsageError('give --auto-promote or --no-auto-promote, not both')
      const body: Record<string, unknown> = { steps: parseSteps(v.steps), ...reason(p) }
      if (v['auto-promote'] === true) body.autoPromote = true
      if (v['no-auto-promote'] === true) body.autoPromote = false
      return { method: 'POST', path: '/v1/rollout', body, render: writeAnswer }
    }
    case 'pause':
    case 'resume':
    case 'abort':
    case 'promote':
      allowOnly(p, `rollout ${sub}`, ['reason'])
      expectArgs(rest, `rollout ${sub}`, [])
      return { method: 'POST', path: `/v1/rollout/${sub}`, body: reason(p), render: writeAnswer }
    case 'status':
      allowOnly(p, 'rollout status', [])
      expectArgs(rest, 'rollout status', [])
      return {
        method: 'GET',
        path: '/v1/rollout',
        render: (b) => formatRollout(b as RolloutView),
      }
    default:
      throw new UsageError(
        sub === undefined ? 'rollout needs start, pause, resume, abort, promote or status' : `rollout: unknown subcommand "${sub}"`,
      )
  }
}

function splitList(s: string | undefined, sep: string): string[] {
  if (s === undefined) return []
  return s.split(sep).map((x) => x.trim()).filter((x) => x !== '')
}

/** User ids from a file, one per line; blank lines and `#` comments are skipped. */
async function usersFile(path: string | undefined): Promise<string[]> {
  if (path === undefined) return []
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    throw new UsageError(`cannot read --users-file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
}

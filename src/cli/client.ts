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
  parseApp,
  parseClientArgs,
  parsePairs,
  parsePercent,
  parsePositiveInt,
  parseSeconds,
  parseSteps,
  parseVersion,
  type ParsedArgs,
} from './client-args.js'
import {
  formatApps,
  formatCheck,
  formatCohorts,
  formatExplain,
  formatGate,
  formatHistory,
  formatHealth,
  formatReload,
  formatRollout,
  formatShadow,
  printable,
  type ShadowView,
  type AppView,
  type HealthView,
  type ReloadView,
  type RolloutView,
  formatInstances,
  formatStatus,
  formatValue,
  formatWrite,
} from './client-format.js'
import {
  DEFAULT_ADMIN_URL,
  DEFAULT_TIMEOUT_MS,
  UnreachableError,
  call,
  normalizeAdminUrl,
  type AdminTarget,
  type Answer,
} from './client-http.js'
import { CLIENT_COMMANDS, CLIENT_SPECS, CLIENT_USAGE, commandHelp, unknownCommand, type ClientCommand } from './commands.js'
import { bashCompletion, zshCompletion } from './completion.js'

export { CLIENT_COMMANDS, CLIENT_USAGE, type ClientCommand }

/**
 * Exit codes, a contract for pipelines (DESIGN.md "Command-line exit codes").
 * `--json` prints every outcome as JSON on stdout, failures included; the
 * client's own failures use the codes USAGE, UNREACHABLE, NOT_CONVERGED and
 * HTTP_ERROR (an answer that is not the admin API's JSON).
 */
export const EXIT = {
  /** done, also when nothing needed changing */
  OK: 0,
  /** refused by the router (a 4xx such as SMOKE_FAILED, VERSION_MISMATCH), or smoke checks failing */
  REFUSED: 1,
  USAGE: 2,
  /** 401: no token or a wrong one */
  UNAUTHORIZED: 3,
  /** the router cannot be reached or fails (5xx, STORE_UNAVAILABLE), or --wait timed out */
  UNAVAILABLE: 4,
} as const

/** Where the client reads its environment and writes its output (the CLI's `Io`). */
export type ClientIo = Io

/** Test seams; the defaults are what the CLI uses. */
export interface ClientOptions {
  timeoutMs?: number
  fetch?: typeof fetch
  /** how often `--wait` asks GET /v1/instances (default 250 ms) */
  pollMs?: number
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
  /** a state write: `--wait` applies */
  write?: boolean
  /** the answer is local, no call (completion) */
  local?: string
}

/** What a command addresses: the app (`--app`/SWITCHYARD_APP), if any. */
interface Scope {
  app: string | undefined
}

/** `/v1/<call>`, or `/v1/apps/<app>/<call>` when an app is named. */
function at(scope: Scope, path: string): string {
  return scope.app === undefined ? `/v1/${path}` : `/v1/apps/${scope.app}/${path}`
}

const DEFAULT_WAIT_SECONDS = 30
const DEFAULT_POLL_MS = 250

/** The outcome printer: human lines on stdout/stderr, or JSON on stdout with `--json`. */
class Output {
  readonly #io: ClientIo
  readonly json: boolean
  constructor(io: ClientIo, json: boolean) {
    this.#io = io
    this.json = json
  }

  /** A failure of the client itself (usage, unreachable, not converged): JSON on stdout with --json, the line on stderr always. */
  fail(code: string, message: string, exit: number, hint = '', details?: Record<string, unknown>): number {
    if (this.json)
      this.#io.stdout(`${JSON.stringify({ error: { code, message, ...(details === undefined ? {} : { details }) } }, null, 2)}\n`)
    this.#io.stderr(`${code === 'USAGE' ? 'usage error' : 'error'}: ${message}\n${hint}`)
    return exit
  }

  stdout(s: string): void {
    this.#io.stdout(s)
  }

  stderr(s: string): void {
    this.#io.stderr(s)
  }
}

/**
 * Runs one operator command against the admin API and resolves with the exit
 * code (see `EXIT`).
 *
 * @example
 * await runClient(['canary', '10', '--reason', 'try 1.4', '--app', 'shop'], { env: process.env, stdout, stderr })
 */
export async function runClient(argv: string[], io: ClientIo, opts: ClientOptions = {}): Promise<number> {
  // Known before parsing, so a usage error is JSON too.
  const out = new Output(io, argv.includes('--json'))
  let p: ParsedArgs
  let plan: Plan
  let target: AdminTarget
  let scope: Scope
  /** --wait: how long to wait for every instance; null without --wait */
  let waitMs: number | null = null
  try {
    p = parseClientArgs(argv)
    const spec = CLIENT_SPECS.find((c) => c.name === p.command)
    if (p.values.help === true) {
      io.stdout(spec === undefined ? CLIENT_USAGE : commandHelp(spec))
      return EXIT.OK
    }
    if (p.command === undefined) throw new UsageError('a command is needed')
    if (spec === undefined) throw new UsageError(unknownCommand(p.command))
    const rawUrl = p.values.admin ?? (io.env.SWITCHYARD_ADMIN_URL || DEFAULT_ADMIN_URL)
    const base = normalizeAdminUrl(rawUrl)
    if (base === null) throw new UsageError(`--admin must be an http:// or https:// URL, got "${rawUrl}"`)
    scope = { app: appOf(p, io.env, spec.name) }
    target = {
      base,
      token: io.env.SWITCHYARD_ADMIN_TOKEN,
      actor: `cli:${osUser(io.env)}`,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      fetch: opts.fetch ?? globalThis.fetch,
    }
    plan = await planFor(spec.name, p, scope)
    if (p.values.wait === true || p.values['wait-timeout'] !== undefined) {
      // allowOnly refused --wait on reads already; this guards a command that forgets it.
      if (plan.write !== true) throw new UsageError(`${spec.name} does not change the state: --wait applies to writes only`)
      waitMs =
        (p.values['wait-timeout'] === undefined ? DEFAULT_WAIT_SECONDS : parseSeconds(p.values['wait-timeout'], '--wait-timeout')) * 1000
    }
  } catch (e) {
    if (e instanceof UsageError) return out.fail('USAGE', e.message, EXIT.USAGE, 'run "switchyard --help" for the commands\n')
    throw e
  }
  if (plan.local !== undefined) {
    io.stdout(plan.local)
    return EXIT.OK
  }

  let answer: Answer
  try {
    answer = await call(target, plan.method, plan.path, plan.body, plan.headers)
  } catch (e) {
    if (e instanceof UnreachableError) {
      return out.fail('UNREACHABLE', e.message, EXIT.UNAVAILABLE, '(is switchyard running? set --admin URL or SWITCHYARD_ADMIN_URL)\n')
    }
    throw e
  }
  if (!answer.ok) return refused(out, answer, target, scope)

  let body = answer.body
  let waitFailure: { message: string; details: Record<string, unknown> } | null = null
  if (waitMs !== null) {
    const w = await waitForInstances(target, scope, body as WriteResult, waitMs, opts.pollMs ?? DEFAULT_POLL_MS)
    if (w === null) body = { ...(body as WriteResult), converged: true }
    else waitFailure = w
  }

  if (waitFailure !== null) {
    if (!out.json) out.stdout(render(plan, body))
    return out.fail('NOT_CONVERGED', waitFailure.message, EXIT.UNAVAILABLE, '', { ...waitFailure.details, answer: body })
  }
  out.stdout(out.json ? `${JSON.stringify(body, null, 2)}\n` : render(plan, body))
  return plan.failed?.(body) === true ? EXIT.REFUSED : EXIT.OK
}

/** The human form of an answer; an answer of an unexpected shape (another version of the router) is shown as it is. */
function render(plan: Plan, body: unknown): string {
  try {
    return plan.render(body)
  } catch {
    return formatValue(body)
  }
}

/** The app from --app, else SWITCHYARD_APP; commands that are not per app take none. */
function appOf(p: ParsedArgs, env: NodeJS.ProcessEnv, command: ClientCommand): string | undefined {
  const global = command === 'apps' || command === 'reload' || command === 'instances' || command === 'completion'
  if (global) {
    if (p.values.app !== undefined) throw new UsageError(`${command} does not take --app: it is not about one app`)
    return undefined
  }
  if (p.values.app !== undefined) return parseApp(p.values.app, '--app')
  const fromEnv = env.SWITCHYARD_APP
  return fromEnv === undefined || fromEnv === '' ? undefined : parseApp(fromEnv, 'SWITCHYARD_APP')
}

/** The exit code of a refusal: 401 → 3, other 4xx → 1, 5xx → 4. */
function exitOf(status: number): number {
  if (status === 401) return EXIT.UNAUTHORIZED
  if (status >= 500) return EXIT.UNAVAILABLE
  return EXIT.REFUSED
}

/** Prints a refusal (JSON with --json) and the hints that help act on it. */
async function refused(out: Output, answer: Answer, target: AdminTarget, scope: Scope): Promise<number> {
  const code = exitOf(answer.status)
  const err = (answer.body as { error?: { code?: unknown } } | null)?.error
  if (err === undefined || typeof err.code !== 'string') {
    // Not the admin API's JSON: a proxy in between, or not switchyard at all.
    const text = typeof answer.body === 'string' ? answer.body.slice(0, 200) : JSON.stringify(answer.body).slice(0, 200)
    return out.fail('HTTP_ERROR', `HTTP ${answer.status} from ${target.base}${text ? `: ${printable(text)}` : ''}`, code, '', {
      status: answer.status,
    })
  }
  if (out.json) out.stdout(`${JSON.stringify(answer.body, null, 2)}\n`)
  let text = describeRefusal(answer.body, target)
  if (err.code === 'APP_REQUIRED' || err.code === 'UNKNOWN_APP') text += await appsHint(target, err.code, scope)
  out.stderr(text)
  return code
}

/** The apps the router serves, for APP_REQUIRED and UNKNOWN_APP (best effort: the list may be unavailable). */
async function appsHint(target: AdminTarget, code: string, scope: Scope): Promise<string> {
  let names: string[] = []
  try {
    const a = await call(target, 'GET', '/v1/apps')
    const apps = (a.body as { apps?: { name?: unknown }[] } | null)?.apps
    if (a.ok && Array.isArray(apps)) names = apps.map((x) => String(x.name))
  } catch {
    // The hint without the list.
  }
  const list = names.length === 0 ? '' : ` (${printable(names.join(', '))})`
  if (code === 'APP_REQUIRED') {
    return `this router serves several apps${list}: name one with --app <name> or SWITCHYARD_APP=<name>; "switchyard apps" lists them\n`
  }
  return `${scope.app === undefined ? 'the app' : `"${scope.app}"`} is not one of this router's apps${list}; "switchyard apps" lists them\n`
}

/**
 * `--wait`: resolves null once every instance applied the write's version
 * (the answer's `converged`, else by polling GET /v1/instances), or with why
 * not when `timeoutMs` passed first.
 */
async function waitForInstances(
  target: AdminTarget,
  scope: Scope,
  r: WriteResult,
  timeoutMs: number,
  pollMs: number,
): Promise<{ message: string; details: Record<string, unknown> } | null> {
  if (r === null || typeof r !== 'object' || r.converged !== false) return null
  const version = r.state.version
  const deadline = Date.now() + timeoutMs
  let last = 'no answer from GET /v1/instances yet'
  let lagging: { id: string; appliedVersion: number | null }[] = []
  for (;;) {
    const left = deadline - Date.now()
    if (left <= 0) break
    try {
      const a = await call({ ...target, timeoutMs: Math.max(50, Math.min(target.timeoutMs, left)) }, 'GET', '/v1/instances')
      const list = (a.body as { instances?: InstanceView[] } | null)?.instances
      if (!a.ok || !Array.isArray(list)) {
        last = `GET /v1/instances answered HTTP ${a.status}`
      } else {
        lagging = list
          .map((i) => ({ id: String(i.id), appliedVersion: appliedVersion(i, scope.app) }))
          .filter((i) => i.appliedVersion === null || i.appliedVersion < version)
        if (list.length > 0 && lagging.length === 0) return null
        last =
          list.length === 0
            ? 'no instance is registered'
            : `behind: ${lagging.map((i) => `${i.id} at ${i.appliedVersion ?? '?'}`).join(', ')}`
      }
    } catch (e) {
      last = (e as Error).message
    }
    const pause = Math.min(pollMs, deadline - Date.now())
    if (pause <= 0) break
    await new Promise((resolve) => setTimeout(resolve, pause))
  }
  return {
    message: `not every router instance applied version ${version} within ${timeoutMs / 1000} s (${printable(last)}); the change is stored and they will apply it when they can`,
    details: { version, lagging },
  }
}

/** One entry of GET /v1/instances: a version for the whole router, or per app (`apps: {shop: 7}` or `{shop: {appliedVersion: 7}}`). */
interface InstanceView {
  id: unknown
  appliedVersion?: unknown
  apps?: Record<string, unknown>
}

function appliedVersion(i: InstanceView, app: string | undefined): number | null {
  if (app !== undefined && typeof i.apps === 'object' && i.apps !== null) {
    const a = i.apps[app]
    if (typeof a === 'number') return a
    if (typeof a === 'object' && a !== null && typeof (a as { appliedVersion?: unknown }).appliedVersion === 'number') {
      return (a as { appliedVersion: number }).appliedVersion
    }
  }
  return typeof i.appliedVersion === 'number' ? i.appliedVersion : null
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

/** `error CODE: message`, each failing smoke check, each config error, and what to do. */
function describeRefusal(body: unknown, target: AdminTarget): string {
  const err = (body as { error: { code: string; message?: unknown; details?: { checks?: unknown; errors?: unknown } } }).error
  let out = `error ${printable(err.code)}: ${printable(String(err.message))}\n`
  const checks = err.details?.checks
  if (Array.isArray(checks)) for (const c of checks as SmokeCheckResult[]) if (!c.ok) out += formatCheck(c)
  const errors = err.details?.errors
  if (Array.isArray(errors)) for (const e of errors) out += `  ${printable(String(e))}\n`
  if (err.code === 'UNAUTHORIZED' && !target.token) out += 'set SWITCHYARD_ADMIN_TOKEN to the admin token\n'
  if (err.code === 'SHADOW_MISMATCH') out += formatGate(err.details)
  if (err.code === 'VERSION_MISMATCH') out += 'the state changed since you read it: run "switchyard status" and decide again\n'
  if (err.code === 'CONFIG_INVALID') out += 'the router goes on with the config it had; fix the file and reload again\n'
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

async function planFor(command: ClientCommand, p: ParsedArgs, scope: Scope): Promise<Plan> {
  const v = p.values
  switch (command) {
    case 'status':
      allowOnly(p, 'status', [])
      expectArgs(p, 'status', [])
      return { method: 'GET', path: at(scope, 'state'), render: (b) => formatStatus(b as State) }

    case 'flip': {
      allowOnly(p, 'flip', ['to', 'force', ...WRITE])
      expectArgs(p, 'flip', [])
      const body: Record<string, unknown> = { ...reason(p) }
      if (v.to !== undefined) body.to = oneOf(v.to, ['blue', 'green'] as const, '--to')
      if (v.force === true) body.force = true
      return { method: 'POST', path: at(scope, 'flip'), body, headers: ifMatch(p), render: asWrite('flip'), write: true }
    }

    case 'rollback':
      allowOnly(p, 'rollback', WRITE)
      expectArgs(p, 'rollback', [])
      return { method: 'POST', path: at(scope, 'rollback'), body: reason(p), headers: ifMatch(p), render: asWrite('rollback'), write: true }

    case 'canary': {
      allowOnly(p, 'canary', ['force', ...WRITE])
      const [percent] = expectArgs(p, 'canary', ['percent'])
      const body: Record<string, unknown> = { percent: parsePercent(percent, 'canary <percent>'), ...reason(p) }
      if (v.force === true) body.force = true
      return { method: 'PUT', path: at(scope, 'canary'), body, headers: ifMatch(p), render: asWrite('canary'), write: true }
    }

    case 'cohort':
      return planCohort(p, scope)

    case 'history': {
      allowOnly(p, 'history', ['limit'])
      expectArgs(p, 'history', [])
      const limit = v.limit === undefined ? '' : `?limit=${parsePositiveInt(v.limit, '--limit')}`
      return { method: 'GET', path: at(scope, `history${limit}`), render: (b) => formatHistory((b as { entries: HistoryEntry[] }).entries) }
    }

    case 'smoke': {
      allowOnly(p, 'smoke', [])
      const [color] = expectArgs(p, 'smoke', ['color'], 1)
      const body = color === undefined ? {} : { color: oneOf(color, ['blue', 'green'] as const, 'smoke [color]') }
      return {
        method: 'POST',
        path: at(scope, 'smoke'),
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
      allowOnly(p, 'explain', ['header', 'cookie', 'path', 'method'])
      expectArgs(p, 'explain', [])
      const body: Record<string, unknown> = {}
      const headers = parsePairs(v.header, 'header')
      const cookies = parsePairs(v.cookie, 'cookie')
      if (headers) body.headers = headers
      if (cookies) body.cookies = cookies
      if (v.path !== undefined) body.path = v.path
      if (v.method !== undefined) body.method = v.method
      return { method: 'POST', path: at(scope, 'explain'), body, render: (b) => formatExplain(b as Parameters<typeof formatExplain>[0]) }
    }

    case 'rollout':
      return planRollout(p, scope)

    case 'mirror': {
      allowOnly(p, 'mirror', WRITE)
      const [percent] = expectArgs(p, 'mirror', ['percent'])
      const body: Record<string, unknown> = { percent: parsePercent(percent, 'mirror <percent>'), ...reason(p) }
      return { method: 'PUT', path: at(scope, 'mirror'), body, headers: ifMatch(p), render: asWrite('mirror'), write: true }
    }

    case 'shadow': {
      allowOnly(p, 'shadow', [])
      const [sub] = expectArgs(p, 'shadow', ['reset'], 1)
      if (sub !== undefined) oneOf(sub, ['reset'] as const, 'shadow [reset]')
      const render = (b: unknown) => formatShadow(b as ShadowView)
      return sub === undefined
        ? { method: 'GET', path: at(scope, 'shadow'), render }
        : { method: 'POST', path: at(scope, 'shadow/reset'), body: {}, render: (b) => `shadow counters cleared\n${render(b)}` }
    }

    case 'health':
      allowOnly(p, 'health', [])
      expectArgs(p, 'health', [])
      return { method: 'GET', path: at(scope, 'health'), render: (b) => formatHealth(b as HealthView) }

    case 'instances':
      allowOnly(p, 'instances', [])
      expectArgs(p, 'instances', [])
      return {
        method: 'GET',
        path: '/v1/instances',
        render: (b) => formatInstances((b as { instances: Parameters<typeof formatInstances>[0] }).instances ?? []),
      }

    case 'apps':
      allowOnly(p, 'apps', [])
      expectArgs(p, 'apps', [])
      return { method: 'GET', path: '/v1/apps', render: (b) => formatApps((b as { apps?: AppView[] }).apps ?? []) }

    case 'reload':
      allowOnly(p, 'reload', [])
      expectArgs(p, 'reload', [])
      return { method: 'POST', path: '/v1/reload', body: {}, render: (b) => formatReload(b as ReloadView) }

    case 'completion': {
      allowOnly(p, 'completion', [])
      const [shell] = expectArgs(p, 'completion', ['bash|zsh'])
      const which = oneOf(shell, ['bash', 'zsh'] as const, 'completion <shell>')
      return { method: 'GET', path: '', render: () => '', local: which === 'bash' ? bashCompletion() : zshCompletion() }
    }
  }
}

/** The options every write takes. */
const WRITE = ['reason', 'if-match', 'wait', 'wait-timeout'] as const

async function planCohort(p: ParsedArgs, scope: Scope): Promise<Plan> {
  const v = p.values
  const sub = p.args[0]
  const rest = { ...p, args: p.args.slice(1) }
  switch (sub) {
    case 'set': {
      allowOnly(p, 'cohort set', ['color', 'header', 'cookie', 'users', 'users-file', 'percent', ...WRITE])
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
        path: at(scope, `cohorts/${encodeURIComponent(name)}`),
        body: { color, match, ...reason(p) },
        headers: ifMatch(p),
        render: asWrite('cohort set'),
        write: true,
      }
    }
    case 'rm': {
      allowOnly(p, 'cohort rm', WRITE)
      const [name] = expectArgs(rest, 'cohort rm', ['name'])
      // DELETE carries no body; the reason is not recorded for removals.
      if (v.reason !== undefined) throw new UsageError('cohort rm does not take --reason')
      return {
        method: 'DELETE',
        path: at(scope, `cohorts/${encodeURIComponent(name)}`),
        headers: ifMatch(p),
        render: asWrite('cohort rm'),
        write: true,
      }
    }
    case 'ls':
      allowOnly(p, 'cohort ls', [])
      expectArgs(rest, 'cohort ls', [])
      return { method: 'GET', path: at(scope, 'cohorts'), render: (b) => formatCohorts((b as { cohorts: Cohort[] }).cohorts) }
    default:
      throw new UsageError(
        sub === undefined ? 'cohort needs set, rm or ls' : `cohort: ${unknownCommand(sub, ['set', 'rm', 'ls'], 'subcommand')}`,
      )
  }
}

function planRollout(p: ParsedArgs, scope: Scope): Plan {
  const v = p.values
  const sub = p.args[0]
  const rest = { ...p, args: p.args.slice(1) }
  const writeAnswer = (b: unknown) =>
    typeof (b as WriteResult)?.state === 'object' && (b as WriteResult).state !== null
      ? formatWrite('rollout', b as WriteResult)
      : formatValue(b)
  switch (sub) {
    case 'start': {
      allowOnly(p, 'rollout start', ['steps', 'auto-promote', 'no-auto-promote', 'reason', 'wait', 'wait-timeout'])
      expectArgs(rest, 'rollout start', [])
      if (v.steps === undefined) throw new UsageError('rollout start needs --steps percent:holdSeconds,... (like 10:60,50:60,100:60)')
      if (v['auto-promote'] === true && v['no-auto-promote'] === true)
        throw new UsageError('give --auto-promote or --no-auto-promote, not both')
      const body: Record<string, unknown> = { steps: parseSteps(v.steps), ...reason(p) }
      if (v['auto-promote'] === true) body.autoPromote = true
      if (v['no-auto-promote'] === true) body.autoPromote = false
      return { method: 'POST', path: at(scope, 'rollout'), body, render: writeAnswer, write: true }
    }
    case 'pause':
    case 'resume':
    case 'abort':
    case 'promote':
      allowOnly(p, `rollout ${sub}`, ['reason', 'wait', 'wait-timeout'])
      expectArgs(rest, `rollout ${sub}`, [])
      return { method: 'POST', path: at(scope, `rollout/${sub}`), body: reason(p), render: writeAnswer, write: true }
    case 'status':
      allowOnly(p, 'rollout status', [])
      expectArgs(rest, 'rollout status', [])
      return {
        method: 'GET',
        path: at(scope, 'rollout'),
        render: (b) => formatRollout(b as RolloutView),
      }
    default:
      throw new UsageError(
        sub === undefined
          ? 'rollout needs start, pause, resume, abort, promote or status'
          : `rollout: ${unknownCommand(sub, ['start', 'pause', 'resume', 'abort', 'promote', 'status'], 'subcommand')}`,
      )
  }
}

function splitList(s: string | undefined, sep: string): string[] {
  if (s === undefined) return []
  return s
    .split(sep)
    .map((x) => x.trim())
    .filter((x) => x !== '')
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
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
}

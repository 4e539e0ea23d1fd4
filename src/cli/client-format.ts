import type { Cohort, Color, HistoryEntry, State } from '../routing/index.js'
import type { SmokeCheckResult, WriteResult } from '../control/types.js'
import type { ShadowReport } from '../control/shadow.js'

/**
 * Human output of the operator client: short lines an operator reads at a
 * glance, tables for lists. Scripts use `--json` instead, so these may
 * change wording; the JSON answers may not.
 */

const other = (c: Color): Color => (c === 'blue' ? 'green' : 'blue')

/**
 * Control characters (C0, DEL, C1) and bidirectional overrides as visible
 * escapes. Text from the router (a history `reason`, a cohort's header
 * value) is written by anyone with write access; printed raw, `\x1b[...`
 * could rewrite the operator's terminal or hide lines.
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\n') return '\\n'
    if (c === '\r') return '\\r'
    if (c === '\t') return '\\t'
    const code = c.charCodeAt(0)
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** Columns padded to their widest cell; the last column is not padded. Cells are made printable. */
export function table(head: string[], rawRows: string[][]): string {
  const rows = rawRows.map((r) => r.map(printable))
  const all = [head, ...rows]
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  return (
    all
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  )
}

function rolloutLine(s: State): string | null {
  const r = s.rollout
  if (r === null) return null
  const step = r.steps[r.stepIndex]
  const where = step === undefined ? '' : ` step ${r.stepIndex + 1}/${r.steps.length} (${step.percent}%, hold ${step.holdSeconds}s)`
  return `rollout: ${r.status}${where} of ${r.color}, auto-promote ${r.autoPromote ? 'on' : 'off'}, started ${r.startedAt}`
}

/** `status`: one line with everything, and the rollout if there is one. */
export function formatStatus(s: State): string {
  const mirror = typeof s.mirror === 'number' && s.mirror > 0 ? `  mirror: ${s.mirror}%` : ''
  let out = `live: ${s.live}  idle: ${other(s.live)}  canary: ${s.canary}%${mirror}  version: ${s.version}  cohorts: ${s.cohorts.length}  updated: ${s.updatedAt}\n`
  if (s.previous !== null || s.lastFlipAt !== null) {
    out += `previous: ${s.previous ?? '-'}  last flip: ${s.lastFlipAt ?? '-'}\n`
  }
  const r = rolloutLine(s)
  if (r !== null) out += `${r}\n`
  return out
}

/**
 * The answer of a write, in the words of the command that made it, and
 * `converged: false` when some router instance has not applied it yet.
 */
export function formatWrite(command: string, r: WriteResult): string {
  const text = describeWrite(command, r)
  return r.converged === false ? `${text}converged: false (not every router instance has applied it yet; --wait waits for them)\n` : text
}

function describeWrite(command: string, r: WriteResult): string {
  const s = r.state
  if (!r.changed) {
    const what =
      command === 'flip' ? `${s.live} is already live` : command === 'canary' ? `the canary is already ${s.canary}%` : 'no change'
    return `nothing to do: ${what}  version: ${s.version}\n`
  }
  const e = r.entry
  switch (command) {
    case 'flip':
      return e !== null && e.from === s.live
        ? `live: ${s.live} (canary ended)  version: ${s.version}\n`
        : `live: ${s.live} (was ${String(e?.from ?? other(s.live))})  version: ${s.version}\n`
    case 'rollback':
      return `live: ${s.live} (rolled back from ${String(e?.from ?? other(s.live))})  version: ${s.version}\n`
    case 'canary':
      return `canary: ${s.canary}% to ${other(s.live)} (was ${String(e?.from ?? '?')}%)  version: ${s.version}\n`
    case 'mirror':
      return `mirror: ${s.mirror}% of live-routed requests copied to ${other(s.live)} (was ${String(e?.from ?? '?')}%)  version: ${s.version}\n`
    case 'cohort set': {
      const op = e?.detail?.op === 'replace' ? 'replaced' : 'added'
      return `cohort ${String(e?.to ?? '')}: ${op}  version: ${s.version}\n`
    }
    case 'cohort rm':
      return `cohort ${String(e?.from ?? '')}: removed  version: ${s.version}\n`
    default: {
      const r2 = rolloutLine(s)
      return `${r2 ?? `canary: ${s.canary}%  live: ${s.live}`}  version: ${s.version}\n`
    }
  }
}

function matchSummary(c: Cohort): string {
  const m = c.match
  const parts: string[] = []
  if (m.headers)
    parts.push(
      `headers ${Object.entries(m.headers)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
    )
  if (m.cookies)
    parts.push(
      `cookies ${Object.entries(m.cookies)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
    )
  if (m.users) parts.push(`users ${m.users.length}`)
  if (m.percent !== undefined) parts.push(`percent ${m.percent}%`)
  return parts.length === 0 ? 'everyone' : parts.join('; ')
}

/** `cohort ls`: in the order they are tried. */
export function formatCohorts(cohorts: Cohort[]): string {
  if (cohorts.length === 0) return 'no cohorts\n'
  return table(
    ['NAME', 'COLOR', 'MATCH'],
    cohorts.map((c) => [c.name, c.color, matchSummary(c)]),
  )
}

const cell = (v: unknown) => (v === null || v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v))

/** `history`: newest first. */
export function formatHistory(entries: HistoryEntry[]): string {
  if (entries.length === 0) return 'no history\n'
  return table(
    ['AT', 'VERSION', 'ACTION', 'FROM', 'TO', 'ACTOR', 'REASON'],
    entries.map((e) => [e.at, String(e.version), actionOf(e), cell(e.from), cell(e.to), e.actor, cell(e.reason)]),
  )
}

/** The action with its step when the entry has one: `rollout advance`, `cohort remove`. */
function actionOf(e: HistoryEntry): string {
  const op = e.detail?.op
  return typeof op === 'string' ? `${e.action} ${op}` : e.action
}

/** One smoke check as a line. */
export function formatCheck(c: SmokeCheckResult): string {
  const status = c.status === null ? '-' : String(c.status)
  return `  ${c.ok ? 'ok  ' : 'FAIL'}  ${printable(`${c.target}${c.path}`)}  ${status}  ${c.ms}ms${c.error === null ? '' : `  ${printable(c.error)}`}\n`
}

/** `explain`: the color, then why. */
export function formatExplain(x: {
  color: string
  rule: string
  cohort: string | null
  key: string | null
  bucket: number | null
  /** absent from servers older than the field */
  mirrorPercent?: number
}): string {
  const why = x.rule === 'cohort' ? `cohort ${x.cohort ?? ''}` : x.rule
  const mirror = x.mirrorPercent !== undefined && x.mirrorPercent > 0 ? `  mirrored: ${x.mirrorPercent}%` : ''
  return `${x.color}  rule: ${printable(why)}  key: ${printable(x.key ?? '-')}  bucket: ${x.bucket ?? '-'}${mirror}\n`
}

/** Anything else (health, rollout answers of newer servers): indented key: value lines. */
export function formatValue(v: unknown, indent = ''): string {
  if (v === null || typeof v !== 'object') return `${indent}${printable(cell(v))}\n`
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) return `${indent}${printable(v.map(cell).join(', '))}\n`
    return v.map((x, i) => `${indent}- [${i}]\n${formatValue(x, `${indent}  `)}`).join('')
  }
  let out = ''
  for (const [k, x] of Object.entries(v)) {
    if (x !== null && typeof x === 'object' && !(Array.isArray(x) && x.every((y) => y === null || typeof y !== 'object'))) {
      out += `${indent}${printable(k)}:\n${formatValue(x, `${indent}  `)}`
    } else {
      out += `${indent}${printable(k)}: ${printable(Array.isArray(x) ? x.map(cell).join(', ') : cell(x))}\n`
    }
  }
  return out
}

/** The answer of `GET /v1/rollout`, as the CLI reads it. */
export interface RolloutView {
  rollout: State['rollout']
  progress: {
    step: number
    steps: number
    percent: number
    heldSeconds: number
    holdSeconds: number
    verdict: string
    waitingFor: string | null
    requests: number
    errors: number
    errorRate: number
    minRequests: number
  } | null
}

/** `rollout status`: the plan, then where it stands and what it waits for. */
export function formatRollout(v: RolloutView): string {
  const r = v.rollout
  if (r === null) return 'no rollout in progress\n'
  const plan = r.steps
    .map((s, i) => `${i === r.stepIndex ? '[' : ''}${s.percent}%/${s.holdSeconds}s${i === r.stepIndex ? ']' : ''}`)
    .join(' → ')
  let out = `rollout ${r.status} of ${r.color}: ${plan}${r.autoPromote ? ' → promote' : ''}\n`
  const p = v.progress
  if (p !== null) {
    const rate = `${(p.errorRate * 100).toFixed(1)}%`
    out += `step ${p.step}/${p.steps}: ${p.percent}%  held ${p.heldSeconds}/${p.holdSeconds}s  window: ${p.requests} requests (need ${p.minRequests}), ${p.errors} errors (${rate})  verdict: ${p.verdict}\n`
    if (p.waitingFor !== null) out += `waiting for: ${p.waitingFor}\n`
  }
  return out
}

/** The answer of `GET /v1/health`, as the CLI reads it. */
export interface HealthView {
  version: number
  live: string
  windowSeconds: number
  maxErrorRate: number
  minRequests: number
  colors: Record<
    string,
    {
      role: string
      targets: { url: string; up: boolean }[]
      requests: number
      errors: number
      errorRate: number
      watch: string | null
    }
  >
}

/** `health`: one line of settings, then a row per color. */
export function formatHealth(h: HealthView): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`
  const head = `live: ${h.live}  version: ${h.version}  window: ${h.windowSeconds} s  revert above: ${pct(h.maxErrorRate)} over >= ${h.minRequests} requests\n`
  const rows = Object.entries(h.colors).map(([color, c]) => [
    color,
    c.role,
    c.watch ?? '-',
    String(c.requests),
    String(c.errors),
    pct(c.errorRate),
    c.targets.map((t) => `${t.url} ${t.up ? 'up' : 'DOWN'}`).join(', '),
  ])
  return head + table(['COLOR', 'ROLE', 'WATCH', 'REQUESTS', 'ERRORS', 'RATE', 'TARGETS'], rows)
}

/** `instances`: one row per router. */
export function formatInstances(list: { id: string; appliedVersion: number; lastSeen: string; host?: string; pid?: number }[]): string {
  if (list.length === 0) return 'no instances\n'
  return table(
    ['ID', 'VERSION', 'LAST SEEN', 'HOST', 'PID'],
    list.map((i) => [i.id, String(i.appliedVersion), i.lastSeen, cell(i.host), cell(i.pid)]),
  )
}

/** One app of `GET /v1/apps`, as the CLI reads it (fields may be missing on older routers). */
export interface AppView {
  name: string
  hosts?: string[]
  live?: string
  canary?: number
  version?: number
  rollout?: State['rollout']
  updatedAt?: string
  colors?: Record<string, { requests?: number; errors?: number; errorRate?: number } | undefined>
}

/** `apps`: one row per app, error rates per color in %. */
export function formatApps(apps: AppView[]): string {
  if (apps.length === 0) return 'no apps\n'
  const rate = (a: AppView, color: Color) => {
    const c = a.colors?.[color]
    return c === undefined || typeof c.errorRate !== 'number' ? '-' : `${(c.errorRate * 100).toFixed(1)}%`
  }
  const rollout = (r: State['rollout'] | undefined) => {
    if (r === null || r === undefined) return '-'
    const step = r.steps[r.stepIndex]
    return `${r.status} ${r.stepIndex + 1}/${r.steps.length}${step === undefined ? '' : ` (${step.percent}%)`}`
  }
  return table(
    ['APP', 'HOSTS', 'LIVE', 'CANARY', 'VERSION', 'BLUE ERR', 'GREEN ERR', 'ROLLOUT'],
    apps.map((a) => [
      a.name,
      a.hosts === undefined || a.hosts.length === 0 ? '*' : a.hosts.join(','),
      cell(a.live),
      a.canary === undefined ? '-' : `${a.canary}%`,
      cell(a.version),
      rate(a, 'blue'),
      rate(a, 'green'),
      rollout(a.rollout),
    ]),
  )
}

/** The answer of `POST /v1/reload`. */
export interface ReloadView {
  added?: string[]
  removed?: string[]
  changed?: string[]
  needsRestart?: string[]
}

/** `reload`: what changed, and what waits for a restart. */
export function formatReload(r: ReloadView): string {
  const list = (l: string[] | undefined) => (l === undefined || l.length === 0 ? '-' : printable(l.join(', ')))
  const none = [r.added, r.removed, r.changed, r.needsRestart].every((l) => l === undefined || l.length === 0)
  if (none) return 'config reloaded: nothing changed\n'
  let out = `config reloaded\n  added:    ${list(r.added)}\n  removed:  ${list(r.removed)}\n  changed:  ${list(r.changed)}\n`
  if (r.needsRestart !== undefined && r.needsRestart.length > 0) {
    out += `  needs a restart to apply: ${list(r.needsRestart)} (listener, admin and store settings are not reloaded)\n`
  }
  return out
}

/** `GET /v1/shadow` as the CLI reads it: the server's report (a type only; the CLI loads no server code). */
export type ShadowView = ShadowReport

const pct = (r: number): string => `${Math.round(r * 10_000) / 100}%`

/** `switchyard shadow`: counts, the gate, the rate by route, the recent diffs. */
export function formatShadow(v: ShadowView): string {
  let out = `mirror: ${v.percent}%  sent: ${v.sent}  dropped: ${v.dropped}  errors: ${v.errors}\n`
  if (!v.compare) return out + 'compare: off (mirror.compare.enabled is false)\n'
  out += `compared: ${v.samples}  matches: ${v.matches}  mismatches: ${v.mismatches}  skipped: ${v.skipped}  mismatch rate: ${pct(v.mismatchRate)}\n`
  out +=
    v.samples < v.minSamples
      ? `gate: no verdict yet (${v.samples} of ${v.minSamples} comparisons)\n`
      : v.refusing
        ? `gate: REFUSING a flip to the idle color (${pct(v.mismatchRate)} > ${pct(v.maxMismatchRate)}); --force skips it\n`
        : `gate: ok (${pct(v.mismatchRate)} <= ${pct(v.maxMismatchRate)})\n`
  if (v.routes.length > 0) {
    out += 'by route:\n'
    for (const r of v.routes.slice(0, 20))
      out += `  ${printable(r.route).padEnd(40)} ${String(r.mismatches).padStart(6)} / ${String(r.samples).padEnd(6)} ${pct(r.mismatchRate)}\n`
    if (v.routes.length > 20) out += `  … ${v.routes.length - 20} more (--json shows all)\n`
  }
  if (v.recent.length > 0) {
    out += 'recent mismatches (newest first):\n'
    for (const m of v.recent.slice(0, 10)) {
      out += `  ${m.at}  ${printable(m.method)} ${printable(m.path)}  live ${m.live.status}, ${m.idle.color} ${m.idle.status}\n`
      for (const d of m.diff) out += `    ${printable(d)}\n`
    }
  }
  return out
}

/** The shadow gate's figures of a SHADOW_MISMATCH refusal. */
export function formatGate(d: Record<string, unknown> | undefined): string {
  if (d === undefined) return ''
  const n = (k: string) => (typeof d[k] === 'number' ? d[k] : NaN)
  return (
    `  ${n('mismatches')} of ${n('samples')} compared answers differ: ${pct(n('mismatchRate'))} > ${pct(n('maxMismatchRate'))} (at least ${n('minSamples')} samples)\n` +
    `"switchyard shadow" shows the differences; --force flips anyway\n`
  )
}

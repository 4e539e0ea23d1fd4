import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'

/**
 * Helpers for the tests of `deploy/`: the PromQL queries of the Grafana
 * dashboard and the alert rules, the metric and label names they use, and
 * the names a `/metrics` scrape has.
 */

export const DASHBOARD_PATH = new URL('../../deploy/grafana/switchyard.json', import.meta.url).pathname
export const ALERTS_PATH = new URL('../../deploy/prometheus/alerts.yaml', import.meta.url).pathname

/** A metric selector: the metric's name and the label names its matchers use. */
export interface Selector {
  metric: string
  labels: string[]
}

/** The names a PromQL expression uses. */
export interface QueryNames {
  selectors: Selector[]
  /** labels of `by`, `without`, `on`, `ignoring`, `group_left`, `group_right` */
  grouping: string[]
}

/** Aggregations and keywords: identifiers that are never metric names. */
const NOT_METRICS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'atan2',
  'inf',
  'nan',
  'start',
  'end',
])
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'])
const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y
const LABEL = /[a-zA-Z_][a-zA-Z0-9_]*/y

/**
 * The metric and label names a PromQL expression uses. A small scanner, not
 * a parser: it skips strings, ranges (`[5m]`, `[$__rate_interval]`) and
 * Grafana variables (`$app`), reads label names inside `{…}` and after the
 * grouping keywords, and takes every other identifier that is not a
 * function call, an aggregation or a keyword for a metric name.
 *
 * @example
 * promqlNames('sum by (color) (rate(switchyard_requests_total{app="a"}[5m]))')
 * // { selectors: [{ metric: 'switchyard_requests_total', labels: ['app'] }], grouping: ['color'] }
 */
export function promqlNames(expr: string): QueryNames {
  const selectors: Selector[] = []
  const grouping: string[] = []
  let i = 0
  const skipSpace = (): void => {
    while (i < expr.length && /\s/.test(expr[i])) i++
  }
  const skipString = (): void => {
    const quote = expr[i++]
    while (i < expr.length && expr[i] !== quote) i += expr[i] === '\\' ? 2 : 1
    i++
  }
  const readIdent = (re: RegExp): string | null => {
    re.lastIndex = i
    const m = re.exec(expr)
    if (m === null) return null
    i += m[0].length
    return m[0]
  }
  /** `{a="x", b=~"y"}`: the label names; `i` is at the `{` */
  const readMatchers = (): string[] => {
    const labels: string[] = []
    i++
    for (;;) {
      skipSpace()
      if (i >= expr.length) throw new Error(`unclosed { in ${expr}`)
      if (expr[i] === '}') break
      if (expr[i] === ',') {
        i++
        continue
      }
      if (expr[i] === '"' || expr[i] === "'" || expr[i] === '`') {
        skipString()
        continue
      }
      const name = readIdent(LABEL)
      if (name !== null) labels.push(name)
      else i++ // an operator: = != =~ !~
    }
    i++
    return labels
  }

  while (i < expr.length) {
    const c = expr[i]
    if (/\s/.test(c)) i++
    else if (c === '"' || c === "'" || c === '`') skipString()
    else if (c === '[') i = expr.indexOf(']', i) + 1 || expr.length
    else if (c === '$') {
      i++
      readIdent(IDENT)
    } else if (/[0-9.]/.test(c)) {
      while (i < expr.length && /[0-9a-zA-Z_.]/.test(expr[i])) i++
    } else if (c === '{') {
      const labels = readMatchers()
      selectors.push({ metric: '', labels }) // a selector without a metric name
    } else {
      const name = readIdent(IDENT)
      if (name === null) {
        i++
        continue
      }
      skipSpace()
      if (GROUPING.has(name)) {
        if (expr[i] !== '(') continue // `group_left` without a label list
        const end = expr.indexOf(')', i)
        for (const l of expr.slice(i + 1, end).split(',')) if (l.trim() !== '') grouping.push(l.trim())
        i = end + 1
      } else if (expr[i] === '(' || NOT_METRICS.has(name)) {
        // a function or an aggregation; its arguments are scanned as usual
      } else {
        const labels = expr[i] === '{' ? readMatchers() : []
        selectors.push({ metric: name, labels })
      }
    }
  }
  return { selectors: selectors.filter((s) => s.metric !== ''), grouping }
}

/** A query of the dashboard or the alerts, with where it comes from. */
export interface DeployQuery {
  where: string
  expr: string
}

/** Grafana's `label_values(metric, label)` (template variables) as names. */
export function labelValuesNames(query: string): QueryNames {
  const m = /^\s*label_values\(\s*(.+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(query)
  if (m === null) throw new Error(`not a label_values(metric, label) query: ${query}`)
  const inner = promqlNames(m[1])
  if (inner.selectors.length !== 1) throw new Error(`label_values needs one metric selector: ${query}`)
  inner.selectors[0].labels.push(m[2])
  return inner
}

/** The dashboard JSON, parsed. */
export function readDashboard(): any {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8'))
}

/** The alert rules YAML, parsed. */
export function readAlerts(): {
  groups: {
    name: string
    rules: {
      alert?: string
      record?: string
      expr: string
      for?: string
      labels?: Record<string, string>
      annotations?: Record<string, string>
    }[]
  }[]
} {
  return parseYaml(readFileSync(ALERTS_PATH, 'utf8'))
}

/** Every `expr` of the dashboard (panels, rows' panels, annotations) and of the alert rules. */
export function deployQueries(): DeployQuery[] {
  const out: DeployQuery[] = []
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) v.forEach((x, k) => walk(x, `${path}[${k}]`))
    else if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>
      const label = typeof o.title === 'string' ? o.title : typeof o.name === 'string' ? o.name : null
      if (label !== null && path !== '') path += ` "${label}"`
      for (const [k, x] of Object.entries(o)) {
        if (k === 'expr' && typeof x === 'string') out.push({ where: `dashboard ${path}`, expr: x })
        else walk(x, `${path}.${k}`)
      }
    }
  }
  walk(readDashboard(), '')
  for (const g of readAlerts().groups) for (const r of g.rules) out.push({ where: `alert ${r.alert ?? r.record}`, expr: r.expr })
  return out
}

/** The dashboard's template variable queries that read metrics (`label_values(…)`). */
export function variableQueries(): DeployQuery[] {
  const out: DeployQuery[] = []
  for (const v of readDashboard().templating.list) {
    if (v.type !== 'query') continue
    const q = typeof v.query === 'string' ? v.query : v.query.query
    out.push({ where: `dashboard variable ${v.name}`, expr: q })
  }
  return out
}

/**
 * Prometheus text exposition → series name → the label names its series
 * have (a name with no series, only `# HELP`/`# TYPE`, is absent).
 */
export function exposedNames(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  const pair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
    if (m === null) throw new Error(`not an exposition line: ${line}`)
    const labels = out.get(m[0]) ?? new Set<string>()
    out.set(m[0], labels)
    if (line[m[0].length] !== '{') continue
    let pos = m[0].length + 1
    for (;;) {
      pair.lastIndex = pos
      const p = pair.exec(line)
      if (p === null) break
      labels.add(p[1])
      pos = pair.lastIndex
    }
    if (line[pos] !== '}') throw new Error(`unreadable labels: ${line}`)
  }
  return out
}

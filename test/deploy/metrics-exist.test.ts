import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLEAN_ENV, baseConfig, startRouterProcess, writeConfig } from '../e2e/router-process.js'
import { startColorServer } from '../e2e/upstreams.js'
import { deployQueries, exposedNames, labelValuesNames, promqlNames, variableQueries, type QueryNames } from './promql.js'

/**
 * Every metric that the Grafana dashboard and the alert rules query exists
 * in a real router's /metrics, with the label names the queries use.
 *
 * A real `switchyard serve` process gets requests to blue (answers) and to
 * green (a dead target: router failures), so the per-color series exist;
 * then its /metrics is scraped.
 */

/**
 * Contract metrics that the dashboard or the rules use but switchyard does
 * not export yet, each with what brings it. The test fails on an entry that
 * is exported now or no longer used, so the list only shrinks: remove an
 * entry when its feature lands (and make this test send the traffic that
 * creates its series, e.g. a mirrored request).
 */
const PENDING: Record<string, string> = {}

/**
 * The `app` label arrives with the multi-app change (issue 9). Until then a
 * query's `app` is accepted on a metric that has no `app` label at all (and
 * in a grouping clause when no metric of the query has it). Set this to
 * false once that change is merged; the last subtest fails as a reminder
 * when the request metrics carry `app` and this is still true.
 */
const APP_LABEL_PENDING = false

/** A URL on 127.0.0.1 where nothing listens (a port the OS gave out and took back). */
async function deadUrl(): Promise<string> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  return `http://127.0.0.1:${port}`
}

async function scrape(): Promise<Map<string, Set<string>>> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-metrics-'))
  const blue = await startColorServer('blue')
  try {
    const config = baseConfig(dir, [blue.url], [await deadUrl()], { overrides: { enabled: true } })
    const router = await startRouterProcess(writeConfig(config, dir), CLEAN_ENV)
    try {
      for (let i = 0; i < 3; i++) {
        const ok = await fetch(`${router.proxyUrl}/`)
        await ok.arrayBuffer()
        if (ok.status !== 200) throw new Error(`blue answered ${ok.status}`)
        const failed = await fetch(`${router.proxyUrl}/`, { headers: { 'x-switchyard-color': 'green' } })
        await failed.arrayBuffer()
        if (failed.status !== 502) throw new Error(`a dead green answered ${failed.status}, not 502`)
      }
      const res = await fetch(`${router.adminUrl}/metrics`)
      const text = await res.text()
      if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${text}`)
      return exposedNames(text)
    } finally {
      await router.stop()
    }
  } finally {
    await blue.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

let exposed = new Map<string, Set<string>>()
t.before(async () => {
  exposed = await scrape()
})
const queries: { where: string; expr: string; names: QueryNames }[] = [
  ...deployQueries().map((q) => ({ ...q, names: promqlNames(q.expr) })),
  ...variableQueries().map((q) => ({ ...q, names: labelValuesNames(q.expr) })),
]

t.test('the scrape has the per-color series this test relies on', async (t) => {
  for (const name of ['switchyard_requests_total', 'switchyard_upstream_errors_total', 'switchyard_request_duration_seconds_bucket']) {
    t.ok(exposed.get(name)?.has('color'), `${name}{color}`)
  }
  t.ok(queries.length >= 25, `${queries.length} queries read from the dashboard and the rules`)
})

t.test('every metric a query uses is in /metrics, or pending with a reason', async (t) => {
  const used = new Set<string>()
  for (const q of queries) {
    t.ok(q.names.selectors.length > 0, `${q.where}: uses a metric (${q.expr})`)
    for (const s of q.names.selectors) {
      used.add(s.metric)
      if (s.metric in PENDING) continue
      t.ok(exposed.has(s.metric), `${q.where}: ${s.metric} is exported`)
    }
  }
  for (const [name, why] of Object.entries(PENDING)) {
    t.notOk(exposed.has(name), `${name} is still pending (${why}); exported now: remove it from PENDING`)
    t.ok(used.has(name), `${name} is still used by a query; if not, remove it from PENDING`)
  }
})

/** Whether a query may use `label` with `metric`, today. */
function allowed(label: string, metric: string): boolean {
  const labels = exposed.get(metric)
  if (labels === undefined) return true // pending: nothing to compare with (the test above checks it)
  if (labels.has(label)) return true
  return APP_LABEL_PENDING && label === 'app'
}

t.test('every label a query uses exists on its metric', async (t) => {
  for (const q of queries) {
    for (const s of q.names.selectors) {
      for (const l of s.labels) t.ok(allowed(l, s.metric), `${q.where}: ${s.metric} has label ${l}`)
    }
    // by/on/… apply to sub-expressions: a label must exist on one of the query's metrics.
    const metrics = [...new Set(q.names.selectors.map((s) => s.metric))]
    for (const l of new Set(q.names.grouping)) {
      t.ok(
        metrics.some((m) => allowed(l, m)),
        `${q.where}: grouping label ${l} exists on one of ${metrics.join(', ')}`,
      )
    }
  }
})

t.test('the app label is still pending only while the metrics lack it', async (t) => {
  const requestsHaveApp = exposed.get('switchyard_requests_total')?.has('app') === true
  t.notOk(APP_LABEL_PENDING && requestsHaveApp, 'switchyard_requests_total has app now: set APP_LABEL_PENDING = false')
})

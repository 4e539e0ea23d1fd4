import t, { type Test } from 'tap'
import { execFile, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { ALERTS_PATH, deployQueries, readAlerts } from './promql.js'

/**
 * `deploy/prometheus/alerts.yaml` checked by promtool (Debian package
 * `prometheus`, installed by .ci/run): `promtool check rules`, the unit
 * tests `promtool test rules alerts.test.yaml alerts-days.test.yaml`, and
 * the dashboard's queries parsed as PromQL. Without promtool these skip on
 * a developer machine and fail in CI (CI=true).
 */

const DIR = new URL('../../deploy/prometheus/', import.meta.url).pathname
const HAS_PROMTOOL = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined
const PER_APP = ['SwitchyardNoFlipForDays', 'SwitchyardAutoReverted', 'SwitchyardColorErrorRateHigh', 'SwitchyardInstancesNotConverged']

function requirePromtool(t: Test): boolean {
  if (HAS_PROMTOOL) return true
  if (process.env.CI === 'true') {
    t.fail('promtool is not on PATH, and CI=true requires these tests to run (apt-get install prometheus)')
    return false
  }
  t.plan(0, 'promtool not installed (apt-get install --no-install-recommends prometheus); CI=true fails instead of skipping')
  return false
}

function promtool(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
      resolve({ code, out: stdout + stderr })
    })
  })
}

t.test('every alert: severity, summary and description; per-app alerts keep the app label', async (t) => {
  const rules = readAlerts().groups.flatMap((g) => g.rules)
  const names = rules.map((r) => r.alert)
  t.same(names.sort(), [...PER_APP, 'SwitchyardStoreUnavailable'].sort(), 'the five alerts of issue 12')
  for (const r of rules) {
    t.ok(['warning', 'critical'].includes(r.labels?.severity ?? ''), `${r.alert}: severity ${r.labels?.severity}`)
    t.ok((r.annotations?.summary ?? '').length > 0, `${r.alert}: summary`)
    t.ok((r.annotations?.description ?? '').length > 0, `${r.alert}: description`)
    if (PER_APP.includes(r.alert!)) {
      // every aggregation keeps app, so the alert carries it
      const aggregations = r.expr.match(/\b(sum|max|min|count|avg)\b(?! by)/g) ?? []
      t.same(aggregations, [], `${r.alert}: no aggregation drops app`)
      t.match(r.expr, /by \(app\b/, `${r.alert}: by (app…)`)
      t.match(r.annotations!.summary, /\$labels\.app/, `${r.alert}: summary names the app`)
    }
  }
})

t.test('promtool check rules', async (t) => {
  if (!requirePromtool(t)) return
  const r = await promtool(['check', 'rules', ALERTS_PATH], DIR)
  t.equal(r.code, 0, r.out)
  t.match(r.out, /SUCCESS: 5 rules found/)
})

t.test('promtool test rules: which alerts fire, and when', async (t) => {
  if (!requirePromtool(t)) return
  const r = await promtool(['test', 'rules', 'alerts.test.yaml', 'alerts-days.test.yaml'], DIR)
  t.equal(r.code, 0, r.out)
  t.notMatch(r.out, /FAILED/)
})

t.test('promtool parses every dashboard query (Grafana variables filled in)', async (t) => {
  if (!requirePromtool(t)) return
  const dashboard = deployQueries().filter((q) => q.where.startsWith('dashboard'))
  t.ok(dashboard.length >= 15, `${dashboard.length} queries`)
  const rules = dashboard.map((q, n) => ({
    record: `switchyard_dashboard:query_${n}`,
    expr: q.expr.replace(/\$__\w+/g, '5m').replace(/\$app\b/g, '.+'),
  }))
  t.notOk(
    rules.some((r) => r.expr.includes('$')),
    'every Grafana variable is filled in',
  )
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-dashboard-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'dashboard.rules.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }))
  const r = await promtool(['check', 'rules', 'dashboard.rules.yaml'], dir)
  t.equal(r.code, 0, r.out)
  t.match(r.out, new RegExp(`SUCCESS: ${rules.length} rules found`))
})

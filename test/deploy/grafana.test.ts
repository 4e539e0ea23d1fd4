import t from 'tap'
import { readDashboard } from './promql.js'

/**
 * `deploy/grafana/switchyard.json`, checked for the shape Grafana imports
 * and for what issue 12 asks the dashboard to show. Grafana itself is not
 * run here; the queries' PromQL syntax is checked by promtool
 * (alerts.test.ts) and their metric names against a real /metrics
 * (metrics-exist.test.ts).
 */

const dash = readDashboard()
const DS = '${datasource}'

interface Panel {
  id: number
  type: string
  title: string
  repeat?: string
  gridPos: { x: number; y: number; w: number; h: number }
  datasource?: { type: string; uid: string }
  targets?: { refId: string; expr: string; datasource?: { type: string; uid: string } }[]
  panels?: Panel[]
}

const panels: Panel[] = dash.panels.flatMap((p: Panel) => [p, ...(p.panels ?? [])])
const queryPanels = panels.filter((p) => p.type !== 'row')
const exprsOf = (title: string): string[] => {
  const p = queryPanels.find((q) => q.title === title)
  return p === undefined ? [] : p.targets!.map((x) => x.expr)
}

t.test('the dashboard model Grafana imports', async (t) => {
  t.equal(typeof dash.schemaVersion, 'number')
  t.ok(dash.schemaVersion >= 36, `schemaVersion ${dash.schemaVersion} (Grafana 9 or newer)`)
  t.equal(dash.uid, 'switchyard', 'a stable uid, so links and provisioning survive re-imports')
  t.equal(dash.id, null, 'no database id in a file meant for import')
  t.type(dash.title, 'string')
  t.ok(Array.isArray(dash.panels) && dash.panels.length > 0, 'panels')
  const ids = panels.map((p) => p.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  for (const p of panels) {
    t.ok(Number.isInteger(p.id) && p.id > 0, `${p.title}: id`)
    const g = p.gridPos
    t.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `${p.title}: gridPos inside the 24 columns`)
  }
})

t.test('every panel that is not a row has targets with a PromQL expr on the chosen data source', async (t) => {
  t.ok(queryPanels.length >= 10, `${queryPanels.length} panels`)
  for (const p of queryPanels) {
    t.ok(['stat', 'timeseries'].includes(p.type), `${p.title}: type ${p.type}`)
    t.same(p.datasource, { type: 'prometheus', uid: DS }, `${p.title}: data source`)
    t.ok(Array.isArray(p.targets) && p.targets.length > 0, `${p.title}: targets`)
    const refs = new Set<string>()
    for (const q of p.targets ?? []) {
      t.ok(typeof q.expr === 'string' && q.expr.trim() !== '', `${p.title} ${q.refId}: expr`)
      t.ok(q.expr.includes('switchyard_'), `${p.title} ${q.refId}: reads a switchyard metric`)
      t.same(q.datasource, { type: 'prometheus', uid: DS }, `${p.title} ${q.refId}: data source`)
      t.notOk(refs.has(q.refId), `${p.title}: refId ${q.refId} unique`)
      refs.add(q.refId)
    }
  }
})

t.test('template variables: the data source, and app from label_values(switchyard_state_version, app)', async (t) => {
  const vars: any[] = dash.templating.list
  const ds = vars.find((v) => v.name === 'datasource')
  t.match(ds, { type: 'datasource', query: 'prometheus' })
  const app = vars.find((v) => v.name === 'app')
  t.ok(app, 'variable app')
  t.equal(app.type, 'query')
  const query = typeof app.query === 'string' ? app.query : app.query?.query
  t.equal(query, 'label_values(switchyard_state_version, app)')
  t.same(app.datasource, { type: 'prometheus', uid: DS })
  t.equal(app.multi, true, 'several apps at once')
  t.equal(app.includeAll, true)
})

t.test('one row per app, and every per-app query filters by $app', async (t) => {
  const rows = dash.panels.filter((p: Panel) => p.type === 'row')
  const appRow = rows.find((r: Panel) => r.repeat === 'app')
  t.ok(appRow, 'a row repeated for each selected app')
  const perApp = queryPanels.filter((p) => p.gridPos.y > appRow.gridPos.y)
  t.ok(perApp.length >= 8, `${perApp.length} panels in the app row`)
  for (const p of perApp) {
    for (const q of p.targets!) t.match(q.expr, /\bapp=~"\$app"/, `${p.title} ${q.refId}: filtered by app`)
  }
})

t.test('what issue 12 asks for: live color, canary and mirror %, req/s, errors, p99, days since the last flip', async (t) => {
  const want: [string, RegExp][] = [
    ['Live color', /switchyard_live_color/],
    ['Canary', /switchyard_canary_percent/],
    ['Mirror (observed)', /switchyard_mirror_requests_total/],
    ['Requests/s by color', /sum by \(color\) \(rate\(switchyard_requests_total/],
    ['Error rate by color', /code=~"5\.\."/],
    ['p99 latency by color', /histogram_quantile\(0\.99, sum by \(color, le\) \(rate\(switchyard_request_duration_seconds_bucket/],
    ['Days since last flip', /time\(\) - max\(switchyard_last_flip_timestamp_seconds\{[^}]*\} > 0\)\) \/ 86400/],
  ]
  for (const [title, re] of want) {
    const exprs = exprsOf(title)
    t.ok(exprs.length > 0, `panel "${title}"`)
    t.ok(
      exprs.some((e) => re.test(e)),
      `${title}: ${re}`,
    )
  }
})

t.test('annotations: flips and auto-reverts as Prometheus queries', async (t) => {
  const list: any[] = dash.annotations.list
  for (const [name, metric] of [
    ['Flips', 'switchyard_flips_total'],
    ['Auto-reverts', 'switchyard_auto_reverts_total'],
  ]) {
    const a = list.find((x) => x.name === name)
    t.ok(a, `annotation ${name}`)
    if (a === undefined) continue
    t.equal(a.enable, true, `${name} on by default`)
    t.same(a.datasource, { type: 'prometheus', uid: DS })
    t.match(a.expr, new RegExp(`increase\\(${metric}\\{app=~"\\$app"\\}\\[[^\\]]+\\]\\)\\) > 0$`), `${name}: expr`)
    t.match(a.textFormat, /\{\{app\}\}/, `${name}: text names the app`)
  }
})

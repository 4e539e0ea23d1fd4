import t from 'tap'
import { exposedNames, labelValuesNames, promqlNames, type QueryNames } from './promql.js'

// The scanner that the "every metric exists" test relies on: if it missed a
// metric or a label, that test would pass on a query it never checked.

t.test('promqlNames finds metrics, their matcher labels and the grouping labels', async (t) => {
  const cases: [string, QueryNames][] = [
    ['up', { selectors: [{ metric: 'up', labels: [] }], grouping: [] }],
    [
      'sum by (color) (rate(switchyard_requests_total{app=~"$app",code=~"5.."}[$__rate_interval]))',
      { selectors: [{ metric: 'switchyard_requests_total', labels: ['app', 'code'] }], grouping: ['color'] },
    ],
    [
      'histogram_quantile(0.99, sum by (color, le) (rate(switchyard_request_duration_seconds_bucket{app="a"}[5m])))',
      { selectors: [{ metric: 'switchyard_request_duration_seconds_bucket', labels: ['app'] }], grouping: ['color', 'le'] },
    ],
    [
      'sum(rate(a_total[1m]) * on (app, color) group_left () max by (app, color) (b{x="}{,\\"y"}))',
      {
        selectors: [
          { metric: 'a_total', labels: [] },
          { metric: 'b', labels: ['x'] },
        ],
        grouping: ['app', 'color', 'app', 'color'],
      },
    ],
    [
      'sum by (app) (x_total unless x_total offset 15m) > 0 or vector(0)',
      {
        selectors: [
          { metric: 'x_total', labels: [] },
          { metric: 'x_total', labels: [] },
        ],
        grouping: ['app'],
      },
    ],
    [
      '(time() - max without (instance) (last_seconds > 0)) / 86400 > 1e3 and bool y',
      {
        selectors: [
          { metric: 'last_seconds', labels: [] },
          { metric: 'y', labels: [] },
        ],
        grouping: ['instance'],
      },
    ],
    [
      'count by (version) (info) / ignoring(version) group_right z',
      {
        selectors: [
          { metric: 'info', labels: [] },
          { metric: 'z', labels: [] },
        ],
        grouping: ['version', 'version'],
      },
    ],
    ['{__name__="n"} + m[5m:1m]', { selectors: [{ metric: 'm', labels: [] }], grouping: [] }],
  ]
  for (const [expr, want] of cases) t.same(promqlNames(expr), want, expr)
  t.throws(() => promqlNames('a{b="c"'), /unclosed/)
})

t.test('labelValuesNames reads a Grafana label_values query', async (t) => {
  t.same(labelValuesNames('label_values(switchyard_state_version, app)'), {
    selectors: [{ metric: 'switchyard_state_version', labels: ['app'] }],
    grouping: [],
  })
  t.same(labelValuesNames('label_values(m{x="1"}, app)').selectors, [{ metric: 'm', labels: ['x', 'app'] }])
  t.throws(() => labelValuesNames('query_result(up)'), /not a label_values/)
})

t.test('exposedNames reads series names and label names, not HELP-only metrics', async (t) => {
  const text = [
    '# HELP a_total A',
    '# TYPE a_total counter',
    'a_total{color="blue",code="200"} 3',
    'a_total{color="gr,\\"e}en",kind="x"} 1',
    '# HELP never_counted_total B',
    '# TYPE never_counted_total counter',
    'b 1',
    'h_bucket{le="+Inf",color="blue"} 2',
    '',
  ].join('\n')
  const names = exposedNames(text)
  t.same([...names.keys()], ['a_total', 'b', 'h_bucket'])
  t.same([...names.get('a_total')!], ['color', 'code', 'kind'])
  t.same([...names.get('b')!], [])
  t.same([...names.get('h_bucket')!], ['le', 'color'])
  t.throws(() => exposedNames('a{b=c} 1'), /unreadable labels/)
})

import t from 'tap'
import { Registry } from 'prom-client'
import { convergence, registerFleetMetrics, type AppliedVersion } from '../../src/observability/fleet-metrics.js'
import { SwitchyardError } from '../../src/errors.js'

/** The value of an unlabelled metric in Prometheus text. */
function value(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

const v = (...versions: number[]): AppliedVersion[] => versions.map((appliedVersion) => ({ appliedVersion }))

t.test('convergence counts the instances behind the newest version listed', async (t) => {
  const cases: [AppliedVersion[], { instances: number; behind: number }][] = [
    [v(), { instances: 0, behind: 0 }],
    [v(7), { instances: 1, behind: 0 }],
    [v(7, 7, 7), { instances: 3, behind: 0 }],
    [v(7, 6, 7), { instances: 3, behind: 1 }],
    [v(5, 6, 7), { instances: 3, behind: 2 }],
  ]
  for (const [list, want] of cases) t.same(convergence(list), want, JSON.stringify(list))
})

t.test('the gauges read their sources at each scrape', async (t) => {
  const registry = new Registry()
  let up = true
  let list: AppliedVersion[] | Error = v(3, 3)
  let reads = 0
  registerFleetMetrics(registry, {
    storeUp: () => up,
    instances: async () => {
      reads++
      if (list instanceof Error) throw list
      return list
    },
  })

  let text = await registry.metrics()
  t.equal(value(text, 'switchyard_store_up'), 1)
  t.equal(value(text, 'switchyard_instances'), 2)
  t.equal(value(text, 'switchyard_instances_behind'), 0)
  t.equal(reads, 1, 'one list read feeds both instance gauges')

  list = v(4, 3, 4)
  text = await registry.metrics()
  t.equal(value(text, 'switchyard_instances'), 3)
  t.equal(value(text, 'switchyard_instances_behind'), 1, 'the behind count of this scrape, not the last one')
  t.equal(reads, 2)

  up = false
  list = new SwitchyardError('STORE_UNAVAILABLE', 'redis is unreachable')
  text = await registry.metrics()
  t.equal(value(text, 'switchyard_store_up'), 0)
  t.equal(value(text, 'switchyard_instances'), 3, 'a failed read keeps the last values')
  t.equal(value(text, 'switchyard_instances_behind'), 1)

  up = true
  list = v(4, 4)
  text = await registry.metrics()
  t.equal(value(text, 'switchyard_store_up'), 1)
  t.equal(value(text, 'switchyard_instances'), 2)
  t.equal(value(text, 'switchyard_instances_behind'), 0)
})

t.test('a source that throws synchronously is a failed read, not a failed scrape', async (t) => {
  const registry = new Registry()
  registerFleetMetrics(registry, {
    storeUp: () => false,
    instances: () => {
      throw new Error('boom')
    },
  })
  const text = await registry.metrics()
  t.equal(value(text, 'switchyard_store_up'), 0)
  t.equal(value(text, 'switchyard_instances'), 0, '0 before any read succeeded')
})

t.test('convergence per app: behind on any app counts, apps an instance does not serve do not', async (t) => {
  const { convergence } = await import('../../src/observability/fleet-metrics.js')
  t.same(
    convergence([
      { appliedVersion: 3, apps: { shop: 3, blog: 7 } },
      { appliedVersion: 3, apps: { shop: 3, blog: 6 } },
      { appliedVersion: 4, apps: { shop: 4 } },
    ]),
    { instances: 3, behind: 2 },
  )
  t.same(
    convergence([
      { appliedVersion: 2, apps: { a: 2 } },
      { appliedVersion: 9, apps: { b: 9 } },
    ]),
    { instances: 2, behind: 0 },
  )
})

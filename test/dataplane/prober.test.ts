import t from 'tap'
import { HealthProber, type CheckResult } from '../../src/dataplane/prober.js'
import { TargetSet, type Target } from '../../src/dataplane/targets.js'

/**
 * The prober's counting, without sockets or timers: checks are injected and
 * rounds are driven by calling `round()`.
 */

const SETTINGS = { connections: 1, connectMs: 1000, headersMs: 1000, bodyMs: 1000 }
const CHECK = { path: '/health', intervalMs: 5000, timeoutMs: 2000, unhealthyAfter: 3, healthyAfter: 2 }

function build(results: Map<string, CheckResult>) {
  const blue = new TargetSet('blue', ['http://127.0.0.1:1', 'http://127.0.0.1:2'], SETTINGS)
  const green = new TargetSet('green', ['http://127.0.0.1:3'], SETTINGS)
  const transitions: [string, boolean][] = []
  let now = 1_000_000
  const prober = new HealthProber(CHECK, [blue, green], {
    now: () => now++,
    random: () => 0.5,
    transition: (target, up) => transitions.push([target.url, up]),
    check: async (target) => results.get(target.url) ?? null,
  })
  return { blue, green, prober, transitions }
}

t.test('down after unhealthyAfter failures in a row, up after healthyAfter passes', async (t) => {
  const results = new Map<string, CheckResult>([['http://127.0.0.1:1', 'ECONNREFUSED']])
  const { blue, prober, transitions } = build(results)
  t.teardown(() => closeAll(blue))
  const dead = blue.targets[0]
  await prober.round()
  await prober.round()
  t.equal(dead.check.down, false, 'two failures: still up')
  t.equal(dead.check.failures, 2)
  await prober.round()
  t.equal(dead.check.down, true, 'third failure: down')
  t.equal(dead.up, false)
  t.equal(dead.check.error, 'ECONNREFUSED')
  t.same(transitions, [['http://127.0.0.1:1', false]], 'one transition, logged once')
  await prober.round()
  t.same(transitions.length, 1, 'no second transition while it stays down')

  results.delete('http://127.0.0.1:1')
  await prober.round()
  t.equal(dead.check.down, true, 'one pass: still down')
  // A request that happens to pass does not bring it back either (passive markUp).
  dead.markUp()
  t.equal(dead.up, false, 'a passing request leaves an actively-down target down')
  await prober.round()
  t.equal(dead.check.down, false, 'second pass: up')
  t.equal(dead.up, true)
  t.same(transitions, [
    ['http://127.0.0.1:1', false],
    ['http://127.0.0.1:1', true],
  ])
  t.equal(blue.targets[1].check.failures, 0, 'the healthy target never failed')
  t.ok(blue.targets[1].check.checkedAt > 0, 'the healthy target was checked')
})

t.test('a failure in between resets the passes (and a pass the failures)', async (t) => {
  const results = new Map<string, CheckResult>([['http://127.0.0.1:3', 'status 503']])
  const { green, blue, prober } = build(results)
  t.teardown(() => closeAll(blue, green))
  const g = green.targets[0]
  await prober.round()
  await prober.round()
  results.delete(g.url)
  await prober.round()
  t.equal(g.check.failures, 0)
  results.set(g.url, 'status 503')
  await prober.round()
  await prober.round()
  t.equal(g.check.down, false, 'never three failures in a row')
  await prober.round()
  t.equal(g.check.down, true)
  results.delete(g.url)
  await prober.round()
  results.set(g.url, 'status 503')
  await prober.round()
  results.delete(g.url)
  await prober.round()
  t.equal(g.check.down, true, 'never two passes in a row')
})

t.test('no overlapping checks of one target; a stopped prober counts nothing', async (t) => {
  const blue = new TargetSet('blue', ['http://127.0.0.1:1'], SETTINGS)
  t.teardown(() => closeAll(blue))
  let calls = 0
  let finish: (r: CheckResult) => void = () => undefined
  const prober = new HealthProber({ ...CHECK, unhealthyAfter: 1 }, [blue], {
    now: () => 1,
    random: () => 0,
    transition: () => undefined,
    check: () => {
      calls++
      return new Promise<CheckResult>((resolve) => (finish = resolve))
    },
  })
  const first = prober.round()
  await prober.round()
  t.equal(calls, 1, 'a second round skips the target whose check is running')
  await prober.stop()
  finish('ECONNREFUSED')
  await first
  t.equal(blue.targets[0].check.running, false)
  t.equal(blue.targets[0].check.failures, 0, 'the result of a stopped prober is not counted')
  t.equal(blue.targets[0].check.down, false)
})

t.test('pick skips actively-down targets, unless all of them are', async (t) => {
  const set = new TargetSet('blue', ['http://127.0.0.1:1', 'http://127.0.0.1:2'], SETTINGS)
  t.teardown(() => closeAll(set))
  const [a, b] = set.targets
  set.setChecked(a, true)
  const picked = new Set<Target | null>()
  for (let i = 0; i < 6; i++) picked.add(set.pick(0))
  t.same([...picked], [b], 'only the target the checks pass')
  set.setChecked(b, true)
  const all = new Set<Target | null>()
  for (let i = 0; i < 6; i++) all.add(set.pick(0))
  t.equal(all.size, 2, 'every target actively down: the checks are ignored, round-robin again')
  set.clearChecks()
  t.equal(a.check.down, false)
  t.equal(b.check.down, false)
})

function closeAll(...sets: TargetSet[]): Promise<unknown> {
  return Promise.all(sets.flatMap((s) => s.targets.map((x) => x.pool.close())))
}

import t from 'tap'
import { compile } from '../../src/routing/index.js'
import { createDataPlane, type AppPlaneOptions } from '../../src/dataplane/index.js'
import { LIMITS, NO_OPTIONS, TIMEOUTS, stateOf } from '../helpers/dataplane.js'
import { freePort, startUpstream } from '../helpers/upstream.js'
import { sleep } from '../helpers/time.js'
import { waitFor } from '../helpers/wait.js'

/** Reloads and shutdown start and stop the prober: no timer outlives its app route. */

const CHECK = { path: '/health', intervalMs: 50, timeoutMs: 1000, unhealthyAfter: 2, healthyAfter: 2 }

t.test('a reload keeps the verdicts, switching checks off stops them and clears them, close stops them', async (t) => {
  const blue = await startUpstream({ color: 'blue' })
  t.teardown(() => blue.close())
  const dead = `http://127.0.0.1:${await freePort()}`
  const app = (healthCheck?: AppPlaneOptions['healthCheck']): AppPlaneOptions => ({
    name: 'default',
    hosts: [],
    upstreams: { blue: { targets: [blue.url] }, green: { targets: [dead] } },
    timeouts: TIMEOUTS,
    exposeColor: true,
    trustForwarded: true,
    source: { table: compile(stateOf(), NO_OPTIONS) },
    healthCheck,
  })
  const dp = createDataPlane({ apps: [app(CHECK)], defaultApp: 'default', limits: LIMITS })
  let closed = false
  t.teardown(() => (closed ? undefined : dp.close(0)))
  const checks = (): number => blue.requests.filter((r) => r.url === '/health').length
  const green = () => (dp.targets('default') as NonNullable<ReturnType<typeof dp.targets>>).green[0]

  await waitFor('the dead target down', () => green().up === false && green().check?.up === false, 10_000, 20)
  // Five reloads with the same settings: the verdict carries on, and only one prober runs.
  for (let i = 0; i < 5; i++) dp.setApps({ apps: [app(CHECK)], defaultApp: 'default' })
  t.equal(green().check?.up, false, 'the verdict survives a reload that keeps the target set')
  await waitFor(
    'the new prober checks',
    async () => {
      const before = checks()
      await sleep(200)
      return checks() > before
    },
    10_000,
    0,
  )

  dp.setApps({ apps: [app(undefined)], defaultApp: 'default' })
  t.same(green(), { url: dead, up: true }, 'checks off: the verdict is cleared and no check state is shown')
  await sleep(150) // a check already running may still land
  const after = checks()
  await sleep(400) // eight intervals: any leaked timer would have checked again
  t.equal(checks(), after, 'no checks after they were switched off')

  dp.setApps({ apps: [app(CHECK)], defaultApp: 'default' })
  await waitFor('checks again', () => checks() > after, 10_000, 20)
  await dp.close(0)
  closed = true
  const atClose = checks()
  await sleep(400)
  t.equal(checks(), atClose, 'no checks after close')
})

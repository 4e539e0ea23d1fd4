import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from '../helpers/request.js'
import { requireRedis, startRedis } from '../redis/helpers.js'
import { CLEAN_ENV, admin, baseConfig, startRouterProcess, writeConfig, type RouterProcess } from './router-process.js'
import { startColorServer } from './upstreams.js'

/*
 * Two router processes on one private Redis, one of them with `workers: 2`.
 * A change written elsewhere reaches the workers through the primary's
 * watch of the store, and a write's `converged` covers the other instance's
 * workers: the instance reports the version all its workers acknowledged.
 */

async function colors(url: string, n: number): Promise<Set<string>> {
  const out = new Set<string>()
  for (let i = 0; i < n; i++) {
    const r = await request(url + '/x')
    out.add(r.status === 200 ? r.json<{ color: string }>().color : `status ${r.status}`)
  }
  return out
}

t.test('a fleet member with workers: 2 converges with the fleet', async (t) => {
  if (!requireRedis(t)) return
  const redis = await startRedis(t)
  const prefix = `workers-fleet-${process.pid}`
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const start = async (name: string, workers: number): Promise<RouterProcess> => {
    const dir = mkdtempSync(join(tmpdir(), `switchyard-wfleet-${name}-`))
    const cfg = baseConfig(dir, [blue.url], [green.url], { store: { type: 'redis', url: redis.url, prefix }, workers })
    const p = await startRouterProcess(writeConfig(cfg, dir), CLEAN_ENV, 60_000)
    t.teardown(() => p.stop('SIGKILL'))
    return p
  }
  const a = await start('a', 1)
  const b = await start('b', 2)
  t.equal(b.logs.filter((l) => l.msg === 'worker started').length, 2)

  const flip = await admin(a.adminUrl, 'POST', '/v1/flip', {})
  t.equal(flip.status, 200)
  t.equal(flip.json.converged, true, 'a write through A waits for B and its workers')
  t.same(await colors(b.proxyUrl, 12), new Set(['green']), "B's workers route by the change A wrote")
  const instances = await admin(a.adminUrl, 'GET', '/v1/instances')
  t.same(
    (instances.json.instances as { appliedVersion: number }[]).map((i) => i.appliedVersion),
    [flip.json.state.version, flip.json.state.version],
    'both instances report the new version',
  )

  const back = await admin(b.adminUrl, 'POST', '/v1/rollback', {})
  t.equal(back.json.converged, true, 'a write through B waits for its workers and for A')
  t.same(await colors(b.proxyUrl, 12), new Set(['blue']))
  t.same(await colors(a.proxyUrl, 4), new Set(['blue']))
  t.equal(await b.stop(), 0, 'SIGTERM: B drains its workers and exits 0')
  t.equal(await a.stop(), 0)
})

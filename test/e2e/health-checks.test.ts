import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { admin, baseConfig, startRouterProcess, writeConfig, type RouterProcess } from './router-process.js'
import { request } from '../helpers/request.js'
import { freePort, startUpstream, type Upstream } from '../helpers/upstream.js'
import { sleep } from '../helpers/time.js'
import { waitFor } from '../helpers/wait.js'

/**
 * Active health checks through a real router process (`npm run build`
 * first): targets are checked without any traffic, a target whose checks
 * fail is skipped by requests even though it answers them, and it comes
 * back after `healthyAfter` passing checks.
 */

const CHECK = { path: '/health', intervalMs: 100, timeoutMs: 1000, unhealthyAfter: 2, healthyAfter: 2 }

/** An upstream whose /health answers `health.status`. */
async function upstream(t: Test, color: string, health = { status: 200 }): Promise<Upstream> {
  const u = await startUpstream({
    color,
    handler: (req, res) => {
      if (req.url !== '/health') return false
      res.writeHead(health.status).end()
      return true
    },
  })
  t.teardown(() => u.close())
  return u
}

async function router(t: Test, blue: string[], green: string[], extra: Record<string, unknown>): Promise<RouterProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-health-'))
  const r = await startRouterProcess(writeConfig(baseConfig(dir, blue, green, extra), dir))
  t.teardown(async () => {
    await r.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return r
}

type TargetView = {
  url: string
  up: boolean
  check?: { up: boolean; checkedAt: string | null; failures: number; passes: number; error: string | null }
}

async function targets(r: RouterProcess): Promise<Record<'blue' | 'green', TargetView[]>> {
  const res = await admin(r.adminUrl, 'GET', '/v1/health')
  if (res.status !== 200) throw new Error(`GET /v1/health answered ${res.status}`)
  return { blue: res.json.colors.blue.targets, green: res.json.colors.green.targets }
}

/** `switchyard_target_up` samples by target URL. */
async function upMetric(r: RouterProcess): Promise<Map<string, string>> {
  const text = await (await fetch(`${r.adminUrl}/metrics`)).text()
  const out = new Map<string, string>()
  for (const m of text.matchAll(/^switchyard_target_up\{app="default",color="(\w+)",target="([^"]+)"\} (\d)$/gm))
    out.set(`${m[1]} ${m[2]}`, m[3])
  return out
}

const proxied = (u: Upstream): number => u.requests.filter((x) => x.url !== '/health').length

t.test('a dead idle target is seen down without traffic; a failing target is skipped, then comes back', async (t) => {
  const a = await upstream(t, 'blue-a')
  const bHealth = { status: 200 }
  const b = await upstream(t, 'blue-b', bHealth)
  const dead = `http://127.0.0.1:${await freePort()}`
  const r = await router(t, [a.url, b.url], [dead], { healthCheck: CHECK })

  // The idle color's only target is dead: found by the checks alone.
  const green = await waitFor(
    'the dead idle target reported down',
    async () => {
      const g = (await targets(r)).green[0]
      return g.check !== undefined && !g.check.up && g
    },
    15_000,
  )
  t.equal(green.url, dead)
  t.equal(green.up, false)
  t.ok((green.check?.failures ?? 0) >= 2, 'failures counted')
  t.type(green.check?.error, 'string', 'why it failed')
  t.type(green.check?.checkedAt, 'string')
  const m = await upMetric(r)
  t.equal(m.get(`green ${dead}`), '0', 'switchyard_target_up is 0 for the dead target')
  t.equal(m.get(`blue ${a.url}`), '1')
  t.equal(m.get(`blue ${b.url}`), '1')
  t.equal(proxied(a) + proxied(b), 0, 'no request was proxied to find out')
  const check = a.requests.find((x) => x.url === '/health')
  t.equal(check?.headers['user-agent'], 'switchyard-health-check')
  t.ok(
    r.logs.some((l) => l.msg === 'health check: upstream target is down' && l.target === dead && l.color === 'green'),
    'the transition is logged',
  )

  // b answers traffic but fails its checks: requests skip it.
  bHealth.status = 503
  await waitFor('b reported down', async () => (await targets(r)).blue[1].check?.up === false, 15_000)
  t.equal((await upMetric(r)).get(`blue ${b.url}`), '0')
  for (let i = 0; i < 6; i++) {
    const res = await request(`${r.proxyUrl}/anything`)
    t.equal(res.status, 200)
    t.equal(res.headers['x-served-by'], 'blue-a', `request ${i} skipped the actively-down target`)
  }
  t.equal(proxied(b), 0)

  // b passes again: up after healthyAfter checks, and served again.
  bHealth.status = 200
  const back = await waitFor(
    'b reported up',
    async () => {
      const v = (await targets(r)).blue[1]
      return v.up && v
    },
    15_000,
  )
  t.ok((back.check?.passes ?? 0) >= 2, 'up only after healthyAfter passes')
  t.equal(back.check?.failures, 0)
  t.equal((await upMetric(r)).get(`blue ${b.url}`), '1')
  const served = new Set<string>()
  for (let i = 0; i < 4; i++) served.add(String((await request(`${r.proxyUrl}/anything`)).headers['x-served-by']))
  t.same([...served].sort(), ['blue-a', 'blue-b'], 'round-robin over both again')
  t.ok(
    r.logs.some((l) => l.msg === 'health check: upstream target is up again' && l.target === b.url),
    'the way back is logged',
  )
})

t.test('no checks without healthCheck.path', async (t) => {
  const a = await upstream(t, 'blue')
  const g = await upstream(t, 'green')
  const r = await router(t, [a.url], [g.url], { healthCheck: { intervalMs: 50 } })
  // Several intervals: a prober would have checked by now.
  await sleep(600)
  t.equal(a.requests.length + g.requests.length, 0, 'no request reached the upstreams')
  const view = await targets(r)
  t.same(view.blue, [{ url: a.url, up: true }], 'no check state in /v1/health')
  t.equal((await upMetric(r)).get(`green ${g.url}`), '1', 'switchyard_target_up still reports passive health')
})

import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'undici'
import { admin, baseConfig, startRouterProcess, writeConfig } from './router-process.js'
import { startColorServer } from './upstreams.js'

const CONNECTIONS = 32
const DURATION_MS = 5000
const FLIP_EVERY_MS = 150

t.test('keep-alive load while flipping every 150 ms: nothing fails', async (t) => {
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const router = await startRouterProcess(writeConfig(baseConfig(dir, [blue.url], [green.url]), dir))
  t.teardown(() => router.stop('SIGKILL'))

  const pool = new Pool(router.proxyUrl, { connections: CONNECTIONS, pipelining: 1 })
  t.teardown(() => pool.close())
  const counts = { ok: 0, non2xx: 0, failed: 0, blue: 0, green: 0, mismatched: 0 }
  const errors: string[] = []
  const deadline = Date.now() + DURATION_MS

  const worker = async () => {
    while (Date.now() < deadline) {
      try {
        const res = await pool.request({ path: '/', method: 'GET' })
        const body = (await res.body.json()) as { color: string }
        if (res.statusCode >= 200 && res.statusCode < 300) counts.ok++
        else counts.non2xx++
        const header = res.headers['x-switchyard-color']
        if (body.color === 'blue') counts.blue++
        else if (body.color === 'green') counts.green++
        if (header !== body.color) counts.mismatched++
      } catch (e) {
        counts.failed++
        if (errors.length < 5) errors.push((e as Error).message)
      }
    }
  }
  let flips = 0
  let flipErrors = 0
  const flipper = async () => {
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, FLIP_EVERY_MS))
      const r = await admin(router.adminUrl, 'POST', '/v1/flip', { reason: 'load test' })
      if (r.status === 200) flips++
      else flipErrors++
    }
  }
  await Promise.all([flipper(), ...Array.from({ length: CONNECTIONS }, worker)])
  t.comment(`requests: ${counts.ok + counts.non2xx + counts.failed}, flips: ${flips}, blue: ${counts.blue}, green: ${counts.green}`)
  t.equal(counts.failed, 0, `no failed requests ${errors.join('; ')}`)
  t.equal(counts.non2xx, 0, 'no non-2xx responses')
  t.equal(flipErrors, 0, 'every flip answered 200')
  t.ok(flips >= 5, `flipped many times (${flips})`)
  t.ok(counts.blue > 0 && counts.green > 0, 'both colors served')
  t.equal(counts.mismatched, 0, 'x-switchyard-color always names the color that served')
  t.ok(counts.ok > 200, `a real load (${counts.ok} requests)`)
})

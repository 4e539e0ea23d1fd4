import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BIN, admin, baseConfig, startRouterProcess, writeConfig } from './router-process.js'
import { startColorServer } from './upstreams.js'
import { eventually } from '../helpers/wait.js'

t.test('a flip survives a restart of the process (file store)', async (t) => {
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const cfg = writeConfig(baseConfig(dir, [blue.url], [green.url]), dir)

  const first = await startRouterProcess(cfg)
  t.teardown(() => first.stop('SIGKILL'))
  t.equal((await (await fetch(first.proxyUrl)).json()).color, 'blue')
  const flip = await admin(first.adminUrl, 'POST', '/v1/flip', { reason: 'release 7' })
  t.equal(flip.status, 200)
  t.equal(flip.json.state.live, 'green')
  t.equal((await (await fetch(first.proxyUrl)).json()).color, 'green', 'the next request goes to the new live color')
  t.equal(await first.stop(), 0, 'SIGTERM exits 0')

  const second = await startRouterProcess(cfg)
  t.teardown(() => second.stop('SIGKILL'))
  const state = await admin(second.adminUrl, 'GET', '/v1/state')
  t.equal(state.json.live, 'green', 'the flip is still there')
  t.equal(state.json.version, flip.json.state.version)
  t.equal(state.headers.get('etag'), `"${flip.json.state.version}"`)
  t.equal((await (await fetch(second.proxyUrl)).json()).color, 'green')
  const history = await admin(second.adminUrl, 'GET', '/v1/history')
  const entries = history.json.entries
  t.equal(entries[0].action, 'flip')
  t.equal(entries[0].reason, 'release 7')
  const back = await admin(second.adminUrl, 'POST', '/v1/rollback', {})
  t.equal(back.json.state.live, 'blue', 'rollback after restart goes back to blue')
  t.equal(await second.stop(), 0)
})

t.test('SIGTERM drains a slow in-flight request, then exits 0', async (t) => {
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  blue.delayMs = 1500
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const router = await startRouterProcess(writeConfig(baseConfig(dir, [blue.url], [green.url]), dir))
  t.teardown(() => router.stop('SIGKILL'))
  const slow = fetch(router.proxyUrl + '/slow').then(async (r) => ({ status: r.status, body: await r.json() }))
  // wait until the upstream has the request, so it is really in flight
  await eventually(() => blue.hits > 0, 10_000, 'the upstream to receive the slow request')
  router.child.kill('SIGTERM')
  const res = await slow
  t.equal(res.status, 200, 'the in-flight request finished')
  t.equal(res.body.color, 'blue')
  t.equal(await router.exited, 0, 'exit code 0 after draining')
  await t.rejects(fetch(router.proxyUrl), 'no longer accepting')
})

t.test('config errors name the key and exit non-zero without a stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const path = join(dir, 'bad.yaml')
  writeFileSync(path, 'upstreams:\n  blue: { targets: ["http://127.0.0.1:1"] }\nlisten: { port: banana }\n')
  const r = spawnSync(process.execPath, [BIN, 'serve', '--config', path], { encoding: 'utf8', timeout: 20_000 })
  t.equal(r.status, 2)
  t.match(r.stderr, /upstreams\.green: required/)
  t.match(r.stderr, /listen\.port: /)
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace')
  const missing = spawnSync(process.execPath, [BIN, 'serve'], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, SWITCHYARD_CONFIG: '' },
  })
  t.equal(missing.status, 2)
  t.match(missing.stderr, /--config: required/)
})

t.test('a port in use is a clear start error', async (t) => {
  const blue = await startColorServer('blue')
  t.teardown(() => blue.close())
  const port = Number(new URL(blue.url).port)
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const cfg = writeConfig({ ...baseConfig(dir, [blue.url], [blue.url]), listen: { host: '127.0.0.1', port } }, dir)
  const r = spawnSync(process.execPath, [BIN, 'serve', '--config', cfg], { encoding: 'utf8', timeout: 20_000 })
  t.equal(r.status, 1)
  t.match(r.stderr, /cannot start: address in use/)
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace')
})

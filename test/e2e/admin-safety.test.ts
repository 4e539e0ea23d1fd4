import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from '../helpers/request.js'
import { admin, baseConfig, startRouterProcess, writeConfig } from './router-process.js'

// The default admin: loopback, no token. A web page the operator has open
// must not be able to flip production, nor read the state by DNS rebinding.
t.test('the default admin refuses cross-site writes and rebound hosts (real process)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const r = await startRouterProcess(writeConfig(baseConfig(dir, ['http://127.0.0.1:1'], ['http://127.0.0.1:2']), dir))
  t.teardown(() => r.stop('SIGKILL'))

  // fetch(admin + '/v1/flip', {method: 'POST', mode: 'no-cors', body: '{"force":true}'}) from any page:
  const noCors = await request(`${r.adminUrl}/v1/flip`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://evil.example' },
    body: '{"force":true}',
  })
  t.equal(noCors.status, 403)
  t.equal(noCors.json().error.code, 'FORBIDDEN_ORIGIN')
  // The same without Origin (an older browser, a form) still needs JSON.
  const plain = await request(`${r.adminUrl}/v1/flip`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: '{"force":true}',
  })
  t.equal(plain.status, 415)

  // DNS rebinding: evil.example now resolves to 127.0.0.1; the page is "same origin".
  const port = new URL(r.adminUrl).port
  const rebound = { host: `evil.example:${port}`, origin: `http://evil.example:${port}` }
  const read = await request(`${r.adminUrl}/v1/state`, { headers: rebound })
  t.equal(read.status, 403)
  t.equal(read.json().error.code, 'FORBIDDEN_ORIGIN')
  const write = await request(`${r.adminUrl}/v1/flip`, {
    method: 'POST',
    headers: { ...rebound, 'content-type': 'application/json' },
    body: '{"force":true}',
  })
  t.equal(write.status, 403)

  const state = await admin(r.adminUrl, 'GET', '/v1/state')
  t.equal(state.json.version, 1, 'nothing changed')
  t.equal(state.json.live, 'blue')
  const ok = await admin(r.adminUrl, 'POST', '/v1/flip', { force: true })
  t.equal(ok.status, 200, 'the CLI and curl with a JSON Content-Type still work')
})

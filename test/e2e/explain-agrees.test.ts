import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from '../helpers/request.js'
import { admin, baseConfig, startRouterProcess, writeConfig } from './router-process.js'
import { startColorServer } from './upstreams.js'

/**
 * `POST /v1/explain` and the data plane take one path from a request to its
 * facts: for plain, quoted and percent-encoded cookies, explain names the
 * color a real request through the proxy gets (issue 13: explain had its own
 * cookie parser and disagreed on `session="user-1"` and `session=user%2D1`).
 */
t.test('explain agrees with the data plane on cookies', async (t) => {
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(async () => {
    await blue.close()
    await green.close()
  })
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-explain-'))
  const r = await startRouterProcess(writeConfig(baseConfig(dir, [blue.url], [green.url], { stickiness: { cookie: 'session' } })))
  t.teardown(() => r.stop('SIGKILL'))
  const put = await admin(r.adminUrl, 'PUT', '/v1/cohorts/vip', { color: 'green', match: { users: ['user-1', 'user 1'] } })
  t.equal(put.status, 200)
  const cases: [string, string][] = [
    ['session=user-1', 'green'],
    ['session="user-1"', 'green'],
    ['session=user%2D1', 'green'],
    ['session=user%201', 'green'],
    ['session="user%201"', 'green'],
    ['session=user-2', 'blue'],
    ['other=1; session=user-1', 'green'],
  ]
  for (const [cookie, want] of cases) {
    const proxied = await request(r.proxyUrl + '/', { headers: { cookie } })
    const explained = await admin(r.adminUrl, 'POST', '/v1/explain', { headers: { cookie } })
    t.equal(proxied.json().color, want, `proxy: ${cookie}`)
    t.equal(explained.json.color, want, `explain: ${cookie}`)
    t.equal(explained.json.rule, want === 'green' ? 'cohort' : 'live', `rule: ${cookie}`)
  }
})

import t, { type Test } from 'tap'
import { writeFileSync, mkdtempSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from '../helpers/request.js'
import { admin, startRouterProcess, type RouterProcess } from './router-process.js'
import { startColorServer, type ColorServer } from './upstreams.js'
import { startWebhookReceiver, waitFor, parseMetrics, value } from './watch-helpers.js'

/**
 * Many apps in one router process: host routing, isolation, the admin API's
 * two forms, reload (file, SIGHUP, invalid), restart. One router serves the
 * subtests in order; each says what it leaves behind.
 */

interface AppServers {
  blue: ColorServer
  green: ColorServer
}

async function servers(t: Test, name: string): Promise<AppServers> {
  const blue = await startColorServer(`${name}-blue`)
  const green = await startColorServer(`${name}-green`)
  t.teardown(async () => {
    await blue.close()
    await green.close()
  })
  return { blue, green }
}

const upstreamsOf = (s: AppServers) => ({ blue: { targets: [s.blue.url] }, green: { targets: [s.green.url] } })

/** GET through the proxy with a Host header; answers the status and who served it. */
async function via(proxyUrl: string, host: string, path = '/', headers: Record<string, string> = {}) {
  const r = await request(proxyUrl + path, { headers: { host, ...headers } })
  let servedBy: string | null = null
  let code: string | null = null
  try {
    const body = r.json()
    servedBy = body.color ?? null
    code = body.error?.code ?? null
  } catch {
    // not JSON
  }
  return { status: r.status, servedBy, code, color: r.headers['x-switchyard-color'] }
}

function write(path: string, config: Record<string, unknown>): void {
  writeFileSync(path, JSON.stringify({ log: { level: 'info' }, ...config }, null, 2))
}

t.test('many apps in one router process', async (t) => {
  const shop = await servers(t, 'shop')
  const blog = await servers(t, 'blog')
  const api = await servers(t, 'api')
  const hook = await startWebhookReceiver()
  t.teardown(() => hook.close())
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-apps-'))
  const configPath = join(dir, 'config.json')
  const base = {
    listen: { host: '127.0.0.1', port: 0 },
    preview: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    store: { type: 'file', path: join(dir, 'state.json') },
    stickiness: { header: 'x-user-id' },
    autoRevert: { enabled: true, maxErrorRate: 0.5, minRequests: 10, windowSeconds: 10, watchSecondsAfterFlip: 60 },
    notify: { webhooks: [hook.url], timeoutMs: 2000, retries: 0 },
    shutdownGraceSeconds: 5,
  }
  const apps = {
    shop: { hosts: ['shop.test', '*.shop.test'], upstreams: upstreamsOf(shop) },
    blog: { hosts: ['blog.test'], upstreams: upstreamsOf(blog), initial: { live: 'green' } },
  }
  write(configPath, { ...base, apps })
  let r: RouterProcess = await startRouterProcess(configPath)
  t.teardown(() => r.stop('SIGKILL'))

  await t.test('host routing: exact, wildcard, case, port, unknown host', async (t) => {
    t.match(await via(r.proxyUrl, 'shop.test'), { status: 200, servedBy: 'shop-blue', color: 'blue' })
    t.match(await via(r.proxyUrl, 'SHOP.Test:8080'), { status: 200, servedBy: 'shop-blue' }, 'case and port do not matter')
    t.match(await via(r.proxyUrl, 'eu.shop.test'), { status: 200, servedBy: 'shop-blue' }, 'wildcard')
    t.match(await via(r.proxyUrl, 'a.b.shop.test'), { status: 200, servedBy: 'shop-blue' }, 'wildcard, deeper')
    t.match(await via(r.proxyUrl, 'blog.test'), { status: 200, servedBy: 'blog-green', color: 'green' }, 'blog starts green')
    const before = shop.blue.hits + shop.green.hits + blog.blue.hits + blog.green.hits
    const unknown = await via(r.proxyUrl, 'nope.test')
    t.match(unknown, { status: 404, code: 'UNKNOWN_HOST', color: undefined })
    t.equal(shop.blue.hits + shop.green.hits + blog.blue.hits + blog.green.hits, before, 'nothing forwarded for an unknown host')
    t.match(
      await via(r.previewUrl as string, 'blog.test'),
      { status: 200, servedBy: 'blog-blue' },
      'preview: the idle color of the app of the host',
    )
    t.match(await via(r.previewUrl as string, 'nope.test'), { status: 404, code: 'UNKNOWN_HOST' }, 'preview refuses unknown hosts too')
  })

  await t.test('admin API: /v1/apps, the long form, APP_REQUIRED, UNKNOWN_APP', async (t) => {
    const list = await admin(r.adminUrl, 'GET', '/v1/apps')
    t.equal(list.status, 200)
    t.match(list.json.apps, [
      { name: 'shop', hosts: ['shop.test', '*.shop.test'], live: 'blue', canary: 0, version: 1, rollout: null },
      { name: 'blog', hosts: ['blog.test'], live: 'green', canary: 0, version: 1 },
    ])
    t.match(list.json.apps[0].colors.blue, { requests: Number, errors: 0, errorRate: 0 })
    t.match(await admin(r.adminUrl, 'GET', '/v1/state'), { status: 400, json: { error: { code: 'APP_REQUIRED' } } })
    t.match(await admin(r.adminUrl, 'POST', '/v1/flip', {}), {
      status: 400,
      json: { error: { code: 'APP_REQUIRED', details: { apps: ['shop', 'blog'] } } },
    })
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/nope/state'), { status: 404, json: { error: { code: 'UNKNOWN_APP' } } })
    t.match(await admin(r.adminUrl, 'POST', '/v1/apps/nope/flip', {}), { status: 404, json: { error: { code: 'UNKNOWN_APP' } } })
    const state = await admin(r.adminUrl, 'GET', '/v1/apps/blog/state')
    t.match(state, { status: 200, json: { version: 1, live: 'green' } })
    t.equal(state.headers.get('etag'), '"1"')
    const doc = await admin(r.adminUrl, 'GET', '/docs/json')
    t.ok(doc.json.paths['/v1/apps/{app}/flip'] && doc.json.paths['/v1/apps'], 'OpenAPI documents the per-app routes')
  })

  await t.test('isolation: a flip, a canary and a cohort of one app leave the others unchanged', async (t) => {
    const flip = await admin(r.adminUrl, 'POST', '/v1/apps/shop/flip', { reason: 'release 2' }, { 'x-switchyard-actor': 'test' })
    t.match(flip, { status: 200, json: { changed: true, state: { live: 'green', version: 2 }, entry: { app: 'shop', action: 'flip' } } })
    t.match(await via(r.proxyUrl, 'shop.test'), { servedBy: 'shop-green' })
    t.match(await via(r.proxyUrl, 'blog.test'), { servedBy: 'blog-green' })
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/blog/state'), { json: { version: 1, live: 'green' } }, "blog's version did not move")
    t.match(await admin(r.adminUrl, 'PUT', '/v1/apps/blog/canary', { percent: 100, force: true }), {
      status: 200,
      json: { state: { canary: 100, version: 2 } },
    })
    t.match(await via(r.proxyUrl, 'blog.test', '/', { 'x-user-id': 'u1' }), { servedBy: 'blog-blue' })
    t.match(await via(r.proxyUrl, 'shop.test', '/', { 'x-user-id': 'u1' }), { servedBy: 'shop-green' }, 'shop has no canary')
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/shop/state'), { json: { version: 2, canary: 0 } })
    t.match(await admin(r.adminUrl, 'PUT', '/v1/apps/blog/canary', { percent: 0 }), { status: 200 })
    // A rollout of blog: started, seen under blog only, aborted; shop's version never moves.
    const started = await admin(r.adminUrl, 'POST', '/v1/apps/blog/rollout', { steps: [{ percent: 10, holdSeconds: 600 }], force: true })
    t.match(started, { status: 200, json: { state: { rollout: { status: 'running' } } } })
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/shop/rollout'), { json: { rollout: null } })
    t.match(await admin(r.adminUrl, 'POST', '/v1/apps/blog/rollout/abort', {}), {
      status: 200,
      json: { state: { rollout: null, canary: 0 } },
    })
    t.match(
      await admin(r.adminUrl, 'GET', '/v1/apps/shop/state'),
      { json: { version: 2 } },
      "shop's version did not move during blog's rollout",
    )
    const hist = await admin(r.adminUrl, 'GET', '/v1/apps/shop/history')
    t.same(
      hist.json.entries.map((e: { action: string; app: string }) => [e.app, e.action]),
      [['shop', 'flip']],
      "shop's history has only shop's change",
    )
    const bh = await admin(r.adminUrl, 'GET', '/v1/apps/blog/history')
    t.same(
      bh.json.entries.map((e: { app: string; action: string }) => [e.app, e.action]),
      [
        ['blog', 'rollout'],
        ['blog', 'rollout'],
        ['blog', 'canary'],
        ['blog', 'canary'],
      ],
    )
    await waitFor('webhooks', () => hook.received.length >= 5 || undefined, 10_000)
    t.same(
      hook.received.slice(0, 5).map((h) => h.body.app),
      ['shop', 'blog', 'blog', 'blog', 'blog'],
      'webhook payloads name the app',
    )
    t.notOk(existsSync(join(dir, 'state.json')), 'no app named default, so no state.json')
    t.ok(existsSync(join(dir, 'state.shop.json')) && existsSync(join(dir, 'state.blog.json')), 'one state file per app')
  })

  await t.test('auto-revert of one app leaves the other alone', async (t) => {
    // blog: canary to blue, and blue fails.
    blog.blue.status = 500
    t.match(await admin(r.adminUrl, 'PUT', '/v1/apps/blog/canary', { percent: 100, force: true }), { status: 200 })
    for (let i = 0; i < 15; i++) await via(r.proxyUrl, 'blog.test', '/', { 'x-user-id': `u${i}` })
    for (let i = 0; i < 15; i++) await via(r.proxyUrl, 'shop.test', '/', { 'x-user-id': `u${i}` })
    const reverted = await waitFor(
      'blog auto-revert',
      async () => {
        const s = await admin(r.adminUrl, 'GET', '/v1/apps/blog/state')
        return s.json.canary === 0 ? s.json : undefined
      },
      10_000,
    )
    t.equal(reverted.canary, 0)
    const bh = await admin(r.adminUrl, 'GET', '/v1/apps/blog/history?limit=1')
    t.match(bh.json.entries[0], { app: 'blog', action: 'auto-revert' })
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/shop/state'), { json: { version: 2, live: 'green', canary: 0 } }, 'shop untouched')
    blog.blue.status = 200
    const m = parseMetrics((await admin(r.adminUrl, 'GET', '/metrics')).json as string)
    t.equal(value(m.samples, 'switchyard_auto_reverts_total', { app: 'blog' }), 1)
    t.equal(value(m.samples, 'switchyard_auto_reverts_total', { app: 'shop' }), 0)
    t.equal(value(m.samples, 'switchyard_live_color', { app: 'shop', color: 'green' }), 1)
    t.equal(value(m.samples, 'switchyard_state_version', { app: 'shop' }), 2)
    t.ok((value(m.samples, 'switchyard_requests_total', { app: 'blog', color: 'blue', code: '500' }) ?? 0) >= 10)
    t.ok(
      m.samples.some((s) => s.name === 'switchyard_build_info' && s.labels.version !== undefined),
      'build info',
    )
  })

  await t.test('reload: add an app, change hosts, a request in flight finishes where it started', async (t) => {
    // shop is green-live: its blue (idle) answers slowly on the preview listener.
    shop.blue.delayMs = 1500
    const inFlight = via(r.previewUrl as string, 'shop.test')
    await new Promise((res) => setTimeout(res, 200))
    write(configPath, {
      ...base,
      apps: {
        ...apps,
        api: { hosts: ['api.test'], upstreams: upstreamsOf(api) },
        blog: { ...apps.blog, hosts: ['blog.test', 'www.blog.test'] },
      },
    })
    const reload = await admin(r.adminUrl, 'POST', '/v1/reload', {})
    t.match(reload, { status: 200, json: { added: ['api'], removed: [], changed: ['blog'], needsRestart: [] } })
    t.match(await via(r.proxyUrl, 'api.test'), { status: 200, servedBy: 'api-blue' })
    t.match(await via(r.proxyUrl, 'www.blog.test'), { status: 200, servedBy: 'blog-green' })
    t.match(await inFlight, { status: 200, servedBy: 'shop-blue' }, 'the request in flight across the reload finished')
    shop.blue.delayMs = 0
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/api/state'), { json: { version: 1, live: 'blue' } })
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/shop/state'), { json: { version: 2, live: 'green' } }, 'shop kept its state')
  })

  await t.test('reload: an invalid file changes nothing and says why', async (t) => {
    write(configPath, { ...base, apps: { ...apps, api: { hosts: ['api.test'], upstreams: { blue: upstreamsOf(api).blue } } } })
    const bad = await admin(r.adminUrl, 'POST', '/v1/reload', {})
    t.match(bad, { status: 400, json: { error: { code: 'CONFIG_INVALID', details: { errors: ['apps.api.upstreams.green: required'] } } } })
    t.match(await via(r.proxyUrl, 'api.test'), { status: 200, servedBy: 'api-blue' }, 'still serving the config it had')
    t.match(await via(r.proxyUrl, 'www.blog.test'), { status: 200 })
  })

  await t.test('SIGHUP reloads (remove an app); an invalid file on SIGHUP is logged, the router lives on', async (t) => {
    write(configPath, { ...base, apps })
    r.child.kill('SIGHUP')
    await waitFor('reload by SIGHUP', async () => ((await via(r.proxyUrl, 'api.test')).status === 404 ? true : undefined), 10_000)
    t.match(await via(r.proxyUrl, 'api.test'), { status: 404, code: 'UNKNOWN_HOST' }, 'api removed')
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/api/state'), { status: 404, json: { error: { code: 'UNKNOWN_APP' } } })
    writeFileSync(configPath, '{ not json')
    r.child.kill('SIGHUP')
    await waitFor(
      'refusal logged',
      () => r.logs.some((l) => l.msg === 'reload refused; going on with the config it had') || undefined,
      10_000,
    )
    t.equal(r.child.exitCode, null, 'still running')
    t.match(await via(r.proxyUrl, 'shop.test'), { status: 200, servedBy: 'shop-green' })
  })

  await t.test('a restart keeps every app, and a removed app found its state again when added back', async (t) => {
    write(configPath, { ...base, apps: { ...apps, api: { hosts: ['api.test'], upstreams: upstreamsOf(api) } } })
    t.equal(await r.stop('SIGTERM'), 0)
    r = await startRouterProcess(configPath)
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/shop/state'), { json: { version: 2, live: 'green' } })
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/blog/state'), { json: { live: 'green', canary: 0 } })
    t.match(await admin(r.adminUrl, 'GET', '/v1/apps/api/state'), { json: { version: 1, live: 'blue' } })
    t.match(await via(r.proxyUrl, 'shop.test'), { servedBy: 'shop-green' })
  })
})

t.test('defaultApp serves unknown hosts; the short form works with one app', async (t) => {
  const a = await servers(t, 'one')
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-apps-'))
  const configPath = join(dir, 'config.json')
  write(configPath, {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    store: { type: 'file', path: join(dir, 'state.json') },
    apps: { site: { hosts: ['site.test'], upstreams: upstreamsOf(a) } },
    defaultApp: 'site',
  })
  const r = await startRouterProcess(configPath)
  t.teardown(() => r.stop('SIGKILL'))
  t.match(await via(r.proxyUrl, 'whatever.test'), { status: 200, servedBy: 'one-blue' })
  t.match(
    await admin(r.adminUrl, 'POST', '/v1/flip', {}),
    { status: 200, json: { state: { live: 'green' }, entry: { app: 'site' } } },
    'short form',
  )
  t.match(await admin(r.adminUrl, 'GET', '/v1/apps/site/state'), { json: { live: 'green' } })
  t.match(await via(r.proxyUrl, 'site.test'), { servedBy: 'one-green' })
})

t.test('a state stored by the single-app version loads unchanged as the app default', async (t) => {
  const a = await servers(t, 'legacy')
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-apps-'))
  // What the previous version wrote: one file { state, history }.
  const state = {
    version: 7,
    live: 'green',
    previous: 'blue',
    canary: 5,
    cohorts: [],
    rollout: null,
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastFlipAt: '2026-01-01T00:00:00.000Z',
    lastFlipAction: 'flip',
  }
  writeFileSync(
    join(dir, 'state.json'),
    JSON.stringify({
      state,
      history: [{ at: state.updatedAt, version: 7, action: 'flip', from: 'blue', to: 'green', actor: 'cli', reason: null }],
    }),
  )
  const configPath = join(dir, 'config.json')
  write(configPath, {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    store: { type: 'file', path: join(dir, 'state.json') },
    upstreams: upstreamsOf(a),
  })
  const r = await startRouterProcess(configPath)
  t.teardown(() => r.stop('SIGKILL'))
  t.match(await admin(r.adminUrl, 'GET', '/v1/state'), { json: { version: 7, live: 'green', canary: 5 } })
  t.match(await admin(r.adminUrl, 'GET', '/v1/apps/default/history'), { json: { entries: [{ version: 7, action: 'flip' }] } })
  t.match(await admin(r.adminUrl, 'GET', '/v1/apps'), { json: { apps: [{ name: 'default', hosts: [], version: 7 }] } })
  t.match(await via(r.proxyUrl, 'any.host'), { servedBy: 'legacy-green' })
})

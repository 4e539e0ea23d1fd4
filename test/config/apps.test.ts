import t from 'tap'
import { ConfigError, normalizeHostPattern, validateConfig } from '../../src/config/index.js'

const up = (a: number, b: number) => ({ blue: { targets: [`http://127.0.0.1:${a}`] }, green: { targets: [`http://127.0.0.1:${b}`] } })

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw)
  } catch (e) {
    if (e instanceof ConfigError) return e.problems
    throw e
  }
  return []
}

t.test('the single-app shape is one app named default that serves every host', async (t) => {
  const c = validateConfig({ upstreams: up(1, 2), autoRevert: { maxErrorRate: 0.1 } })
  t.equal(c.apps.length, 1)
  t.equal(c.apps[0].name, 'default')
  t.same(c.apps[0].hosts, [])
  t.equal(c.defaultApp, 'default')
  t.same(c.apps[0].upstreams, up(1, 2))
  t.equal(c.apps[0].autoRevert.maxErrorRate, 0.1)
  t.equal(c.apps[0].autoRevert.minRequests, 20, 'defaults filled in')
})

t.test('apps: hosts normalized, sections merged key by key over the top level', async (t) => {
  const c = validateConfig({
    autoRevert: { maxErrorRate: 0.2, minRequests: 50 },
    stickiness: { header: 'x-user-id' },
    apps: {
      shop: { hosts: ['Shop.Example.com', '*.shop.example.com.'], upstreams: up(1, 2), autoRevert: { maxErrorRate: 0.01 } },
      blog: { hosts: ['blog.example.com'], upstreams: up(3, 4), stickiness: { cookie: 'session' }, initial: { live: 'green' } },
    },
    defaultApp: 'blog',
  })
  t.same(
    c.apps.map((a) => a.name),
    ['shop', 'blog'],
    'the file order',
  )
  const [shop, blog] = c.apps
  t.same(shop.hosts, ['shop.example.com', '*.shop.example.com'])
  t.equal(shop.autoRevert.maxErrorRate, 0.01, "the app's own value")
  t.equal(shop.autoRevert.minRequests, 50, 'the top-level value')
  t.equal(shop.autoRevert.windowSeconds, 30, 'the default')
  t.equal(shop.stickiness.header, 'x-user-id')
  t.equal(shop.initial.live, 'blue')
  t.equal(blog.initial.live, 'green')
  t.same(blog.stickiness, { header: 'x-user-id', cookie: 'session' })
  t.equal(c.defaultApp, 'blog')
  t.ok(Object.isFrozen(c.apps) && Object.isFrozen(shop.hosts))
  t.notOk('upstreams' in c && (c as { upstreams?: unknown }).upstreams !== undefined, 'no top-level upstreams in the many-apps shape')
})

t.test('errors name the key', async (t) => {
  t.same(problems({ apps: { shop: { hosts: ['shop.example.com'], upstreams: { blue: up(1, 2).blue } } } }), [
    'apps.shop.upstreams.green: required',
  ])
  t.match(problems({ upstreams: up(1, 2), apps: { shop: { hosts: ['a.b'], upstreams: up(1, 2) } } }), [/^upstreams, apps: use one of them/])
  t.match(problems({}), [/^upstreams: required \(or apps/])
  t.match(problems({ apps: {} }), [/^apps: must name at least one app/])
  t.match(problems({ apps: { Shop_1: { hosts: ['a.b'], upstreams: up(1, 2) } } }), [/^apps\.Shop_1: app names are/])
  t.match(problems({ apps: { shop: { hosts: ['http://shop.example.com'], upstreams: up(1, 2) } } }), [
    /^apps\.shop\.hosts\.0: must be a host name/,
  ])
  t.match(problems({ apps: { shop: { hosts: ['shop.example.com:8080'], upstreams: up(1, 2) } } }), [/^apps\.shop\.hosts\.0: /])
  t.match(problems({ apps: { shop: { hosts: ['*.com'], upstreams: up(1, 2) } } }), [/^apps\.shop\.hosts\.0: /])
  t.match(
    problems({
      apps: { shop: { hosts: ['x.example.com'], upstreams: up(1, 2) }, blog: { hosts: ['X.example.com'], upstreams: up(3, 4) } },
    }),
    [/^apps\.blog\.hosts\.0: x\.example\.com is also a host of app shop/],
  )
  t.match(problems({ apps: { shop: { hosts: [], upstreams: up(1, 2) } } }), [/^apps\.shop\.hosts: required/])
  t.same(problems({ apps: { shop: { hosts: [], upstreams: up(1, 2) } }, defaultApp: 'shop' }), [], 'the default app needs no hosts')
  t.match(problems({ apps: { shop: { hosts: ['a.b'], upstreams: up(1, 2) } }, defaultApp: 'blog' }), [/^defaultApp: "blog" is not an app/])
  t.match(problems({ upstreams: up(1, 2), defaultApp: 'shop' }), [/^defaultApp: the single-app shape/])
  t.match(problems({ apps: { shop: { hosts: ['a.b'], upstreams: up(1, 2), autoRevert: { maxErrorRate: 3 } } } }), [
    /^apps\.shop\.autoRevert\.maxErrorRate: /,
  ])
  t.match(problems({ apps: { shop: { hosts: ['a.b'], upstreams: up(1, 2), listen: { port: 1 } } } }), ['apps.shop.listen: unknown key'])
})

t.test('host patterns', async (t) => {
  t.equal(normalizeHostPattern('A.B.'), 'a.b')
  t.equal(normalizeHostPattern('*.Example.com'), '*.example.com')
  t.equal(normalizeHostPattern('127.0.0.1'), '127.0.0.1')
  t.equal(normalizeHostPattern('[::1]'), '[::1]')
  t.equal(normalizeHostPattern('localhost'), 'localhost')
  for (const bad of ['', '*.', '*.com', 'a..b', '-a.b', 'a_b.c', 'a.b/c', '*.[::1]', 'x'.repeat(254)]) {
    t.equal(normalizeHostPattern(bad), null, JSON.stringify(bad))
  }
})

t.test('config/apps.yaml, the README example with three apps, is valid', async (t) => {
  const { loadConfig } = await import('../../src/config/index.js')
  const c = loadConfig(new URL('../../config/apps.yaml', import.meta.url).pathname, {})
  t.same(
    c.apps.map((a) => a.name),
    ['shop', 'blog', 'api'],
  )
  t.equal(c.defaultApp, 'blog')
  t.equal(c.apps[0].autoRevert.maxErrorRate, 0.01)
  t.equal(c.apps[2].initial.live, 'green')
})

t.test("defaults inside an app's own sections are filled in (smoke checks, hosts)", async (t) => {
  const c = validateConfig({
    apps: { shop: { upstreams: up(1, 2), smoke: { checks: [{ path: '/ready' }] } } },
    defaultApp: 'shop',
  })
  t.same(c.apps[0].hosts, [])
  t.match(c.apps[0].smoke.checks[0], { path: '/ready', method: 'GET', expectStatus: 200, timeoutMs: 2000 })
})

t.test('mirroring runs with workers > 1 too: a mirror percent is accepted whatever the workers', async (t) => {
  t.same(problems({ upstreams: up(1, 2), workers: 2, mirror: { percent: 10 } }), [])
  t.same(problems({ apps: { shop: { hosts: ['a.b'], upstreams: up(1, 2), mirror: { percent: 5 } } }, workers: 'auto' }), [])
  t.same(problems({ upstreams: up(1, 2), workers: 1, mirror: { percent: 10 } }), [])
})

t.test('healthCheck: off by default, per app merged over the top level, bad values named', async (t) => {
  const plain = validateConfig({ upstreams: up(1, 2) })
  t.same(plain.apps[0].healthCheck, { intervalMs: 5000, timeoutMs: 2000, unhealthyAfter: 3, healthyAfter: 2 }, 'defaults, no path: off')
  const c = validateConfig({
    healthCheck: { path: '/health', intervalMs: 1000 },
    apps: {
      shop: { hosts: ['shop.example.com'], upstreams: up(1, 2), healthCheck: { unhealthyAfter: 5 } },
      blog: { hosts: ['blog.example.com'], upstreams: up(3, 4), healthCheck: { path: '/ready' } },
    },
  })
  t.same(c.apps[0].healthCheck, { path: '/health', intervalMs: 1000, timeoutMs: 2000, unhealthyAfter: 5, healthyAfter: 2 })
  t.equal(c.apps[1].healthCheck.path, '/ready')
  t.equal(c.apps[1].healthCheck.intervalMs, 1000)
  t.match(
    problems({ upstreams: up(1, 2), healthCheck: { path: 'health', unhealthyAfter: 0 } }).join('\n'),
    /healthCheck\.path[\s\S]*healthCheck\.unhealthyAfter|healthCheck\.unhealthyAfter[\s\S]*healthCheck\.path/,
  )
})

import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, loadConfig, validateConfig } from '../../src/config/index.js'

const upstreams = { blue: { targets: ['http://127.0.0.1:3001'] }, green: { targets: ['http://127.0.0.1:3002'] } }

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw)
  } catch (e) {
    if (e instanceof ConfigError) return e.problems
    throw e
  }
  return []
}

t.test('a minimal config gets every default and is frozen', async (t) => {
  const c = validateConfig({ upstreams })
  t.same(c.listen, { host: '0.0.0.0', port: 8080 })
  t.same(c.admin, { host: '127.0.0.1', port: 9901, metricsPublic: false })
  t.equal(c.store.type, 'file')
  t.equal(c.initial.live, 'blue')
  t.same(c.timeouts, { connectMs: 2000, headersMs: 30000, bodyMs: 30000, bodyIdleMs: 30000, tunnelIdleMs: 300000 })
  t.equal(c.autoRevert.maxErrorRate, 0.05)
  t.equal(c.shutdownGraceSeconds, 10)
  t.same(
    c.apps.map((a) => a.name),
    ['default'],
    'the single-app shape is one app named default',
  )
  t.same(c.apps[0].hosts, [], 'that serves every host')
  t.equal(c.defaultApp, 'default')
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.apps[0].upstreams.blue.targets))
})

t.test('errors name the key', async (t) => {
  t.same(problems({ upstreams: { blue: upstreams.blue } }), ['upstreams.green: required'])
  t.same(problems({}), ['upstreams: required (or apps, for many apps)'])
  t.match(problems({ upstreams, listen: { port: 'x' } }), ['listen.port: expected integer'])
  t.match(problems({ upstreams, listen: { port: 70000 } }), [/^listen\.port: /])
  t.match(problems({ upstreams, autoRevert: { maxErrorRate: 2 } }), [/^autoRevert\.maxErrorRate: /])
  t.match(problems({ upstreams, bogus: 1 }), ['bogus: unknown key'])
  t.match(problems({ upstreams: { ...upstreams, green: { targets: ['ftp://x'] } } }), [/^upstreams\.green\.targets\.0: must be a base URL/])
  t.match(problems({ upstreams: { ...upstreams, green: { targets: [] } } }), [/^upstreams\.green\.targets: /])
  t.match(problems({ upstreams, store: { type: 'sql' } }), [/^store\.type: must be "file" or "redis"/])
  t.match(problems({ upstreams, store: { type: 'redis', url: 'http://x' } }), [/^store\.url: must be a redis/])
  t.match(problems({ upstreams, initial: { live: 'red' } }), [/^initial\.live: /])
  t.match(problems({ upstreams, admin: { host: '0.0.0.0' } }), [/^admin\.token: required when admin\.host/])
  t.match(problems({ upstreams, admin: { token: 'short' } }), [/^admin\.token: /])
  t.match(problems({ upstreams, overrides: { enabled: false, secret: 'x' } }), [/^overrides\.secret: /])
  t.match(problems({ upstreams, listen: { port: 9000 }, admin: { port: 9000 } }), [/^admin\.port: 9000 is also listen\.port/])
  t.match(problems([1, 2]), [/must be a mapping/])
  const several = problems({ upstreams: { blue: upstreams.blue }, listen: { port: -1 }, bogus: true })
  t.equal(several.length, 3, 'every problem is reported at once')
})

t.test('a redis store gets its own defaults', async (t) => {
  const c = validateConfig({ upstreams, store: { type: 'redis' } })
  t.same(c.store, { type: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'switchyard' })
  const f = validateConfig({ upstreams, store: { path: 'x/state.json' } }, '/srv')
  t.same(f.store, { type: 'file', path: '/srv/x/state.json' }, 'relative store paths resolve against the config folder')
})

t.test('files: YAML, JSON, environment overrides', async (t) => {
  const dir = t.testdir({
    'a.yaml':
      'upstreams:\n  blue: { targets: ["http://127.0.0.1:1"] }\n  green: { targets: ["http://127.0.0.1:2"] }\nadmin: { host: 0.0.0.0 }\n',
    'b.json': JSON.stringify({ upstreams }),
    'bad.yaml': 'upstreams: [unclosed\n',
    'list.yaml': '- 1\n- 2\n',
  })
  const env = {
    SWITCHYARD_LISTEN_PORT: '18080',
    SWITCHYARD_ADMIN_PORT: '19901',
    SWITCHYARD_ADMIN_TOKEN: 'a-token-of-enough-length',
    SWITCHYARD_REDIS_URL: 'redis://127.0.0.1:6390',
  }
  const c = loadConfig(join(dir, 'a.yaml'), env)
  t.equal(c.listen.port, 18080)
  t.equal(c.admin.port, 19901)
  t.equal(c.admin.token, 'a-token-of-enough-length', 'the env token satisfies the non-loopback rule')
  t.same(c.store, { type: 'redis', url: 'redis://127.0.0.1:6390', prefix: 'switchyard' })
  t.equal(loadConfig(undefined, { SWITCHYARD_CONFIG: join(dir, 'b.json') }).apps[0].upstreams.green.targets[0], 'http://127.0.0.1:3002')
  t.throws(() => loadConfig(join(dir, 'a.yaml'), {}), /admin\.token: required/)
  t.throws(
    () => loadConfig(join(dir, 'a.yaml'), { ...env, SWITCHYARD_LISTEN_PORT: 'eighty' }),
    /SWITCHYARD_LISTEN_PORT: must be a port number/,
  )
  t.throws(() => loadConfig(join(dir, 'bad.yaml'), {}), /bad\.yaml: cannot parse/)
  t.throws(() => loadConfig(join(dir, 'list.yaml'), {}), /must hold a mapping/)
  t.throws(() => loadConfig(join(dir, 'missing.yaml'), {}), /missing\.yaml: cannot read: ENOENT/)
  t.throws(() => loadConfig(undefined, {}), /--config: required/)
  writeFileSync(
    join(dir, 'c.yaml'),
    'store: { type: file }\nupstreams:\n  blue: { targets: ["http://127.0.0.1:1"] }\n  green: { targets: ["http://127.0.0.1:2"] }\n',
  )
  t.equal(loadConfig(join(dir, 'c.yaml'), {}).store.type, 'file')
})

t.test('the example config in config/ is valid', async (t) => {
  const c = loadConfig(new URL('../../config/switchyard.yaml', import.meta.url).pathname, {})
  t.equal(c.apps[0].upstreams.blue.targets.length, 1)
  t.equal(c.preview?.port, 8081)
})

import t from 'tap'
import { join } from 'node:path'
import { ConfigError, loadConfig, validateConfig } from '../../src/config/index.js'

const upstreams = { blue: { targets: ['http://127.0.0.1:3001'] }, green: { targets: ['http://127.0.0.1:3002'] } }

function problems(f: () => unknown): string[] {
  try {
    f()
  } catch (e) {
    if (e instanceof ConfigError) return e.problems
    throw e
  }
  return []
}

t.test('SWITCHYARD_REDIS_URL replaces the url only: cachePath, sentinels, name and prefix stay', async (t) => {
  const dir = t.testdir({
    'redis.json': JSON.stringify({
      upstreams,
      store: {
        type: 'redis',
        url: 'redis://10.0.0.1:6379',
        prefix: 'shop',
        cachePath: 'cache/state.json',
        sentinels: [{ host: 's1', port: 26379 }],
        name: 'mymaster',
      },
    }),
    'file.json': JSON.stringify({ upstreams, store: { type: 'file', path: 'x.json' } }),
  })
  const c = loadConfig(join(dir, 'redis.json'), { SWITCHYARD_REDIS_URL: 'redis://127.0.0.1:6390' })
  t.same(c.store, {
    type: 'redis',
    url: 'redis://127.0.0.1:6390',
    prefix: 'shop',
    cachePath: join(dir, 'cache/state.json'),
    sentinels: [{ host: 's1', port: 26379 }],
    name: 'mymaster',
  })
  const f = loadConfig(join(dir, 'file.json'), { SWITCHYARD_REDIS_URL: 'redis://127.0.0.1:6390' })
  t.same(f.store, { type: 'redis', url: 'redis://127.0.0.1:6390', prefix: 'switchyard' }, 'a file store becomes redis without its path')
})

t.test('a token of blanks (or with spaces) is refused, from the file and from the environment', async (t) => {
  const blanks = ' '.repeat(20)
  const file = problems(() => validateConfig({ upstreams, admin: { token: blanks } }))
  t.match(file, [/^admin\.token: must be at least 16 visible ASCII characters, without spaces$/])
  t.match(
    problems(() => validateConfig({ upstreams, admin: { token: 'an okay token with spaces' } })),
    [/^admin\.token: /],
  )
  const dir = t.testdir({ 'a.json': JSON.stringify({ upstreams }) })
  const env = problems(() => loadConfig(join(dir, 'a.json'), { SWITCHYARD_ADMIN_TOKEN: blanks }))
  t.same(env, ['SWITCHYARD_ADMIN_TOKEN: must be at least 16 visible ASCII characters, without spaces'])
  t.notMatch(JSON.stringify([file, env]), /" {20}"/, 'the value is not echoed')
  t.equal(validateConfig({ upstreams, admin: { token: 'abcdefghijklmnop-+/=~' } }).admin.token, 'abcdefghijklmnop-+/=~')
})

t.test('a target URL with a port out of range names the key', async (t) => {
  t.same(
    problems(() =>
      validateConfig({ upstreams: { ...upstreams, green: { targets: ['http://127.0.0.1:3002', 'http://127.0.0.1:99999'] } } }),
    ),
    ['upstreams.green.targets.1: port must be from 1 to 65535, got "99999" in "http://127.0.0.1:99999"'],
  )
  t.match(
    problems(() => validateConfig({ upstreams: { ...upstreams, blue: { targets: ['http://127.0.0.1:0'] } } })),
    [/^upstreams\.blue\.targets\.0: port must be from 1 to 65535, got "0"/],
  )
  t.match(
    problems(() => validateConfig({ upstreams: { ...upstreams, blue: { targets: ['http://[::1:3000'] } } })),
    [/^upstreams\.blue\.targets\.0: not a valid URL/],
  )
  t.match(
    problems(() => validateConfig({ upstreams, notify: { webhooks: ['https://hooks.example:70000/x'] } })),
    [/^notify\.webhooks\.0: port must be/],
  )
  t.same(
    validateConfig({ upstreams: { ...upstreams, blue: { targets: ['http://[::1]:3000', 'http://example.com'] } } }).apps[0].upstreams.blue
      .targets.length,
    2,
  )
  t.same(
    problems(() =>
      validateConfig({
        apps: { shop: { hosts: ['shop.test'], upstreams: { ...upstreams, green: { targets: ['http://127.0.0.1:99999'] } } } },
      }),
    ),
    ['apps.shop.upstreams.green.targets.0: port must be from 1 to 65535, got "99999" in "http://127.0.0.1:99999"'],
    'per-app targets are named by app',
  )
})

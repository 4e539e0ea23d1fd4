import t from 'tap'
import { validateConfig } from '../../src/config/index.js'

const up = (p: number) => ({ blue: { targets: [`http://127.0.0.1:${p}`] }, green: { targets: [`http://127.0.0.1:${p + 1}`] } })

t.test('mirror: defaults, top level merged into each app key by key, compare included', async (t) => {
  const single = validateConfig({ upstreams: up(3000) })
  t.same(single.apps[0].mirror, {
    percent: 0,
    methods: ['GET', 'HEAD'],
    maxBodyBytes: 1_048_576,
    concurrency: 64,
    timeoutMs: 5000,
    compare: { enabled: true, headers: [], ignoreJsonFields: [], maxMismatchRate: 0.01, minSamples: 50 },
  })
  const many = validateConfig({
    mirror: { percent: 5, compare: { minSamples: 10, ignoreJsonFields: ['at'] } },
    apps: {
      shop: { hosts: ['shop.test'], upstreams: up(3000), mirror: { concurrency: 8, compare: { maxMismatchRate: 0.05 } } },
      blog: { hosts: ['blog.test'], upstreams: up(3010) },
    },
  })
  const [shop, blog] = many.apps
  t.match(
    shop.mirror,
    { percent: 5, concurrency: 8, compare: { minSamples: 10, ignoreJsonFields: ['at'], maxMismatchRate: 0.05, enabled: true } },
    'an app changes one threshold, keeps the rest',
  )
  t.match(blog.mirror, { percent: 5, concurrency: 64, compare: { minSamples: 10, maxMismatchRate: 0.01 } })
})

t.test('bad mirror settings name their key', async (t) => {
  const bad = (mirror: unknown, key: RegExp) => t.throws(() => validateConfig({ upstreams: up(3000), mirror }), { message: key })
  bad({ percent: 101 }, /mirror\.percent/)
  bad({ methods: [] }, /mirror\.methods/)
  bad({ methods: ['G ET'] }, /mirror\.methods\.0: must be an HTTP method/)
  bad({ concurrency: 0 }, /mirror\.concurrency/)
  bad({ compare: { maxMismatchRate: 2 } }, /mirror\.compare\.maxMismatchRate/)
  bad({ compare: { surprise: 1 } }, /mirror\.compare\.surprise: unknown key/)
})

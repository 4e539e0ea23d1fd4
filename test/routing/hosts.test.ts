import t from 'tap'
import { MAX_SEEN_HOSTS, MAX_SEEN_HOST_LENGTH, MAX_WILDCARD_PROBES, compileHosts, hostName, matchHost } from '../../src/routing/index.js'

t.test('hostName: lower case, no port, no trailing dot, IPv6 brackets kept', async (t) => {
  const cases: [string, string][] = [
    ['shop.example.com', 'shop.example.com'],
    ['Shop.Example.COM', 'shop.example.com'],
    ['shop.example.com:8080', 'shop.example.com'],
    ['SHOP.example.com:80', 'shop.example.com'],
    ['shop.example.com.', 'shop.example.com'],
    ['shop.example.com.:8443', 'shop.example.com'],
    ['[::1]:8080', '[::1]'],
    ['[::1]', '[::1]'],
    ['[::1', '[::1'],
    ['127.0.0.1:3000', '127.0.0.1'],
    ['', ''],
  ]
  for (const [raw, want] of cases) t.equal(hostName(raw), want, JSON.stringify(raw))
})

t.test('hostName allocates nothing new for a lower-case host without port', async (t) => {
  const h = 'blog.example.com'
  t.equal(hostName(h), h)
})

const shop = { name: 'shop' }
const admin = { name: 'shop-admin' }
const blog = { name: 'blog' }
const fallback = { name: 'fallback' }

const table = compileHosts(
  [
    [shop, ['shop.example.com', '*.shop.example.com']],
    [admin, ['*.admin.shop.example.com']],
    [blog, ['blog.example.com', '127.0.0.1', '[::1]']],
  ],
  fallback,
)

t.test('exact names first, then the longest wildcard, then the default app', async (t) => {
  const cases: [string | undefined, { name: string } | null][] = [
    ['shop.example.com', shop],
    ['SHOP.EXAMPLE.COM:8080', shop],
    ['eu.shop.example.com', shop],
    ['a.b.shop.example.com', shop],
    ['x.admin.shop.example.com', admin],
    ['admin.shop.example.com', shop],
    ['blog.example.com.', blog],
    ['127.0.0.1:8080', blog],
    ['[::1]:9000', blog],
    ['example.com', fallback],
    ['shop.example.com.evil.org', fallback],
    ['evilshop.example.com', fallback],
    [undefined, fallback],
  ]
  for (const [host, want] of cases) t.equal(matchHost(table, host), want, String(host))
})

t.test('without a default app, an unknown host matches nothing', async (t) => {
  const strict = compileHosts([[shop, ['shop.example.com']]], null)
  t.equal(matchHost(strict, 'shop.example.com'), shop)
  t.equal(matchHost(strict, 'blog.example.com'), null)
  t.equal(matchHost(strict, undefined), null)
  t.equal(strict.catchAll, false)
})

t.test('one app without hosts is a catch-all: the Host is not even read', async (t) => {
  const single = compileHosts([[shop, []]], shop)
  t.equal(single.catchAll, true)
  t.equal(matchHost(single, 'anything.at.all'), shop)
  t.equal(matchHost(single, undefined), shop)
})

t.test('a hostile Host with many labels costs a bounded number of probes', async (t) => {
  const deep = compileHosts([[shop, ['*.a.b']]], null)
  const labels = Array.from({ length: MAX_WILDCARD_PROBES + 10 }, (_, i) => `l${i}`).join('.')
  t.equal(matchHost(deep, `${labels}.a.b`), null, 'the matching suffix lies beyond the probe limit')
  const near = Array.from({ length: 3 }, (_, i) => `l${i}`).join('.')
  t.equal(matchHost(deep, `${near}.a.b`), shop)
})

t.test('the table is frozen', async (t) => {
  t.ok(Object.isFrozen(table))
  t.equal(table.exact.size, 4)
  t.equal(table.wildcards.size, 2)
})

t.test('resolved hosts are kept by the header as sent: same answers, bounded, long headers never kept', async (t) => {
  const cached = compileHosts<string>(
    [
      ['shop', ['shop.example.com', '*.shop.example.com']],
      ['blog', ['blog.example.com']],
    ],
    null,
  )
  for (let round = 0; round < 2; round++) {
    t.equal(matchHost(cached, 'Shop.Example.com:8080'), 'shop', `exact, round ${round}`)
    t.equal(matchHost(cached, 'eu.shop.example.com'), 'shop', `wildcard, round ${round}`)
    t.equal(matchHost(cached, 'nobody.example.org'), null, `unknown host, round ${round}`)
  }
  t.equal(cached.seen.size, 3)
  t.equal(cached.seen.get('nobody.example.org'), null, 'a miss is kept as a miss')
  for (let i = 0; i < MAX_SEEN_HOSTS + 10; i++) matchHost(cached, `h${i}.shop.example.com`)
  t.ok(cached.seen.size <= MAX_SEEN_HOSTS, `at most ${MAX_SEEN_HOSTS} kept, got ${cached.seen.size}`)
  t.equal(matchHost(cached, 'h5.shop.example.com'), 'shop', 'still right after the cache was emptied')
  const long = 'x'.repeat(MAX_SEEN_HOST_LENGTH) + '.shop.example.com'
  t.equal(matchHost(cached, long), 'shop')
  t.equal(cached.seen.has(long), false)
  // A new table (a reload) starts with nothing kept: answers never outlive the config.
  const reloaded = compileHosts<string>([['blog', ['shop.example.com']]], null)
  t.equal(matchHost(reloaded, 'Shop.Example.com:8080'), 'blog')
})

import t from 'tap'
import { compareAnswers, jsonDiff, pathOf, routeOf } from '../../src/control/shadow-diff.js'

const json = (body: unknown, status = 200, extra: Record<string, string> = {}) => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', ...extra },
  body: Buffer.from(JSON.stringify(body)),
})
const none = { headers: [], ignoreJsonFields: new Set<string>() }

t.test('JSON bodies are compared as values, ignored fields at any depth', async (t) => {
  const a = json({ items: [{ price: 10, at: 1 }, { price: 5 }, { price: 10 }], at: 'x' })
  const b = { ...json({ at: 'y', items: [{ price: 10, at: 2 }, { price: 5 }, { price: 12 }] }) }
  const ignore = { headers: [], ignoreJsonFields: new Set(['at']) }
  t.same(compareAnswers(a, b, ignore), { verdict: 'mismatch', diff: ['$.items[2].price: 10 → 12'] })
  const c = json({ items: [{ price: 10, at: 9 }, { price: 5 }, { price: 10 }], at: 'z' })
  t.same(compareAnswers(a, c, ignore), { verdict: 'match', diff: [] }, 'key order and ignored fields do not matter')
  t.equal(compareAnswers(a, c, none).verdict, 'mismatch', 'without ignoring, timestamps differ')
})

t.test('status, content-type and listed headers; secrets redacted', async (t) => {
  const a = json({ ok: true }, 200, { etag: '"1"', 'set-cookie': 'sid=secret1' })
  const b = {
    ...json({ ok: true }, 500, { etag: '"2"', 'set-cookie': 'sid=secret2' }),
    headers: { 'content-type': 'text/html', etag: '"2"', 'set-cookie': 'sid=secret2' },
  }
  const r = compareAnswers(a, b, { headers: ['etag', 'set-cookie'], ignoreJsonFields: new Set() })
  t.equal(r.verdict, 'mismatch')
  t.equal(r.diff[0], 'status: 200 → 500')
  t.equal(r.diff[1], 'header content-type: "application/json; charset=utf-8" → "text/html"')
  t.equal(r.diff[2], 'header etag: "\\"1\\"" → "\\"2\\""')
  t.equal(r.diff[3], 'header set-cookie: [redacted] → [redacted]')
  t.notMatch(r.diff.join('\n'), /secret/, 'no cookie value in the diff')
})

t.test('other bodies byte for byte, with short excerpts; bodies over the limit are skipped', async (t) => {
  const text = (s: string) => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from(s) })
  t.equal(compareAnswers(text('hello'), text('hello'), none).verdict, 'match')
  const r = compareAnswers(text('hello world ' + 'x'.repeat(200)), text('hello WORLD ' + 'x'.repeat(200)), none)
  t.equal(r.diff.length, 1)
  t.match(r.diff[0], /^body: differs at byte 6: "hello world x+" → "hello WORLD x+"$/)
  t.ok(r.diff[0].length < 120, 'excerpts are short')
  t.match(compareAnswers(text('ab'), text('abc'), none).diff[0], /\(2 → 3 bytes\)/)
  t.equal(compareAnswers({ ...text('a'), body: null }, text('a'), none).verdict, 'skipped')
  t.equal(compareAnswers(text('a'), { ...text('a'), body: null }, none).verdict, 'skipped')
  const broken = { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{not json') }
  t.match(compareAnswers(broken, json({}), none).diff.join(), /body: differs at byte/, 'unparsable JSON is compared as bytes')
})

t.test('jsonDiff: arrays, absent fields, types, odd keys, limit', async (t) => {
  const out: string[] = []
  jsonDiff(
    { a: [1, 2], b: 1, 'odd key': { x: 'long '.repeat(20) }, n: null },
    { a: [1, 2, 3], c: 2, 'odd key': { x: 's' }, n: { deep: 1 } },
    new Set(),
    '$',
    out,
    10,
  )
  t.same(out, [
    '$.a: length 2 → 3',
    '$.b: 1 → (absent)',
    `$["odd key"].x: "${'long '.repeat(8)}…" → "s"`,
    '$.n: null → {object}',
    '$.c: (absent) → 2',
  ])
  const many: string[] = []
  jsonDiff(
    Array.from({ length: 30 }, (_, i) => i),
    Array.from({ length: 30 }, (_, i) => i + 1),
    new Set(),
    '$',
    many,
    5,
  )
  t.equal(many.length, 5, 'stops at the limit')
  const r = compareAnswers(json(Array.from({ length: 30 }, (_, i) => i)), json(Array.from({ length: 30 }, (_, i) => -i - 1)), none)
  t.equal(r.diff.length, 11, 'ten lines and a marker')
  t.equal(r.diff[10], '… and more')
  const arr: string[] = []
  jsonDiff([1], { 0: 1 }, new Set(), '$', arr, 5)
  t.same(arr, ['$: [array of 1] → {object}'])
})

t.test('routes collapse ids: numbers, UUIDs, long hex; no query', async (t) => {
  const cases: [string, string, string][] = [
    ['GET', '/users/42', 'GET /users/:id'],
    ['GET', '/users/42/orders/9f1c2e4a-1b2c-4d5e-8f90-a1b2c3d4e5f6?x=1', 'GET /users/:id/orders/:id'],
    ['HEAD', '/blobs/0123456789abcdef0123', 'HEAD /blobs/:id'],
    ['GET', '/blobs/abcdef', 'GET /blobs/abcdef'],
    ['GET', '/', 'GET /'],
    ['GET', '/v2/items', 'GET /v2/items'],
  ]
  for (const [m, url, want] of cases) t.equal(routeOf(m, url), want, url)
  t.equal(routeOf('GET', '/' + 'z'.repeat(300)).length, 201, 'long paths are cut')
  t.equal(pathOf('/a?token=secret'), '/a', 'no query in recorded paths')
  t.equal(pathOf('/b'), '/b')
  t.equal(pathOf('/' + 'a'.repeat(300)).length, 201)
})

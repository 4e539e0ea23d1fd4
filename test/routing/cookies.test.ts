import t from 'tap'
import { parseCookies } from '../../src/routing/cookies.js'

const cases: [string | undefined, Record<string, string> | null][] = [
  [undefined, null],
  ['', null],
  ['a=1', { a: '1' }],
  ['a=1; b=2', { a: '1', b: '2' }],
  ['a=1;b=2;  c = 3 ', { a: '1', b: '2', c: '3' }],
  ['a="quoted"', { a: 'quoted' }],
  ['a="', { a: '"' }],
  ['a=1; a=2', { a: '1' }],
  ['a=x%20y', { a: 'x y' }],
  ['a=%E0%A4%A', { a: '%E0%A4%A' }],
  ['junk; ;;=;=x; b=2', { b: '2' }],
  ['a=', { a: '' }],
  ['a=b=c', { a: 'b=c' }],
  ['noequals', null],
  ['constructor=1', { constructor: '1' }],
]

for (const [header, want] of cases) {
  t.test(JSON.stringify(header), async (t) => {
    const got = parseCookies(header)
    if (want === null) t.equal(got, null)
    else t.same({ ...got }, want)
  })
}

t.test('the result has no prototype keys', async (t) => {
  const got = parseCookies('a=1') as Record<string, string>
  t.equal(got['constructor'], undefined)
  // eslint-disable-next-line @typescript-eslint/unbound-method -- reading it proves it is absent
  t.equal(got['toString'], undefined)
  t.equal(got['__proto__'], undefined)
})

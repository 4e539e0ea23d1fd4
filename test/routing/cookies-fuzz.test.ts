import t from 'tap'
import { parseCookie } from 'cookie'
import { parseCookies } from '../../src/routing/index.js'

/**
 * Our hot-path Cookie parser against the `cookie` package (what express and
 * fastify use), on seeded random headers built from the characters that
 * matter (separators, quotes, spaces, percent escapes). Deterministic: the
 * same seed gives the same cases, so a failure can be replayed.
 *
 * Known, intended differences, normalized before comparing:
 * - a cookie with an empty name (`=x`) is ignored by us (no rule can name
 *   it), kept by `cookie` under "";
 * - a value in double quotes (`a="x"`, RFC 6265's quoted cookie-value) is
 *   unquoted by us (`x`, what the application meant; browsers send quotes
 *   as set) and kept as sent by `cookie` 2 (`"x"`, cookie 1 unquoted it).
 *   Their side is unquoted the same way before comparing.
 */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = s
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const PIECES = ['a', 'b', 'session', 'id', '=', ';', ' ', '\t', '"', '%20', '%2', '%zz', '%E2%82%AC', 'x', '1', ',', 'é', '==', '; ']

function header(r: () => number): string {
  let h = ''
  const n = 1 + Math.floor(r() * 12)
  for (let i = 0; i < n; i++) h += PIECES[Math.floor(r() * PIECES.length)]
  return h
}

function normalize(o: Record<string, string | undefined> | null, unquote = false): Record<string, string> {
  const out: Record<string, string> = {}
  if (o === null) return out
  for (const k of Object.keys(o).sort()) {
    let v = o[k]
    if (k === '' || v === undefined) continue
    if (unquote && v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1)
    out[k] = v
  }
  return out
}

t.test('parseCookies agrees with the cookie package on 5,000 seeded headers', async (t) => {
  const r = rng(20261130)
  const diffs: string[] = []
  for (let i = 0; i < 5000; i++) {
    const h = header(r)
    const ours = normalize(parseCookies(h))
    const theirs = normalize(parseCookie(h), true)
    if (JSON.stringify(ours) !== JSON.stringify(theirs))
      diffs.push(`${JSON.stringify(h)}: ours ${JSON.stringify(ours)} theirs ${JSON.stringify(theirs)}`)
  }
  t.same(diffs.slice(0, 10), [], `${diffs.length} differences`)
})

t.test('cases kept from the fuzzing', async (t) => {
  const cases = ['a="1', 'a=1"', 'a=""', 'a=" 1 "', 'a=%', 'a = "x" ', ';;a=1;;', 'a=1=2', '"a"=1']
  for (const h of cases) t.same(normalize(parseCookies(h)), normalize(parseCookie(h), true), h)
  t.same(normalize(parseCookies('a="x"')), { a: 'x' }, 'quotes removed')
})

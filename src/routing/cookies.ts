/**
 * A small Cookie header parser for the hot path. It is tolerant of junk
 * (missing `=`, stray `;`, spaces, quotes, bad percent-escapes) and never
 * throws: a request with a broken Cookie header is still routed.
 */

/** An object without a prototype, so `cookies['constructor']` is undefined. */
const NullObject = function NullObject() {} as unknown as { new (): Record<string, string> }
NullObject.prototype = Object.create(null) as object

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09
}

function decode(v: string): string {
  if (v.indexOf('%') === -1) return v
  try {
    return decodeURIComponent(v)
  } catch {
    return v
  }
}

/**
 * Parses `name=value; name2=value2`. The first occurrence of a name wins
 * (browsers send the most specific cookie first). Values are unquoted and
 * percent-decoded when they hold a valid escape.
 *
 * @example parseCookies('a=1; b="2"') // → { a: '1', b: '2' }
 * @returns null when there is no header or no cookie in it
 */
export function parseCookies(header: string | undefined): Record<string, string> | null {
  if (header === undefined || header.length === 0) return null
  let out: Record<string, string> | null = null
  const len = header.length
  let pos = 0
  while (pos < len) {
    let end = header.indexOf(';', pos)
    if (end === -1) end = len
    const eq = header.indexOf('=', pos)
    if (eq !== -1 && eq < end) {
      let ns = pos
      let ne = eq
      while (ns < ne && isSpace(header.charCodeAt(ns))) ns++
      while (ne > ns && isSpace(header.charCodeAt(ne - 1))) ne--
      if (ne > ns) {
        const name = header.slice(ns, ne)
        if (out === null) out = new NullObject()
        if (out[name] === undefined) {
          let vs = eq + 1
          let ve = end
          while (vs < ve && isSpace(header.charCodeAt(vs))) vs++
          while (ve > vs && isSpace(header.charCodeAt(ve - 1))) ve--
          if (ve - vs >= 2 && header.charCodeAt(vs) === 0x22 && header.charCodeAt(ve - 1) === 0x22) {
            vs++
            ve--
          }
          out[name] = decode(header.slice(vs, ve))
        }
      }
    }
    pos = end + 1
  }
  return out
}

/**
 * Stickiness buckets: a user key hashes to a bucket in [0, 10000), so a
 * percent with two decimals is a whole number of buckets (basis points).
 *
 * The hash is MurmurHash3 (x86, 32-bit) over the key's UTF-8 bytes, computed
 * byte by byte straight from the string so no Buffer is allocated per request.
 * Each purpose hashes with its own named seed, so a user's canary bucket says
 * nothing about their bucket in a percent cohort.
 */

export const BUCKETS = 10_000

/** Seed of the canary split. Changing it reshuffles every user: don't. */
export const CANARY_SEED = 0x5357_4944 // "SWID"

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

function mixK(k: number): number {
  k = Math.imul(k, C1)
  k = (k << 15) | (k >>> 17)
  return Math.imul(k, C2)
}

/** MurmurHash3 x86 32-bit of the UTF-8 bytes of `key`. */
export function murmur3(key: string, seed: number): number {
  let h = seed >>> 0
  let k = 0
  let n = 0 // bytes in the current 4-byte block
  let len = 0
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i)
    // Assemble the code point, then emit its UTF-8 bytes one at a time.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < key.length) {
      const lo = key.charCodeAt(i + 1)
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00)
        i++
      }
    }
    // A lone surrogate is not valid UTF-16; encode it as Buffer.from does (U+FFFD).
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd
    let bytes: number
    let count: number
    if (c < 0x80) {
      bytes = c
      count = 1
    } else if (c < 0x800) {
      bytes = 0xc0 | (c >> 6) | ((0x80 | (c & 0x3f)) << 8)
      count = 2
    } else if (c < 0x10000) {
      bytes = 0xe0 | (c >> 12) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16)
      count = 3
    } else {
      bytes = 0xf0 | (c >> 18) | ((0x80 | ((c >> 12) & 0x3f)) << 8) | ((0x80 | ((c >> 6) & 0x3f)) << 16) | ((0x80 | (c & 0x3f)) << 24)
      count = 4
    }
    for (let b = 0; b < count; b++) {
      k |= ((bytes >>> (8 * b)) & 0xff) << (8 * n)
      n++
      len++
      if (n === 4) {
        h ^= mixK(k)
        h = (h << 13) | (h >>> 19)
        h = (Math.imul(h, 5) + 0xe6546b64) | 0
        k = 0
        n = 0
      }
    }
  }
  if (n > 0) h ^= mixK(k)
  h ^= len
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The bucket of `key` under `seed`, in [0, 10000). */
export function bucketOf(key: string, seed: number): number {
  return murmur3(key, seed) % BUCKETS
}

/** A seed derived from a name, for purposes such as a cohort's percent. */
export function seedFor(name: string): number {
  return murmur3(name, CANARY_SEED)
}

/** Percent (0–100, two decimals) as basis points, rounded to the nearest. */
export function toBasisPoints(percent: number): number {
  return Math.round(percent * 100)
}

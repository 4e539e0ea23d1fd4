import t from 'tap'
import { createHash } from 'node:crypto'
import { BUCKETS, CANARY_SEED, bucketOf, murmur3, seedFor, toBasisPoints } from '../../src/routing/bucket.js'

// A straightforward MurmurHash3 over a Buffer, to check the streaming
// implementation against on every kind of UTF-8 sequence.
function reference(key: string, seed: number): number {
  const data = Buffer.from(key, 'utf8')
  let h = seed >>> 0
  const nblocks = data.length >> 2
  const c1 = 0xcc9e2d51
  const c2 = 0x1b873593
  for (let i = 0; i < nblocks; i++) {
    let k = data.readUInt32LE(i * 4)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  let k = 0
  const tail = nblocks * 4
  switch (data.length & 3) {
    case 3:
      k ^= data[tail + 2] << 16
    // falls through
    case 2:
      k ^= data[tail + 1] << 8
    // falls through
    case 1:
      k ^= data[tail]
      k = Math.imul(k, c1)
      k = (k << 15) | (k >>> 17)
      k = Math.imul(k, c2)
      h ^= k
  }
  h ^= data.length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

t.test('murmur3 matches published vectors', async (t) => {
  const vectors: [string, number, number][] = [
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['test', 0, 0xba6bd213],
    ['Hello, world!', 1234, 0xfaf6cdb3],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
  ]
  for (const [s, seed, want] of vectors) t.equal(murmur3(s, seed), want, JSON.stringify(s))
})

t.test('murmur3 hashes the UTF-8 bytes of any string', async (t) => {
  const keys = ['é', '€', 'ab€cd', '𝄞', 'x𝄞yz', '日本語のユーザー', '\ud800', 'a\udc00b', 'user-42', 'ü€𝄞a']
  for (const k of keys) {
    t.equal(murmur3(k, 7), reference(k, 7), `key ${JSON.stringify(k)}`)
  }
  // random ASCII and random code points
  for (let i = 0; i < 200; i++) {
    const k = createHash('sha1')
      .update(String(i))
      .digest('base64')
      .slice(0, i % 27)
    t.equal(murmur3(k, CANARY_SEED), reference(k, CANARY_SEED))
  }
})

t.test('buckets are in range and seeds separate purposes', async (t) => {
  let same = 0
  const a = seedFor('beta')
  const b = seedFor('staff')
  t.not(a, b)
  for (let i = 0; i < 1000; i++) {
    const key = `user-${i}`
    const x = bucketOf(key, a)
    t.ok(x >= 0 && x < BUCKETS)
    if (x === bucketOf(key, b)) same++
  }
  t.ok(same < 10, 'two seeds give unrelated buckets')
})

t.test('percent to basis points', async (t) => {
  t.equal(toBasisPoints(0), 0)
  t.equal(toBasisPoints(0.5), 50)
  t.equal(toBasisPoints(12.34), 1234)
  t.equal(toBasisPoints(0.29), 29, 'float noise is rounded away')
  t.equal(toBasisPoints(100), 10000)
})

import http from 'node:http'
import { Readable } from 'node:stream'
import t from 'tap'
import { request } from '../helpers/request.js'
import { patternBytes, sha256 } from '../helpers/upstream.js'
import { LIMITS, setup } from '../helpers/dataplane.js'

const MiB = 1024 * 1024

/** A stream of `total` bytes in chunks, produced on demand (never all in memory at once). */
function generated(total: number, chunk = 64 * 1024): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null)
        return
      }
      const n = Math.min(chunk, total - sent)
      const b = Buffer.alloc(n, sent % 251)
      sent += n
      this.push(b)
    },
  })
}

function expectedSha(total: number, chunk = 64 * 1024): string {
  const parts: Buffer[] = []
  for (let sent = 0; sent < total; sent += chunk) parts.push(Buffer.alloc(Math.min(chunk, total - sent), sent % 251))
  return sha256(Buffer.concat(parts))
}

t.test('an 8 MiB download streams intact', async (t) => {
  const s = await setup(t)
  const r = await request(`${s.url}/bytes/${8 * MiB}`)
  t.equal(r.status, 200)
  t.equal(r.body.length, 8 * MiB)
  t.equal(sha256(r.body), sha256(patternBytes(8 * MiB)))
})

t.test('an 8 MiB upload streams intact, with and without content-length', async (t) => {
  const s = await setup(t)
  const want = expectedSha(8 * MiB)
  const chunked = await request(`${s.url}/sha`, { method: 'POST', body: generated(8 * MiB) })
  t.equal(chunked.status, 200)
  t.same(chunked.json(), { sha256: want, bytes: 8 * MiB })
  const sized = await request(`${s.url}/sha`, {
    method: 'POST',
    headers: { 'content-length': String(8 * MiB) },
    body: generated(8 * MiB),
  })
  t.same(sized.json(), { sha256: want, bytes: 8 * MiB })
})

t.test('a slow reader gets the whole download (backpressure)', async (t) => {
  const s = await setup(t)
  const body = await new Promise<Buffer>((resolve, reject) => {
    http
      .get(`${s.url}/bytes/${4 * MiB}`, { agent: false }, (res) => {
        const chunks: Buffer[] = []
        res.pause()
        // Read in bursts so the proxy's client socket fills up and pauses undici.
        const pump = (): void => {
          let c: Buffer | null
          while ((c = res.read()) !== null) chunks.push(c)
          if (!res.readableEnded) setTimeout(pump, 5)
        }
        res.on('end', () => resolve(Buffer.concat(chunks)))
        res.on('error', reject)
        setTimeout(pump, 50)
      })
      .on('error', reject)
  })
  t.equal(sha256(body), sha256(patternBytes(4 * MiB)))
})

t.test('a client that aborts mid-upload does not crash the proxy', async (t) => {
  const s = await setup(t)
  const req = http.request(`${s.url}/hold/upload`, { method: 'POST', agent: false, headers: { 'content-length': String(8 * MiB) } })
  req.on('error', () => {})
  req.write(Buffer.alloc(256 * 1024))
  await s.blue.held('upload')
  req.destroy()
  await s.blue.abandoned('upload')
  await s.recorder.until(1)
  t.equal(s.recorder.calls[0].status, 499, 'reported as closed by the client')
  t.equal(s.recorder.calls[0].kind, null, 'not an upstream error')
  const r = await request(`${s.url}/`)
  t.equal(r.status, 200, 'the proxy still serves')
  t.equal(s.dp.inFlight(), 0)
})

t.test('a client that goes away while waiting aborts the upstream request', async (t) => {
  const s = await setup(t)
  const req = http.get(`${s.url}/hold/gone`, { agent: false })
  req.on('error', () => {})
  await s.blue.held('gone')
  req.destroy()
  await s.blue.abandoned('gone')
  t.pass('the upstream request was aborted')
  await s.recorder.until(1)
  t.same(
    s.recorder.calls.map((c) => [c.status, c.kind]),
    [[499, null]],
  )
  t.equal(s.dp.inFlight(), 0)
})

t.test('maxBodyBytes: 413 on a larger content-length and on a chunked body that grows past it', async (t) => {
  const s = await setup(t, { dp: { limits: { ...LIMITS, maxBodyBytes: 1024 } } })
  const big = await request(`${s.url}/sha`, { method: 'POST', body: Buffer.alloc(2048) })
  t.equal(big.status, 413)
  t.equal(big.json().error.code, 'PAYLOAD_TOO_LARGE')
  t.equal(s.blue.requests.length, 0, 'never sent upstream')

  const small = await request(`${s.url}/sha`, { method: 'POST', body: Buffer.alloc(1000) })
  t.equal(small.status, 200)
  t.equal(small.json().bytes, 1000)

  const chunkedSmall = await request(`${s.url}/sha`, { method: 'POST', body: generated(1000, 100) })
  t.equal(chunkedSmall.json().bytes, 1000)

  const outcome = await request(`${s.url}/sha`, { method: 'POST', body: generated(64 * 1024, 512) }).then(
    (r) => r.status,
    () => 'reset',
  )
  t.ok(outcome === 413 || outcome === 'reset', `a growing chunked body is cut (${outcome})`)
  await s.recorder.until(4)
  t.equal(s.recorder.calls[3].status, 413)
})

t.test('a Content-Length body in pieces: earlier pieces reach the client at once, only the last is sent with the end', async (t) => {
  let finish: (() => void) | null = null
  const upstream = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10' })
    res.write('hello')
    finish = () => res.end('world')
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => upstream.close(() => r())))
  const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`
  const s = await setup(t, { dp: { upstreams: { blue: { targets: [url] }, green: { targets: [url] } } } })
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get(s.url + '/', { agent: false }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
          // The first piece arrived while the upstream still holds the rest back.
          if (text === 'hello' && finish !== null) finish()
        })
        res.on('end', () => resolve(text))
        res.on('error', reject)
      })
      .on('error', reject)
  })
  t.equal(body, 'helloworld')
  await s.recorder.until(1)
  t.equal(s.recorder.calls[0].status, 200)
})

t.test('small and larger answers arrive byte for byte, every byte value included', async (t) => {
  const all = Buffer.alloc(256)
  for (let i = 0; i < 256; i++) all[i] = i
  const bodies = [all, Buffer.concat([all, Buffer.from('héllo ✓', 'utf8')]), Buffer.concat(Array.from({ length: 40 }, () => all))]
  let next = 0
  const upstream = http.createServer((_req, res) => {
    const body = bodies[next++]
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) })
    res.end(body)
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => upstream.close(() => r())))
  const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`
  const s = await setup(t, { dp: { upstreams: { blue: { targets: [url] }, green: { targets: [url] } } } })
  for (const want of bodies) {
    const r = await request(`${s.url}/`)
    t.equal(r.status, 200)
    t.equal(r.headers['content-length'], String(want.length))
    t.ok(r.body.equals(want), `${want.length} bytes intact`)
  }
})

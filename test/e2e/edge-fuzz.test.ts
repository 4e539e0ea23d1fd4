import t from 'tap'
import { mkdtempSync } from 'node:fs'
import http, { type IncomingMessage } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { baseConfig, startRouterProcess, writeConfig } from './router-process.js'
import { exchange } from './raw.js'

// Issue 10: a bounded, seeded fuzz of the HTTP edge. Malformed request heads
// (mutations of valid ones) go to a real router process over raw sockets.
// The router must never crash, must answer or close every connection, and
// must never forward what it did not parse as a request: the upstream (node's
// strict parser) must never see a head it rejects, a request the router did
// not log, a forged router header, or a second request on an upgrade's
// connection. Same seed, same cases: a failure names its case to replay.

const SEED = 0x5eed_0010
const CASES = 300
const BATCH = 10

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const TEMPLATES = [
  'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /q?x=1 HTTP/1.1\r\nHost: a\r\nx-switchyard-cohort: forged\r\nx-switchyard-color: forged\r\nx-forwarded-for: 6.6.6.6\r\n\r\n',
  'POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello',
  'POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
]

/** Header lines (and pieces) that found or could find bugs. */
const HEADER_BITS = [
  'Host: b\r\n',
  'Content-Length: 3\r\n',
  'Content-Length: 5\r\nContent-Length: 6\r\n',
  'Content-Length: -1\r\n',
  'Content-Length: +5\r\n',
  'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: xchunked\r\n',
  'Transfer-Encoding: chunked, identity\r\n',
  ' folded-continuation\r\n',
  'Connection: host\r\n',
  'Connection: Upgrade\r\nUpgrade: h2c\r\n',
  'x-switchyard-cohort: forged\r\n',
  'x-switchyard-color: forged\r\n',
  'x-forwarded-for: 6.6.6.6\r\n',
  'Bad Name: x\r\n',
  'x-nul: a\0b\r\n',
  'x-empty:\r\n',
  ': novalue\r\n',
  'Expect: 100-continue\r\n',
]
const BYTES = ['\r', '\n', '\0', ' ', '\t', '\r\n', ':', '\x7f', '\xff', '\r\n\r\n']
const METHODS = ['GET', 'POST', 'get', 'G ET', 'CONNECT', 'PRI', 'XYZ', '', 'GET\t']
const TARGETS = ['/', '*', 'http://evil.example/', '//x', '/a b', '/%00', 'x', '/\x7f']
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1 x', 'HTTP/1.1\r\n\r\n', 'http/1.1']
const SECOND = 'GET /second HTTP/1.1\r\nHost: a\r\nx-switchyard-cohort: forged\r\nx-forwarded-for: 6.6.6.6\r\n\r\n'

/**
 * Cases that found bugs, kept ahead of the random ones: the upgrade
 * answered 200 keep-alive with a second request behind it (found by this
 * fuzz on 0c24624: forged headers reached the upstream), two Host headers,
 * an absolute-form upgrade.
 */
const PINNED = [
  TEMPLATES[4] + SECOND,
  TEMPLATES[5] + SECOND,
  'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  'GET http://evil.example/ HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nConnection: host\r\n\r\n',
]

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]
}

/** One malformed request: a template and one to three mutations. */
function makeCase(r: () => number): string {
  let s = pick(r, TEMPLATES)
  const n = 1 + Math.floor(r() * 3)
  for (let k = 0; k < n; k++) {
    const headEnd = s.indexOf('\r\n\r\n') >= 0 ? s.indexOf('\r\n\r\n') : s.length
    const op = Math.floor(r() * 7)
    if (op === 0) {
      // A header-ish line after one of the head's line ends.
      const ends: number[] = []
      for (let i = s.indexOf('\r\n'); i >= 0 && i <= headEnd; i = s.indexOf('\r\n', i + 1)) ends.push(i + 2)
      const at = ends.length > 0 ? pick(r, ends) : s.length
      s = s.slice(0, at) + pick(r, HEADER_BITS) + s.slice(at)
    } else if (op === 1) {
      const at = Math.floor(r() * (headEnd + 1))
      s = s.slice(0, at) + pick(r, BYTES) + s.slice(at)
    } else if (op === 2) {
      const sp1 = s.indexOf(' ')
      const sp2 = s.indexOf(' ', sp1 + 1)
      const eol = s.indexOf('\r\n')
      if (sp1 > 0 && sp2 > sp1 && eol > sp2) {
        const part = Math.floor(r() * 3)
        if (part === 0) s = pick(r, METHODS) + s.slice(sp1)
        else if (part === 1) s = s.slice(0, sp1 + 1) + pick(r, TARGETS) + s.slice(sp2)
        else s = s.slice(0, sp2 + 1) + pick(r, VERSIONS) + s.slice(eol)
      }
    } else if (op === 3) {
      const a = Math.floor(r() * headEnd)
      s = s.slice(0, a) + s.slice(a + 1 + Math.floor(r() * 6))
    } else if (op === 4) {
      const lines = s.slice(0, headEnd).split('\r\n')
      const i = 1 + Math.floor(r() * Math.max(1, lines.length - 1))
      if (i < lines.length) lines.splice(i, 0, lines[i])
      s = lines.join('\r\n') + s.slice(headEnd)
    } else if (op === 5) {
      s = s.slice(0, headEnd).replaceAll('\r\n', '\n') + s.slice(headEnd)
    } else {
      // A second request in the same packet (pipelined, or smuggled).
      s += SECOND
    }
  }
  return s
}

interface UpRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  /** index of the request on its upstream connection */
  nth: number
  /** the connection's first request was an upgrade */
  upgradeConn: boolean
}

t.test(`fuzz: ${CASES} malformed request heads (seed ${SEED.toString(16)})`, async (t) => {
  const seen: UpRequest[] = []
  const parseErrors: string[] = []
  const conns = new WeakMap<Socket, { n: number; upgrade: boolean }>()
  // No 'upgrade' listener: node answers upgrade requests as plain requests
  // (200, keep-alive), the answer that let requests be smuggled.
  const upstream = http.createServer((req: IncomingMessage, res) => {
    const c = conns.get(req.socket) ?? { n: 0, upgrade: req.headers.upgrade !== undefined }
    conns.set(req.socket, c)
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, nth: c.n++, upgradeConn: c.upgrade })
    req.resume()
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok'))
  })
  upstream.on('clientError', (err: Error & { code?: string }, sock: Socket) => {
    // Resets are the router aborting requests whose client left; only parse errors count.
    if (String(err.code).startsWith('HPE_')) parseErrors.push(String(err.code))
    sock.destroy()
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  t.teardown(
    () =>
      new Promise<void>((r) => {
        upstream.closeAllConnections()
        upstream.close(() => r())
      }),
  )
  const upUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const router = await startRouterProcess(
    writeConfig(
      baseConfig(dir, [upUrl], [upUrl], {
        headers: { trustForwarded: false },
        log: { level: 'info', access: true },
        timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000, bodyIdleMs: 1000 },
        autoRevert: { enabled: false },
      }),
      dir,
    ),
  )
  t.teardown(() => router.stop('SIGKILL'))
  const port = Number(new URL(router.proxyUrl).port)

  const r = prng(SEED)
  const cases: string[] = [...PINNED]
  for (let i = 0; i < CASES; i++) cases.push(makeCase(r))
  const unanswered: number[] = []
  for (let b = 0; b < cases.length; b += BATCH) {
    const batch = cases.slice(b, b + BATCH)
    const results = await Promise.all(batch.map((c) => exchange(port, [Buffer.from(c, 'latin1')], { end: true, deadlineMs: 5_000 })))
    results.forEach((x, i) => {
      if (!x.closed && !x.data.startsWith('HTTP/1.1 ')) unanswered.push(b + i)
    })
  }
  const show = (i: number): string => `case ${i}: ${JSON.stringify(cases[i])}`
  t.same(unanswered.map(show), [], 'every connection was answered or closed')
  t.equal(router.child.exitCode, null, 'the router did not crash')
  const after = await fetch(router.proxyUrl + '/after')
  t.equal(after.status, 200, 'and still serves')
  await after.text()

  t.same(parseErrors, [], 'the upstream never got a head its parser rejects')
  const ROUTER_HEADERS = new Set(['x-switchyard-cohort', 'x-switchyard-color', 'x-forwarded-for'])
  const forged = seen.filter((s) =>
    s.rawHeaders.some((v, i) => i % 2 === 1 && ROUTER_HEADERS.has(s.rawHeaders[i - 1].toLowerCase()) && /forged|6\.6\.6\.6/.test(v)),
  )
  t.same(
    forged.map((s) => `${s.method} ${s.url} ${JSON.stringify(s.rawHeaders)}`),
    [],
    'no forged router header or x-forwarded-for reached the upstream',
  )
  const hosts = seen.filter((s) => s.rawHeaders.filter((v, i) => i % 2 === 0 && v.toLowerCase() === 'host').length !== 1)
  t.same(
    hosts.map((s) => s.rawHeaders),
    [],
    'every forwarded request has exactly one Host',
  )
  const afterUpgrade = seen.filter((s) => s.upgradeConn && s.nth > 0)
  t.same(
    afterUpgrade.map((s) => `${s.method} ${s.url}`),
    [],
    'nothing followed an upgrade request on its upstream connection',
  )

  // Every plain request the upstream saw is one the router logged as proxied.
  const logged = new Map<string, number>()
  const accessLines = (): Record<string, unknown>[] => router.logs.filter((l) => typeof l.status === 'number' && typeof l.url === 'string')
  const plain = seen.filter((s) => s.headers.upgrade === undefined && s.url !== '/after')
  for (let i = 0; i < 50 && accessLines().length < plain.length; i++) await new Promise((res) => setTimeout(res, 100))
  for (const l of accessLines()) {
    const k = `${String(l.method)} ${String(l.url)}`
    logged.set(k, (logged.get(k) ?? 0) + 1)
  }
  const unlogged: string[] = []
  for (const s of plain) {
    const k = `${s.method} ${s.url}`
    const n = logged.get(k) ?? 0
    if (n === 0) unlogged.push(k)
    else logged.set(k, n - 1)
  }
  t.same(unlogged, [], 'the upstream saw no request the router did not parse')
  t.ok(seen.length > 20, `a fair share of cases was valid enough to be forwarded (${seen.length})`)
})

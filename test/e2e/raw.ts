import net, { type AddressInfo } from 'node:net'

/**
 * Raw-socket helpers for the edge tests: a client that sends exact bytes and
 * reads whatever comes back, and an upstream that records every byte it
 * receives and answers from a script, so a test sees exactly what the router
 * forwarded (or smuggled).
 */

export interface Exchange {
  /** everything the router sent back, latin1 */
  data: string
  /** the router closed the connection (rather than the deadline passing) */
  closed: boolean
}

/**
 * Opens a connection to `port`, writes each part in turn (waiting `gapMs`
 * between parts, or until `waitFor` appears in the answer so far), then
 * (with `end`) half-closes, and reads until the router closes the connection
 * or `deadlineMs` passes.
 */
export function exchange(
  port: number,
  parts: (string | Buffer)[],
  opts: { gapMs?: number; waitFor?: string; deadlineMs?: number; end?: boolean } = {},
): Promise<Exchange> {
  const deadlineMs = opts.deadlineMs ?? 5_000
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1')
    let data = ''
    let done = false
    const finish = (closed: boolean): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve({ data, closed })
    }
    const timer = setTimeout(() => finish(false), deadlineMs)
    let waiting: (() => void) | null = null
    sock.on('data', (d: Buffer) => {
      data += d.toString('latin1')
      if (waiting !== null && opts.waitFor !== undefined && data.includes(opts.waitFor)) {
        const w = waiting
        waiting = null
        w()
      }
    })
    sock.on('error', () => finish(true))
    sock.on('close', () => finish(true))
    sock.on('end', () => finish(true))
    sock.on(
      'connect',
      () =>
        void (async () => {
          for (let i = 0; i < parts.length; i++) {
            if (i > 0) {
              if (opts.waitFor !== undefined) {
                if (!data.includes(opts.waitFor)) await new Promise<void>((r) => (waiting = r))
              } else if ((opts.gapMs ?? 0) > 0) {
                await new Promise((r) => setTimeout(r, opts.gapMs))
              }
            }
            if (done || sock.destroyed) return
            sock.write(parts[i])
          }
          // Half-close: the router has everything and must answer or close.
          if (opts.end === true && !sock.destroyed) sock.end()
        })(),
    )
  })
}

/** Status codes of every response head in a raw answer, in order. */
export function statuses(data: string): number[] {
  const out: number[] = []
  const re = /HTTP\/1\.1 (\d{3})/g
  let m: RegExpExecArray | null
  while ((m = re.exec(data)) !== null) out.push(Number(m[1]))
  return out
}

/** What a scripted upstream does with one request head. */
export type Answer = string /* a raw answer, or 'hang' or 'tunnel' */

export interface RawUpstream {
  url: string
  port: number
  /** every byte received, per connection, latin1 */
  received: string[]
  /** all bytes received, joined */
  all(): string
  /** request heads parsed so far (request line + headers) */
  heads: string[]
  close(): Promise<void>
}

/**
 * An upstream that splits what it receives into request heads (bodies are
 * only recorded, never parsed) and answers each head with `answer(head)`:
 * raw response bytes (the connection stays open), `hang` (no answer), or
 * `tunnel` (a 101, then every later byte is echoed back).
 */
export async function startRawUpstream(answer: (head: string) => Answer): Promise<RawUpstream> {
  const sockets = new Set<net.Socket>()
  const u: RawUpstream = {
    url: '',
    port: 0,
    received: [],
    heads: [],
    all: () => u.received.join(''),
    close: async () => {},
  }
  const server = net.createServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => sock.destroy())
    const idx = u.received.push('') - 1
    let pending = ''
    let tunnel = false
    sock.on('data', (d: Buffer) => {
      const s = d.toString('latin1')
      u.received[idx] += s
      if (tunnel) {
        sock.write(d)
        return
      }
      pending += s
      let end: number
      while (!tunnel && (end = pending.indexOf('\r\n\r\n')) >= 0) {
        const head = pending.slice(0, end)
        pending = pending.slice(end + 4)
        // Skip body bytes that look like nothing: only heads that start with a method count.
        if (!/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(head)) continue
        u.heads.push(head)
        const a = answer(head)
        if (a === 'hang') continue
        if (a === 'tunnel') {
          tunnel = true
          sock.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n')
          if (pending.length > 0) sock.write(Buffer.from(pending, 'latin1'))
          pending = ''
          continue
        }
        sock.write(a)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  u.port = (server.address() as AddressInfo).port
  u.url = `http://127.0.0.1:${u.port}`
  u.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy()
      server.close(() => r())
    })
  return u
}

/** A 200 answer that keeps the connection alive. */
export const OK_KEEP_ALIVE = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok'

import http, { type IncomingMessage } from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { UNREACHABLE_CODES } from './connect-errors.js'
import type { Color } from '../routing/index.js'
import { COLOR_HEADER, requestHeadProblem, responseHeaders, upstreamHeaders } from './headers.js'
import type { UpstreamErrorKind } from './observer.js'
import { rawReply, type Replies, type ReplyCode } from './replies.js'
import type { Target, TargetSet } from './targets.js'
import { TargetSet as Targets } from './targets.js'

/** What an upgrade tunnel needs from the data plane that owns it. */
export interface UpgradeContext {
  readonly replies: Readonly<Record<Color, Replies>>
  readonly exposeColor: boolean
  readonly connectMs: number
  /** time the upstream gets to answer the upgrade request (`timeouts.headersMs`) */
  readonly headersMs: number
  /** an open tunnel with no byte either way for this long is closed (`timeouts.tunnelIdleMs`) */
  readonly tunnelIdleMs: number
  /** upgrade requests (pending or tunnelled) at most (`limits.maxTunnels`) */
  readonly maxTunnels: number
  readonly trustForwarded: boolean
  now(): number
  /** reports the tunnel's outcome to the observer (not counted in flight) */
  observe(color: Color, status: number, start: number, kind: UpstreamErrorKind | null): void
  healthChanged(t: Target, up: boolean, err?: Error): void
  /** upgraded sockets are tracked so `close` can end them after the grace */
  track(socket: Duplex): void
  /** upgrade sockets tracked now (pending and open tunnels) */
  tunnels(): number
}

// A raw socket reports a connect timeout as ETIMEDOUT (undici has its own code).
const CONNECT_CODES: ReadonlySet<string> = new Set([...UNREACHABLE_CODES, 'ETIMEDOUT'])

/** Statuses whose response never has a body (RFC 9110 §6.4.1). */
function hasNoBody(status: number): boolean {
  return status === 204 || status === 304 || status < 200
}

/**
 * A WebSocket (or h2c, or any HTTP/1.1 Upgrade) request: routed like any
 * request, then a TCP (or TLS) connection to a target of the color carries the
 * request head with forwarded headers. The upstream's answer is read with
 * node's HTTP parser:
 *
 * - `101 Switching Protocols`: the head passes through, then the bytes the
 *   client sent after its request head, and both sockets are piped into each
 *   other (a tunnel) until either side closes or `tunnelIdleMs` passes
 *   without a byte.
 * - any other answer: relayed as a response with `Connection: close`, and
 *   the client connection is closed after it. Only a 101 turns a connection
 *   into a raw pipe, so nothing the client sends later (a second request
 *   with forged headers, say) reaches the upstream unparsed.
 *
 * Connect failures mark the target down and try the next one (an upgrade
 * request has no body). No answer within `headersMs`: 504. The observer hears
 * of the tunnel once: when the upstream's response head arrives, or when it
 * fails.
 */
export class UpgradeTunnel {
  readonly #ctx: UpgradeContext
  readonly #req: IncomingMessage
  readonly #client: Duplex
  readonly #head: Buffer
  readonly #set: TargetSet
  readonly #color: Color
  readonly #cohort: string | null
  readonly #start: number
  #upstream: net.Socket | null = null
  #target: Target | null = null
  #probe = false
  #attempts = 0
  #connected = false
  #answered = false
  #tunnel = false
  #res: IncomingMessage | null = null
  /** the client socket's fate is decided (refused, or the relayed answer ended) */
  #done = false
  #reported = false

  constructor(
    ctx: UpgradeContext,
    req: IncomingMessage,
    client: Duplex,
    head: Buffer,
    set: TargetSet,
    color: Color,
    cohort: string | null,
    start: number,
  ) {
    this.#ctx = ctx
    this.#req = req
    this.#client = client
    this.#head = head
    this.#set = set
    this.#color = color
    this.#cohort = cohort
    this.#start = start
    client.on('error', this.#onClientError)
    client.on('close', this.#onClientClose)
  }

  /** Checks the request and the tunnel cap, then connects. */
  start(): void {
    const req = this.#req
    if (requestHeadProblem(req) !== null) {
      this.#refuse('BAD_REQUEST', null)
      return
    }
    if (this.#ctx.tunnels() >= this.#ctx.maxTunnels) {
      this.#refuse('TOO_MANY_TUNNELS', null)
      return
    }
    this.#ctx.track(this.#client)
    this.#connect()
  }

  /** Connects to the next target of the color. */
  #connect(): void {
    if (this.#client.destroyed) {
      this.#report(499, null)
      return
    }
    const t = this.#set.pick(this.#ctx.now())
    if (t === null) {
      this.#refuse('UPSTREAM_UNAVAILABLE', 'no-target')
      return
    }
    this.#target = t
    this.#probe = t.probing
    this.#attempts++
    const up = t.tls
      ? tls.connect({ host: t.hostname, port: t.port, servername: net.isIP(t.hostname) === 0 ? t.hostname : undefined })
      : net.connect({ host: t.hostname, port: t.port })
    this.#upstream = up
    up.setTimeout(this.#ctx.connectMs)
    up.on('timeout', this.#onUpstreamTimeout)
    up.on('error', this.#onUpstreamError)
    up.on('close', this.#onUpstreamClose)
    up.once(t.tls ? 'secureConnect' : 'connect', this.#onConnect)
  }

  #release(): void {
    if (this.#probe) {
      this.#probe = false
      Targets.release(this.#target as Target)
    }
  }

  #onConnect = (): void => {
    const up = this.#upstream as net.Socket
    const t = this.#target as Target
    this.#connected = true
    this.#release()
    // From here the socket timeout bounds the wait for the upstream's answer.
    up.setTimeout(this.#ctx.headersMs)
    if (t.markUp()) this.#ctx.healthChanged(t, true)
    const req = this.#req
    const h = upstreamHeaders(
      req.headers,
      this.#color,
      this.#cohort,
      req.socket.remoteAddress,
      (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
      true,
      this.#ctx.trustForwarded,
    )
    // node's client writes the head and parses the answer; the socket is ours.
    let creq: http.ClientRequest
    try {
      creq = http.request({ method: req.method, path: req.url, headers: h, setHost: false, createConnection: () => up })
    } catch {
      // A header node's client refuses to write (its checks match its parser's; belt and braces).
      this.#refuse('BAD_REQUEST', null)
      return
    }
    creq.on('upgrade', this.#onUpgrade)
    creq.on('response', this.#onResponse)
    creq.on('error', this.#onRequestError)
    creq.end()
  }

  /** The upstream switched protocols: pass its head on and pipe both ways. */
  #onUpgrade = (res: IncomingMessage, up: Duplex, upHead: Buffer): void => {
    if (this.#done) return
    this.#answered = true
    const client = this.#client
    if (res.statusCode !== 101) {
      // A CONNECT-style 2xx cannot come (the method is never CONNECT); be strict.
      this.#refuse('UPSTREAM_UNAVAILABLE', 'reset')
      return
    }
    this.#report(101, null)
    this.#tunnel = true
    const sock = this.#upstream as net.Socket
    sock.setTimeout(this.#ctx.tunnelIdleMs)
    let head = 'HTTP/1.1 101 ' + (res.statusMessage || 'Switching Protocols') + '\r\n'
    const raw = res.rawHeaders
    for (let i = 0; i < raw.length; i += 2) head += raw[i] + ': ' + raw[i + 1] + '\r\n'
    client.write(head + '\r\n', 'latin1')
    if (upHead.length > 0) client.write(upHead)
    // Bytes the client sent after its head are for the new protocol only.
    if (this.#head.length > 0) up.write(this.#head)
    up.pipe(client)
    client.pipe(up)
  }

  /** Any answer but 101: relay it as a response and close the connection. */
  #onResponse = (res: IncomingMessage): void => {
    if (this.#done) {
      res.resume()
      return
    }
    this.#answered = true
    const status = res.statusCode ?? 0
    if (status < 200 || status > 599) {
      res.resume()
      this.#refuse('UPSTREAM_UNAVAILABLE', 'reset')
      return
    }
    this.#report(status, null)
    const client = this.#client
    if (client.destroyed) {
      res.resume()
      ;(this.#upstream as net.Socket).destroy()
      return
    }
    const raw = res.rawHeaders
    const buf: Buffer[] = []
    for (let i = 0; i < raw.length; i++) buf.push(Buffer.from(raw[i], 'latin1'))
    const h = responseHeaders(buf)
    const noBody = hasNoBody(status) || this.#req.method === 'HEAD'
    let head = 'HTTP/1.1 ' + status + ' ' + (res.statusMessage || http.STATUS_CODES[status] || 'Unknown') + '\r\n'
    for (let i = 0; i < h.length; i += 2) {
      const lower = h[i].toLowerCase()
      // The body is relayed close-delimited unless its length is known.
      if (noBody && lower === 'content-length') continue
      head += h[i] + ': ' + h[i + 1] + '\r\n'
    }
    if (this.#ctx.exposeColor) head += COLOR_HEADER + ': ' + this.#color + '\r\n'
    client.write(head + 'connection: close\r\n\r\n', 'latin1')
    if (noBody) {
      res.resume()
      this.#endBoth()
      return
    }
    this.#res = res
    res.on('close', this.#onResponseClose)
    res.pipe(client, { end: false })
  }

  #onResponseClose = (): void => {
    if ((this.#res as IncomingMessage).complete) {
      this.#endBoth()
      return
    }
    // The upstream cut its answer: cut the client's too, so it looks truncated.
    this.#done = true
    ;(this.#upstream as net.Socket).destroy()
    this.#client.destroy()
  }

  #endBoth = (): void => {
    this.#done = true
    const up = this.#upstream
    if (up !== null) {
      up.off('close', this.#onUpstreamClose)
      up.destroy()
    }
    this.#client.end()
  }

  #onRequestError = (): void => {
    // node's client reports socket errors (and unparsable answers, HPE_*) here.
    if (this.#done) return
    if (!this.#answered) {
      this.#refuse('UPSTREAM_UNAVAILABLE', 'reset')
      return
    }
    this.#client.destroy()
  }

  #onUpstreamTimeout = (): void => {
    if (this.#done) return
    const up = this.#upstream as net.Socket
    if (!this.#connected) {
      up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }))
      return
    }
    if (!this.#answered) {
      // No answer within headersMs.
      this.#refuse('UPSTREAM_TIMEOUT', 'timeout')
      return
    }
    // An idle tunnel (no byte either way for tunnelIdleMs), or a stalled relay.
    up.destroy()
    this.#client.destroy()
  }

  #onUpstreamError = (err: Error): void => {
    if (this.#done) return
    if (this.#connected) {
      if (!this.#answered) {
        this.#refuse('UPSTREAM_UNAVAILABLE', 'reset')
        return
      }
      this.#client.destroy()
      return
    }
    this.#release()
    const code = (err as { code?: string }).code
    const t = this.#target as Target
    if (code !== undefined && CONNECT_CODES.has(code)) {
      if (t.markDown(this.#ctx.now())) this.#ctx.healthChanged(t, false, err)
    }
    const up = this.#upstream as net.Socket
    up.off('close', this.#onUpstreamClose)
    this.#upstream = null
    if (this.#attempts < this.#set.targets.length && !this.#client.destroyed) {
      this.#connect()
      return
    }
    this.#refuse(code === 'ETIMEDOUT' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE', 'connect')
  }

  #onUpstreamClose = (): void => {
    if (this.#done) return
    if (!this.#answered) {
      // Closed before any response head: the upstream hung up on the upgrade.
      this.#refuse('UPSTREAM_UNAVAILABLE', 'reset')
      return
    }
    // In a tunnel the other side follows; a relayed answer ends through its stream.
    if (this.#tunnel) this.#client.destroy()
  }

  #onClientError = (): void => {
    this.#client.destroy()
  }

  #onClientClose = (): void => {
    this.#report(499, null)
    if (this.#upstream !== null) this.#upstream.destroy()
  }

  #refuse(code: ReplyCode, kind: UpstreamErrorKind | null): void {
    this.#done = true
    this.#answered = true
    const reply = this.#ctx.replies[this.#color][code]
    this.#report(reply.status, kind)
    const up = this.#upstream
    if (up !== null) {
      up.off('close', this.#onUpstreamClose)
      up.destroy()
    }
    const client = this.#client
    if (!client.destroyed && client.writable) client.end(rawReply(reply))
    else client.destroy()
  }

  #report(status: number, kind: UpstreamErrorKind | null): void {
    if (this.#reported) return
    this.#reported = true
    this.#ctx.observe(this.#color, status, this.#start, kind)
  }
}

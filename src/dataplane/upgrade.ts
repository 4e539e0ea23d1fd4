import type { IncomingMessage } from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { UNREACHABLE_CODES } from './connect-errors.js'
import type { Color } from '../routing/index.js'
import { upstreamHeaders } from './headers.js'
import type { UpstreamErrorKind } from './observer.js'
import { rawReply, type Replies, type ReplyCode } from './replies.js'
import type { Target, TargetSet } from './targets.js'
import { TargetSet as Targets } from './targets.js'

/** What an upgrade tunnel needs from the data plane that owns it. */
export interface UpgradeContext {
  readonly replies: Readonly<Record<Color, Replies>>
  readonly connectMs: number
  readonly trustForwarded: boolean
  now(): number
  /** reports the tunnel's outcome to the observer (not counted in flight) */
  observe(color: Color, status: number, start: number, kind: UpstreamErrorKind | null): void
  healthChanged(t: Target, up: boolean, err?: Error): void
  /** upgraded sockets are tracked so `close` can end them after the grace */
  track(socket: Duplex): void
}

// A raw socket reports a connect timeout as ETIMEDOUT (undici has its own code).
const CONNECT_CODES: ReadonlySet<string> = new Set([...UNREACHABLE_CODES, 'ETIMEDOUT'])

/** Status code of a raw HTTP response head ("HTTP/1.1 101 ..."), or 0. */
function statusOf(chunk: Buffer): number {
  if (chunk.length < 12 || chunk[8] !== 0x20) return 0
  const a = chunk[9] - 48
  const b = chunk[10] - 48
  const c = chunk[11] - 48
  if (a < 1 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9) return 0
  return a * 100 + b * 10 + c
}

/**
 * A WebSocket (or any HTTP/1.1 Upgrade) request: routed like any request,
 * then a raw TCP (or TLS) connection to a target of the color carries the
 * request head with forwarded headers, and both sockets are piped into each
 * other. The upstream's answer (101 or a refusal) passes through untouched.
 *
 * Connect failures mark the target down and try the next one (an upgrade
 * request has no body, only the bytes already read, which are kept).
 * Any error afterwards closes both sides. The observer hears of the tunnel
 * once: when the upstream's response head arrives, or when it fails.
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
    ctx.track(client)
    client.on('error', this.#onClientError)
    client.on('close', this.#onClientClose)
  }

  /** Connects to the next target of the color. */
  start(): void {
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
    up.setTimeout(0)
    if (t.markUp()) this.#ctx.healthChanged(t, true)
    const req = this.#req
    const client = this.#client
    const h = upstreamHeaders(
      req.headers,
      this.#color,
      this.#cohort,
      req.socket.remoteAddress,
      (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
      true,
      this.#ctx.trustForwarded,
    )
    let head = req.method + ' ' + req.url + ' HTTP/1.1\r\n'
    for (let i = 0; i < h.length; i += 2) head += h[i] + ': ' + h[i + 1] + '\r\n'
    up.write(head + '\r\n', 'latin1')
    if (this.#head.length > 0) up.write(this.#head)
    up.once('data', this.#onFirstData)
    up.pipe(client)
    client.pipe(up)
  }

  #onFirstData = (chunk: Buffer): void => {
    const status = statusOf(chunk)
    this.#report(status === 0 ? 502 : status, status === 0 ? 'reset' : null)
  }

  #onUpstreamTimeout = (): void => {
    if (this.#connected) return
    const err = Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })
    ;(this.#upstream as net.Socket).destroy(err)
  }

  #onUpstreamError = (err: Error): void => {
    if (this.#connected) {
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
      this.start()
      return
    }
    this.#refuse(code === 'ETIMEDOUT' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE', 'connect')
  }

  #onUpstreamClose = (): void => {
    // Closed before any response head: the upstream hung up on the upgrade.
    this.#report(502, 'reset')
    this.#client.destroy()
  }

  #onClientError = (): void => {
    this.#client.destroy()
  }

  #onClientClose = (): void => {
    this.#report(499, null)
    if (this.#upstream !== null) this.#upstream.destroy()
  }

  #refuse(code: ReplyCode, kind: UpstreamErrorKind): void {
    const reply = this.#ctx.replies[this.#color][code]
    this.#report(reply.status, kind)
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

import { randomUUID } from 'node:crypto'
import http, { type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
import { COLORS, type Color } from '../routing/index.js'
import { ClientLimit } from './client-limit.js'
import { requestHeadProblem, upstreamHeaders } from './headers.js'
import { LimitStream } from './limit-stream.js'
import type { RequestObserver, TableSource, UpstreamErrorKind } from './observer.js'
import { ProxyRequest, ProxyResponse, onResponseClose, watchBodyIdle, type ProxyContext } from './proxy-request.js'
import { buildReplies, sendReply, type Replies } from './replies.js'
import { Router } from './route.js'
import { TargetSet, logTransition, type Target } from './targets.js'
import type { DataPlane, DataPlaneOptions, ListenOptions, Logger, TargetHealth } from './types.js'
import { UpgradeTunnel, type UpgradeContext } from './upgrade.js'
import { WaitQueue } from './wait-queue.js'

/** Time a client gets to send a whole request head (slowloris guard). */
const HEADERS_TIMEOUT_MS = 60_000
/** Time a client gets to send a whole request, body included. */
const REQUEST_TIMEOUT_MS = 300_000

type Server = http.Server<typeof IncomingMessage, typeof ProxyResponse>

/**
 * The data plane: node:http listeners that route each request with the pure
 * router and forward it through one undici Pool per target.
 *
 * Per request the hot path reads `source.table` once, decides, builds one
 * flat header array and one handler object, and dispatches; everything else
 * (pools, replies, header sets) is built here, once.
 */
export class DataPlaneImpl implements DataPlane, ProxyContext, UpgradeContext {
  readonly exposeColor: boolean
  readonly trustForwarded: boolean
  readonly replies: Readonly<Record<Color, Replies>>
  readonly connectMs: number
  readonly headersMs: number
  readonly tunnelIdleMs: number
  readonly maxTunnels: number
  readonly waiting: WaitQueue
  readonly clients: ClientLimit | null
  readonly #bodyIdleMs: number
  readonly #source: TableSource
  readonly #observer: RequestObserver | undefined
  readonly #accessLog: DataPlaneOptions['accessLog']
  readonly #logger: Logger | undefined
  readonly #now: () => number
  readonly #router: Router
  readonly #sets: Readonly<Record<Color, TargetSet>>
  readonly #maxBody: number
  readonly #limits: DataPlaneOptions['limits']
  readonly #servers: Server[] = []
  readonly #upgraded = new Set<Duplex>()
  #inFlight = 0
  #closing = false
  #closed: Promise<void> | null = null

  constructor(o: DataPlaneOptions) {
    this.exposeColor = o.exposeColor
    this.trustForwarded = o.trustForwarded ?? true
    this.connectMs = o.timeouts.connectMs
    this.headersMs = o.timeouts.headersMs
    this.tunnelIdleMs = o.timeouts.tunnelIdleMs
    this.maxTunnels = o.limits.maxTunnels
    this.#bodyIdleMs = o.timeouts.bodyIdleMs
    this.waiting = new WaitQueue(o.limits.queueTimeoutMs, () => performance.now())
    this.clients = o.limits.maxInFlightPerClient > 0 ? new ClientLimit(o.limits.maxInFlightPerClient, this.trustForwarded) : null
    this.#source = o.source
    this.#observer = o.observer
    this.#accessLog = o.accessLog
    this.#logger = o.logger
    this.#now = o.now ?? Date.now
    this.#router = new Router(o.newId ?? randomUUID)
    this.#maxBody = o.limits.maxBodyBytes
    this.#limits = o.limits
    const settings = {
      connections: o.limits.connectionsPerTarget,
      connectMs: o.timeouts.connectMs,
      headersMs: o.timeouts.headersMs,
      bodyMs: o.timeouts.bodyMs,
    }
    this.#sets = Object.freeze({
      blue: new TargetSet('blue', o.upstreams.blue.targets, settings),
      green: new TargetSet('green', o.upstreams.green.targets, settings),
    })
    this.replies = Object.freeze({
      blue: buildReplies(o.exposeColor ? 'blue' : null),
      green: buildReplies(o.exposeColor ? 'green' : null),
    })
  }

  get closing(): boolean {
    return this.#closing
  }

  now(): number {
    return this.#now()
  }

  finished(color: Color, status: number, start: number, kind: UpstreamErrorKind | null, req: IncomingMessage, cohort: string | null): void {
    this.#inFlight--
    if (this.#observer === undefined && this.#accessLog === undefined) return
    const seconds = (performance.now() - start) / 1000
    if (this.#observer !== undefined) this.#observer.request(color, status, seconds, kind)
    if (this.#accessLog !== undefined) {
      this.#accessLog({
        method: req.method as string,
        url: req.url as string,
        status,
        color,
        cohort,
        ms: Math.round(seconds * 1e6) / 1000,
        ip: req.socket?.remoteAddress,
        kind,
      })
    }
  }

  observe(color: Color, status: number, start: number, kind: UpstreamErrorKind | null): void {
    if (this.#observer !== undefined) this.#observer.request(color, status, (performance.now() - start) / 1000, kind)
  }

  responseClosed(): void {
    // While closing, a keep-alive connection that just finished a response
    // is idle once node has detached it (next turn): close it then.
    if (this.#closing) setImmediate(this.#closeIdle)
  }

  #closeIdle = (): void => {
    for (const s of this.#servers) s.closeIdleConnections()
  }

  healthChanged(t: Target, up: boolean, err?: Error): void {
    logTransition(this.#logger, t, up, err)
  }

  tunnels(): number {
    return this.#upgraded.size
  }

  track(socket: Duplex): void {
    this.#upgraded.add(socket)
    socket.once('close', () => this.#upgraded.delete(socket))
  }

  listen(host: string, port: number, opts?: ListenOptions): Promise<{ host: string; port: number }> {
    if (this.#closing) return Promise.reject(new Error('the data plane is closing'))
    this.waiting.start()
    const preview = opts?.preview === true
    const server: Server = http.createServer({
      ServerResponse: ProxyResponse,
      maxHeaderSize: this.#limits.maxHeaderBytes,
      keepAliveTimeout: this.#limits.keepAliveTimeoutMs,
      // Must outlast keepAliveTimeout, or an idle client's next request head
      // could be cut by the headers timer.
      headersTimeout: Math.max(HEADERS_TIMEOUT_MS, this.#limits.keepAliveTimeoutMs + 1000),
      requestTimeout: REQUEST_TIMEOUT_MS,
    })
    server.keepAliveTimeout = this.#limits.keepAliveTimeoutMs
    server.on('request', (req: IncomingMessage, res: ProxyResponse) => {
      try {
        this.#handle(req, res, preview)
      } catch (err) {
        this.#contain(err, req, res)
      }
    })
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        this.#upgrade(req, socket, head, preview)
      } catch (err) {
        this.bug(err)
        socket.destroy()
      }
    })
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err)
      server.once('error', onError)
      server.listen(port, host, () => {
        server.off('error', onError)
        // A listening server's later errors are logged, never thrown.
        server.on('error', (err) => this.#logger?.error({ err }, 'listener error'))
        this.#servers.push(server)
        const a = server.address() as { address: string; port: number }
        resolve({ host: a.address, port: a.port })
      })
    })
  }

  #handle(req: IncomingMessage, res: ProxyResponse, preview: boolean): void {
    const start = performance.now()
    this.#inFlight++
    const table = this.#source.table
    const d = this.#router.route(table, req.headers, preview)
    const setCookie = this.#router.setCookie
    const color = d.color
    const url = req.url as string
    // Absolute-form (proxy-style) and `*` targets, two Host headers: never forwarded.
    if (requestHeadProblem(req) !== null) {
      sendReply(res, this.replies[color].BAD_REQUEST, setCookie, this.#closing || !req.complete)
      this.finished(color, 400, start, null, req, d.cohort)
      return
    }
    const headers = req.headers
    let body: Dispatcher.DispatchOptions['body'] = null
    if (headers['transfer-encoding'] !== undefined) {
      body = this.#maxBody > 0 ? req.pipe(new LimitStream(this.#maxBody)) : req
    } else {
      const cl = headers['content-length']
      if (cl !== undefined && cl !== '0') {
        if (this.#maxBody > 0 && Number(cl) > this.#maxBody) {
          sendReply(res, this.replies[color].PAYLOAD_TOO_LARGE, setCookie, true)
          this.finished(color, 413, start, null, req, d.cohort)
          return
        }
        body = req
      }
    }
    if (body !== null) watchBodyIdle(req, this.#bodyIdleMs)
    const socket = req.socket
    const opts: Dispatcher.DispatchOptions = {
      path: url,
      method: req.method as Dispatcher.HttpMethod,
      headers: upstreamHeaders(
        headers,
        color,
        d.cohort,
        socket.remoteAddress,
        (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
        false,
        this.trustForwarded,
      ),
      body,
    }
    const p = new ProxyRequest(this, req, res, this.#sets[color], color, d.cohort, setCookie, start, opts)
    res.proxy = p
    res.on('close', onResponseClose)
    p.start()
  }

  /**
   * A bug in the request path must not take the process down: log it and
   * end this one request. Before the hand-off to a ProxyRequest (or a
   * prebuilt reply) the request still counts as in flight, so settle it.
   */
  #contain(err: unknown, _req: IncomingMessage, res: ProxyResponse): void {
    this.bug(err)
    if (res.proxy === null && !res.writableEnded) this.#inFlight--
    res.destroy()
  }

  bug(err: unknown): void {
    this.#logger?.error({ err }, 'unexpected error in the data plane')
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, preview: boolean): void {
    const start = performance.now()
    if (this.#closing) {
      socket.destroy()
      return
    }
    const d = this.#router.route(this.#source.table, req.headers, preview)
    new UpgradeTunnel(this, req, socket, head, this.#sets[d.color], d.color, d.cohort, start).start()
  }

  targets(): Record<Color, TargetHealth[]> {
    const out = {} as Record<Color, TargetHealth[]>
    for (const c of COLORS) out[c] = this.#sets[c].targets.map((t) => ({ url: t.url, up: !t.down }))
    return out
  }

  inFlight(): number {
    return this.#inFlight
  }

  close(graceMs: number): Promise<void> {
    if (this.#closed === null) this.#closed = this.#close(graceMs)
    return this.#closed
  }

  async #close(graceMs: number): Promise<void> {
    this.#closing = true
    const servers = this.#servers
    // A server's close callback fires once every connection is gone,
    // upgraded sockets included.
    const allClosed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
    this.#closeIdle()
    let timer: NodeJS.Timeout | undefined
    const graceful = await Promise.race([
      allClosed.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(r, graceMs, false)
      }),
    ])
    clearTimeout(timer)
    if (!graceful) {
      for (const s of servers) s.closeAllConnections()
      for (const sock of this.#upgraded) sock.destroy()
      await allClosed
    }
    const pools = []
    for (const c of COLORS) {
      for (const t of this.#sets[c].targets) pools.push(graceful ? t.pool.close() : t.pool.destroy())
    }
    await Promise.all(pools)
    this.waiting.stop()
  }
}

/** Builds a data plane; call `listen` to serve and `close` to stop. */
export function createDataPlane(options: DataPlaneOptions): DataPlane {
  return new DataPlaneImpl(options)
}

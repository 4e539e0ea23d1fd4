import { randomUUID } from 'node:crypto'
import http, { type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
import {
  COLORS,
  compileHosts,
  matchHost,
  mirrorDraw,
  mirrored,
  type Color,
  type Decision,
  type HostTable,
  type RoutingTable,
} from '../routing/index.js'
import type { Log } from '../observability/logger.js'
import { AppRoute, type PlaneHost } from './app-route.js'
import { ClientLimit } from './client-limit.js'
import { requestHeadProblem, upstreamHeaders } from './headers.js'
import { LimitStream } from './limit-stream.js'
import type { MirrorCopy, MirrorPlane } from './mirror.js'
import type { UpstreamErrorKind } from './observer.js'
import { ProxyRequest, ProxyResponse, onResponseClose, watchBodyIdle } from './proxy-request.js'
import { buildReplies, rawReply, sendReply, type Reply } from './replies.js'
import { RequestRouter } from './route.js'
import { logTransition, type Target, type TargetSet } from './targets.js'
import type { AppsOptions, DataPlane, DataPlaneOptions, ListenOptions, TargetHealth } from './types.js'
import { UpgradeTunnel } from './upgrade.js'
import { WaitQueue } from './wait-queue.js'

/** Time a client gets to send a whole request head (slowloris guard). */
const HEADERS_TIMEOUT_MS = 60_000
/** Time a client gets to send a whole request, body included. */
const REQUEST_TIMEOUT_MS = 300_000

type Server = http.Server<typeof IncomingMessage, typeof ProxyResponse>

/**
 * The data plane: node:http listeners that find each request's app by its
 * Host, route it with that app's pure router table, and forward it through
 * one undici Pool per target.
 *
 * Per request the hot path reads the host table once (one reference: a
 * reload is atomic), matches the Host (one Map probe; none for a single
 * app), reads the app's `source.table` once, decides, builds one flat header
 * array and one handler object, and dispatches; everything else (pools,
 * replies, header sets) is built per app, once.
 */
export class DataPlaneImpl implements DataPlane, PlaneHost {
  /** requests waiting for an upstream connection, across apps (`limits.queueTimeoutMs`) */
  readonly waiting: WaitQueue
  /** requests in flight per client, across apps; null without `limits.maxInFlightPerClient` */
  readonly clients: ClientLimit | null
  readonly #accessLog: DataPlaneOptions['accessLog']
  readonly #logger: Log | undefined
  readonly #now: () => number
  /** [0, 1): the mirror sample's randomness */
  readonly #random: () => number
  readonly #router: RequestRouter
  #maxBody: number
  #limits: DataPlaneOptions['limits']
  readonly #servers: Server[] = []
  readonly #upgraded = new Set<Duplex>()
  /** the apps by host; swapped whole on reload */
  #hosts: HostTable<AppRoute>
  #apps: ReadonlyMap<string, AppRoute>
  /** replies for a request no app serves (no color header) */
  readonly #unknownHost: Reply
  #inFlight = 0
  #closing = false
  #closed: Promise<void> | null = null

  constructor(o: DataPlaneOptions) {
    this.#accessLog = o.accessLog
    this.#logger = o.logger
    this.#now = o.now ?? Date.now
    this.#random = o.random ?? Math.random
    this.#router = new RequestRouter(o.newId ?? randomUUID)
    this.#maxBody = o.limits.maxBodyBytes
    this.#limits = o.limits
    this.#unknownHost = buildReplies(null).UNKNOWN_HOST
    this.waiting = new WaitQueue(o.limits.queueTimeoutMs, () => performance.now())
    this.clients = o.limits.maxInFlightPerClient > 0 ? new ClientLimit(o.limits.maxInFlightPerClient, o.trustForwarded ?? true) : null
    this.#apps = new Map()
    this.#hosts = compileHosts<AppRoute>([], null)
    this.setApps(o)
  }

  setApps(o: AppsOptions, limits?: DataPlaneOptions['limits']): void {
    if (limits !== undefined) {
      this.#limits = limits
      this.#maxBody = limits.maxBodyBytes
    }
    const previous = this.#apps
    const apps = new Map<string, AppRoute>()
    for (const a of o.apps) {
      apps.set(a.name, new AppRoute(this, a, this.#limits.connectionsPerTarget, previous.get(a.name)))
    }
    const fallback = o.defaultApp === null ? null : (apps.get(o.defaultApp) ?? null)
    this.#hosts = compileHosts(
      [...apps.values()].map((a) => [a, a.hosts] as const),
      fallback,
    )
    this.#apps = apps
    // Old probers stop before the new ones start: a kept target is never checked twice at once.
    for (const a of previous.values()) a.prober?.stop().catch((err: unknown) => this.bug(err))
    if (!this.#closing) for (const a of apps.values()) a.prober?.start()
    // Pools no app uses any more: close() lets their requests finish first.
    const kept = new Set<TargetSet>()
    for (const a of apps.values()) kept.add(a.sets.blue).add(a.sets.green)
    const mirrors = new Set<MirrorPlane>()
    for (const a of apps.values()) if (a.mirror !== null) mirrors.add(a.mirror)
    for (const a of previous.values()) {
      if (a.mirror !== null && !mirrors.has(a.mirror)) a.mirror.close().catch((err: unknown) => this.bug(err))
      for (const c of COLORS) {
        if (kept.has(a.sets[c])) continue
        for (const t of a.sets[c].targets) t.pool.close().catch((err: unknown) => this.bug(err))
      }
    }
  }

  get closing(): boolean {
    return this.#closing
  }

  now(): number {
    return this.#now()
  }

  finished(
    app: AppRoute,
    color: Color,
    status: number,
    start: number,
    kind: UpstreamErrorKind | null,
    req: IncomingMessage,
    cohort: string | null,
  ): void {
    this.#inFlight--
    if (!app.observed && this.#accessLog === undefined) return
    const seconds = (performance.now() - start) / 1000
    app.report(color, status, seconds, kind)
    if (this.#accessLog !== undefined) {
      this.#accessLog({
        app: app.name,
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

  healthChecked(app: string, t: Target, up: boolean, detail: string): void {
    const facts = { app, color: t.color, target: t.url, check: detail }
    if (up) this.#logger?.info(facts, 'health check: upstream target is up again')
    else this.#logger?.warn(facts, 'health check: upstream target is down')
  }

  random(): number {
    return this.#random()
  }

  get maxTunnels(): number {
    return this.#limits.maxTunnels
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
      // reusePort: this process binds its own socket, not the cluster primary's shared one.
      const reuse = opts?.reusePort === true ? { reusePort: true, exclusive: true } : {}
      server.listen({ port, host, ...reuse }, () => {
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
    const headers = req.headers
    const app = matchHost(this.#hosts, headers.host)
    if (app === null) {
      // No app, so no color and no app's metrics: refused before routing.
      sendReply(res, this.#unknownHost, null, this.#closing || !req.complete)
      return
    }
    this.#inFlight++
    const table = app.source.table
    const d = this.#router.route(table, headers, preview)
    const setCookie = this.#router.setCookie
    const color = d.color
    const url = req.url as string
    // Absolute-form (proxy-style) and `*` targets, two Host headers: never forwarded.
    if (requestHeadProblem(req) !== null) {
      sendReply(res, app.replies[color].BAD_REQUEST, setCookie, this.#closing || !req.complete)
      this.finished(app, color, 400, start, null, req, d.cohort)
      return
    }
    let body: Dispatcher.DispatchOptions['body'] = null
    if (headers['transfer-encoding'] !== undefined) {
      body = this.#maxBody > 0 ? req.pipe(new LimitStream(this.#maxBody)) : req
    } else {
      const cl = headers['content-length']
      if (cl !== undefined && cl !== '0') {
        if (this.#maxBody > 0 && Number(cl) > this.#maxBody) {
          sendReply(res, app.replies[color].PAYLOAD_TOO_LARGE, setCookie, true)
          this.finished(app, color, 413, start, null, req, d.cohort)
          return
        }
        body = req
      }
    }
    if (body !== null) watchBodyIdle(req, app.bodyIdleMs)
    const socket = req.socket
    // Dark launch: one branch when nothing is mirrored.
    let copy: MirrorCopy | null = null
    if (table.mirrorBp !== 0) {
      copy = this.#mirror(app, table, d, req, body)
      if (copy !== null && copy.body !== null) body = copy.body
    }
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
        app.trustForwarded,
      ),
      body,
    }
    const p = new ProxyRequest(app, req, res, app.sets[color], color, d.cohort, setCookie, start, opts)
    p.mirror = copy
    res.proxy = p
    res.on('close', onResponseClose)
    p.start()
  }

  /** A copy of a live-rule request for the idle color, when the sample and the bounds allow one. */
  #mirror(
    app: AppRoute,
    table: RoutingTable,
    d: Decision,
    req: IncomingMessage,
    body: Dispatcher.DispatchOptions['body'],
  ): MirrorCopy | null {
    const plane = app.mirror
    if (plane === null || !mirrored(table, d, req.method as string, mirrorDraw(this.#random()))) return null
    const socket = req.socket
    const proto = (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http'
    const headers = upstreamHeaders(req.headers, table.idle, null, socket.remoteAddress, proto, false, app.trustForwarded)
    return plane.begin(req, table.idle, headers, body)
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
    const app = matchHost(this.#hosts, req.headers.host)
    if (app === null) {
      if (socket.writable) socket.end(rawReply(this.#unknownHost))
      else socket.destroy()
      return
    }
    const d = this.#router.route(app.source.table, req.headers, preview)
    new UpgradeTunnel(app, req, socket, head, app.sets[d.color], d.color, d.cohort, start).start()
  }

  targets(name: string): Record<Color, TargetHealth[]> | null {
    const app = this.#apps.get(name)
    if (app === undefined) return null
    const out = {} as Record<Color, TargetHealth[]>
    for (const c of COLORS) out[c] = app.sets[c].targets.map((t) => targetHealth(t, app.prober !== null))
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
    const probers = [...this.#apps.values()].map((a) => a.prober?.stop())
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
    for (const app of this.#apps.values()) {
      for (const c of COLORS) {
        for (const t of app.sets[c].targets) pools.push(graceful ? t.pool.close() : t.pool.destroy())
      }
      // Copies are a sample: never worth holding a shutdown for.
      if (app.mirror !== null) pools.push(app.mirror.destroy())
    }
    await Promise.all([...pools, ...probers])
    this.waiting.stop()
  }
}

function targetHealth(t: Target, checked: boolean): TargetHealth {
  if (!checked) return { url: t.url, up: t.up }
  const c = t.check
  return {
    url: t.url,
    up: t.up,
    check: {
      up: !c.down,
      checkedAt: c.checkedAt === 0 ? null : new Date(c.checkedAt).toISOString(),
      failures: c.failures,
      passes: c.passes,
      error: c.error,
    },
  }
}

/** Builds a data plane; call `listen` to serve and `close` to stop. */
export function createDataPlane(options: DataPlaneOptions): DataPlane {
  return new DataPlaneImpl(options)
}

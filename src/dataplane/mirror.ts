import type { IncomingMessage } from 'node:http'
import { Transform, pipeline, type TransformCallback } from 'node:stream'
import { Pool, type Dispatcher } from 'undici'
import type { MirrorConfig } from '../config/schema.js'
import type { Color } from '../routing/index.js'
import type { MirrorObserver, ShadowAnswer } from './observer.js'

/** Mirror connections per idle target at most: copies are a sample, not the load. */
export const MIRROR_CONNECTIONS = 8
/** The header every copy carries, so the idle color can tell copies apart. */
export const MIRROR_HEADER = 'x-switchyard-mirror'

const EMPTY = Buffer.alloc(0)
function noop(): void {}

/**
 * One app's dark launch in the data plane: its own small undici pools per
 * target (never the live pools, so copies cannot take the live requests'
 * connections), the in-flight count that bounds copies (`concurrency`:
 * beyond it a copy is dropped and counted, never queued), and the observer
 * that receives the outcomes.
 *
 * Built per app config; a reload keeps it when the targets and settings did
 * not change.
 */
export class MirrorPlane {
  readonly settings: MirrorConfig
  readonly observer: MirrorObserver
  readonly #pools: Readonly<Record<Color, readonly Pool[]>>
  readonly #urls: Readonly<Record<Color, readonly string[]>>
  readonly #next: Record<Color, number> = { blue: 0, green: 0 }
  /** lower-case names of the response headers captured for the diff */
  readonly captured: ReadonlySet<string>
  inFlight = 0

  constructor(upstreams: Record<Color, { targets: readonly string[] }>, settings: MirrorConfig, observer: MirrorObserver) {
    this.settings = settings
    this.observer = observer
    this.captured = new Set(['content-type', ...settings.compare.headers.map((h) => h.toLowerCase())])
    const connections = Math.min(settings.concurrency, MIRROR_CONNECTIONS)
    const pools = (c: Color): Pool[] =>
      upstreams[c].targets.map(
        (url) =>
          new Pool(new URL(url).origin, {
            connections,
            connect: { timeout: settings.timeoutMs },
            headersTimeout: settings.timeoutMs,
            bodyTimeout: settings.timeoutMs,
          }),
      )
    this.#urls = { blue: upstreams.blue.targets.slice(), green: upstreams.green.targets.slice() }
    this.#pools = { blue: pools('blue'), green: pools('green') }
  }

  /** Whether a new plane for these targets and settings would be the same (reload). */
  sameAs(upstreams: Record<Color, { targets: readonly string[] }>, settings: MirrorConfig, observer: MirrorObserver): boolean {
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((u, i) => u === b[i])
    return (
      observer === this.observer &&
      JSON.stringify(settings) === JSON.stringify(this.settings) &&
      same(this.#urls.blue, upstreams.blue.targets) &&
      same(this.#urls.green, upstreams.green.targets)
    )
  }

  /**
   * A copy of a sampled request to `idle`, or null when it is not sent: the
   * body's Content-Length is over `maxBodyBytes` (not mirrored, not counted),
   * or `concurrency` copies are in flight (dropped, counted). A body of
   * unknown length (chunked) is copied as it streams and the copy is dropped
   * (counted) once it grows past `maxBodyBytes`.
   * `body` is the live request's body stream (null without one); when the
   * copy takes it, the returned copy's `body` is the tee the live request
   * must read instead.
   */
  begin(req: IncomingMessage, idle: Color, headers: string[], body: Dispatcher.DispatchOptions['body']): MirrorCopy | null {
    if (body !== null && req.headers['transfer-encoding'] === undefined) {
      const cl = req.headers['content-length']
      if (cl !== undefined && Number(cl) > this.settings.maxBodyBytes) return null
    }
    if (this.inFlight >= this.settings.concurrency) {
      this.observer.mirror('dropped')
      return null
    }
    this.inFlight++
    headers.push(MIRROR_HEADER, '1')
    return new MirrorCopy(this, req, idle, headers, body)
  }

  /** The pool of the next target of `color` (round-robin; health is the live pools' concern). */
  pool(color: Color): Pool {
    const list = this.#pools[color]
    const i = this.#next[color]++ % list.length
    return list[i]
  }

  close(): Promise<void> {
    return Promise.all([...this.#pools.blue, ...this.#pools.green].map((p) => p.close())).then(noop)
  }

  destroy(): Promise<void> {
    return Promise.all([...this.#pools.blue, ...this.#pools.green].map((p) => p.destroy())).then(noop)
  }
}

/** One side's answer as it streams in, bounded by `maxBodyBytes`. */
class Capture {
  status = 0
  headers: Record<string, string> = {}
  chunks: Buffer[] = []
  bytes = 0
  over = false

  head(status: number, raw: Buffer[], names: ReadonlySet<string>): void {
    this.status = status
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i].toString('latin1').toLowerCase()
      if (names.has(name) && this.headers[name] === undefined) this.headers[name] = raw[i + 1].toString('latin1')
    }
  }

  data(chunk: Buffer, max: number): void {
    if (this.over) return
    if (this.bytes + chunk.length > max) {
      this.over = true
      this.chunks = []
      return
    }
    // A copy: the live chunk belongs to the client's response.
    this.chunks.push(Buffer.from(chunk))
    this.bytes += chunk.length
  }

  answer(): ShadowAnswer {
    return {
      status: this.status,
      headers: this.headers,
      body: this.over ? null : this.chunks.length === 0 ? EMPTY : Buffer.concat(this.chunks),
    }
  }
}

/** Passes the live request body through untouched and copies it for the mirror. */
class MirrorTee extends Transform {
  readonly #copy: MirrorCopy

  constructor(copy: MirrorCopy) {
    super()
    this.#copy = copy
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#copy.bodyChunk(chunk)
    cb(null, chunk)
  }

  override _flush(cb: TransformCallback): void {
    this.#copy.bodyEnd()
    cb()
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    // Before the end: the live body failed (client gone), so no copy goes out.
    this.#copy.bodyAborted()
    cb(err)
  }
}

/**
 * One mirrored request: the undici handler of the copy sent to the idle
 * color, and the capture of both answers for the shadow diff. Exists only
 * for mirrored requests; the live ProxyRequest calls `liveHead`,
 * `liveData` and `liveEnd` as its own response streams (copying, never
 * holding back the client's bytes).
 *
 * The copy is bounded by `timeoutMs` (one timer), its own pools and the
 * plane's concurrency; whatever it does, it never touches the live
 * response. When both sides ended, the pair goes to the observer.
 */
export class MirrorCopy implements Dispatcher.DispatchHandler {
  readonly #plane: MirrorPlane
  readonly #method: string
  readonly #url: string
  readonly #idle: Color
  readonly #headers: string[]
  readonly #compare: boolean
  /** the stream the live request must send as its body (the tee), or null */
  readonly body: Dispatcher.DispatchOptions['body']
  #bodyChunks: Buffer[] | null = null
  #bodyBytes = 0
  #abort: ((err?: Error) => void) | null = null
  #timer: NodeJS.Timeout | null = null
  #live: Capture | null
  #idleAnswer: Capture | null
  /** 0 running, 1 ended, 2 failed */
  #liveState = 0
  #idleState = 0
  #settled = false

  constructor(plane: MirrorPlane, req: IncomingMessage, idle: Color, headers: string[], body: Dispatcher.DispatchOptions['body']) {
    this.#plane = plane
    this.#method = req.method as string
    this.#url = req.url as string
    this.#idle = idle
    this.#headers = headers
    this.#compare = plane.settings.compare.enabled
    this.#live = this.#compare ? new Capture() : null
    this.#idleAnswer = this.#compare ? new Capture() : null
    if (body === null) {
      this.body = null
      this.#send(null)
    } else {
      this.#bodyChunks = []
      const tee = new MirrorTee(this)
      // pipeline: a client that goes away mid-body ends the tee too, so the live request sees it.
      pipeline(body as IncomingMessage, tee, noop)
      this.body = tee
    }
  }

  /** A chunk of the live request body, on its way to the live color. */
  bodyChunk(chunk: Buffer): void {
    if (this.#bodyChunks === null) return
    this.#bodyBytes += chunk.length
    if (this.#bodyBytes > this.#plane.settings.maxBodyBytes) {
      this.#bodyChunks = null
      this.#idleState = 2
      this.#plane.observer.mirror('dropped')
      this.#release()
      this.#settle()
      return
    }
    this.#bodyChunks.push(Buffer.from(chunk))
  }

  /** The live request body failed before its end: the copy is abandoned. */
  bodyAborted(): void {
    if (this.#bodyChunks === null) return
    this.#bodyChunks = null
    this.#idleState = 2
    this.#release()
    this.#settle()
  }

  /** The live request body ended: the copy goes out now, with the whole body. */
  bodyEnd(): void {
    const chunks = this.#bodyChunks
    if (chunks === null) return
    this.#bodyChunks = null
    this.#send(Buffer.concat(chunks))
  }

  #send(body: Buffer | null): void {
    const plane = this.#plane
    plane.observer.mirror('sent')
    this.#timer = setTimeout(onCopyTimeout, plane.settings.timeoutMs, this)
    this.#timer.unref()
    try {
      plane.pool(this.#idle).dispatch({ path: this.#url, method: this.#method, headers: this.#headers, body }, this)
    } catch (err) {
      this.onError(err as Error)
    }
  }

  /** The copy's time is up: abort it (onError counts it). */
  timedOut(): void {
    this.#timer = null
    if (this.#idleState !== 0) return
    if (this.#abort !== null) this.#abort(new Error('mirror timeout'))
    else this.onError(new Error('mirror timeout'))
  }

  // ── the live side (called by ProxyRequest) ──

  liveHead(status: number, raw: Buffer[]): void {
    if (this.#live !== null) this.#live.head(status, raw, this.#plane.captured)
  }

  liveData(chunk: Buffer): void {
    if (this.#live !== null) this.#live.data(chunk, this.#plane.settings.maxBodyBytes)
  }

  /** The live request settled: `ok` when its whole answer reached the client. */
  liveEnd(ok: boolean): void {
    if (this.#liveState !== 0) return
    this.#liveState = ok ? 1 : 2
    this.#settle()
  }

  // ── the idle side (undici) ──

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
    if (this.#idleState !== 0) abort(new Error('mirror timeout'))
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], _resume: () => void): boolean {
    if (statusCode < 200) return true
    if (this.#idleAnswer !== null) this.#idleAnswer.head(statusCode, rawHeaders, this.#plane.captured)
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.#idleAnswer !== null) this.#idleAnswer.data(chunk, this.#plane.settings.maxBodyBytes)
    return true
  }

  onComplete(): void {
    if (this.#idleState !== 0) return
    this.#idleState = 1
    this.#release()
    this.#settle()
  }

  onError(_err: Error): void {
    if (this.#idleState !== 0) return
    this.#idleState = 2
    this.#plane.observer.mirror('error')
    this.#release()
    this.#settle()
  }

  #release(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    this.#plane.inFlight--
  }

  #settle(): void {
    if (this.#settled || this.#liveState === 0 || this.#idleState === 0) return
    this.#settled = true
    if (this.#live === null || this.#idleAnswer === null || this.#idleState !== 1) return
    if (this.#liveState !== 1) {
      this.#plane.observer.skipped()
      return
    }
    this.#plane.observer.answers({
      method: this.#method,
      url: this.#url,
      idle: this.#idle,
      live: this.#live.answer(),
      idleAnswer: this.#idleAnswer.answer(),
    })
  }
}

function onCopyTimeout(copy: MirrorCopy): void {
  copy.timedOut()
}

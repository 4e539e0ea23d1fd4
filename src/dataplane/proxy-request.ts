import { ServerResponse, type IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
import type { Color } from '../routing/index.js'
import { UNREACHABLE_CODES } from './connect-errors.js'
import { COLOR_HEADER, responseHeaders } from './headers.js'
import type { UpstreamErrorKind } from './observer.js'
import { sendReply, type Replies, type ReplyCode } from './replies.js'
import { TargetSet, type Target } from './targets.js'
import type { ClientLimit } from './client-limit.js'
import type { MirrorCopy } from './mirror.js'
import type { WaitQueue, Waiter } from './wait-queue.js'

/** What a proxied request needs from the data plane that owns it. */
export interface ProxyContext {
  readonly exposeColor: boolean
  /** prebuilt error replies per color (color header included when exposed) */
  readonly replies: Readonly<Record<Color, Replies>>
  /** true once `close` started: responses stop keeping connections alive */
  readonly closing: boolean
  /** requests waiting for an upstream connection (`limits.queueTimeoutMs`) */
  readonly waiting: WaitQueue
  /** requests in flight per client, or null without `limits.maxInFlightPerClient` */
  readonly clients: ClientLimit | null
  now(): number
  /** a request ended: observer call and in-flight bookkeeping, exactly once */
  finished(color: Color, status: number, start: number, kind: UpstreamErrorKind | null, req: IncomingMessage, cohort: string | null): void
  /** a client response closed (after its end or on a client abort) */
  responseClosed(): void
  /** an unexpected exception was contained; for logs */
  bug(err: unknown): void
  /** a target changed health; for logs */
  healthChanged(t: Target, up: boolean, err?: Error): void
}

const CONTENT_LENGTH = 'content-length'

/**
 * A header name equal to `content-length` in any case, without lower-casing
 * (a new string per response for "Content-Length"). ORing 0x20 folds ASCII
 * upper case; the only other byte it maps onto a character of the name is
 * CR (onto '-'), which the HTTP parser never lets into a name.
 */
function isContentLength(name: string): boolean {
  if (name.length !== 14) return false
  for (let i = 0; i < 14; i++) if ((name.charCodeAt(i) | 0x20) !== CONTENT_LENGTH.charCodeAt(i)) return false
  return true
}

/** Removes Content-Length from a flat header list, in place. */
function dropContentLength(headers: string[]): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (isContentLength(headers[i])) headers.splice(i, 2)
}

/**
 * The Content-Length of a flat header list, or -1 when it has none or an
 * unusable one (undici has already refused a malformed or repeated one).
 */
function contentLength(headers: string[]): number {
  for (let i = 0; i < headers.length; i += 2) {
    if (!isContentLength(headers[i])) continue
    const n = Number(headers[i + 1])
    return Number.isSafeInteger(n) && n > 0 ? n : -1
  }
  return -1
}

/** Last chunks up to this size go out as latin1 text (see onComplete); larger ones gain nothing (measured at 16 KiB). */
const SMALL_LAST_CHUNK = 4096

/** Status reported for a request whose client went away first (nginx's convention). */
export const CLIENT_CLOSED = 499

/** Error codes that mean "could not connect to the target". */
const CONNECT_CODES: ReadonlySet<string> = new Set([...UNREACHABLE_CODES, 'UND_ERR_CONNECT_TIMEOUT'])

/**
 * Error codes of a connection that closed under the request: typically a
 * kept-alive socket the upstream closed as idle just as the request went out.
 */
const RESET_CODES: ReadonlySet<string> = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'])

/** Methods that may be sent again (RFC 9110 §9.2.2), when they carry no body. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

function codeOf(err: Error): string | undefined {
  const c = (err as { code?: unknown }).code
  return typeof c === 'string' ? c : undefined
}

/**
 * The response class of the data plane's servers: it carries the request's
 * handler, so the `close` and `drain` listeners are shared functions rather
 * than closures allocated per request.
 */
export class ProxyResponse<Req extends IncomingMessage = IncomingMessage> extends ServerResponse<Req> {
  // Declared, with their defaults on the prototype: class field initialisers
  // would define two own properties on every response node creates.
  declare proxy: ProxyRequest | null
  declare drainListening: boolean
}
ProxyResponse.prototype.proxy = null
ProxyResponse.prototype.drainListening = false

/** Shared `close` listener: the response ended or the client went away. */
export function onResponseClose(this: ProxyResponse): void {
  const p = this.proxy
  if (p !== null) p.clientClosed()
}

function onResponseDrain(this: ProxyResponse): void {
  const p = this.proxy
  if (p !== null) p.drained()
}

/**
 * Cuts a request body that sends no byte for `ms` (a slow upload holds an
 * upstream connection): the client socket times out while the body is being
 * read, and node destroys a timed-out socket nobody claims, which aborts the
 * upstream request. Shared listeners, no closure per request.
 */
export function watchBodyIdle(req: IncomingMessage, ms: number): void {
  req.socket.setTimeout(ms)
  req.on('end', onBodyEnd)
}

function onBodyEnd(this: IncomingMessage): void {
  // Waiting for the upstream's answer is bounded by headersMs, not by this.
  // When the response already finished (the body ended later, drained by
  // node), node has set its keep-alive timer on the socket: leave that one.
  const s = this.socket as (IncomingMessage['socket'] & { _httpMessage?: unknown }) | null
  if (s !== null && s._httpMessage != null) s.setTimeout(0)
}

/**
 * One proxied request: an undici dispatch handler (the core callback API,
 * which undici runs without an adapter) that streams the upstream response
 * into the client response with backpressure, retries body-less requests on
 * the next target when a connect fails, and reports the outcome once.
 *
 * Lifecycle: `start` → (`onConnect` → `onHeaders` → `onData`* →
 * `onComplete`) | `onError`. `clientClosed` may come at any point; after
 * `#done` the request is settled and later undici callbacks only clean up.
 */
export class ProxyRequest implements Dispatcher.DispatchHandler, Waiter {
  readonly #ctx: ProxyContext
  readonly #res: ProxyResponse
  readonly #req: IncomingMessage
  readonly #set: TargetSet
  readonly #color: Color
  readonly #cohort: string | null
  readonly #setCookie: string | null
  readonly #start: number
  readonly #opts: Dispatcher.DispatchOptions
  #target: Target | null = null
  #probe = false
  #attempts = 0
  #abort: ((err?: Error) => void) | null = null
  #resume: (() => void) | null = null
  #headersSent = false
  #done = false
  #clientGone = false
  /** the request was sent again after its connection closed under it */
  #resent = false
  /** the key counted in `ctx.clients`, released when the request ends */
  #clientKey: string | null = null
  /** the upstream's status has no body (204, 304) or the method is HEAD: drop body bytes */
  #noBody = false
  /** body bytes still to come by the upstream's Content-Length; -1 without one */
  #left = -1
  /**
   * The chunk that completes a Content-Length body, held for `res.end(chunk)`:
   * undici calls onComplete right after it, and one `end(chunk)` costs node
   * less than `write(chunk)` then `end()` (one write path, no cork tick).
   */
  #last: Buffer | null = null
  /** the copy of this request sent to the idle color (dark launch); null for almost every request */
  mirror: MirrorCopy | null = null
  waitPrev: Waiter | null = null
  waitNext: Waiter | null = null
  waitSince = -1

  constructor(
    ctx: ProxyContext,
    req: IncomingMessage,
    res: ProxyResponse,
    set: TargetSet,
    color: Color,
    cohort: string | null,
    setCookie: string | null,
    start: number,
    opts: Dispatcher.DispatchOptions,
  ) {
    this.#ctx = ctx
    this.#req = req
    this.#res = res
    this.#set = set
    this.#color = color
    this.#cohort = cohort
    this.#setCookie = setCookie
    this.#start = start
    this.#opts = opts
  }

  /** Counts the request against its client's limit, then sends it. */
  start(): void {
    const clients = this.#ctx.clients
    if (clients !== null) {
      const key = clients.key(this.#req)
      if (!clients.acquire(key)) {
        this.#fail('CLIENT_LIMIT', null)
        return
      }
      this.#clientKey = key
    }
    this.#send()
  }

  /** Sends the request to the next target of the color. */
  #send(): void {
    const t = this.#set.pick(this.#ctx.now(), this.#opts.body == null)
    if (t === null) {
      this.#fail('UPSTREAM_UNAVAILABLE', 'no-target')
      return
    }
    this.#target = t
    this.#probe = t.probing
    this.#attempts++
    this.#abort = null
    // The first attempt enters the wait queue at the request's start (same tick): one clock read less.
    this.#ctx.waiting.enter(this, this.#attempts === 1 ? this.#start : performance.now())
    t.pool.dispatch(this.#opts, this)
  }

  /** No upstream connection came free within `limits.queueTimeoutMs`. */
  waitExpired(): void {
    if (this.#done) return
    this.#release()
    // undici still holds the request; it is aborted when a connection takes it.
    this.#fail('UPSTREAM_BUSY', 'timeout')
  }

  /** The client response closed: normal end, or the client went away. */
  clientClosed(): void {
    this.#res.proxy = null
    this.#ctx.responseClosed()
    if (this.#done) return
    this.#clientGone = true
    // Settle first: undici calls onError synchronously from abort.
    this.#finish(this.#headersSent ? this.#res.statusCode : CLIENT_CLOSED, null)
    if (this.#abort !== null) this.#abort(new Error('client closed the connection'))
  }

  /** The client caught up: let undici read from the upstream again. */
  drained(): void {
    if (this.#resume !== null) this.#resume()
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#ctx.waiting.leave(this)
    this.#abort = abort
    if (this.#clientGone) abort(new Error('client closed the connection'))
    else if (this.#done) abort(new Error('the request waited too long for a connection'))
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx (e.g. 103 Early Hints) are not forwarded; the final response follows.
    if (statusCode < 200) return true
    const t = this.#target as Target
    if (t.markUp()) this.#ctx.healthChanged(t, true)
    if (this.#done) return false
    if (statusCode > 599) {
      // Not an HTTP status (RFC 9110 §15): a broken upstream, never passed on.
      this.#fail('UPSTREAM_UNAVAILABLE', 'reset')
      if (this.#abort !== null) this.#abort(new Error('invalid status ' + statusCode))
      return false
    }
    const res = this.#res
    const headers = responseHeaders(rawHeaders)
    if (statusCode === 204 || statusCode === 304 || this.#opts.method === 'HEAD') this.#noBody = true
    // RFC 9110 §8.6: a 204 carries no Content-Length; a wrong one must not reach the client.
    if (statusCode === 204) dropContentLength(headers)
    else if (!this.#noBody) this.#left = contentLength(headers)
    if (this.#ctx.exposeColor) headers.push(COLOR_HEADER, this.#color)
    // Appended after the upstream's own Set-Cookie headers, never replacing them.
    if (this.#setCookie !== null) headers.push('set-cookie', this.#setCookie)
    if (this.#ctx.closing) res.shouldKeepAlive = false
    res.writeHead(statusCode, headers)
    this.#headersSent = true
    if (this.mirror !== null) this.mirror.liveHead(statusCode, rawHeaders)
    this.#resume = resume
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.#done) return false
    // A body after a 204/304 (or a HEAD answer) is the upstream's mistake; node would refuse to write it.
    if (this.#noBody) return true
    // The shadow diff copies the chunk; the client's write is not held back.
    if (this.mirror !== null) this.mirror.liveData(chunk)
    const left = this.#left
    if (left === chunk.length && this.#last === null) {
      this.#last = chunk
      return true
    }
    if (left > 0) this.#left = left - chunk.length
    const res = this.#res
    if (res.write(chunk)) return true
    // Backpressure: undici pauses the upstream socket until `drain`.
    if (!res.drainListening) {
      res.drainListening = true
      res.on('drain', onResponseDrain)
    }
    return false
  }

  onComplete(): void {
    this.#release()
    if (this.#done) return
    const res = this.#res
    const last = this.#last
    if (last === null) res.end()
    else {
      this.#last = null
      // As latin1 text (lossless: one char per byte), node sends head and
      // body as one string in one write instead of a writev of two chunks:
      // ~9% less CPU per small answer, measured (docs/performance.md).
      if (last.length <= SMALL_LAST_CHUNK) res.end(last.toString('latin1'), 'latin1')
      else res.end(last)
    }
    if (this.mirror !== null) this.mirror.liveEnd(true)
    this.#finish(res.statusCode, null)
  }

  onError(err: Error): void {
    // undici does not guard this callback: a throw here would be uncaught.
    try {
      this.#onError(err)
    } catch (bug) {
      this.#ctx.bug(bug)
      if (!this.#done) this.#finish(this.#headersSent ? this.#res.statusCode : 502, 'reset')
      this.#res.destroy()
    }
  }

  #onError(err: Error): void {
    this.#ctx.waiting.leave(this)
    this.#release()
    if (this.#done) return
    const res = this.#res
    // The client went away (mid-upload, or its socket was destroyed) and
    // undici noticed before node closed the response. Not the upstream's fault.
    const req = this.#req
    // Node may already have let go of the socket reference (null).
    const sock = res.socket ?? req.socket
    if (res.destroyed || (sock !== null && sock.destroyed) || (req.destroyed && !req.complete)) {
      this.#clientGone = true
      this.#finish(this.#headersSent ? res.statusCode : CLIENT_CLOSED, null)
      if (!res.destroyed) res.destroy()
      return
    }
    const code = codeOf(err)
    if (this.#headersSent) {
      if (this.#noBody && code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
        // A 204/304 whose upstream sent body bytes anyway: the answer the
        // client needs is complete (it has no body); the upstream's broken
        // connection is undici's to drop.
        res.end()
        this.#finish(res.statusCode, null)
        return
      }
      // Too late for an error status: cut the response so the client sees
      // a truncated body rather than a complete-looking one.
      this.#finish(this.#res.statusCode, code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'reset')
      this.#res.destroy()
      return
    }
    if (code === 'PAYLOAD_TOO_LARGE') {
      this.#fail('PAYLOAD_TOO_LARGE', null)
      return
    }
    if (code !== undefined && CONNECT_CODES.has(code)) {
      const t = this.#target as Target
      if (t.markDown(this.#ctx.now())) this.#ctx.healthChanged(t, false, err)
      // Only a request without a body can be sent again: a streamed body is gone.
      if (this.#opts.body == null && this.#attempts - (this.#resent ? 1 : 0) < this.#set.targets.length) {
        this.#send()
        return
      }
      this.#fail(code === 'UND_ERR_CONNECT_TIMEOUT' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE', 'connect')
      return
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      this.#fail('UPSTREAM_TIMEOUT', 'timeout')
      return
    }
    // The connection closed before any response byte: most likely a kept-alive
    // socket the upstream had just closed as idle. An idempotent request
    // without a body is sent once more, on another connection.
    if (code !== undefined && RESET_CODES.has(code) && !this.#resent && this.#opts.body == null && IDEMPOTENT.has(this.#opts.method)) {
      this.#resent = true
      this.#send()
      return
    }
    this.#fail('UPSTREAM_UNAVAILABLE', 'reset')
  }

  #release(): void {
    if (this.#probe) {
      this.#probe = false
      TargetSet.release(this.#target as Target)
    }
  }

  #fail(code: ReplyCode, kind: UpstreamErrorKind | null): void {
    const reply = this.#ctx.replies[this.#color][code]
    // A request body left unread would have to be drained before the
    // connection could carry another request: close it instead.
    sendReply(this.#res, reply, this.#setCookie, this.#ctx.closing || !this.#req.complete)
    this.#finish(reply.status, kind)
  }

  #finish(status: number, kind: UpstreamErrorKind | null): void {
    this.#done = true
    // After a whole answer this is a no-op; otherwise the copy's answer is not compared.
    if (this.mirror !== null) this.mirror.liveEnd(false)
    if (this.#clientKey !== null) {
      ;(this.#ctx.clients as ClientLimit).release(this.#clientKey)
      this.#clientKey = null
    }
    this.#ctx.finished(this.#color, status, this.#start, kind, this.#req, this.#cohort)
  }
}

import type { ServerResponse } from 'node:http'

/** Why a stream ended. */
export type StreamEnd = 'client' | 'slow' | 'shutdown'

/**
 * One open `GET /v1/events` connection. Frames are written straight to the
 * response; what Node could not hand to the socket yet waits in its
 * buffer (`writableLength`). The buffer is the only memory a stream holds,
 * and it is bounded:
 *
 * ```
 *   frame ─► droppable (stats, heartbeat) and the socket is behind (needs drain)? ─► dropped
 *         ─► buffered bytes + frame > maxBufferedBytes?                          ─► stream closed ('slow')
 *         ─► res.write(frame)
 * ```
 *
 * State and history frames are never dropped (a dashboard that missed one
 * would show a wrong state); a reader too slow for them is cut off and
 * reconnects, getting every app's state again on connect.
 */
export class EventStream {
  readonly #res: ServerResponse
  readonly #maxBuffered: number
  readonly #onEnd: (s: EventStream, why: StreamEnd) => void
  #open = true
  /** droppable frames skipped because the socket was behind */
  dropped = 0

  constructor(res: ServerResponse, maxBufferedBytes: number, onEnd: (s: EventStream, why: StreamEnd) => void) {
    this.#res = res
    this.#maxBuffered = maxBufferedBytes
    this.#onEnd = onEnd
    res.once('close', () => this.#end('client'))
  }

  get open(): boolean {
    return this.#open
  }

  /** bytes written but not yet taken by the socket */
  get buffered(): number {
    return this.#res.writableLength
  }

  /** Writes one frame; `droppable` frames are skipped while the socket is behind. */
  send(frame: string, droppable: boolean): void {
    if (!this.#open) return
    const res = this.#res
    if (droppable && res.writableNeedDrain) {
      this.dropped++
      return
    }
    if (res.writableLength + Buffer.byteLength(frame) > this.#maxBuffered) {
      this.close('slow')
      return
    }
    res.write(frame)
  }

  /** Ends the stream: 'shutdown' finishes the response, 'slow' drops the connection (its buffer is not worth sending). */
  close(why: StreamEnd): void {
    if (!this.#open) return
    if (why === 'slow') this.#res.destroy()
    else this.#res.end()
    this.#end(why)
  }

  #end(why: StreamEnd): void {
    if (!this.#open) return
    this.#open = false
    this.#onEnd(this, why)
  }
}

/** One Server-Sent Events frame: `event: <name>` and the JSON on one `data:` line. */
export function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

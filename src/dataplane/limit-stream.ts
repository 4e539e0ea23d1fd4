import { Transform, type TransformCallback } from 'node:stream'
import { SwitchyardError } from '../errors.js'

/**
 * Passes a request body through and fails with PAYLOAD_TOO_LARGE once more
 * than `max` bytes went by. Only chunked bodies under a `maxBodyBytes` limit
 * use it; a body with Content-Length is checked before proxying, and node's
 * parser holds it to that length.
 */
export class LimitStream extends Transform {
  readonly #max: number
  #seen = 0
  /** true once the limit was passed */
  exceeded = false

  constructor(max: number) {
    super()
    this.#max = max
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length
    if (this.#seen > this.#max) {
      this.exceeded = true
      cb(new SwitchyardError('PAYLOAD_TOO_LARGE'))
      return
    }
    cb(null, chunk)
  }
}

import type { RequestObserver, UpstreamErrorKind } from '../dataplane/index.js'
import { Tallies } from '../observability/metrics.js'
import type { Color } from '../routing/index.js'
import type { AppReport } from './messages.js'

/**
 * A worker's sink for one app's requests: the same typed-array tallies the
 * metrics use, plus requests and errors per color for the primary's error
 * windows. O(1) and allocation-free per request; `take` empties it into one
 * report, every REPORT_MS.
 */
export class AppTally implements RequestObserver {
  readonly #tallies = new Tallies()
  /** blue requests, blue errors, green requests, green errors */
  readonly #window = new Float64Array(4)

  request(color: Color, status: number, seconds: number, kind: UpstreamErrorKind | null): void {
    this.#tallies.request(color, status, seconds, kind)
    const i = color === 'blue' ? 0 : 2
    this.#window[i]++
    // An error as the error windows count it (windows.ts).
    if (status >= 500 || kind !== null) this.#window[i + 1]++
  }

  /** The counts since the last take; null when there were no requests. */
  take(): AppReport | null {
    const tallies = this.#tallies.take()
    if (tallies === null) return null
    const w = this.#window
    const report: AppReport = { tallies, window: [w[0], w[1], w[2], w[3]] }
    w.fill(0)
    return report
  }
}

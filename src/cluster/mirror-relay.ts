import type { MirrorObserver, MirrorResult, ShadowAnswer, ShadowPair } from '../dataplane/index.js'
import type { MirrorCounts } from '../observability/metrics.js'
import type { Color } from '../routing/index.js'

/**
 * Answer pairs a worker sends per report (per app) at most; the pairs beyond
 * it in one REPORT_MS are counted as `skipped`, never queued.
 */
export const MIRROR_PAIRS_PER_REPORT = 32
/**
 * Body bytes (both sides, before base64) a worker sends per report (per app)
 * at most; a pair that would go past it is counted as `skipped`. The first
 * pair of a report always goes, so answers up to `maxBodyBytes` can always
 * be compared.
 */
export const MIRROR_BYTES_PER_REPORT = 1_048_576

/** A {@link ShadowAnswer} as it crosses the IPC channel (JSON): the body in base64. */
export interface WireAnswer {
  status: number
  headers: Record<string, string>
  body: string | null
}

export interface WirePair {
  method: string
  url: string
  idle: Color
  live: WireAnswer
  idleAnswer: WireAnswer
}

/** One app's dark launch since the last report: the counts (copies, and answers that cannot be compared) and the pairs to compare. */
export interface MirrorReport extends MirrorCounts {
  pairs: WirePair[]
}

/**
 * A worker's MirrorObserver for one app (`workers` > 1): the data plane's
 * copies and answers, held until the next report. Counts are numbers (never
 * one message per copy); answer pairs are kept as they are, at most
 * {@link MIRROR_PAIRS_PER_REPORT} and {@link MIRROR_BYTES_PER_REPORT} of
 * bodies per report, the rest counted as `skipped`. So whatever the
 * traffic, one report carries at most 32 pairs and
 * max(1 MiB, 2 × `maxBodyBytes`) of bodies per app. The primary compares
 * them with the same shadow recorder as a single process.
 */
export class MirrorRelay implements MirrorObserver {
  readonly #counts: MirrorCounts = { sent: 0, dropped: 0, error: 0, skipped: 0 }
  #pairs: ShadowPair[] = []
  #bytes = 0
  readonly #maxPairs: number
  readonly #maxBytes: number

  constructor(maxPairs = MIRROR_PAIRS_PER_REPORT, maxBytes = MIRROR_BYTES_PER_REPORT) {
    this.#maxPairs = maxPairs
    this.#maxBytes = maxBytes
  }

  mirror(result: MirrorResult): void {
    this.#counts[result]++
  }

  skipped(): void {
    this.#counts.skipped++
  }

  answers(pair: ShadowPair): void {
    const bytes = (pair.live.body?.length ?? 0) + (pair.idleAnswer.body?.length ?? 0)
    if (this.#pairs.length >= this.#maxPairs || (this.#pairs.length > 0 && this.#bytes + bytes > this.#maxBytes)) {
      this.#counts.skipped++
      return
    }
    this.#pairs.push(pair)
    this.#bytes += bytes
  }

  /** What happened since the last take, ready for IPC; null when nothing did. */
  take(): MirrorReport | null {
    const c = this.#counts
    const pairs = this.#pairs
    if (c.sent === 0 && c.dropped === 0 && c.error === 0 && c.skipped === 0 && pairs.length === 0) return null
    const report: MirrorReport = { ...c, pairs: pairs.map(toWire) }
    c.sent = c.dropped = c.error = c.skipped = 0
    this.#pairs = []
    this.#bytes = 0
    return report
  }
}

function toWire(p: ShadowPair): WirePair {
  return { method: p.method, url: p.url, idle: p.idle, live: answerToWire(p.live), idleAnswer: answerToWire(p.idleAnswer) }
}

function answerToWire(a: ShadowAnswer): WireAnswer {
  return { status: a.status, headers: { ...a.headers }, body: a.body === null ? null : a.body.toString('base64') }
}

/** A pair as the worker captured it, from its IPC form. */
export function pairFromWire(p: WirePair): ShadowPair {
  return { method: p.method, url: p.url, idle: p.idle, live: answerFromWire(p.live), idleAnswer: answerFromWire(p.idleAnswer) }
}

function answerFromWire(a: WireAnswer): ShadowAnswer {
  return { status: a.status, headers: a.headers, body: a.body === null ? null : Buffer.from(a.body, 'base64') }
}

import type { MirrorConfig } from '../config/index.js'
import type { MirrorObserver, MirrorResult, ShadowPair } from '../dataplane/index.js'
import { SwitchyardError } from '../errors.js'
import type { MirrorCounts, MirrorTally } from '../observability/metrics.js'
import type { Color } from '../routing/index.js'
import { compareAnswers, pathOf, routeOf, type CompareOptions, type Verdict } from './shadow-diff.js'

/** Mismatches kept for operators. */
export const RECENT_MISMATCHES = 50
/** Routes counted one by one; the rest are counted under `other`. */
export const MAX_ROUTES = 200
export const OTHER_ROUTE = 'other'

export interface ShadowMismatch {
  at: string
  method: string
  /** without the query */
  path: string
  route: string
  live: { status: number }
  idle: { status: number; color: Color }
  diff: string[]
}

export interface ShadowRoute {
  route: string
  samples: number
  mismatches: number
  mismatchRate: number
}

/** `GET /v1/shadow` */
export interface ShadowReport {
  percent: number
  compare: boolean
  samples: number
  matches: number
  mismatches: number
  skipped: number
  errors: number
  dropped: number
  sent: number
  mismatchRate: number
  maxMismatchRate: number
  minSamples: number
  /** true when the flip gate would refuse a flip to the idle color now */
  refusing: boolean
  /** worst first */
  routes: ShadowRoute[]
  /** newest first */
  recent: ShadowMismatch[]
}

export interface ShadowRecorderDeps {
  settings: MirrorConfig
  /** epoch ms */
  clock: () => number
  /** the live color now: answers to copies sent before a flip are dropped */
  live: () => Color
  /** lifetime counts for metrics */
  tally: MirrorTally
}

/**
 * One app's shadow counters: what the data plane's copies produced, the
 * comparison of each pair of answers, the mismatch rate per route, the last
 * 50 mismatches, and the flip gate's verdict. Reset by an operator and by
 * every change of the live color (the counters describe the idle color).
 */
export class ShadowRecorder implements MirrorObserver {
  #settings: MirrorConfig
  #compare: CompareOptions
  readonly #deps: ShadowRecorderDeps
  #sent = 0
  #dropped = 0
  #errors = 0
  #matches = 0
  #mismatches = 0
  #skipped = 0
  #routes = new Map<string, { samples: number; mismatches: number }>()
  #recent: ShadowMismatch[] = []

  constructor(deps: ShadowRecorderDeps) {
    this.#deps = deps
    this.#settings = deps.settings
    this.#compare = compareOptions(deps.settings)
  }

  /** A reload's settings; the counters carry on. */
  reconfigure(settings: MirrorConfig): void {
    this.#settings = settings
    this.#compare = compareOptions(settings)
  }

  mirror(result: MirrorResult): void {
    this.#deps.tally[result]++
    if (result === 'sent') this.#sent++
    else if (result === 'dropped') this.#dropped++
    else this.#errors++
  }

  skipped(): void {
    this.#count('skipped')
  }

  /**
   * Counts batched elsewhere (a worker's report, `workers` > 1): the same as
   * that many `mirror` and `skipped` calls.
   */
  absorb(c: MirrorCounts): void {
    const t = this.#deps.tally
    t.sent += c.sent
    t.dropped += c.dropped
    t.error += c.error
    t.skipped += c.skipped
    this.#sent += c.sent
    this.#dropped += c.dropped
    this.#errors += c.error
    this.#skipped += c.skipped
  }

  answers(pair: ShadowPair): void {
    // A copy sent before a flip answered for the color that is live now.
    if (pair.idle === this.#deps.live()) return
    const c = compareAnswers(pair.live, pair.idleAnswer, this.#compare)
    this.#count(c.verdict)
    if (c.verdict === 'skipped') return
    const route = this.#route(routeOf(pair.method, pair.url))
    route.samples++
    if (c.verdict !== 'mismatch') return
    route.mismatches++
    this.#recent.unshift({
      at: new Date(this.#deps.clock()).toISOString(),
      method: pair.method,
      path: pathOf(pair.url),
      route: routeOf(pair.method, pair.url),
      live: { status: pair.live.status },
      idle: { status: pair.idleAnswer.status, color: pair.idle },
      diff: c.diff,
    })
    if (this.#recent.length > RECENT_MISMATCHES) this.#recent.length = RECENT_MISMATCHES
  }

  #count(v: Verdict): void {
    this.#deps.tally[v]++
    if (v === 'match') this.#matches++
    else if (v === 'mismatch') this.#mismatches++
    else this.#skipped++
  }

  #route(name: string): { samples: number; mismatches: number } {
    let r = this.#routes.get(name)
    if (r === undefined) {
      const key = this.#routes.size < MAX_ROUTES ? name : OTHER_ROUTE
      r = this.#routes.get(key)
      if (r === undefined) {
        r = { samples: 0, mismatches: 0 }
        this.#routes.set(key, r)
      }
    }
    return r
  }

  /** Clears every counter and the recent mismatches (not the lifetime metrics). */
  reset(): void {
    this.#sent = this.#dropped = this.#errors = this.#matches = this.#mismatches = this.#skipped = 0
    this.#routes = new Map()
    this.#recent = []
  }

  get samples(): number {
    return this.#matches + this.#mismatches
  }

  get mismatchRate(): number {
    return this.samples === 0 ? 0 : this.#mismatches / this.samples
  }

  /** The figures and whether they refuse a flip (or canary/rollout start) to the idle color. */
  verdict(): { refuse: boolean; samples: number; mismatches: number; mismatchRate: number; maxMismatchRate: number; minSamples: number } {
    const c = this.#settings.compare
    const samples = this.samples
    const rate = this.mismatchRate
    return {
      refuse: c.enabled && samples >= c.minSamples && rate > c.maxMismatchRate,
      samples,
      mismatches: this.#mismatches,
      mismatchRate: round(rate),
      maxMismatchRate: c.maxMismatchRate,
      minSamples: c.minSamples,
    }
  }

  /**
   * Throws SHADOW_MISMATCH when a change would send users to `color`, the
   * idle color whose answers differ too often. Nothing to say about the
   * live color (the counters are about the idle one).
   */
  check(color: Color): void {
    if (color === this.#deps.live()) return
    const v = this.verdict()
    if (!v.refuse) return
    const { refuse: _r, ...figures } = v
    throw new SwitchyardError(
      'SHADOW_MISMATCH',
      `shadow diff: ${v.mismatches} of ${v.samples} mirrored answers of ${color} differ from the live ones ` +
        `(${pct(v.mismatchRate)} > ${pct(v.maxMismatchRate)}); GET /v1/shadow shows them, force skips this check`,
      { color, ...figures },
    )
  }

  report(percent: number): ShadowReport {
    const v = this.verdict()
    const routes: ShadowRoute[] = []
    for (const [route, r] of this.#routes) {
      routes.push({
        route,
        samples: r.samples,
        mismatches: r.mismatches,
        mismatchRate: round(r.samples === 0 ? 0 : r.mismatches / r.samples),
      })
    }
    routes.sort((a, b) => b.mismatchRate - a.mismatchRate || b.samples - a.samples || a.route.localeCompare(b.route))
    return {
      percent,
      compare: this.#settings.compare.enabled,
      samples: v.samples,
      matches: this.#matches,
      mismatches: this.#mismatches,
      skipped: this.#skipped,
      errors: this.#errors,
      dropped: this.#dropped,
      sent: this.#sent,
      mismatchRate: v.mismatchRate,
      maxMismatchRate: v.maxMismatchRate,
      minSamples: v.minSamples,
      refusing: v.refuse,
      routes,
      recent: this.#recent.slice(),
    }
  }
}

function compareOptions(s: MirrorConfig): CompareOptions {
  return { headers: s.compare.headers.map((h) => h.toLowerCase()), ignoreJsonFields: new Set(s.compare.ignoreJsonFields) }
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000
}

function pct(rate: number): string {
  return `${Math.round(rate * 10_000) / 100}%`
}

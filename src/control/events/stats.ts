import { DURATION_BUCKETS, type ColorTallies } from '../../observability/metrics.js'

/** One color's traffic over the last stats interval, as the `stats` event carries it. */
export interface ColorStats {
  /** requests per second over the interval */
  rps: number
  /** errors / requests over the interval (0 without requests) */
  errorRate: number
  /** 99th percentile of the request duration in ms, estimated from the histogram buckets; null without requests */
  p99: number | null
  /** requests in the interval */
  requests: number
}

/**
 * The `q` quantile (0–1) of the requests counted in `buckets` (per bucket,
 * not cumulative, bounds {@link DURATION_BUCKETS} in seconds, last = +Inf),
 * in seconds: linear inside the bucket the quantile falls into, like
 * Prometheus' `histogram_quantile`. The +Inf bucket answers the highest
 * finite bound. Null when the buckets are empty.
 */
export function quantile(buckets: ArrayLike<number>, q: number): number | null {
  let total = 0
  for (let i = 0; i < buckets.length; i++) total += buckets[i]
  if (total <= 0) return null
  const rank = q * total
  let seen = 0
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i]
    if (n > 0 && seen + n >= rank) {
      if (i >= DURATION_BUCKETS.length) return DURATION_BUCKETS[DURATION_BUCKETS.length - 1]
      const lower = i === 0 ? 0 : DURATION_BUCKETS[i - 1]
      const upper = DURATION_BUCKETS[i]
      return lower + (upper - lower) * ((rank - seen) / n)
    }
    seen += n
  }
  return DURATION_BUCKETS[DURATION_BUCKETS.length - 1]
}

/** A color's stats between two tally snapshots taken `seconds` apart. */
export function colorStats(before: ColorTallies, after: ColorTallies, seconds: number): ColorStats {
  // A restarted tally (an app removed and added back) reads as a fresh start.
  const reset = after.requests < before.requests
  const requests = reset ? after.requests : after.requests - before.requests
  const errors = reset ? after.errors : Math.max(0, after.errors - before.errors)
  const delta = new Float64Array(after.buckets.length)
  for (let i = 0; i < delta.length; i++) delta[i] = reset ? after.buckets[i] : Math.max(0, after.buckets[i] - (before.buckets[i] ?? 0))
  const p99 = quantile(delta, 0.99)
  return {
    rps: seconds > 0 ? round(requests / seconds, 2) : 0,
    errorRate: requests > 0 ? round(errors / requests, 4) : 0,
    p99: p99 === null ? null : round(p99 * 1000, 2),
    requests,
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

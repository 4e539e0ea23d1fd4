/**
 * The load generator: a separate process (pinned by run.js) that runs
 * autocannon's programmatic API on request over IPC, so its CPU never counts
 * against a proxy's.
 *
 * Message in:  { id, opts }  (autocannon options; `requests` bodies as base64)
 * Message out: { id, result } or { id, error }
 *
 * Besides autocannon's own histogram (whole milliseconds), it records every
 * response time with microsecond resolution, because a proxy adds well under
 * a millisecond and that is what we want to see.
 */
import autocannon from 'autocannon'

function percentile(sorted, p) {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, i)]
}

function run(opts) {
  return new Promise((resolve, reject) => {
    let lat = new Float64Array(1 << 16)
    let n = 0
    const requests = opts.requests?.map((r) => (r.body === undefined ? r : { ...r, body: Buffer.from(r.body, 'base64') }))
    const instance = autocannon({ ...opts, requests }, (err, result) => {
      if (err) return reject(err)
      const sorted = lat.subarray(0, n).sort()
      resolve({
        // completed requests over the measured time: steadier than the mean of
        // per-second samples on runs of a few seconds
        requestsPerSec: result.requests.total / result.duration,
        requestsTotal: result.requests.total,
        durationSec: result.duration,
        throughputBytesPerSec: result.throughput.average,
        latencyMs: {
          p50: percentile(sorted, 50),
          p90: percentile(sorted, 90),
          p99: percentile(sorted, 99),
          max: n > 0 ? sorted[n - 1] : null,
          mean: n > 0 ? sorted.reduce((a, b) => a + b, 0) / n : null,
        },
        autocannonLatencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
        samples: n,
        errors: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
        statusCodes: result.statusCodeStats,
      })
    })
    instance.on('response', (client, statusCode, resBytes, responseTime) => {
      if (statusCode < 200 || statusCode > 299) return
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2)
        bigger.set(lat)
        lat = bigger
      }
      lat[n++] = responseTime
    })
  })
}

process.on('message', async ({ id, opts }) => {
  try {
    process.send({ id, result: await run(opts) })
  } catch (err) {
    process.send({ id, error: err?.message ?? String(err) })
  }
})
process.on('disconnect', () => process.exit(0))
process.send({ ready: true })

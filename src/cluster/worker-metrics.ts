import { Counter, Gauge, type Registry } from 'prom-client'

export interface WorkerMetricSources {
  /** worker processes running now */
  live(): number
  /** workers restarted since start */
  restarts(): number
  /** requests each worker slot reported since start */
  requests(): { worker: string; requests: number }[]
  /** the state version each worker routes each app by */
  applied(): { app: string; worker: string; version: number }[]
}

/**
 * The metrics of a router with `workers` > 1, read when scraped. Requests,
 * errors and latencies of all workers are already summed into the usual
 * series; these say how the work was spread and whether a worker lags.
 * `worker` is the slot (0 … N−1): a restarted worker takes its slot over.
 */
export function registerWorkerMetrics(registry: Registry, s: WorkerMetricSources): void {
  new Gauge({
    name: 'switchyard_workers',
    help: 'Worker processes running the data plane (workers > 1)',
    registers: [registry],
    collect() {
      this.set(s.live())
    },
  })
  new Counter({
    name: 'switchyard_worker_restarts_total',
    help: 'Worker processes restarted after they died',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(s.restarts())
    },
  })
  new Counter({
    name: 'switchyard_worker_requests_total',
    help: 'Proxied requests by worker slot (their sum is the sum of switchyard_requests_total)',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset()
      for (const r of s.requests()) this.inc({ worker: r.worker }, r.requests)
    },
  })
  new Gauge({
    name: 'switchyard_worker_state_version',
    help: 'Version of the state each worker routes an app by',
    labelNames: ['app', 'worker'],
    registers: [registry],
    collect() {
      this.reset()
      for (const a of s.applied()) this.set({ app: a.app, worker: a.worker }, a.version)
    },
  })
}

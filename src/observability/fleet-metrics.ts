import { Gauge, type Registry } from 'prom-client'

/**
 * Metrics about the store and the fleet, for the alerts "store unavailable"
 * and "instances not converged" (`deploy/prometheus/alerts.yaml`):
 *
 * - `switchyard_store_up`: 1 when this instance reaches its state store, 0
 *   when not (the file store is always reachable);
 * - `switchyard_instances`: live instances this instance sees in the
 *   registry (1 with the file store: itself);
 * - `switchyard_instances_behind`: how many of them route by an older state
 *   version than the newest one listed (0 with the file store).
 *
 * All three are read when `/metrics` is scraped, not kept up to date. The
 * instance list is one bounded Redis read (the registry's connect timeout);
 * when it fails, the two instance gauges keep their last values (0 before
 * any read succeeded), and `switchyard_store_up` says why.
 *
 * Kept apart from `metrics.ts` (the request and state metrics) so the two
 * change independently.
 */

/** What an instance list entry must tell: the version it routes by, per app when it has several. */
export interface AppliedVersion {
  readonly appliedVersion: number
  readonly apps?: Readonly<Record<string, number>>
}

/** Where the fleet metrics read from, each call made at scrape time. */
export interface FleetSources {
  /** whether the state store is reachable now (`StateStore.reachable`) */
  storeUp: () => boolean
  /** the live instances (`InstanceRegistry.list`); may throw STORE_UNAVAILABLE */
  instances: () => Promise<readonly AppliedVersion[]>
}

/**
 * Counts the instances, and those behind: routing some app by an older
 * version than the newest any instance lists for that app (instances
 * without per-app versions count by `appliedVersion`).
 */
export function convergence(list: readonly AppliedVersion[]): { instances: number; behind: number } {
  const newest = new Map<string, number>()
  const versions = (i: AppliedVersion): [string, number][] => (i.apps === undefined ? [['', i.appliedVersion]] : Object.entries(i.apps))
  for (const i of list) for (const [app, v] of versions(i)) if (v > (newest.get(app) ?? -Infinity)) newest.set(app, v)
  let behind = 0
  for (const i of list) if (versions(i).some(([app, v]) => v < (newest.get(app) as number))) behind++
  return { instances: list.length, behind }
}

/**
 * Registers the store and fleet gauges on `registry`.
 *
 * @example
 * registerFleetMetrics(metrics.registry, { storeUp: () => store.reachable(), instances: () => instanceRegistry.list() })
 */
export function registerFleetMetrics(registry: Registry, sources: FleetSources): void {
  new Gauge({
    name: 'switchyard_store_up',
    help: 'Whether this instance reaches its state store (1) or not (0)',
    registers: [registry],
    collect() {
      this.set(sources.storeUp() ? 1 : 0)
    },
  })

  // One list read per scrape feeds both instance gauges: the registry
  // collects all metrics at once, so the second collect joins the read the
  // first one started. When the read fails, both keep their last values.
  let last = { instances: 0, behind: 0 }
  let reading: Promise<{ instances: number; behind: number }> | null = null
  const read = (): Promise<{ instances: number; behind: number }> =>
    (reading ??= Promise.resolve()
      .then(() => sources.instances())
      .then(convergence, () => last) // the store is down: switchyard_store_up says so
      .then((c) => {
        last = c
        reading = null
        return c
      }))

  new Gauge({
    name: 'switchyard_instances',
    help: 'Live router instances that this instance sees (1 with the file store)',
    registers: [registry],
    async collect() {
      this.set((await read()).instances)
    },
  })
  new Gauge({
    name: 'switchyard_instances_behind',
    help: 'Live instances that route by an older state version than the newest one listed',
    registers: [registry],
    async collect() {
      this.set((await read()).behind)
    },
  })
}

import { Gauge, type Registry } from 'prom-client'
import type { Color } from '../routing/index.js'

/** One app's targets as the data plane reports them (null: it serves no such app). */
export interface AppTargets {
  app: string
  colors: Record<Color, readonly { url: string; up: boolean }[]> | null
}

/**
 * `switchyard_target_up{app,color,target}`: 1 when a target is routable
 * (neither a failed connect nor the health checks say down), else 0. Read
 * from the data plane when scraped, so series of targets a reload removed
 * disappear with them.
 */
export function registerTargetMetrics(registry: Registry, read: () => readonly AppTargets[]): void {
  new Gauge({
    name: 'switchyard_target_up',
    help: 'Whether an upstream target is up (1) or down (0), by passive and active health, per app, color and target',
    labelNames: ['app', 'color', 'target'],
    registers: [registry],
    collect() {
      this.reset()
      for (const a of read()) {
        if (a.colors === null) continue
        for (const color of ['blue', 'green'] as const) {
          for (const t of a.colors[color]) this.set({ app: a.app, color, target: t.url }, t.up ? 1 : 0)
        }
      }
    },
  })
}

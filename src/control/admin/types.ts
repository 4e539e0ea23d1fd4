import type { Config } from '../../config/index.js'
import type { AppDirectory } from './apps.js'

/** What the admin API is built from (wired by the composition root). */
export interface AdminDeps {
  /** the apps, looked up per request: a reload changes what it answers */
  apps: AppDirectory
  /** the admin settings (token, metricsPublic) are read once, at build */
  config: Pick<Config, 'admin'>
  /** epoch ms, for health's watch times (default Date.now) */
  clock?: () => number
  /** extra readiness, e.g. "proxy listener not bound yet"; merged into /readyz */
  ready?: () => { ready: boolean; reasons: string[] }
}

import type { Config } from '../../config/index.js'
import type { Runtime } from '../runtime.js'
import type { StateService } from '../service.js'
import type { StateStore } from '../store/types.js'

/** What the admin API is built from (wired by the composition root). */
export interface AdminDeps {
  service: StateService
  runtime: Runtime
  store: StateStore
  config: Config
  /** extra readiness, e.g. "proxy listener not bound yet"; merged into /readyz */
  ready?: () => { ready: boolean; reasons: string[] }
}

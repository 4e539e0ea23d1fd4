export {
  APP_NAME_PATTERN,
  ConfigSchema,
  DEFAULT_APP,
  type AppConfig,
  type Config,
  type RawConfig,
  type SmokeCheckConfig,
  type StoreConfig,
  type MirrorConfig,
} from './schema.js'
export { normalizeHostPattern } from './apps.js'
export { ConfigError, applyEnv, isLoopback, loadConfig, parseConfigText, validateConfig } from './load.js'

export { ConfigSchema, type Config, type SmokeCheckConfig, type StoreConfig } from './schema.js'
export { ConfigError, applyEnv, isLoopback, loadConfig, parseConfigText, validateConfig } from './load.js'

export {
  createAdminApp,
  ADMIN_BODY_LIMIT,
  ADMIN_LOG_REDACT,
  ADMIN_TIMEOUTS,
  type AdminApp,
  type AdminAppOptions,
  type AdminPlugin,
  type AdminTimeouts,
} from './app.js'
export { createOriginGuard, hostName, isLoopbackName, isOwnOrigin } from './origin.js'
export { createAuthHook, tokenMatches, type AuthOptions } from './auth.js'
export { adminErrorHandler, adminNotFoundHandler, assertTwoDecimals, classify, replyError, replySwitchyardError } from './errors.js'
export { ACTOR_HEADER, actorOf, etag, parseIfMatch, sendWrite, writeOptions } from './http.js'
export * from './schemas.js'
export type { AdminDeps } from './types.js'
export { appDirectory, resolveApp, type AppDirectory, type AppHandle } from './apps.js'

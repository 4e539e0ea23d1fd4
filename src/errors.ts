/**
 * The error catalogue. Every refusal the router gives has one of these codes;
 * the admin API answers `{"error": {"code", "message"}}` with the status
 * below, and the CLI prints the message and exits non-zero. The codes are part
 * of the contract (DESIGN.md): add, never rename.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, message: 'The request is not valid' },
  UNAUTHORIZED: { status: 401, message: 'A valid bearer token is required' },
  FORBIDDEN_ORIGIN: { status: 403, message: 'Requests from another origin or host are refused' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  APP_REQUIRED: { status: 400, message: 'Several apps are configured: name one (/v1/apps/:app/...)' },
  UNKNOWN_APP: { status: 404, message: 'No app by that name' },
  UNKNOWN_HOST: { status: 404, message: 'No app serves this host' },
  SMOKE_FAILED: { status: 409, message: 'Smoke checks failed' },
  SHADOW_MISMATCH: { status: 409, message: 'The idle color answers differently from the live one too often (shadow diff)' },
  NO_PREVIOUS: { status: 409, message: 'There is no previous live color to roll back to' },
  ROLLOUT_ACTIVE: { status: 409, message: 'A rollout is in progress' },
  NO_ROLLOUT: { status: 409, message: 'No rollout is in progress' },
  VERSION_MISMATCH: { status: 412, message: 'The state changed since the version you read' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  CLIENT_LIMIT: { status: 429, message: 'Too many requests in flight from this client' },
  INTERNAL: { status: 500, message: 'Internal error' },
  UPSTREAM_UNAVAILABLE: { status: 502, message: 'No upstream target of the color answered' },
  UPSTREAM_BUSY: { status: 503, message: 'Every connection to the color stayed busy; try again' },
  TOO_MANY_TUNNELS: { status: 503, message: 'Too many upgraded connections are open; try again' },
  STORE_UNAVAILABLE: { status: 503, message: 'The state store is unavailable' },
  TOO_MANY_STREAMS: { status: 503, message: 'Too many event streams are open' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The upstream did not answer in time' },
  CONFIG_INVALID: { status: 500, message: 'The configuration is not valid' },
} as const

export type ErrorCode = keyof typeof ERRORS

/** An error with a stable code from the catalogue. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode
  readonly status: number
  /** extra JSON-safe facts for the caller (e.g. failing smoke checks) */
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERRORS[code].message)
    this.name = 'SwitchyardError'
    this.code = code
    this.status = ERRORS[code].status
    this.details = details
  }
}

export function isSwitchyardError(e: unknown): e is SwitchyardError {
  return e instanceof SwitchyardError
}

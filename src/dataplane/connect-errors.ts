/** Socket error codes that mean "could not reach the target" (the target is marked down). */
export const UNREACHABLE_CODES: readonly string[] = Object.freeze([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
])

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { ERRORS, SwitchyardError, isSwitchyardError, type ErrorCode } from '../../errors.js'
import type { ErrorReply } from './schemas.js'

const ADMIN_BODY_LIMIT_TEXT = 'the admin body limit (64 MiB)'

/**
 * One shape for every refusal: `{"error": {"code", "message", "details"?}}`
 * with the catalogue's status. Framework errors (bad JSON, schema, media
 * type, body size) are mapped onto catalogue codes here, so no route and no
 * plugin ever sends another shape.
 */

/** Sends a refusal. `status` defaults to the code's catalogue status. */
export function replyError(
  reply: FastifyReply,
  code: ErrorCode,
  message?: string,
  details?: Record<string, unknown>,
  status: number = ERRORS[code].status,
): FastifyReply {
  const body: ErrorReply = { error: { code, message: message ?? ERRORS[code].message } }
  if (details !== undefined) body.error.details = details
  return reply.code(status).type('application/json; charset=utf-8').send(body)
}

/** Sends a SwitchyardError as a refusal. */
export function replySwitchyardError(reply: FastifyReply, err: SwitchyardError): FastifyReply {
  return replyError(reply, err.code, err.message, err.details)
}

interface AjvError {
  keyword: string
  instancePath?: string
  message?: string
  params?: Record<string, unknown>
}

/** A validation error as one line naming the field, e.g. `body/percent must be <= 100`. */
export function describeValidation(context: string | undefined, errors: readonly AjvError[]): string {
  const e = errors[0]
  if (e === undefined) return `${context ?? 'request'} is not valid`
  const at = `${context ?? 'request'}${e.instancePath ?? ''}`
  const p = e.params ?? {}
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at} must not have property "${String(p.additionalProperty)}"`
    case 'required':
      return `${at}/${String(p.missingProperty)} is required`
    case 'enum':
      return `${at} must be one of: ${(p.allowedValues as unknown[]).join(', ')}`
    case 'pattern': {
      const description = (e as { parentSchema?: { description?: string } }).parentSchema?.description
      return description !== undefined ? `${at} must be ${description}` : `${at} ${e.message ?? 'is not valid'}`
    }
    default:
      return `${at} ${e.message ?? 'is not valid'}`
  }
}

/** Maps any error to a catalogue refusal: code, message, status, details. */
export function classify(err: unknown): { code: ErrorCode; message: string; status: number; details?: Record<string, unknown> } {
  if (isSwitchyardError(err)) return { code: err.code, message: err.message, status: err.status, details: err.details }
  const fe = err as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string }
  if (Array.isArray(fe.validation)) {
    return { code: 'BAD_REQUEST', message: describeValidation(fe.validationContext, fe.validation), status: 400 }
  }
  const status = fe.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // 413 body too large and 415 media type keep their status: they say more than 400.
    const keep = status === 413 || status === 415
    const message =
      fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError
        ? `body is not valid JSON: ${fe.message}`
        : status === 415
          ? 'Content-Type must be application/json'
          : status === 413
            ? `body is larger than ${ADMIN_BODY_LIMIT_TEXT}`
            : (fe.message ?? ERRORS.BAD_REQUEST.message)
    return { code: 'BAD_REQUEST', message, status: keep ? status : 400 }
  }
  return { code: 'INTERNAL', message: ERRORS.INTERNAL.message, status: 500 }
}

/** Fastify error handler: every error becomes the contract's JSON, never a stack. */
export function adminErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const c = classify(err)
  if (c.status >= 500 && c.code === 'INTERNAL') req.log.error({ err }, 'admin request failed')
  else if (c.status >= 500) req.log.warn({ code: c.code, msg: c.message }, 'admin request refused')
  return replyError(reply, c.code, c.message, c.details, c.status)
}

/** Unknown routes answer 404 NOT_FOUND JSON. */
export function adminNotFoundHandler(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return replyError(reply, 'NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`)
}

/** Throws BAD_REQUEST unless `value` has at most two decimals (floats: 12.34 is 1233.9999…). */
export function assertTwoDecimals(value: number | undefined, field: string): void {
  if (value === undefined) return
  const scaled = value * 100
  if (Math.abs(scaled - Math.round(scaled)) >= 1e-9) {
    throw new SwitchyardError('BAD_REQUEST', `${field} must have at most two decimals, got ${value}`)
  }
}

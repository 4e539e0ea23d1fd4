import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { explain, stickinessKey, type RequestFacts } from '../../../routing/index.js'
import { ColorSchema, ERROR_RESPONSES, StringEnum } from '../schemas.js'
import type { AdminDeps } from '../types.js'

const Body = Type.Object(
  {
    headers: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String(), { description: 'request headers (any case)' })),
    cookies: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String(), { description: 'cookie name → value' })),
    path: Type.Optional(Type.String({ description: 'informational; routing does not depend on the path' })),
  },
  { additionalProperties: false },
)

const Answer = Type.Object({
  color: ColorSchema,
  rule: StringEnum(['preview', 'override', 'cohort', 'canary', 'live'] as const),
  bucket: Type.Union([Type.Integer(), Type.Null()], { description: 'canary bucket in [0, 10000); null without a key' }),
  cohort: Type.Union([Type.String(), Type.Null()]),
  key: Type.Union([Type.String(), Type.Null()], { description: 'the stickiness key used' }),
})

/** Parses a Cookie header (`a=1; b=2`); the first value of a name wins, as in the data plane. */
function parseCookieHeader(header: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i <= 0) continue
    const name = part.slice(0, i).trim()
    if (name !== '' && !(name in out)) out[name] = part.slice(i + 1).trim()
  }
  return out
}

/** `POST /v1/explain`: a dry run of the routing decision for a described request. */
export function explainRoutes(deps: AdminDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/explain',
      {
        schema: {
          summary: 'Which color a request would get, and why',
          tags: ['routing'],
          body: Body,
          response: { 200: Answer, ...ERROR_RESPONSES },
        },
      },
      async (req) => {
        const headers = Object.create(null) as Record<string, string>
        for (const [k, v] of Object.entries(req.body.headers ?? {})) headers[k.toLowerCase()] = v
        let cookies: Record<string, string> | null = null
        if (req.body.cookies !== undefined) cookies = { ...req.body.cookies }
        else if (headers.cookie !== undefined) cookies = parseCookieHeader(headers.cookie)
        // One table for the whole answer, as one request would see.
        const table = deps.runtime.table
        const facts: RequestFacts = { preview: false, headers, cookies, key: stickinessKey(table, headers, cookies) }
        return explain(table, facts)
      },
    )
  }
}

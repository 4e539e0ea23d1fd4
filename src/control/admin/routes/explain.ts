import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { explain, fillFacts, mirrorChance, parseCookies, type RequestFacts } from '../../../routing/index.js'
import { ColorSchema, ERROR_RESPONSES, StringEnum } from '../schemas.js'

const Body = Type.Object(
  {
    headers: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String(), { description: 'request headers (any case)' })),
    cookies: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String(), { description: 'cookie name → value' })),
    path: Type.Optional(Type.String({ description: 'informational; routing does not depend on the path' })),
    method: Type.Optional(
      Type.String({ minLength: 1, maxLength: 32, description: 'the request method (default GET); only decides `mirrorPercent`' }),
    ),
  },
  { additionalProperties: false },
)

const Answer = Type.Object({
  color: ColorSchema,
  rule: StringEnum(['preview', 'override', 'cohort', 'canary', 'live'] as const),
  bucket: Type.Union([Type.Integer(), Type.Null()], { description: 'canary bucket in [0, 10000); null without a key' }),
  cohort: Type.Union([Type.String(), Type.Null()]),
  key: Type.Union([Type.String(), Type.Null()], { description: 'the stickiness key used' }),
  mirrorPercent: Type.Number({
    minimum: 0,
    maximum: 100,
    description:
      'chance (percent) that such a request is also copied to the idle color (dark launch): the mirror percent for a live-rule request of a mirrored method, else 0',
  }),
})

/** `POST /v1/explain`: a dry run of the routing decision for a described request. */
export function explainRoutes(): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/explain',
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
        // One table for the whole answer, as one request would see; the
        // data plane's own path from headers (and cookies) to facts.
        const table = req.appHandle.runtime.table
        const facts: RequestFacts = { preview: false, headers, cookies: null, key: undefined }
        // Cookies are read even when no rule needs them yet, so the answer
        // names the key (and bucket) a canary would use.
        fillFacts(facts, table, headers, false, req.body.cookies ?? parseCookies(headers.cookie) ?? undefined)
        const answer = explain(table, facts)
        // node upper-cases request methods; a described one is matched the same way
        const method = (req.body.method ?? 'GET').toUpperCase()
        return { ...answer, mirrorPercent: mirrorChance(table, answer, method) / 100 }
      },
    )
  }
}

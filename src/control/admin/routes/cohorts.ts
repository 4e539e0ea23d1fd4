import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SwitchyardError } from '../../../errors.js'
import type { Cohort } from '../../../routing/index.js'
import { assertTwoDecimals } from '../errors.js'
import { etag, sendWrite, writeOptions } from '../http.js'
import {
  CohortMatchSchema,
  CohortNameSchema,
  CohortSchema,
  CohortTargetSchema,
  ERROR_RESPONSES,
  Reason,
  WriteResultSchema,
} from '../schemas.js'

const Params = Type.Object({ name: CohortNameSchema })

/** Cohort rules: list, read, put (add or replace in place), delete. */
export function cohortRoutes(): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/cohorts',
      {
        schema: {
          summary: 'Cohorts, in the order they are tried',
          tags: ['cohorts'],
          response: { 200: Type.Object({ version: Type.Integer(), cohorts: Type.Array(CohortSchema) }), ...ERROR_RESPONSES },
        },
      },
      async (req, reply) => {
        const s = req.appHandle.service.state
        reply.header('etag', etag(s.version))
        return { version: s.version, cohorts: s.cohorts }
      },
    )

    app.get(
      '/cohorts/:name',
      { schema: { summary: 'One cohort', tags: ['cohorts'], params: Params, response: { 200: CohortSchema, ...ERROR_RESPONSES } } },
      async (req, reply) => {
        const s = req.appHandle.service.state
        const c = s.cohorts.find((x) => x.name === req.params.name)
        if (c === undefined) throw new SwitchyardError('NOT_FOUND', `No cohort named "${req.params.name}"`)
        reply.header('etag', etag(s.version))
        return c
      },
    )

    app.put(
      '/cohorts/:name',
      {
        schema: {
          summary: 'Add a cohort at the end, or replace the one of that name in place',
          tags: ['cohorts'],
          params: Params,
          body: Type.Object({ color: CohortTargetSchema, match: CohortMatchSchema, reason: Reason }, { additionalProperties: false }),
          response: { 200: WriteResultSchema, ...ERROR_RESPONSES },
        },
      },
      async (req, reply) => {
        const { color, match } = req.body
        assertTwoDecimals(match.percent, 'body/match/percent')
        const cohort: Cohort = { name: req.params.name, color, match }
        return sendWrite(reply, await req.appHandle.service.putCohort(cohort, writeOptions(req, req.body)))
      },
    )

    app.delete(
      '/cohorts/:name',
      {
        schema: { summary: 'Remove a cohort', tags: ['cohorts'], params: Params, response: { 200: WriteResultSchema, ...ERROR_RESPONSES } },
      },
      async (req, reply) => sendWrite(reply, await req.appHandle.service.removeCohort(req.params.name, writeOptions(req))),
    )

    // `/v1/cohorts/` with an empty name is a bad request, not an unknown route.
    const emptyName = async () => {
      throw new SwitchyardError('BAD_REQUEST', 'params/name must not be empty')
    }
    app.route({ method: ['PUT', 'DELETE', 'GET'], url: '/cohorts/', schema: { hide: true }, handler: emptyName })
  }
}

import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { createRequire } from 'node:module'
import { lazyCompilersFactory, lazyValidator } from '../../src/control/admin/lazy-schemas.js'
import { adminFixture } from './helpers.js'

// fastify's own compilers, counted: what the lazy factory must defer, not replace.
type Factory = (externalSchemas: unknown, options: unknown) => (route: Record<string, unknown>) => unknown
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'))
function countingDefaults() {
  const counts = { validatorBuilds: 0, validators: 0, serializerBuilds: 0, serializers: 0 }
  const ajv = (fromFastify('@fastify/ajv-compiler') as () => Factory)()
  const fjs = (fromFastify('@fastify/fast-json-stringify-compiler') as () => Factory)()
  const defaults = {
    buildValidator: (ext: unknown, opts: unknown) => {
      counts.validatorBuilds++
      const c = ajv(ext, opts)
      return (route: Record<string, unknown>) => (counts.validators++, c(route))
    },
    buildSerializer: (ext: unknown, opts: unknown) => {
      counts.serializerBuilds++
      const c = fjs(ext, opts)
      return (route: Record<string, unknown>) => (counts.serializers++, c(route))
    },
  }
  return { counts, defaults: defaults as unknown as Parameters<typeof lazyCompilersFactory>[0] }
}

const body = { type: 'object', properties: { percent: { type: 'integer', minimum: 0, maximum: 100 } }, required: ['percent'] }
const response = { 200: { type: 'object', properties: { percent: { type: 'integer' } } } }

function app(compilersFactory?: ReturnType<typeof lazyCompilersFactory>): FastifyInstance {
  const a = Fastify({ ...(compilersFactory ? { schemaController: { compilersFactory } } : {}) })
  a.put('/canary', { schema: { body, response } }, async (req) => ({
    percent: (req.body as { percent: number }).percent,
    extra: 'dropped',
  }))
  a.get('/other', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } } } } }, async () => 'ok')
  return a
}

t.test('nothing compiles at ready; a route compiles its own schemas once, on its first request', async (t) => {
  const { counts, defaults } = countingDefaults()
  const a = app(lazyCompilersFactory(defaults))
  t.teardown(() => a.close())
  await a.ready()
  t.same(counts, { validatorBuilds: 0, validators: 0, serializerBuilds: 0, serializers: 0 }, 'no Ajv, no compiled schema')
  for (let i = 0; i < 3; i++) {
    const res = await a.inject({ method: 'PUT', url: '/canary', payload: { percent: 10 } })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { percent: 10 }, 'the response schema serializes (drops what it does not list)')
  }
  t.same(counts, { validatorBuilds: 1, validators: 1, serializerBuilds: 1, serializers: 1 }, 'only the route that was called')
})

t.test('the same answers as fastify compiling eagerly, errors included', async (t) => {
  const lazy = app(lazyCompilersFactory())
  const eager = app()
  t.teardown(async () => {
    await lazy.close()
    await eager.close()
  })
  const cases = [
    { method: 'PUT' as const, url: '/canary', payload: { percent: 10 } },
    { method: 'PUT' as const, url: '/canary', payload: { percent: 101 } },
    { method: 'PUT' as const, url: '/canary', payload: {} },
    { method: 'PUT' as const, url: '/canary', payload: { percent: 'ten' } },
    { method: 'GET' as const, url: '/other?n=x' },
    { method: 'GET' as const, url: '/other?n=3' },
  ]
  for (const c of cases) {
    const [l, e] = [await lazy.inject(c), await eager.inject(c)]
    t.equal(l.statusCode, e.statusCode, `${c.method} ${c.url} ${JSON.stringify(c.payload)}: status`)
    t.equal(l.body, e.body, 'body')
  }
})

t.test('a lazy validator passes the call context and exposes errors and schemaEnv of the compiled one', async (t) => {
  let compiled = 0
  const seen: unknown[] = []
  const state: { errors: unknown; schemaEnv: unknown } = { errors: null, schemaEnv: { id: 'env' } }
  const real = Object.assign((data: unknown, cxt?: unknown) => {
    seen.push(cxt)
    real.errors = data === 1 ? null : [{ message: 'not one' }]
    return data === 1
  }, state)
  const v = lazyValidator(() => (compiled++, real))
  t.equal(compiled, 0)
  t.same(v.schemaEnv, { id: 'env' }, 'schemaEnv (fastify checks it before the call) compiles')
  t.equal(compiled, 1)
  t.equal(v(2, { parentData: {} }), false)
  t.same(v.errors, [{ message: 'not one' }])
  t.equal(v(1), true)
  t.equal(v.errors, null)
  t.same(seen, [{ parentData: {} }, undefined], 'the context only when given')
  t.equal(compiled, 1, 'compiled once')
})

t.test('every core admin route schema compiles (what lazy compiling would only show on first use)', async (t) => {
  // eagerSchemas: ready() (in the fixture) compiles every validator and serializer; a broken schema throws there.
  const { app } = await adminFixture(t, { app: { eagerSchemas: true } })
  t.ok(app.hasRoute({ method: 'PUT', url: '/v1/cohorts/:name' }), 'the core routes are there')
  const res = await app.inject({ method: 'PUT', url: '/v1/canary', payload: { percent: 'ten' } })
  t.equal(res.statusCode, 400, 'compiled validators answer as the lazy ones do')
})

import t from 'tap'
import {
  BUCKETS,
  compile,
  decide,
  initialState,
  mirrorChance,
  mirrorDraw,
  mirrorPercent,
  mirrored,
  setMirror,
  flip,
  type RequestFacts,
  type RoutingOptions,
  type State,
} from '../../src/routing/index.js'

const AT = '2026-01-01T00:00:00.000Z'
const plain: RoutingOptions = { stickiness: { header: null, cookie: null }, overrides: { enabled: true, secret: null } }
const facts = (over: Partial<RequestFacts> = {}): RequestFacts => ({ preview: false, headers: {}, cookies: null, key: undefined, ...over })
const ctx = { at: AT, actor: 'tester', reason: null }

t.test('the mirror sample: live rule only, methods, draw below the percent', async (t) => {
  const table = compile({ ...initialState('blue', AT), mirror: 10 }, plain)
  t.equal(table.mirrorBp, 1000)
  const live = decide(table, facts())
  const cases: [string, number, boolean, string][] = [
    ['GET', 0, true, 'lowest draw'],
    ['GET', 999, true, 'just under 10%'],
    ['GET', 1000, false, 'at 10%: not'],
    ['HEAD', 5, true, 'HEAD by default'],
    ['POST', 5, false, 'POST is not a default method'],
    ['get', 5, false, 'methods are matched as sent (node upper-cases them)'],
  ]
  for (const [method, draw, want, name] of cases) t.equal(mirrored(table, live, method, draw), want, name)
  const preview = decide(table, facts({ preview: true }))
  t.equal(mirrored(table, preview, 'GET', 0), false, 'preview traffic is not mirrored')
  const override = decide(table, facts({ headers: { 'x-switchyard-color': 'green' } }))
  t.equal(mirrored(table, override, 'GET', 0), false, 'override traffic is not mirrored')
  const canary = decide(compile({ ...initialState('blue', AT), mirror: 10, canary: 100 }, plain), facts())
  t.equal(canary.rule, 'canary')
  t.equal(mirrored(table, canary, 'GET', 0), false, 'canary traffic is not mirrored')
})

t.test('100% mirrors every draw; 0% none', async (t) => {
  const all = compile({ ...initialState('blue', AT), mirror: 100 }, plain)
  const none = compile(initialState('blue', AT), plain)
  const d = decide(all, facts())
  t.equal(mirrored(all, d, 'GET', BUCKETS - 1), true)
  t.equal(none.mirrorBp, 0)
  t.equal(mirrored(none, d, 'GET', 0), false)
})

t.test('configured methods are upper-cased once, at compile', async (t) => {
  const table = compile({ ...initialState('blue', AT), mirror: 50 }, { ...plain, mirror: { percent: 0, methods: ['get', 'post'] } })
  const d = decide(table, facts())
  t.equal(mirrored(table, d, 'POST', 1), true)
  t.equal(mirrored(table, d, 'HEAD', 1), false)
})

t.test('a state stored without mirror routes with the config percent', async (t) => {
  const legacy = { ...initialState('blue', AT) } as Partial<State>
  delete legacy.mirror
  const s = legacy as State
  t.equal(mirrorPercent(s, plain), 0, 'no config: 0')
  t.equal(mirrorPercent(s, { ...plain, mirror: { percent: 25, methods: ['GET'] } }), 25)
  t.equal(compile(s, { ...plain, mirror: { percent: 25, methods: ['GET'] } }).mirrorBp, 2500)
  t.equal(mirrorPercent({ ...s, mirror: 5 }, { ...plain, mirror: { percent: 25, methods: ['GET'] } }), 5, 'the state wins')
})

t.test('mirrorDraw maps [0, 1) onto the buckets', async (t) => {
  t.equal(mirrorDraw(0), 0)
  t.equal(mirrorDraw(0.09999), 999)
  t.equal(mirrorDraw(0.99999999), BUCKETS - 1)
})

t.test('setMirror: a history entry, two decimals, no-op when unchanged; flips keep the percent', async (t) => {
  const s0 = initialState('blue', AT, 5)
  t.equal(s0.mirror, 5, 'a fresh state takes the config percent')
  const c = setMirror(s0, ctx, 12.345)
  t.ok(c)
  t.equal(c!.state.mirror, 12.35)
  t.equal(c!.state.version, 2)
  t.match(c!.entry, { action: 'mirror', from: 5, to: 12.35 })
  t.equal(setMirror(c!.state, ctx, 12.35), null, 'same percent: nothing to do')
  const legacy = { ...s0 } as Partial<State>
  delete legacy.mirror
  const stored = setMirror(legacy as State, ctx, 0)
  t.ok(stored, 'a state without the field gets it stored, even at 0')
  t.match(stored!.entry, { from: 0, to: 0 })
  t.equal(flip(c!.state, ctx)!.state.mirror, 12.35, 'a flip keeps the mirror percent')
})

t.test('mirrorChance: what explain reports, the share a draw is tested against', async (t) => {
  const table = compile({ ...initialState('blue', AT), mirror: 10 }, plain)
  const live = decide(table, facts())
  t.equal(mirrorChance(table, live, 'GET'), 1000, 'a live GET: 10%')
  t.equal(mirrorChance(table, live, 'POST'), 0, 'a method that is not mirrored')
  const override = decide(table, facts({ headers: { 'x-switchyard-color': 'green' } }))
  t.equal(mirrorChance(table, override, 'GET'), 0, 'not the live rule')
  t.equal(mirrorChance(compile(initialState('blue', AT), plain), live, 'GET'), 0, 'mirroring off')
  for (const draw of [0, 999, 1000, 9999])
    t.equal(mirrored(table, live, 'GET', draw), draw < mirrorChance(table, live, 'GET'), `draw ${draw}`)
})

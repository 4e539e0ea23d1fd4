import t from 'tap'
import { once } from 'node:events'
import { EventEmitter } from 'node:events'
import { createNotifier, summary } from '../../src/control/notify.js'
import type { HistoryEntry } from '../../src/routing/index.js'
import { memoryLogger, server, stateV } from './helpers.js'

const entry = (version: number, over: Partial<HistoryEntry> = {}): HistoryEntry => ({
  at: '2025-01-01T00:00:00.000Z',
  version,
  action: 'auto-revert',
  from: 30,
  to: 0,
  actor: 'switchyard',
  reason: 'error rate above threshold',
  detail: { color: 'green', errorRate: 0.5, requests: 40, errors: 20, windowSeconds: 30 },
  ...over,
})

t.test('summary is one readable line', async (t) => {
  t.equal(
    summary(entry(9)),
    'switchyard auto-revert 30 → 0 by switchyard: green error rate 50.0% over 40 requests (error rate above threshold) [v9]',
  )
  t.equal(
    summary(entry(3, { action: 'flip', from: 'blue', to: 'green', reason: null, detail: undefined, actor: 'cli' })),
    'switchyard flip blue → green by cli [v3]',
  )
})

t.test('delivers JSON to every receiver; notify returns before any delivery', async (t) => {
  const got = new EventEmitter()
  const mk = (name: string) =>
    server(t, (req, res, body) => {
      res.end('thanks')
      got.emit('post', { name, method: req.method, type: req.headers['content-type'], body: JSON.parse(body) })
    })
  const a = await mk('a')
  const b = await mk('b')
  const logger = memoryLogger()
  const n = createNotifier({ webhooks: [a.url + '/hook', b.url], timeoutMs: 5000, retries: 0, logger })
  t.teardown(() => n.close())
  const posts: { name: string; method: string; type: string; body: any }[] = []
  const two = new Promise<void>((resolve) =>
    got.on('post', (p) => {
      posts.push(p)
      if (posts.length === 2) resolve()
    }),
  )
  const state = stateV(9, { canary: 0 })
  const r = n.notify(entry(9), state)
  t.equal(r, undefined, 'fire and forget')
  t.equal(posts.length, 0, 'nothing was delivered synchronously')
  await two
  t.same(posts.map((p) => p.name).sort(), ['a', 'b'])
  for (const p of posts) {
    t.equal(p.method, 'POST')
    t.equal(p.type, 'application/json')
    t.same(p.body.entry, entry(9))
    t.same(p.body.state, state)
    t.equal(p.body.type, 'switchyard.change')
    t.equal(p.body.app, 'default', 'the payload names the app')
    t.match(p.body.text, /auto-revert/)
  }
  t.same(logger.lines, [])
})

t.test('retries after a 500, in order per receiver', async (t) => {
  let calls = 0
  const delivered: number[] = []
  const done = new EventEmitter()
  const up = await server(t, (_req, res, body) => {
    calls++
    if (calls === 1) {
      res.statusCode = 500
      res.end('busy')
      return
    }
    delivered.push(JSON.parse(body).entry.version)
    res.end()
    if (delivered.length === 2) done.emit('done')
  })
  const n = createNotifier({ webhooks: [up.url], timeoutMs: 5000, retries: 3, backoffMs: 10, logger: memoryLogger() })
  t.teardown(() => n.close())
  const finished = once(done, 'done')
  n.notify(entry(1), stateV(1))
  n.notify(entry(2), stateV(2))
  await finished
  t.equal(calls, 3, 'one failed attempt, then both delivered')
  t.same(delivered, [1, 2], 'the second waits behind the first')
})

t.test('gives up after the retries with a log line; a timeout counts as a failure', async (t) => {
  let calls = 0
  const up = await server(t, () => {
    calls++ // never answers
  })
  const logger = memoryLogger()
  const warned = new Promise<void>((resolve) => {
    const warn = logger.warn
    logger.warn = (obj, msg) => {
      warn(obj, msg)
      resolve()
    }
  })
  const n = createNotifier({ webhooks: [up.url], timeoutMs: 100, retries: 1, backoffMs: 10, logger })
  t.teardown(() => n.close())
  n.notify(entry(1), stateV(1))
  await warned
  t.equal(calls, 2, 'first attempt + one retry')
  t.equal(logger.lines.length, 1)
  t.match(logger.lines[0], { level: 'warn', obj: { url: up.url, attempts: 2 }, msg: /giving up/ })
})

t.test('a receiver that is down for long: bounded queue drops the oldest waiting, logs it', async (t) => {
  const seen: number[] = []
  let release: (() => void) | null = null
  const up = await server(t, (_req, res, body) => {
    seen.push(JSON.parse(body).entry.version)
    if (seen.length === 1) {
      release = () => res.end()
      return
    }
    res.end()
  })
  const logger = memoryLogger()
  const n = createNotifier({ webhooks: [up.url], timeoutMs: 10_000, retries: 0, logger, maxQueue: 3 })
  t.teardown(() => n.close())
  n.notify(entry(1), stateV(1))
  // wait until delivery 1 is at the receiver, holding the queue
  while (release === null) await new Promise((r) => setImmediate(r))
  for (let v = 2; v <= 6; v++) n.notify(entry(v), stateV(v))
  t.equal(logger.lines.filter((l) => /dropped its oldest/.test(l.msg ?? '')).length, 3)
  ;(release as () => void)()
  await n.close(20_000)
  t.same(seen, [1, 5, 6], 'the in-flight one kept, then the newest that fit')
})

t.test('close lets a queued delivery settle without retrying it', async (t) => {
  let calls = 0
  const up = await server(t, () => {
    calls++ // never answers
  })
  const logger = memoryLogger()
  const n = createNotifier({ webhooks: [up.url], timeoutMs: 100, retries: 5, backoffMs: 10, logger })
  n.notify(entry(1), stateV(1))
  await t.resolves(n.close(20_000))
  t.equal(calls, 1, 'no retries once closing')
  t.match(logger.lines, [{ level: 'warn', obj: { attempts: 1 } }])
})

t.test('close gives up on a hung delivery after the grace time', async (t) => {
  const up = await server(t, () => {})
  const n = createNotifier({ webhooks: [up.url], timeoutMs: 60_000, retries: 0, logger: memoryLogger() })
  n.notify(entry(1), stateV(1))
  await t.resolves(n.close(50), 'close returns although the receiver never answers')
})

t.test('onChange notifies own writes only; close stops taking work', async (t) => {
  const seen: number[] = []
  const got = new EventEmitter()
  const up = await server(t, (_req, res, body) => {
    seen.push(JSON.parse(body).entry.version)
    res.end()
    got.emit('post')
  })
  const n = createNotifier({ webhooks: [up.url], timeoutMs: 5000, retries: 0, logger: memoryLogger() })
  const first = once(got, 'post')
  n.onChange({ app: 'default', previous: stateV(1), state: stateV(2), entry: null })
  n.onChange({ app: 'default', previous: stateV(2), state: stateV(3), entry: entry(3) })
  await first
  await n.close()
  n.notify(entry(4), stateV(4))
  t.same(seen, [3])
})

t.test('no webhooks: notify is a no-op; close resolves', async (t) => {
  const n = createNotifier({ webhooks: [], timeoutMs: 100, retries: 0, logger: memoryLogger() })
  t.equal(n.notify(entry(1), stateV(1)), undefined)
  await t.resolves(n.close())
})

import t from 'tap'
import { WaitQueue, type Waiter } from '../../src/dataplane/wait-queue.js'
import { eventually } from '../helpers/wait.js'

// The queue of requests waiting for an upstream connection: an intrusive
// list swept from the oldest. Time is injected; the sweep is driven by hand
// through a short timeout and a bounded wait.

class W implements Waiter {
  waitPrev: Waiter | null = null
  waitNext: Waiter | null = null
  waitSince = -1
  expired = 0
  constructor(
    readonly name: string,
    readonly log: string[],
  ) {}
  waitExpired(): void {
    this.expired++
    this.log.push(this.name)
  }
}

t.test('expired waiters leave oldest first; those that left earlier are never expired', async (t) => {
  let now = 0
  const q = new WaitQueue(100, () => now)
  const log: string[] = []
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new W(n, log))
  q.enter(a, 0)
  q.enter(b, 10)
  q.enter(c, 20)
  q.enter(d, 200)
  q.leave(b) // got a connection (middle of the list)
  q.leave(b) // a second leave is a no-op
  now = 150
  q.start()
  t.teardown(() => q.stop())
  await eventually(() => log.length >= 2, 5000, '2 expiries')
  t.same(log, ['a', 'c'], 'a and c expired in order, b had left, d is not due')
  t.equal(b.expired, 0)
  t.equal(a.waitSince, -1, 'an expired waiter is out of the list')
  now = 400
  await eventually(() => log.length >= 3, 5000, '3 expiries')
  t.same(log, ['a', 'c', 'd'])
  q.leave(d)
  t.equal(d.expired, 1, 'each waiter expires once')
})

t.test('leaving the head and the tail keeps the list whole', async (t) => {
  let now = 0
  const q = new WaitQueue(100, () => now)
  const log: string[] = []
  const ws = ['a', 'b', 'c'].map((n) => new W(n, log))
  for (const w of ws) q.enter(w, 0)
  q.leave(ws[0])
  q.leave(ws[2])
  const e = new W('e', log)
  q.enter(e, 0)
  now = 1000
  q.start()
  t.teardown(() => q.stop())
  await eventually(() => log.length >= 2, 5000, '2 expiries')
  t.same(log, ['b', 'e'])
})

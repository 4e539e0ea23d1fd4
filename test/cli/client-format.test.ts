import t from 'tap'
import { formatHealth, formatHistory } from '../../src/cli/client-format.js'

t.test('health: settings line and one row per color', async (t) => {
  const out = formatHealth({
    version: 7,
    live: 'green',
    windowSeconds: 30,
    maxErrorRate: 0.05,
    minRequests: 20,
    colors: {
      blue: { role: 'idle', targets: [{ url: 'http://b:1', up: true }], requests: 0, errors: 0, errorRate: 0, watch: null },
      green: {
        role: 'live',
        targets: [
          { url: 'http://g:1', up: true },
          { url: 'http://g:2', up: false },
        ],
        requests: 80,
        errors: 4,
        errorRate: 0.05,
        watch: 'after-flip',
      },
    },
  })
  const lines = out.trimEnd().split('\n')
  t.equal(lines[0], 'live: green  version: 7  window: 30 s  revert above: 5.0% over >= 20 requests')
  t.match(lines[1], /^COLOR +ROLE +WATCH +REQUESTS +ERRORS +RATE +TARGETS$/)
  t.match(lines[2], /^blue +idle +- +0 +0 +0\.0% +http:\/\/b:1 up$/)
  t.match(lines[3], /^green +live +after-flip +80 +4 +5\.0% +http:\/\/g:1 up, http:\/\/g:2 DOWN$/)
})

t.test('history shows the step of rollout and cohort entries', async (t) => {
  const out = formatHistory([
    { at: 'T2', version: 3, action: 'rollout', from: 10, to: 50, actor: 'switchyard', reason: null, detail: { op: 'advance', step: 1 } },
    { at: 'T1', version: 2, action: 'flip', from: 'blue', to: 'green', actor: 'cli:ana', reason: 'go' },
  ])
  t.match(out, /T2 +3 +rollout advance +10 +50 +switchyard +-/)
  t.match(out, /T1 +2 +flip +blue +green +cli:ana +go/)
})

t.test('rollout status: the plan with the current step, and what it waits for', async (t) => {
  const { formatRollout } = await import('../../src/cli/client-format.js')
  t.equal(formatRollout({ rollout: null, progress: null }), 'no rollout in progress\n')
  const out = formatRollout({
    rollout: {
      id: 'r1',
      color: 'green',
      autoPromote: true,
      stepIndex: 1,
      status: 'running',
      heldMs: 0,
      stepStartedAt: 'T',
      startedAt: 'T',
      steps: [
        { percent: 10, holdSeconds: 60 },
        { percent: 50, holdSeconds: 60 },
        { percent: 100, holdSeconds: 60 },
      ],
    },
    progress: {
      step: 2,
      steps: 3,
      percent: 50,
      heldSeconds: 75,
      holdSeconds: 60,
      verdict: 'not-enough-data',
      waitingFor: 'not enough data',
      requests: 7,
      errors: 0,
      errorRate: 0,
      minRequests: 20,
    },
  })
  t.match(out, /^rollout running of green: 10%\/60s → \[50%\/60s\] → 100%\/60s → promote\n/)
  t.match(out, /step 2\/3: 50% {2}held 75\/60s {2}window: 7 requests \(need 20\), 0 errors \(0\.0%\) {2}verdict: not-enough-data\n/)
  t.match(out, /waiting for: not enough data\n$/)
})

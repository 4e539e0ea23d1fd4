import t from 'tap'
import { readFileSync } from 'node:fs'
import { ConfigSchema } from '../../src/config/index.js'
import { ERRORS } from '../../src/errors.js'
import { CLIENT_COMMANDS } from '../../src/cli/client.js'

// The README is the user's reference: every name users and scripts rely on
// must be in it. These checks fail when something is added but not documented.
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

t.test('the first screen has the two commands', async (t) => {
  const firstScreen = readme.split('\n').slice(0, 25).join('\n')
  t.match(firstScreen, /npm ci && npx switchyard demo/)
  t.match(firstScreen, /npm test/)
})

t.test('every error code is documented', async (t) => {
  for (const [code, { status }] of Object.entries(ERRORS)) {
    t.match(readme, new RegExp(`\\b${status}\\b.*\`${code}\`|\`${code}\`.*\\b${status}\\b`), `${code} (${status})`)
  }
})

t.test('every contract metric is documented', async (t) => {
  const metrics = [
    'requests_total', 'request_duration_seconds', 'upstream_errors_total', 'live_color', 'canary_percent',
    'state_version', 'flips_total', 'auto_reverts_total', 'last_flip_timestamp_seconds',
  ]
  for (const m of metrics) t.match(readme, `switchyard_${m}`, m)
})

t.test('every config section and every CLI command is documented', async (t) => {
  for (const key of Object.keys(ConfigSchema.properties)) t.match(readme, new RegExp(`^\\s*${key}:`, 'm'), `config key ${key}`)
  for (const cmd of CLIENT_COMMANDS) t.match(readme, `switchyard ${cmd}`, `command ${cmd}`)
  for (const cmd of ['serve', 'demo']) t.match(readme, `switchyard ${cmd}`, `command ${cmd}`)
})

t.test('every admin route of the contract is documented', async (t) => {
  const routes = [
    'GET /v1/state', 'POST /v1/flip', 'POST /v1/rollback', 'PUT /v1/canary', 'GET /v1/cohorts', 'PUT /v1/cohorts/:name',
    'DELETE /v1/cohorts/:name', 'POST /v1/rollout', 'POST /v1/smoke', 'GET /v1/health', 'GET /v1/history',
    'POST /v1/explain', 'GET /v1/instances', 'GET /metrics', 'GET /healthz', 'GET /readyz',
  ]
  for (const r of routes) t.match(readme, r, r)
})
